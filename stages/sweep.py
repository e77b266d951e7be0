"""Stage sweep@<name>: a training run's snapshots scored on a dev split; the best is kept for the test split.

    python -m stages.sweep <name>

Reads params sweep.<name> (lead/config/retrieval.py SweepConfig): the run folder, its model, the steps (first, every,
last) and the split and metric that choose. Logs the curve to metrics/sweep/<name> (DVCLive; `dvc plots
show` draws it, metrics.json holds the chosen step) and writes the chosen model to models/sweep/<name>, which
an eval.dense entry then evaluates on eval.split like any other model.
"""

from __future__ import annotations

from lead.data.prepared import PreparedData
from lead.errors import as_command
from lead.evaluation.sweep import run_sweep
from lead.pipeline import PREPARED, family
from lead.seeding import seed_everything
from stages.common import pick, stage_args


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    config = pick(params.sweep, args.name, "sweep", args.params)
    seed_everything(params.seed)
    run_sweep(args.name, config, PreparedData(PREPARED), params.eval,
              out=family("sweep").path("model", args.name), logs=family("sweep").path("logs", args.name))


if __name__ == "__main__":
    as_command(main)
