"""Stage distill@<name>: a student distilled from a teacher (params distill_runs.<name> over its defaults section:
``distill``, LEAD's, for LEAD runs and their baselines; ``prod``, PROD's, for the steps of PROD's ladder).

    python -m stages.distill <name>                          # one process
    torchrun --nproc_per_node=N -m stages.distill <name>     # DDP: global in-batch candidates across GPUs

Reads the student and teacher folders and the training file the run names, checkpoints to
checkpoints/distill-<name> (a killed run resumes from there), logs every loss term (and LEAD's per-layer KL and
layer weights lambda) to logs/<name> (DVCLive) and writes models/<name>/student (and models/<name>/teacher when
the teacher is trained jointly). A PROD step names the previous step's student; its training file is a flash@
(re-mined) file or a divide@ output.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, replace

from lead.config import Params
from lead.data.examples import BatchSampler, PassageStore, queries_per_rank_for_passes, read_training_file
from lead.data.teacher_scores import is_score_file, read_teacher_scores
from lead.errors import as_command
from lead.io import fingerprint
from lead.models.factory import load_scorer
from lead.pipeline import COLLECTION, family
from lead.seeding import seed_everything
from lead.training.distill import Distill
from lead.training.distributed import init_distributed
from lead.training.layers import check_run_layers
from lead.training.loop import Trainer
from stages.common import pick, stage_args

log = logging.getLogger("stages.distill")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    run(params, args.name, args.params)


def run(params: Params, name: str, params_file: str) -> None:
    """Train run ``name`` of distill_runs: a LEAD run or baseline (defaults: distill), or a PROD step (prod)."""
    pick(params.distill_runs, name, "distill_runs", params_file)
    config, train = params.distill_run(name)
    check_run_layers(params, name)  # before any model is loaded
    section = params.run_defaults(name)
    stage = family("distill")
    dist = init_distributed()
    seed_everything(train.seed)
    store = PassageStore(COLLECTION)
    examples = list(read_training_file(config.train_file, store))
    student = load_scorer(config.student)
    if is_score_file(config.teacher):  # scored once (score@<name> or your own file), read here for every run
        teacher = read_teacher_scores(config.teacher, store, {example.qid: example.query for example in examples})
    else:
        teacher = load_scorer(config.teacher)
    method = Distill(student, teacher, config, train.candidates, seed=train.seed, key=f"distill_runs.{name}")
    if config.epochs is not None:  # passes over the file: one step takes batch_queries x world x grad_accum queries
        per_rank = queries_per_rank_for_passes(len(examples), train.batch_queries, dist.world_size, train.grad_accum)
        if per_rank != train.batch_queries:
            log.warning("%s: %d training queries, fewer than a step of %d x %d processes x %d micro-batches: each "
                        "micro-batch takes %d per process", name, len(examples), train.batch_queries, dist.world_size,
                        train.grad_accum, per_rank)
            train = replace(train, batch_queries=per_rank)
        per_step = train.batch_queries * dist.world_size * train.grad_accum
        train = replace(train, steps=max(1, math.ceil(config.epochs * len(examples) / per_step)))
    sampler = BatchSampler(examples, store, train.batch_queries,
                           train.negatives, train.negative_sampling, train.seed, dist.world_size,
                           train.mask_accidental_positives)
    log.info("%s %s: %s student (%d layers) from %s %s teacher (%s, %s), %s candidates, %d steps on %d queries",
             section, name, config.student, student.num_layers, "trained" if config.teacher_trainable else "frozen",
             teacher.kind, f"{len(teacher)} scored pairs" if method.score_file else f"{teacher.num_layers} layers",
             config.teacher, "own" if method.own else "in-batch", train.steps, len(examples))
    inputs = fingerprint(config.student, config.teacher, config.train_file, COLLECTION, extra={"train": train.result_fields(), "distill": asdict(config)})
    Trainer(method, sampler, train, out=stage.path("model", name), checkpoints=stage.path("checkpoints", name),
            logs=stage.path("logs", name), dist=dist, fingerprint=inputs, subfolders=True).train()


if __name__ == "__main__":
    as_command(main)
