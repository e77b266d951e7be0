"""Mean and spread of every model's test metrics over the workspace run and named DVC experiments.

    dvc exp run --temp -n seed14 -S train.seed=14 -S seed=14     # one per extra seed
    python -m benchmarks.seeds --experiments seed14 seed15 --metric NDCG@10 MRR@10

Reads ``dvc exp show --json``; the workspace (``dvc repro``) counts as one seed. Prints a Markdown table:
per model, each seed's value, the mean and the sample standard deviation. A model whose metrics are stale in
an experiment (its stage was not re-run although its inputs changed: still the baseline's) is left out.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.experiments import Experiment, shown_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="*", default=[])
    parser.add_argument("--metric", nargs="+", default=["NDCG@10"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--no-workspace", action="store_true", help="leave the workspace column out (another dataset)")
    args = parser.parse_args()

    runs = shown_metrics(set(args.experiments))
    order = [*([] if args.no_workspace else ["workspace"]), *args.experiments]
    missing = [r for r in order if r not in runs]
    if missing:
        raise SystemExit(f"not found in dvc exp show: {', '.join(missing)}")
    # An experiment keeps its baseline's metrics for stages it did not re-run although their inputs changed.
    for name in args.experiments:
        experiment = Experiment(name)
        for path in list(runs[name]):
            stage = experiment.producer(path)
            if stage is not None and not experiment.ran(stage):
                del runs[name][path]
    left_out = sorted({path for r in order for path in runs[r]} - set.intersection(*(set(runs[r]) for r in order)))
    for metric in args.metric:
        print(f"\n{metric} ({args.split}), runs: {', '.join(order)}\n")
        print("| model | " + " | ".join(order) + " | mean | std |")
        print("|---|" + "---|" * (len(order) + 2))
        for path in runs[order[0]]:
            values = [runs[r].get(path, {}).get("data", {}).get(args.split, {}).get(metric) for r in order]
            if any(v is None for v in values):
                continue
            model = path.removeprefix("metrics/").removesuffix("/metrics.json")
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells = " | ".join(f"{v:.4f}" for v in values)
            print(f"| {model} | {cells} | {statistics.mean(values):.4f} | {spread:.4f} |")
    if left_out:
        print("\nLeft out (not evaluated by every run): " + ", ".join(p.removeprefix("metrics/").removesuffix("/metrics.json") for p in left_out))


if __name__ == "__main__":
    main()
