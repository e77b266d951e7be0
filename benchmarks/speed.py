"""Training steps/s and encoding passages/s of the default models on the embedded benchmark.

    python -m benchmarks.speed --steps 12 --warmup-steps 3

For each model of params.yaml ``models`` (de6, cb6, ce6, de2 by default): the median time of a training step
(forward, backward, AdamW) with the params' batch (``train.batch_queries`` queries, ``train.negatives``
negatives; own candidates for the cross-encoder) and the encoding throughput over the first
``--encode-passages`` passages of the prepared collection (dual encoders and ColBERT). Needs
``dvc repro prepare`` first. Prints JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time

import torch

from lead.config import load_params
from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.data.prepared import PreparedData
from lead.models.factory import build_scorer
from lead.retrieval.encode import encode
from lead.training.methods import Warmup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["de6", "cb6", "ce6", "de2"])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--encode-passages", type=int, default=512)
    args = parser.parse_args()

    params = load_params()
    data = PreparedData("data/prepared")
    store = PassageStore(data.folder / "collection.tsv")
    examples = list(read_training_file(data.folder / "train.jsonl"))
    results = {}
    for key in args.models:
        config = params.models[key]
        candidates = "own" if config.kind == "ce" else "in_batch"
        negatives = 3 if config.kind == "ce" else params.train.negatives
        torch.manual_seed(0)
        scorer = build_scorer(config).train()
        method = Warmup(scorer, candidates)
        optimizer = torch.optim.AdamW(scorer.parameters(), lr=1e-5)
        sampler = BatchSampler(examples, store, params.train.batch_queries, negatives, seed=0)
        times = []
        for step in range(args.warmup_steps + args.steps):
            started = time.perf_counter()
            loss, _ = method.loss(sampler.batch(step), {"model": scorer}, step)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            times.append(time.perf_counter() - started)
        step_s = statistics.median(times[args.warmup_steps:])
        passages_per_step = params.train.batch_queries * (1 + negatives)
        result = {"kind": config.kind, "layers": scorer.num_layers, "step_s_median": round(step_s, 3),
                  "steps_per_s": round(1 / step_s, 2), "train_passages_per_s": round(passages_per_step / step_s, 1)}
        if config.kind == "de":
            passages = list(itertools.islice(data.passages(), args.encode_passages))
            started = time.perf_counter()
            encode(scorer, passages, "passages", len(passages), params.eval.batch_size, progress=False)
            result["encode_passages_per_s"] = round(len(passages) / (time.perf_counter() - started), 1)
        results[key] = result
        print(key, result, flush=True)
    print(json.dumps({"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                      "batch_queries": params.train.batch_queries, "results": results}, indent=2))


if __name__ == "__main__":
    main()
