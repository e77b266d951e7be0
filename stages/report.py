"""Stage report: metrics/report.md, the paper-style table of every evaluated model and the params behind it,
and metrics/plots/ (per-model NDCG@10 and MRR@10, Recall@k curves) for `dvc plots show`.

    python -m stages.report
"""

from __future__ import annotations

import logging

from lead.errors import as_command
from lead.evaluation.report import params_summary, report, write_plot_data
from lead.io import atomic_open
from lead.pipeline import family
from stages.common import stage_args

log = logging.getLogger("stages.report")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv)
    stage = family("report")
    with atomic_open(stage.path("report")) as out:
        out.write(report(params, params_summary(args.params)))
    write_plot_data(params, out=stage.path("plots"))
    log.info("wrote %s (%d models)", stage.path("report"), len(params.eval.dense) + len(params.eval.rerank))


if __name__ == "__main__":
    as_command(main)
