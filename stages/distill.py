"""Stage distill@<name>: LEAD distillation of a student from a teacher (params distill, distill_runs.<name>).

    python -m stages.distill <name>                          # one process
    torchrun --nproc_per_node=N -m stages.distill <name>     # DDP: global in-batch candidates across GPUs

Reads the student and teacher folders the run names, trains on distill.train_file, checkpoints to
checkpoints/distill-<name> (a killed run resumes from there), logs every loss term, the per-layer KL and the
layer weights lambda to logs/<name> (DVCLive) and writes models/<name>/student (and models/<name>/teacher when
the teacher is trained jointly).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.io import fingerprint
from lead.models.factory import load_scorer
from lead.seeding import seed_everything
from lead.training.distill import Distill
from lead.training.distributed import init_distributed
from lead.training.loop import Trainer
from stages.common import pick, stage_args

log = logging.getLogger("stages.distill")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    pick(params.distill_runs, args.name, "distill_runs", args.params)
    config, train = params.distill_run(args.name)
    dist = init_distributed()
    seed_everything(train.seed)
    student, teacher = load_scorer(config.student), load_scorer(config.teacher)
    method = Distill(student, teacher, config, train.candidates, seed=train.seed)
    examples = list(read_training_file(config.train_file))
    sampler = BatchSampler(examples, PassageStore("data/prepared/collection.tsv"), train.batch_queries,
                           train.negatives, train.negative_sampling, train.seed, dist.world_size)
    log.info("distill %s: %s student (%d layers) from %s %s teacher (%d layers, %s), %s candidates, %d steps",
             args.name, config.student, student.num_layers, "trained" if config.teacher_trainable else "frozen",
             teacher.kind, teacher.num_layers, config.teacher, "own" if method.own else "in-batch", train.steps)
    inputs = fingerprint(config.student, config.teacher, config.train_file, extra={"train": asdict(train), "distill": asdict(config)})
    Trainer(method, sampler, train, out=f"models/{args.name}", checkpoints=f"checkpoints/distill-{args.name}",
            logs=f"logs/{args.name}", dist=dist, fingerprint=inputs, subfolders=True).train()


if __name__ == "__main__":
    main()
