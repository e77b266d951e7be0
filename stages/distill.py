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
from dataclasses import asdict

from lead.config import Params
from lead.errors import as_command
from lead.io import fingerprint
from lead.pipeline import COLLECTION, family
from lead.training.distributed import init_distributed
from lead.training.layers import check_run_layers
from lead.training.loop import Trainer
from lead.training.runs import build_distill_run
from stages.common import pick, stage_args

log = logging.getLogger("stages.distill")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    run(params, args.name, args.params)


def run(params: Params, name: str, params_file: str) -> None:
    """Train run ``name`` of distill_runs: a LEAD run or baseline (defaults: distill), or a PROD step (prod)."""
    pick(params.distill_runs, name, "distill_runs", params_file)
    check_run_layers(params, name)  # a bad run fails here, naming its key, before any process group or model
    stage = family("distill")
    dist = init_distributed()
    built = build_distill_run(params, name, world_size=dist.world_size)
    log.info("%s", built.describe())
    config = built.config
    inputs = fingerprint(config.student, config.teacher, config.train_file, COLLECTION,
                         extra={"train": built.train.result_fields(), "distill": asdict(config)})
    Trainer(built.method, built.sampler, built.train, out=stage.path("model", name),
            checkpoints=stage.path("checkpoints", name), logs=stage.path("logs", name), dist=dist,
            fingerprint=inputs, subfolders=True).train()


if __name__ == "__main__":
    as_command(main)
