"""Length-bucketed encoding (train.length_buckets) on real MS MARCO passages: token positions and step time.

    python -m benchmarks.length_buckets                         # CPU, the packaged MiniLM, buckets 1 2 4 8
    python -m benchmarks.length_buckets --device cuda --precision bf16 --batch-queries 64 --negatives 7

Batches are built from ../shared/data/msmarco-samples (10 real training queries, each with its positive and
25 mined negatives): each step takes ``--batch-queries`` queries (drawn with repetition when asked for more
than 10) with their positive and ``--negatives`` negatives, the shape of a LEAD / PROD batch. For every
bucket count the same batches go through the dual encoder's forward (final and ``--layers`` per-layer
scores) and a contrastive backward; the variants alternate within each repeat and the median seconds per
step over ``--repeats`` is reported with the token positions the encoder processed (rows x padded length,
summed over chunks, queries and passages: one shared tower) relative to one padded call. No optimiser
step: the weights stay as loaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lead.config import ScorerConfig
from lead.models.factory import build_scorer
from lead.records import Passage, TextBatch

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "msmarco-samples" / "train-with-teacher-scores.jsonl"


def batches(args) -> list[TextBatch]:
    if not SAMPLE.is_file():
        raise SystemExit(f"{SAMPLE.resolve()} not found: this benchmark reads the shared MS MARCO samples")
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    rng = np.random.default_rng(args.seed)
    out = []
    for step in range(args.steps):
        picked = rng.choice(len(rows), args.batch_queries, replace=args.batch_queries > len(rows))
        queries, pids, passages = [], [], []
        for i, row in enumerate(picked):
            texts = [rows[row]["pos"][0]] + [rows[row]["neg"][j] for j in rng.choice(len(rows[row]["neg"]), args.negatives, replace=False)]
            queries.append(rows[row]["query"])
            pids += [f"{step}-{i}-{j}" for j in range(len(texts))]
            passages += [Passage(pid, text) for pid, text in zip(pids[-len(texts):], texts)]
        out.append(TextBatch([f"q{i}" for i in range(len(queries))], queries, pids, passages, 1 + args.negatives))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="packaged:all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--buckets", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--batch-queries", type=int, default=8)
    parser.add_argument("--negatives", type=int, default=7)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--layers", type=int, nargs="*", default=[2, 4], help="per-layer scores kept (LEAD)")
    parser.add_argument("--steps", type=int, default=6, help="batches per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    scorer = build_scorer(ScorerConfig(kind="de", name=args.model, pooling="mean", similarity="cosine", scale=20.0,
                                       passage_max_length=args.max_length)).to(args.device).train()
    data = batches(args)
    tokens = [scorer.tokenize(batch) for batch in data]  # tokenized once: the loader does it ahead of the step
    positions: dict[int, int] = {}
    times: dict[int, list[float]] = {b: [] for b in args.buckets}

    def run(buckets: int) -> float:
        scorer.length_buckets = buckets
        seen = []
        hook = scorer.passage_encoder.register_forward_pre_hook(
            lambda module, a, kw: seen.append(kw["input_ids"].numel()), with_kwargs=True)
        started = time.perf_counter()
        for batch, batch_tokens in zip(data, tokens):
            with torch.autocast(args.device.split(":")[0], torch.bfloat16, enabled=args.precision == "bf16"):
                scores = scorer.float_scores(scorer(batch_tokens, layers=args.layers), own=False)
                targets = scores.targets(own=False, group_size=batch.group_size)
                loss = F.cross_entropy(scores.final.float(), targets)
                loss = loss + sum(F.cross_entropy(layer.float(), targets) for layer in scores.layers)
            loss.backward()
            scorer.zero_grad(set_to_none=True)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        hook.remove()
        positions[buckets] = sum(seen)
        return (time.perf_counter() - started) / len(data)

    for buckets in args.buckets:  # one untimed pass each: allocator and kernels warm
        run(buckets)
    for _ in range(args.repeats):
        for buckets in args.buckets:
            times[buckets].append(run(buckets))

    base = args.buckets[0]
    print(f"# {platform.node()} {args.device} {args.precision}; torch {torch.__version__}; {args.model}; "
          f"{args.batch_queries} queries x {1 + args.negatives} passages, max {args.max_length} tokens, layers {args.layers}; "
          f"median of {args.repeats} x {args.steps} steps")
    print("| length_buckets | token positions (rel.) | s / step (median) | speed-up |")
    print("|---|---|---|---|")
    for buckets in args.buckets:
        median = statistics.median(times[buckets])
        print(f"| {buckets} | {positions[buckets] / positions[base]:.3f} | {median:.3f} | "
              f"{statistics.median(times[base]) / median:.2f}x |")


if __name__ == "__main__":
    main()
