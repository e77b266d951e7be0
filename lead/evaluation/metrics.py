"""Retrieval metrics, every one computed by pytrec_eval (trec_eval's C code).

Names and meaning:

- ``MRR@10``: reciprocal rank of the first doc with grade >= threshold within the top 10
  (``recip_rank`` on each query's ranking cut to 10 in trec_eval's own order, see
  ``lead.data.runs.ranked``).
- ``NDCG@10``: ``ndcg_cut.10`` with gain = grade (linear gain, log2 discount). The ideal
  ranking is built from all judged grades of the query, retrieved or not. trec_eval's
  relevance threshold does NOT apply to it: a grade-1 doc still gains 1 at threshold 2.
- ``Recall@k``: relevant retrieved in the top k / all relevant (``recall.k``).
- ``HitRate@k``: 1 if any relevant doc is in the top k, else 0 (``success.k``); what the
  LEAD/PROD papers call "Recall@k".
- ``MAP@1000``: ``map_cut.1000``.

Averaging follows TREC: over the qrels queries with at least one judgment of grade >=
threshold. Such a query missing from the run, or with an empty ranking, scores 0 on every
metric; run queries absent from the qrels are ignored. ``evaluate_run`` gives the means
(plus ``n_queries``), ``evaluate_per_query`` the value of every metric for every such query.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Sequence

import numpy as np
import pytrec_eval

from lead.data.runs import ranked
from lead.records import Qrels, Run

MRR_DEPTH = 10
NDCG_DEPTH = 10
MAP_DEPTH = 1000


def metric_names(
    recall_depths: Sequence[int] = (50, 100, 1000), hit_depths: Sequence[int] = (1, 5, 20, 50, 100, 1000)
) -> list[str]:
    """The metric names in report column order."""
    return (
        [f"MRR@{MRR_DEPTH}", f"NDCG@{NDCG_DEPTH}"]
        + [f"Recall@{k}" for k in recall_depths]
        + [f"HitRate@{k}" for k in hit_depths]
        + [f"MAP@{MAP_DEPTH}"]
    )


def evaluate_run(
    qrels: Qrels,
    run: Run,
    rel_threshold: int = 1,
    recall_depths: Sequence[int] = (50, 100, 1000),
    hit_depths: Sequence[int] = (1, 5, 20, 50, 100, 1000),
) -> dict[str, float]:
    """Mean of each metric (in ``metric_names`` order) over the judged queries, then ``n_queries``.

    A doc is relevant when its grade >= ``rel_threshold``.
    """
    values = evaluate_per_query(qrels, run, rel_threshold, recall_depths, hit_depths)
    names = metric_names(recall_depths, hit_depths)
    mean = {name: math.fsum(q[name] for q in values.values()) / len(values) for name in names}
    mean["n_queries"] = len(values)  # an int, so metrics.json shows a count
    return mean


def evaluate_per_query(
    qrels: Qrels,
    run: Run,
    rel_threshold: int = 1,
    recall_depths: Sequence[int] = (50, 100, 1000),
    hit_depths: Sequence[int] = (1, 5, 20, 50, 100, 1000),
) -> dict[str, dict[str, float]]:
    """qid -> metric -> value for every judged query (sorted), zeros for those without a ranking."""
    _check_depths(recall_depths, "recall_depths")
    _check_depths(hit_depths, "hit_depths")
    qids = _judged_queries(qrels, rel_threshold)
    judged = {qid: {pid: int(g) for pid, g in qrels[qid].items()} for qid in qids}
    scored = {qid: _scores(qid, run[qid]) for qid in qids if run.get(qid)}

    measures = {f"ndcg_cut.{NDCG_DEPTH}", f"map_cut.{MAP_DEPTH}"}
    if recall_depths:
        measures.add("recall." + ",".join(map(str, sorted(recall_depths))))
    if hit_depths:
        measures.add("success." + ",".join(map(str, sorted(hit_depths))))
    full = _evaluate(judged, scored, measures, rel_threshold)
    top10 = {qid: dict(ranked(scores, MRR_DEPTH)) for qid, scores in scored.items()}
    mrr = _evaluate(judged, top10, {"recip_rank"}, rel_threshold)

    # metric name -> (pytrec_eval results, measure key), in metric_names order
    sources = {f"MRR@{MRR_DEPTH}": (mrr, "recip_rank")}
    sources[f"NDCG@{NDCG_DEPTH}"] = (full, f"ndcg_cut_{NDCG_DEPTH}")
    sources.update({f"Recall@{k}": (full, f"recall_{k}") for k in recall_depths})
    sources.update({f"HitRate@{k}": (full, f"success_{k}") for k in hit_depths})
    sources[f"MAP@{MAP_DEPTH}"] = (full, f"map_cut_{MAP_DEPTH}")

    # a judged query with no ranking is absent from pytrec_eval's results and scores 0
    return {
        qid: {name: float(results.get(qid, {}).get(key, 0.0)) for name, (results, key) in sources.items()}
        for qid in qids
    }


def _judged_queries(qrels: Qrels, rel_threshold: int) -> list[str]:
    """Sorted qids with a judgment >= threshold; checks every grade is an int."""
    if not qrels:
        raise ValueError("qrels are empty: nothing to evaluate against")
    if not isinstance(rel_threshold, Integral) or isinstance(rel_threshold, bool):
        raise ValueError(f"rel_threshold must be an int, got {rel_threshold!r}")
    qids = []
    for qid, grades in qrels.items():
        for pid, grade in grades.items():
            if not isinstance(grade, Integral) or isinstance(grade, bool):
                raise ValueError(f"qrels grade for query {qid!r} pid {pid!r} must be an int, got {grade!r}")
        if any(grade >= rel_threshold for grade in grades.values()):
            qids.append(qid)
    if not qids:
        raise ValueError(f"no qrels query has a judgment with grade >= {rel_threshold}")
    return sorted(qids)


def _scores(qid: str, scores: dict[str, float]) -> dict[str, float]:
    """``scores`` as Python floats (pytrec_eval rejects numpy scalars); rejects NaN and non-numbers."""
    values = np.asarray(list(scores.values()))
    if values.dtype.kind in "iuf":
        values = values.astype(np.float64)
        if not np.isnan(values).any():
            return dict(zip(scores, values.tolist()))
    bad = [s for s in scores.values() if isinstance(s, bool) or not isinstance(s, Real) or math.isnan(s)]
    got = repr(bad[0]) if bad else f"dtype {values.dtype}"
    raise ValueError(f"run scores for query {qid!r} must be numbers, got {got}")


def _evaluate(qrels: Qrels, run: Run, measures: set[str], rel_threshold: int) -> dict[str, dict[str, float]]:
    if not run:
        return {}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=int(rel_threshold))
    return evaluator.evaluate(run)


def _check_depths(depths: Sequence[int], what: str) -> None:
    for k in depths:
        if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"{what} must be positive ints, got {list(depths)}")
    if len(set(depths)) != len(depths):
        raise ValueError(f"{what} has duplicates: {list(depths)}")
