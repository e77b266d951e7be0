"""How informative each teacher layer's score distribution is: per-layer entropy and positive NLL over one
in-batch candidate set, for ColBERT with raw (the reference) and L2-normalised per-layer token vectors.

    python -m benchmarks.layer_scores --models models/cb_teacher models/de_teacher models/student

A layer whose softmax is one-hot (entropy 0) gives LEAD's layer-wise KL nothing beyond a hard label; a layer
near log(C) (uniform) gives nothing at all. Batches: ``--batches`` in-batch candidate sets of 8 mined training
queries x (positive + 1 negative), the training batches' shape; the figures are means over every query of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import torch
import torch.nn.functional as F

from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.models.factory import load_scorer
from lead.training.methods import candidate_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["models/cb_teacher", "models/de_teacher", "models/student"])
    parser.add_argument("--train-file", default="data/mined/train.jsonl")
    parser.add_argument("--batch-queries", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--negatives", type=int, default=1, help="per query; a cross-encoder scores its own group")
    args = parser.parse_args()
    examples = list(read_training_file(args.train_file))
    sampler = BatchSampler(examples, PassageStore("data/prepared/collection.tsv"), args.batch_queries, args.negatives,
                           seed=args.seed)
    batches = [sampler.batch(step) for step in range(args.batches)]
    in_batch, own = len(batches[0].passages), batches[0].group_size
    print(f"{args.batches} batches; candidates per query: {in_batch} in-batch (uniform: entropy and NLL "
          f"{math.log(in_batch):.2f}), {own} for a cross-encoder's own group (uniform {math.log(own):.2f})\n")
    print("| model | per-layer vectors | layer | entropy | NLL of the positive | score std |")
    print("|---|---|---|---|---|---|")
    for folder in args.models:
        model = load_scorer(folder).eval()
        variants = [False, True] if model.kind == "colbert" else [None]
        for normalise in variants:
            if normalise is not None:
                model.config = dataclasses.replace(model.config, normalize_layers=normalise)
            layers = list(range(1, model.num_layers + 1))
            entropy, nll, spread = (torch.zeros(len(layers)) for _ in range(3))
            for batch in batches:
                with torch.no_grad():
                    scores, _ = candidate_scores(model, batch, not model.supports_in_batch, layers=layers)
                targets = scores.targets(not model.supports_in_batch, batch.group_size)
                p = scores.layers.float().softmax(-1)
                entropy += -(p * p.clamp_min(1e-12).log()).sum(-1).mean(-1) / len(batches)
                per_query = F.cross_entropy(scores.layers.float().flatten(0, 1), targets.repeat(len(layers)), reduction="none")
                nll += per_query.view(len(layers), -1).mean(1) / len(batches)
                spread += scores.layers.flatten(1).std(1) / len(batches)
            view = {None: "as the model scores", False: "raw (reference)", True: "L2-normalised"}[normalise]
            for i, layer in enumerate(layers):
                print(f"| {folder} | {view} | {layer} | {entropy[i]:.3f} | {nll[i]:.2f} | {spread[i]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
