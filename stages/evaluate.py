"""Stage evaluate@<model>: retrieve the evaluation split with one dual encoder and log its metrics.

    python -m stages.evaluate <model>     (the model's params are models.<model> in params.yaml)

Writes runs/<model>.<split>.trec and metrics/<model>/ (DVCLive: metrics.json, plus timing.json).
"""

from __future__ import annotations

import argparse
import logging

from lead.config import load_params
from lead.data.prepared import PreparedData
from lead.evaluation.dense import evaluate_dual_encoder
from lead.evaluation.runs import write_trec_run
from lead.io import write_json
from lead.logs import log_metrics, setup_logging
from lead.models.dual_encoder import DualEncoder
from lead.models.pretrained import num_parameters
from lead.seeding import seed_everything

log = logging.getLogger("stages.evaluate")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a key of models: in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", default="data/prepared")
    args = parser.parse_args(argv)

    setup_logging()
    params = load_params(args.params)
    if args.model not in params.models:
        raise SystemExit(f"{args.params}: models.{args.model}: no such model (have: {', '.join(params.models)})")
    seed_everything(params.seed)
    split = params.eval.split
    model = DualEncoder.from_config(params.models[args.model])
    result = evaluate_dual_encoder(model, PreparedData(args.data), split, params.eval)

    write_trec_run(f"runs/{args.model}.{split}.trec", result.run, tag=args.model, depth=params.eval.depth)
    log_metrics(f"metrics/{args.model}", {f"{split}/{k}": v for k, v in result.metrics.items()})
    write_json(f"metrics/{args.model}/timing.json", {**result.timing, "parameters": num_parameters(model)})
    log.info("%s %s: %s", args.model, split, ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))


if __name__ == "__main__":
    main()
