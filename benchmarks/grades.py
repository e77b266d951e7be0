"""Where each grade lands: graded vs binary-gain NDCG@10 and the judged grades in each model's top 10, read
from the run files and judgments of named DVC experiments (their dvc.lock points into the local DVC cache).

    python -m benchmarks.grades --experiments hn600-s13 hn600-s14 hn600-s15 --models student_random student

Binary-gain NDCG counts only grades >= the prepared data's threshold (2 on the embedded benchmark); the top-10
columns are passages per query of grade 3, 2, 1, 0 and unjudged.
"""

from __future__ import annotations

import argparse
import collections

import pytrec_eval

from benchmarks.experiments import Experiment
from lead.data.runs import ranked, read_trec_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    print("| experiment | model | NDCG@10 | binary-gain NDCG@10 | top-10 grade 3 | 2 | 1 | 0 | unjudged |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.experiments:
        experiment = Experiment(name)
        qrels, threshold = experiment.judgments(args.split)
        binary = {q: {p: int(g >= threshold) for p, g in d.items()} for q, d in qrels.items()}
        for model in args.models:
            run = read_trec_run(experiment.run_file(model, args.split))
            n = len(run)
            graded = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
            binar = pytrec_eval.RelevanceEvaluator(binary, {"ndcg_cut.10"}).evaluate(run)
            top = collections.Counter(qrels.get(q, {}).get(pid, -1) for q, scores in run.items() for pid, _ in ranked(scores, 10))
            mean = lambda result: sum(v["ndcg_cut_10"] for v in result.values()) / n  # noqa: E731
            cells = [f"{top[g] / n:.2f}" for g in (3, 2, 1, 0, -1)]
            print(f"| {name} | {model} | {mean(graded):.4f} | {mean(binar):.4f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
