"""Is model A better than model B per query? A paired randomisation test over the test queries, with each
query's difference averaged over the seeds (named DVC experiments), read from the experiments' run files and
prepared judgments in the local DVC cache.

    python -m benchmarks.paired --experiments sc6-s13r sc6-s14 sc6-s15 --models lead_de kd_de --metric NDCG@10 MRR@10

The query is the unit (the seeds re-train on the same queries, so their differences are not independent):
d_q = mean over seeds of metric(A, q) - metric(B, q). Two two-sided p-values:

- sign flip: the share of 100,000 random sign flips of the d_q whose mean is at least as far from 0 as the
  observed one (Smucker, Allan and Carterette, CIKM 2007). It resamples queries only, so it is conditional on
  these trained models: a shift that one seed's training gives every query is not part of its null.
- seeds and queries: a two-level percentile bootstrap (seeds drawn with replacement, then queries), twice the
  share of resampled mean differences on the other side of 0. It carries the seed-to-seed variance; with three
  seeds it is coarse (10 distinct draws of seeds) and cannot go far below the per-seed agreement allows.

``--models lead_de lead_de@workspace``: a model named ``<model>@<experiment>`` is read from that experiment
for every seed (an ablation's run against the default's; one seed).

Also printed: each seed's mean difference, the queries A wins, loses and ties on, and the half-width of the
95% interval of the mean difference over queries (1.96 sd / sqrt(n)): the smallest difference these queries
resolve for this pair. ``workspace`` as an experiment name reads the workspace's runs/ and data/prepared.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.experiments import Experiment
from lead.data.prepared import PreparedData
from lead.data.runs import read_trec_run
from lead.evaluation.metrics import evaluate_per_query


def sign_flip_p(differences: np.ndarray, rounds: int = 100_000, seed: int = 0) -> float:
    """Two-sided p of the mean paired difference under random sign flips (the observed signs count once)."""
    observed = abs(differences.mean())
    rng, as_far = np.random.default_rng(seed), 0
    for start in range(0, rounds, 1000):  # in chunks: 100,000 x 43,000 MS MARCO dev queries would not fit
        signs = rng.choice([-1.0, 1.0], size=(min(1000, rounds - start), len(differences)))
        as_far += int(np.sum(np.abs(signs @ differences) / len(differences) >= observed - 1e-12))
    return float((1 + as_far) / (rounds + 1))


def seeds_and_queries_p(differences: np.ndarray, rounds: int = 20_000, seed: int = 0) -> float:
    """Two-sided p that the mean of ``differences`` [seeds, queries] is 0, seeds and queries both resampled."""
    rng = np.random.default_rng(seed)
    seeds, queries = differences.shape
    means = np.array([differences[np.ix_(rng.integers(seeds, size=seeds), rng.integers(queries, size=queries))].mean()
                      for _ in range(rounds)])
    other_side = np.sum(means <= 0) if differences.mean() > 0 else np.sum(means >= 0)
    return float(min(1.0, 2 * (other_side + 1) / (rounds + 1)))


class Workspace:
    """The workspace's runs and judgments (``dvc repro``), read like an experiment's."""

    def judgments(self, split: str):
        data = PreparedData("data/prepared")
        return data.qrels(split), data.threshold(split)

    def run_file(self, model: str, split: str) -> str:
        return f"runs/{model}.{split}.trec"


def open_experiment(name: str) -> Workspace | Experiment:
    return Workspace() if name == "workspace" else Experiment(name)


def per_query(experiment: Workspace | Experiment, model: str, split: str) -> dict[str, dict[str, float]]:
    """qid -> metric -> value of ``model``'s run in ``experiment``, judged by the experiment's own judgments."""
    qrels, threshold = experiment.judgments(split)
    return evaluate_per_query(qrels, read_trec_run(experiment.run_file(model, split)), threshold)


def _where(model: str, experiment: str) -> tuple[Workspace | Experiment, str]:
    """``model`` or ``model@experiment``: the experiment to read it from, and the model."""
    model, _, named = model.partition("@")
    return open_experiment(named or experiment), model


def shown_p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", nargs="+", required=True)
    parser.add_argument("--models", nargs=2, required=True, metavar=("A", "B"))
    parser.add_argument("--metric", nargs="+", default=["NDCG@10"])
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    per_seed = []  # one {metric: {qid: A - B}} per experiment
    for name in args.experiments:
        a, b = (per_query(*_where(m, name), args.split) for m in args.models)
        per_seed.append({metric: {q: a[q][metric] - b[q][metric] for q in a} for metric in args.metric})
    queries = sorted(per_seed[0][args.metric[0]])
    if any(sorted(seed[args.metric[0]]) != queries for seed in per_seed):
        raise SystemExit("the experiments judge different test queries: pair only runs of the same benchmark")
    a, b = args.models
    print(f"{a} - {b}, {len(queries)} queries, mean over {len(per_seed)} seed(s) per query\n")
    print("| metric | mean difference | per seed | queries A wins / loses / ties | 95% half-width | p, sign flip over "
          "queries | p, seeds and queries |")
    print("|---|---|---|---|---|---|---|")
    for metric in args.metric:
        by_seed = np.array([[seed[metric][q] for q in queries] for seed in per_seed])  # [seeds, queries]
        d = by_seed.mean(0)
        wins, losses = int(np.sum(d > 1e-12)), int(np.sum(d < -1e-12))
        seeds = " / ".join(f"{m:+.4f}" for m in by_seed.mean(1))
        both = shown_p(seeds_and_queries_p(by_seed)) if len(per_seed) > 1 else "-"
        half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
        print(f"| {metric} | {d.mean():+.4f} | {seeds} | {wins} / {losses} / {len(d) - wins - losses} | {half:.4f} "
              f"| {shown_p(sign_flip_p(d))} | {both} |")


if __name__ == "__main__":
    main()
