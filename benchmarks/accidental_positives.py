"""How often the accidental-positive mask fires: training batches drawn as a run draws them, counted.

    python -m benchmarks.accidental_positives                                # the default's mined file
    python -m benchmarks.accidental_positives --train-file data/flash/tpd1/train.jsonl --negatives 3

A candidate of the in-batch set that a query's judgments call relevant, other than its own positive, is masked
out of that query's row (``train.mask_accidental_positives``; ``BatchSampler`` builds the mask). This draws
``--batches`` global batches with the sampler a training run uses (same seed, batch and negatives) and prints
how many cells the mask removes: per batch, the share of batches where it fires at all, how many of them are
another query's negative (a hard negative judged relevant to this query) rather than its positive, and how many
training queries share a judged passage with another training query.
"""

from __future__ import annotations

import argparse
from collections import Counter

from lead.data.examples import BatchSampler, PassageStore, read_training_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-file", default="data/mined/train.jsonl")
    parser.add_argument("--collection", default="data/prepared/collection.tsv")
    parser.add_argument("--batch-queries", type=int, default=8, help="train.batch_queries")
    parser.add_argument("--negatives", type=int, default=1, help="train.negatives")
    parser.add_argument("--seed", type=int, default=13, help="train.seed")
    parser.add_argument("--batches", type=int, default=200)
    args = parser.parse_args()
    store = PassageStore(args.collection)
    examples = list(read_training_file(args.train_file, store))
    sampler = BatchSampler(examples, store, args.batch_queries, args.negatives, seed=args.seed,
                           mask_accidental_positives=True)
    owners = Counter(pid for e in examples for pid in set(e.positives))
    sharing = sum(any(owners[pid] > 1 for pid in set(e.positives)) for e in examples)
    # columns of another query's negatives (a group is its positive, then its negatives): the same every batch
    negative_columns = [j % (1 + args.negatives) != 0 for j in range(args.batch_queries * (1 + args.negatives))]
    masked, as_negative = [], 0
    for step in range(args.batches):
        mask = sampler.batch(step).accidental_positives
        masked.append(int(mask.sum()))
        as_negative += int(mask[:, negative_columns].sum())
    cells = args.batch_queries * args.batch_queries * (1 + args.negatives)
    print(f"{args.train_file}: {len(examples)} training queries, {sharing} ({100 * sharing / len(examples):.1f}%) "
          f"share a judged passage with another training query")
    print(f"{args.batches} batches of {args.batch_queries} queries x {1 + args.negatives} passages (seed {args.seed}): "
          f"{sum(masked) / len(masked):.2f} masked cells per batch of {cells}, in {sum(m > 0 for m in masked)} of "
          f"{len(masked)} batches (at most {max(masked)} in one); {as_negative} of the {sum(masked)} masked cells are "
          "another query's negative, the rest its positive")


if __name__ == "__main__":
    main()
