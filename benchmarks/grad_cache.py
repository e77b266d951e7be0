"""Gradient cache (train.grad_cache_queries): peak memory and step time against the batch size, with and without.

    python -m benchmarks.grad_cache                                   # CPU: packaged MiniLM, batches 8..64
    python -m benchmarks.grad_cache --device cuda --batch-queries 64 128 256 512 --budget-mb 20000

Batches of real MS MARCO text (../shared/data/msmarco-samples, as benchmarks.length_buckets builds them: each
query with its positive and ``--negatives`` mined negatives, in-batch candidates). Every (batch size, cache) pair
runs in a fresh process, so its peak is its own: the step is a dual-encoder warm-up's forward and contrastive
backward over the whole in-batch candidate set, uncached or cached in chunks of ``--chunk`` queries, ``--repeats``
times after one untimed step. Reported: the peak resident memory (CPU; on CUDA the peak allocated memory) above
what the loaded model holds, the median seconds per step, and the largest batch whose peak stays within
``--budget-mb`` with and without the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

from benchmarks.length_buckets import batches
from lead.config import ScorerConfig
from lead.models.factory import build_scorer
from lead.training.grad_cache import GradCache
from lead.training.methods import Warmup


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(args) -> dict:
    torch.manual_seed(0)
    device = torch.device(args.device)
    scorer = build_scorer(ScorerConfig(kind="de", name=args.model, pooling="mean", query_max_length=32,
                                       passage_max_length=args.passage_length)).to(device).train()
    method = Warmup(scorer, "in_batch")
    step = GradCache(method, args.chunk) if args.cache else method
    steps = batches(argparse.Namespace(seed=13, steps=args.repeats + 1, batch_queries=args.batch_queries[0],
                                       negatives=args.negatives))
    if device.type == "cuda":
        torch.cuda.synchronize()
        loaded = torch.cuda.memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
    else:
        loaded = rss_mb()
    seconds = []
    for i, batch in enumerate(steps):
        scorer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        step.backward(batch, {"model": scorer}, i, 1, contextlib.nullcontext)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms the allocator and kernels up
            seconds.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else rss_mb()
    return {"loaded_mb": loaded, "peak_mb": peak, "above_model_mb": peak - loaded, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="packaged:all-MiniLM-L6-v2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-queries", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--passage-length", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=8, help="queries per cached chunk")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-mb", type=float, default=1500.0, help="memory above the model for 'largest batch'")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return
    rows = []
    for queries in args.batch_queries:
        for cache in (False, True):
            command = [sys.executable, "-m", "benchmarks.grad_cache", "--child", "--model", args.model, "--device",
                       args.device, "--batch-queries", str(queries), "--negatives", str(args.negatives),
                       "--passage-length", str(args.passage_length), "--chunk", str(args.chunk), "--repeats",
                       str(args.repeats)] + (["--cache"] if cache else [])
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                rows.append({"batch_queries": queries, "cache": cache, "error": done.stderr.strip().splitlines()[-1]})
            else:
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append({"batch_queries": queries, "cache": cache, **result, "median_s": statistics.median(result["seconds"])})
            print(json.dumps(rows[-1]), file=sys.stderr)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{platform.processor() or 'cpu'} x {torch.get_num_threads()} threads"
    print(f"device: {device}; model {args.model}; {args.negatives} negatives per query, passages at {args.passage_length} "
          f"tokens; cache chunk {args.chunk} queries; median of {args.repeats} steps\n")
    print("| queries | candidates | peak above model, MB (no cache) | (cache) | s/step (no cache) | (cache) | time ratio |")
    print("|---|---|---|---|---|---|---|")
    by = {(r["batch_queries"], r["cache"]): r for r in rows}
    for queries in args.batch_queries:
        plain, cached = by[(queries, False)], by[(queries, True)]
        if "error" in plain or "error" in cached:
            print(f"| {queries} | | {plain.get('error', '')} | {cached.get('error', '')} | | | |")
            continue
        print(f"| {queries} | {queries * (1 + args.negatives)} | {plain['above_model_mb']:.0f} | {cached['above_model_mb']:.0f} | "
              f"{plain['median_s']:.2f} | {cached['median_s']:.2f} | {cached['median_s'] / plain['median_s']:.2f} |")
    for cache in (False, True):
        fits = [q for q in args.batch_queries if "error" not in by[(q, cache)] and by[(q, cache)]["above_model_mb"] <= args.budget_mb]
        print(f"\nlargest batch within {args.budget_mb:.0f} MB above the model, {'with' if cache else 'without'} the cache: "
              f"{max(fits) if fits else 'none'} queries (of {args.batch_queries})")


if __name__ == "__main__":
    main()
