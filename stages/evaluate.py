"""Stage evaluate@<name>: full retrieval of the evaluation split with the model at eval.dense.<name>.

    python -m stages.evaluate <name>

A dual encoder retrieves through faiss, a ColBERT model by exhaustive MaxSim. Writes the TREC run
runs/<name>.<split>.trec and metrics/<name>/ (DVCLive metrics.json, plus timing.json).
"""

from __future__ import annotations

import logging

from lead.config import as_dict
from lead.data.prepared import PreparedData
from lead.data.runs import write_trec_run
from lead.errors import as_command
from lead.evaluation.dense import evaluate_scorer
from lead.io import write_json
from lead.logs import log_metrics
from lead.models.factory import inference_device, load_scorer, parameter_count
from lead.pipeline import PREPARED, family
from lead.seeding import seed_everything
from stages.common import pick, stage_args

log = logging.getLogger("stages.evaluate")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    folder = pick(params.eval.dense, args.name, "eval.dense", args.params)
    seed_everything(params.seed)
    split = params.eval.split
    model = load_scorer(folder, inference_device())
    result = evaluate_scorer(model, PreparedData(PREPARED), split, params.eval)

    stage, raw = family("evaluate"), as_dict(params)
    write_trec_run(stage.path("run", args.name, raw), result.run, tag=args.name, depth=params.eval.depth)
    log_metrics(stage.path("logs", args.name), {f"{split}/{k}": v for k, v in result.metrics.items()})
    write_json(stage.path("timing", args.name), {**result.timing, "parameters": parameter_count(model)})
    log.info("%s %s (on %s): %s", args.name, split, model.device, ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))


if __name__ == "__main__":
    as_command(main)
