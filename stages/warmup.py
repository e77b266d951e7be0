"""Stage warmup@<name>: train one model alone with the contrastive NLL (params warmup.<name> and train).

    python -m stages.warmup <name>                          # one process
    torchrun --nproc_per_node=N -m stages.warmup <name>     # DDP, global in-batch negatives

Starts from the folder warmup.<name>.init (models/init/<key>, or a trained model to continue from: the
schedule and optimiser start afresh), checkpoints to checkpoints/<name> (a killed run resumes from there),
logs to logs/<name> (DVCLive) and writes the trained model to models/<name>.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.errors import as_command
from lead.io import fingerprint
from lead.models.factory import load_scorer
from lead.pipeline import COLLECTION, family
from lead.seeding import seed_everything
from lead.training.distributed import init_distributed
from lead.training.loop import Trainer
from lead.training.methods import Warmup
from stages.common import pick, stage_args

log = logging.getLogger("stages.warmup")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    run = pick(params.warmup, args.name, "warmup", args.params)
    train = params.train_config(run.train, f"warmup.{args.name}.train")
    dist = init_distributed()
    seed_everything(train.seed)
    scorer = load_scorer(run.init)
    store = PassageStore(COLLECTION)
    examples = list(read_training_file(run.train_file, store))
    sampler = BatchSampler(examples, store, train.batch_queries,
                           train.negatives, train.negative_sampling, train.seed, dist.world_size,
                           train.mask_accidental_positives)
    log.info("warmup %s: %s from %s, %d examples, %d steps on %d process(es)", args.name, scorer.kind,
             run.init, len(examples), train.steps, dist.world_size)
    inputs = fingerprint(run.init, run.train_file, COLLECTION, extra={"train": train.result_fields(), "run": asdict(run)})
    stage = family("warmup")
    trainer = Trainer(Warmup(scorer, train.candidates, run.layer_weight), sampler, train, out=stage.path("model", args.name),
                      checkpoints=stage.path("checkpoints", args.name), logs=stage.path("logs", args.name), dist=dist,
                      fingerprint=inputs)
    trainer.train()


if __name__ == "__main__":
    as_command(main)
