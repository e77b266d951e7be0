"""Stage prod@<name>: one PROD step (spec B.7-B.9; params prod, prod_steps.<name>).

    python -m stages.prod <name>                          # one process
    torchrun --nproc_per_node=N -m stages.prod <name>     # DDP

A PROD step is a distillation run (the LEAD code path, stages/distill.py) with PROD's values: a frozen
teacher, KD_softmax at T = 4, weights 0.1 NLL / 0.9 KD, LwF to the student as it entered the step, no
layer term. Each step names the previous step's student; its training file is a flash@ (re-mined) file or
the divided set of the divide stage. Writes models/prod/<name>/student, logs to logs/prod/<name>,
checkpoints to checkpoints/prod-<name>.
"""

from __future__ import annotations

from lead.errors import as_command
from stages.common import stage_args
from stages.distill import run


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    run(params, args.name, "prod", args.params)


if __name__ == "__main__":
    as_command(main)
