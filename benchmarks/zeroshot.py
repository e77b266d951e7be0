"""Zero-shot retrieval of a dual encoder on a real collection, through the project's readers and evaluation.

    python -m benchmarks.zeroshot --source beir --path ../shared/data/scifact --split test \
        --passage-max-length 256 --rel-threshold 1

Prepares the collection into a temporary folder (the same code as the prepare stage), encodes it, runs exact
faiss search and prints the pytrec_eval metrics and the encoding throughput as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile

import torch

from lead.config import DEFAULT_MODEL, DataConfig, EvalConfig, ScorerConfig
from lead.data.prepared import PreparedData, prepare
from lead.evaluation.dense import evaluate_dual_encoder
from lead.logs import setup_logging
from lead.models.factory import build_scorer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["beir", "synthetic"], default="beir")
    parser.add_argument("--path", default="../shared/data/scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--scale", type=float, default=1.0, help="synthetic only")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    parser.add_argument("--similarity", default="cosine", choices=["dot", "cosine"])
    parser.add_argument("--passage-max-length", type=int, default=256)
    parser.add_argument("--query-max-length", type=int, default=64)
    parser.add_argument("--rel-threshold", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    setup_logging()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.source == "beir":
            data_config = DataConfig(source="beir", path=args.path, rel_threshold=args.rel_threshold)
        else:
            data_config = DataConfig(rel_threshold=args.rel_threshold)
            data_config.synthetic.scale = args.scale
        prepare(data_config, f"{tmp}/prepared")
        model = build_scorer(
            ScorerConfig(
                name=args.model, pooling=args.pooling, similarity=args.similarity,
                query_max_length=args.query_max_length, passage_max_length=args.passage_max_length,
            )
        )
        result = evaluate_dual_encoder(model, PreparedData(f"{tmp}/prepared"), args.split, EvalConfig(batch_size=args.batch_size))
    print(json.dumps({
        "args": vars(args),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
        "metrics": result.metrics,
        "timing": result.timing,
    }, indent=2))


if __name__ == "__main__":
    main()
