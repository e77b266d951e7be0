"""BM25 (the bm25s package) on a prepared benchmark, scored with the project's evaluation.

    python -m benchmarks.bm25 --source synthetic --scale 1
    python -m benchmarks.bm25 --source beir --path ../shared/data/scifact --rel-threshold 1

A lexical baseline: on the embedded benchmark it shows how far word overlap gets (the traps share every
query concept), on SciFact it checks the evaluation against the published BM25 figure (NDCG@10 about 0.665).
"""

from __future__ import annotations

import argparse
import json
import tempfile

import bm25s
import numpy as np

from lead.config import DataConfig
from lead.data.prepared import PreparedData, prepare
from lead.data.runs import run_from_arrays
from lead.evaluation.metrics import evaluate_run
from lead.models.dual_encoder import passage_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["beir", "synthetic"], default="synthetic")
    parser.add_argument("--path", default="../shared/data/scifact")
    parser.add_argument("--scale", type=float, default=1.0, help="synthetic only")
    parser.add_argument("--split", default="test")
    parser.add_argument("--rel-threshold", type=int, default=2)
    parser.add_argument("--depth", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = DataConfig(source=args.source, path=args.path if args.source == "beir" else None,
                            rel_threshold=args.rel_threshold)
        config.synthetic.scale = args.scale
        prepare(config, f"{tmp}/prepared")
        data = PreparedData(f"{tmp}/prepared")
        passages = list(data.passages())
        retriever = bm25s.BM25()
        retriever.index(bm25s.tokenize([passage_text(p) for p in passages], stopwords="en", show_progress=False),
                        show_progress=False)
        queries = data.queries(args.split)
        depth = min(args.depth, len(passages))
        indices, scores = retriever.retrieve(bm25s.tokenize([q.text for q in queries], stopwords="en",
                                                            show_progress=False), k=depth, show_progress=False)
        run = run_from_arrays([q.qid for q in queries], np.array([p.pid for p in passages], dtype=object),
                              indices, scores)
        metrics = evaluate_run(data.qrels(args.split), run, rel_threshold=data.threshold(args.split))
    print(json.dumps({"args": vars(args), "passages": len(passages), "metrics": metrics}, indent=2))


if __name__ == "__main__":
    main()
