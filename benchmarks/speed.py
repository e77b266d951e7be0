"""Training steps/s and encoding passages/s of the default models on the embedded benchmark.

    python -m benchmarks.speed --steps 12 --warmup-steps 3
    python -m benchmarks.speed --device cuda --precision fp32 bf16 --random-weights bench_assets/tokenizer

For each model of params.yaml ``models`` (de6, cb6, ce6 by default; the student is de6's model): the median
time of a training step (forward, backward, AdamW) with the params' batch (``train.batch_queries`` queries,
``train.negatives`` negatives; own candidates for the cross-encoder) and the encoding throughput over the first
``--encode-passages`` passages of the prepared collection (dual encoders and ColBERT). Needs
``dvc repro prepare`` first. Prints JSON.

``--precision fp32 bf16`` measures both (bf16 = autocast, as the Trainer does on a GPU). ``--random-weights
TOKENIZER_DIR`` builds each model with random weights of the packaged MiniLM's shape and that tokenizer, for
machines without the packaged weights (speed does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from lead.config import load_params
from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.data.prepared import PreparedData
from lead.models.factory import build_scorer
from lead.retrieval.encode import encode
from lead.training.methods import Warmup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["de6", "cb6", "ce6"])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--encode-passages", type=int, default=512)
    parser.add_argument("--batch-queries", type=int, nargs="+", default=None, help="default: train.batch_queries")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--random-weights", metavar="TOKENIZER_DIR", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    params = load_params()
    data = PreparedData("data/prepared")
    store = PassageStore(data.folder / "collection.tsv")
    examples = list(read_training_file(data.folder / "train.jsonl"))
    results = {}
    for key, precision, queries in itertools.product(args.models, args.precision, args.batch_queries or [params.train.batch_queries]):
        config = params.models[key]
        if args.random_weights:
            from benchmarks.distill_step import random_folder

            folder = random_folder(Path("/tmp/lead-bench-models"), 6, 384, args.random_weights)
            config = dataclasses.replace(config, name=folder)
        candidates = "own" if config.kind == "ce" else "in_batch"
        negatives = 3 if config.kind == "ce" else params.train.negatives
        bf16 = precision == "bf16"
        torch.manual_seed(0)
        scorer = build_scorer(config).to(device).train()
        method = Warmup(scorer, candidates)
        optimizer = torch.optim.AdamW(scorer.parameters(), lr=1e-5, fused=True)
        sampler = BatchSampler(examples, store, queries, negatives, seed=0)
        times = []
        for step in range(args.warmup_steps + args.steps):
            batch = sampler.batch(step)
            sync()
            started = time.perf_counter()
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                loss, _ = method.loss(batch, {"model": scorer}, step)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            sync()
            times.append(time.perf_counter() - started)
        step_s = statistics.median(times[args.warmup_steps:])
        passages_per_step = queries * (1 + negatives)
        result = {"kind": config.kind, "layers": scorer.num_layers, "precision": precision, "batch_queries": queries,
                  "step_s_median": round(step_s, 4), "steps_per_s": round(1 / step_s, 2),
                  "train_passages_per_s": round(passages_per_step / step_s, 1)}
        if config.kind == "de":
            passages = list(itertools.islice(data.passages(), args.encode_passages))
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                encode(scorer, passages[: params.eval.batch_size], "passages", params.eval.batch_size, params.eval.batch_size, progress=False)
                sync()
                started = time.perf_counter()
                encode(scorer, passages, "passages", len(passages), params.eval.batch_size, progress=False)
                sync()
            result["encode_passages_per_s"] = round(len(passages) / (time.perf_counter() - started), 1)
        results[f"{key}/{precision}/b{queries}"] = result
        print(key, result, flush=True)
        del scorer, optimizer, method
    machine = torch.cuda.get_device_name(0) if device.type == "cuda" else f"{platform.machine()}, {torch.get_num_threads()} torch threads"
    print(json.dumps({"machine": machine, "torch": torch.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
