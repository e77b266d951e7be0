"""What the embedded benchmark's grade-1 rule does to the test metrics.

    python -m benchmarks.judging                      # the workspace's runs (dvc repro), params.yaml's benchmark
    python -m benchmarks.judging --metric NDCG@10 MRR@10

The test judgments grade the people of every passage that holds all three of a query's concepts
(``lead/data/synthetic.py``); a passage lacking one concept altogether is not judged, even where someone in it
has the other two. This rebuilds the benchmark of params.yaml, checks that its judgments are the prepared
ones, and scores every test run in ``runs/`` twice: with those judgments and with judgments that also grade
such passages as 1 (``judgments(..., partial_matches=True)``). Prints a Markdown table per metric: each
model's value and rank under both, and the difference. Binary metrics (threshold 2) cannot differ: only
grade-1 judgments are added.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lead.config import load_params
from lead.data.msmarco import read_qrels
from lead.data.runs import read_trec_run
from lead.data.synthetic import SyntheticBenchmark
from lead.evaluation.metrics import evaluate_run

FIRST_TEST_QID = 200_001  # as SyntheticBenchmark.write numbers the test queries


def both_judgments(params_file: str = "params.yaml") -> tuple[dict, dict]:
    """(the test judgments as prepared, the same with partial matches judged), as qid -> pid -> grade."""
    params = load_params(params_file)
    if params.data.source != "synthetic":
        raise SystemExit(f"{params_file}: data.source is {params.data.source!r}; this compares the embedded benchmark's judgments")
    benchmark = SyntheticBenchmark(params.data.synthetic).build()
    shipped, partial = {}, {}
    for offset, (_, target) in enumerate(benchmark.queries["test"]):
        qid = str(FIRST_TEST_QID + offset)
        shipped[qid] = {str(pid): grade for pid, grade in benchmark.judgments(target).items()}
        partial[qid] = {str(pid): grade for pid, grade in benchmark.judgments(target, partial_matches=True).items()}
    prepared = read_qrels("data/prepared/qrels.test.tsv")
    if prepared != shipped:
        raise SystemExit("data/prepared/qrels.test.tsv is not the benchmark of params.yaml: run dvc repro prepare first")
    return shipped, partial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metric", nargs="+", default=["NDCG@10"])
    parser.add_argument("--runs", default="runs", help="folder of the TREC runs (<model>.test.trec)")
    args = parser.parse_args()
    shipped, partial = both_judgments()
    added = sum(len(partial[q]) - len(shipped[q]) for q in shipped)
    print(f"test queries {len(shipped)}; judgments as prepared {sum(map(len, shipped.values()))}; "
          f"grade-1 partial matches added {added}")
    scores = {}
    for path in sorted(Path(args.runs).glob("*.test.trec")):
        run = read_trec_run(path)
        scores[path.name.removesuffix(".test.trec")] = (evaluate_run(shipped, run, rel_threshold=2),
                                                        evaluate_run(partial, run, rel_threshold=2))
    for metric in args.metric:
        rank = {}
        for which in (0, 1):
            order = sorted(scores, key=lambda m: -scores[m][which][metric])
            rank[which] = {model: position for position, model in enumerate(order, start=1)}
        print(f"\n{metric} (test): judgments as prepared / partial matches judged too\n")
        print("| model | as prepared | rank | partial matches judged | rank | difference |")
        print("|---|---|---|---|---|---|")
        for model in sorted(scores, key=lambda m: rank[0][m]):
            a, b = scores[model][0][metric], scores[model][1][metric]
            print(f"| {model} | {a:.4f} | {rank[0][model]} | {b:.4f} | {rank[1][model]} | {b - a:+.4f} |")


if __name__ == "__main__":
    main()
