"""Depth up-scaling of the packaged 6-layer MiniLM, untrained: zero-shot retrieval of each stacking of its blocks
(``models.<key>.blocks``) on the prepared test split, as a first look at which 12-layer teacher starts nearest
the original function.

    python -m benchmarks.upscale            # after dvc repro prepare (reads data/prepared and params.yaml's eval)

Rows: the 6 blocks as they are; each block twice in place (1,1,2,2,...,6,6); the stack repeated (1..6,1..6, as
progressive stacking does); and an 8-block SOLAR-like overlap (1-4 then 3-6). Mean pooling, cosine.
"""

from __future__ import annotations

import argparse

import torch

from lead.config import ScorerConfig, load_params
from lead.data.prepared import PreparedData
from lead.evaluation.dense import evaluate_scorer
from lead.models.factory import build_scorer

STACKINGS = {
    "blocks 1-6 (the packaged model)": None,
    "each block twice (1,1,2,2,...,6,6)": [b for b in range(1, 7) for _ in (0, 1)],
    "the stack twice (1..6, 1..6)": list(range(1, 7)) * 2,
    "overlap (1-4, 3-6), 8 blocks": [1, 2, 3, 4, 3, 4, 5, 6],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test")
    parser.add_argument("--passage-max-length", type=int, default=96)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    config, data = load_params("params.yaml").eval, PreparedData("data/prepared")
    print("| stacking | layers | NDCG@10 | MRR@10 |\n|---|---|---|---|")
    for name, blocks in STACKINGS.items():
        model = build_scorer(ScorerConfig(kind="de", pooling="mean", similarity="cosine",
                                          passage_max_length=args.passage_max_length, blocks=blocks)).eval()
        metrics = evaluate_scorer(model, data, args.split, config).metrics
        print(f"| {name} | {model.num_layers} | {metrics['NDCG@10']:.4f} | {metrics['MRR@10']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
