"""Does a re-ranker that ranks below its first stage still carry what the first stage lacks? Its scores
interpolated with the first stage's, from the run files of a reproduced checkout or of DVC experiments.

    python -m benchmarks.fusion --experiments workspace seed14b scifact
    python -m benchmarks.fusion --experiments workspace --reranker cb_teacher.rerank

For each experiment: the first stage's run (``--first-stage``, default ``student``) and the re-ranker's run over
its top ``--depth`` (default ``ce_teacher.rerank``, which re-ranked the student's top 30), interpolated as the
fuse@ stage does, s_reranker + w s_first_stage, with w the ratio of the two runs' score spreads within a query
(lead.models.fused.spread_weight). Here w is measured on these test lists (no judgment is read); the stage
measures it on training candidates. NDCG@10 and MRR@10 of the three, and the fused run against each member
paired over queries (sign flip, benchmarks.paired).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.paired import open_experiment, shown_p, sign_flip_p
from lead.data.runs import read_trec_run
from lead.evaluation.metrics import evaluate_per_query
from lead.models.fused import spread_weight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", default=["workspace"])
    parser.add_argument("--first-stage", default="student")
    parser.add_argument("--reranker", default="ce_teacher.rerank")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    print("| experiment | w | first stage NDCG@10 / MRR@10 | re-ranker | fused | fused - first stage (p) | "
          "fused - re-ranker (p) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.experiments:
        experiment = open_experiment(name)
        qrels, threshold = experiment.judgments(args.split)
        first = read_trec_run(experiment.run_file(args.first_stage, args.split))
        reranker = read_trec_run(experiment.run_file(args.reranker, args.split))
        tops = {q: sorted(first[q], key=lambda p: -first[q][p])[: args.depth] for q in reranker}
        first_top = {q: {p: first[q][p] for p in pids} for q, pids in tops.items()}
        reranker_top = {q: {p: reranker[q][p] for p in pids} for q, pids in tops.items()}
        weight = spread_weight(reranker_top, first_top)
        fused = {q: {p: reranker_top[q][p] + weight * first_top[q][p] for p in pids} for q, pids in tops.items()}
        per_query = {label: evaluate_per_query(qrels, run, threshold)
                     for label, run in (("first", first), ("reranker", reranker), ("fused", fused))}
        queries = sorted(per_query["first"])

        def mean(label: str, metric: str) -> float:
            return float(np.mean([per_query[label][q][metric] for q in queries]))

        def versus(other: str) -> str:
            differences = np.array([per_query["fused"][q]["NDCG@10"] - per_query[other][q]["NDCG@10"] for q in queries])
            return f"{differences.mean():+.4f} ({shown_p(sign_flip_p(differences))})"

        shown = {label: f"{mean(label, 'NDCG@10'):.4f} / {mean(label, 'MRR@10'):.4f}" for label in per_query}
        print(f"| {name} | {weight:.3g} | {shown['first']} | {shown['reranker']} | {shown['fused']} | {versus('first')} | "
              f"{versus('reranker')} |")


if __name__ == "__main__":
    main()
