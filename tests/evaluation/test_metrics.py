"""evaluate_run against hand-computed values. log2(2)=1, log2(4)=2; others are left as log2(n)."""

from __future__ import annotations

import random
from fractions import Fraction
from math import log2

import numpy as np
import pytest
import pytrec_eval

from lead.evaluation.metrics import evaluate_per_query, evaluate_run, metric_names

# Two queries. Relevant at threshold 1 = grade >= 1; at threshold 2 = grade >= 2.
QRELS = {
    "q1": {"a": 3, "b": 2, "c": 1, "d": 1, "e": 0},  # d is relevant but never retrieved
    "q2": {"z": 2, "w": 1, "v": 0},
}
Q1_RANKING = ["e", "c", "a", "x", "b"]  # grades 0, 1, 3, unjudged, 2
Q2_RANKING = ["n1", "n2", "w", "n3", "n4", "n5", "n6", "n7", "n8", "v", "z"]  # w rank 3, z rank 11


def as_run(ranking: list[str]) -> dict[str, float]:
    """Scores n, n-1, ..., 1 so that the list order is the ranking."""
    return {pid: float(len(ranking) - i) for i, pid in enumerate(ranking)}


RUN = {"q1": as_run(Q1_RANKING), "q2": as_run(Q2_RANKING)}
DEPTHS = dict(recall_depths=(2, 5, 20), hit_depths=(1, 2, 5, 20))

# NDCG@10 (gain = grade, discount log2(rank + 1)) does not depend on the threshold.
# q1: DCG  = 0/log2(2) + 1/log2(3) + 3/log2(4) + 0/log2(5) + 2/log2(6)
#     IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4) + 1/log2(5)   (4 judged relevant, only 3 retrieved)
Q1_NDCG = (1 / log2(3) + 3 / 2 + 2 / log2(6)) / (3 + 2 / log2(3) + 1 / 2 + 1 / log2(5))
# q2: DCG = 1/log2(4) (w at rank 3; z at rank 11 is past the cut); IDCG = 2/log2(2) + 1/log2(3)
Q2_NDCG = (1 / 2) / (2 + 1 / log2(3))

EXPECTED = {
    1: {  # relevant: q1 {a, b, c, d} (4), q2 {z, w} (2)
        "q1": {
            "MRR@10": 1 / 2,  # c at rank 2
            "NDCG@10": Q1_NDCG,
            "Recall@2": 1 / 4,  # {c}
            "Recall@5": 3 / 4,  # {c, a, b}
            "Recall@20": 3 / 4,
            "HitRate@1": 0.0,  # e (grade 0) at rank 1
            "HitRate@2": 1.0,
            "HitRate@5": 1.0,
            "HitRate@20": 1.0,
            "MAP@1000": (1 / 2 + 2 / 3 + 3 / 5) / 4,  # precisions at ranks 2, 3, 5; d never found
        },
        "q2": {
            "MRR@10": 1 / 3,  # w at rank 3
            "NDCG@10": Q2_NDCG,
            "Recall@2": 0.0,
            "Recall@5": 1 / 2,  # {w}
            "Recall@20": 1.0,  # {w, z}
            "HitRate@1": 0.0,
            "HitRate@2": 0.0,
            "HitRate@5": 1.0,
            "HitRate@20": 1.0,
            "MAP@1000": (1 / 3 + 2 / 11) / 2,  # precisions at ranks 3 and 11
        },
    },
    2: {  # relevant: q1 {a, b} (2), q2 {z} (1)
        "q1": {
            "MRR@10": 1 / 3,  # a at rank 3
            "NDCG@10": Q1_NDCG,
            "Recall@2": 0.0,
            "Recall@5": 1.0,  # {a, b}
            "Recall@20": 1.0,
            "HitRate@1": 0.0,
            "HitRate@2": 0.0,
            "HitRate@5": 1.0,
            "HitRate@20": 1.0,
            "MAP@1000": (1 / 3 + 2 / 5) / 2,  # precisions at ranks 3, 5
        },
        "q2": {
            "MRR@10": 0.0,  # only relevant doc z is at rank 11 (full-depth recip_rank: 1/11)
            "NDCG@10": Q2_NDCG,
            "Recall@2": 0.0,
            "Recall@5": 0.0,
            "Recall@20": 1.0,
            "HitRate@1": 0.0,
            "HitRate@2": 0.0,
            "HitRate@5": 0.0,
            "HitRate@20": 1.0,
            "MAP@1000": (1 / 11) / 1,
        },
    },
}


@pytest.mark.parametrize("threshold", [1, 2])
def test_worked_example_per_query_and_mean(threshold):
    per_query = evaluate_per_query(QRELS, RUN, rel_threshold=threshold, **DEPTHS)
    result = evaluate_run(QRELS, RUN, rel_threshold=threshold, **DEPTHS)
    expected = EXPECTED[threshold]
    assert list(per_query) == ["q1", "q2"]
    for qid in ("q1", "q2"):
        assert list(per_query[qid]) == metric_names(**DEPTHS)
        assert per_query[qid] == pytest.approx(expected[qid]), qid
    mean = {name: (expected["q1"][name] + expected["q2"][name]) / 2 for name in expected["q1"]}
    assert list(result) == metric_names(**DEPTHS) + ["n_queries"]
    assert result == pytest.approx({**mean, "n_queries": 2})


def test_worked_example_means_in_closed_form():
    one = evaluate_run(QRELS, RUN, rel_threshold=1, **DEPTHS)
    two = evaluate_run(QRELS, RUN, rel_threshold=2, **DEPTHS)
    # threshold 1: MRR = (1/2 + 1/3)/2 = 5/12; Recall@5 = (3/4 + 1/2)/2 = 5/8; HitRate@2 = (1 + 0)/2
    assert one["MRR@10"] == pytest.approx(5 / 12)
    assert one["Recall@5"] == pytest.approx(5 / 8)
    assert one["HitRate@2"] == pytest.approx(1 / 2)
    q1_map = Fraction(1, 2) + Fraction(2, 3) + Fraction(3, 5)  # 53/30, over 4 relevant
    assert one["MAP@1000"] == pytest.approx(float((q1_map / 4 + Fraction(17, 66)) / 2))
    # threshold 2: MRR = (1/3 + 0)/2 = 1/6; Recall@5 = (1 + 0)/2; HitRate@2 = 0; MAP = (11/30 + 1/11)/2
    assert two["MRR@10"] == pytest.approx(1 / 6)
    assert two["Recall@5"] == pytest.approx(1 / 2)
    assert two["HitRate@2"] == 0.0
    assert two["MAP@1000"] == pytest.approx(float((Fraction(11, 30) + Fraction(1, 11)) / 2))
    # NDCG uses the grades as gains whatever the threshold
    assert one["NDCG@10"] == pytest.approx((Q1_NDCG + Q2_NDCG) / 2)
    assert two["NDCG@10"] == pytest.approx((Q1_NDCG + Q2_NDCG) / 2)
    for name in ("MRR@10", "Recall@2", "Recall@5", "HitRate@2", "HitRate@5", "MAP@1000"):
        assert one[name] != pytest.approx(two[name]), name


def test_rank_11_counts_for_full_depth_recip_rank_but_not_mrr_at_10():
    evaluator = pytrec_eval.RelevanceEvaluator({"q2": QRELS["q2"]}, {"recip_rank"}, relevance_level=2)
    assert evaluator.evaluate({"q2": RUN["q2"]})["q2"]["recip_rank"] == pytest.approx(1 / 11)
    result = evaluate_run({"q2": QRELS["q2"]}, {"q2": RUN["q2"]}, rel_threshold=2)
    assert result["MRR@10"] == 0.0


def test_mrr_cut_breaks_ties_like_trec_eval():
    # 11 docs tied at 1.0: trec_eval orders ties by docno descending, k j ... b a, so a is rank 11
    run = {"q": {pid: 1.0 for pid in "abcdefghijk"}}
    assert evaluate_run({"q": {"a": 1}}, run)["MRR@10"] == 0.0
    assert evaluate_run({"q": {"b": 1}}, run)["MRR@10"] == pytest.approx(1 / 10)
    # trec_eval keeps scores as 32-bit floats: 1 + 1e-9 ties with 1.0, so a is still rank 11
    run["q"]["a"] = 1.0 + 1e-9
    assert evaluate_run({"q": {"a": 1}}, run)["MRR@10"] == 0.0
    run["q"]["a"] = 1.0 + 1e-6  # distinct as float32: rank 1
    assert evaluate_run({"q": {"a": 1}}, run)["MRR@10"] == 1.0


def test_mrr_at_10_agrees_with_full_depth_recip_rank_on_random_ties():
    rng = random.Random(0)
    for trial in range(200):
        pids = [f"p{i}" for i in range(rng.randint(1, 25))]
        scores = {pid: float(rng.choice([0.5, 1.0, 1.0 + 1e-9, 2.0])) for pid in pids}
        qrels = {"q": {pid: rng.choice([0, 0, 1]) for pid in rng.sample(pids, min(3, len(pids)))}}
        qrels["q"]["unretrieved"] = 1
        rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate({"q": scores})["q"]["recip_rank"]
        mrr = evaluate_run(qrels, {"q": scores})["MRR@10"]
        assert mrr == pytest.approx(rr if rr >= 1 / 10 else 0.0), trial


def test_query_missing_from_run_counts_zero_and_extra_run_query_is_ignored():
    qrels = {**QRELS, "q3": {"p": 1}}
    run = {**RUN, "q9": {"p": 1.0}}  # q9 is not judged
    per_query = evaluate_per_query(qrels, run, **DEPTHS)
    assert list(per_query) == ["q1", "q2", "q3"]
    assert all(value == 0.0 for value in per_query["q3"].values())
    result = evaluate_run(qrels, run, **DEPTHS)
    assert result.pop("n_queries") == 3
    base = evaluate_run(QRELS, RUN, **DEPTHS)
    assert base.pop("n_queries") == 2
    assert result == pytest.approx({name: value * 2 / 3 for name, value in base.items()})


def test_empty_ranking_counts_zero():
    result = evaluate_run({"q": {"a": 1}, "r": {"b": 1}}, {"q": {"a": 1.0}, "r": {}})
    assert result["n_queries"] == 2
    assert result["MRR@10"] == 0.5


def test_query_without_judgment_at_threshold_is_excluded():
    # q0 has only grade-0 judgments; q2's only doc above threshold 2 is z; w (grade 1) does not count
    qrels = {**QRELS, "q0": {"a": 0, "b": 0}}
    run = {**RUN, "q0": {"a": 1.0}}
    assert evaluate_run(qrels, run, **DEPTHS)["n_queries"] == 2
    assert evaluate_run(qrels, run, **DEPTHS) == pytest.approx(evaluate_run(QRELS, RUN, **DEPTHS))
    only_grade_1 = {"q": {"a": 1}, "r": {"b": 2}}
    run = {"q": {"a": 1.0}, "r": {"b": 1.0}}
    assert list(evaluate_per_query(only_grade_1, run, rel_threshold=2)) == ["r"]
    assert evaluate_run(only_grade_1, run, rel_threshold=2)["n_queries"] == 1


def test_default_metrics_and_names():
    names = metric_names((50, 100, 1000), (1, 5, 20, 50, 100, 1000))
    assert names == [
        "MRR@10", "NDCG@10", "Recall@50", "Recall@100", "Recall@1000",
        "HitRate@1", "HitRate@5", "HitRate@20", "HitRate@50", "HitRate@100", "HitRate@1000", "MAP@1000",
    ]  # fmt: skip
    result = evaluate_run(QRELS, RUN)
    assert list(result) == names + ["n_queries"]
    # q1 retrieves 3 of 4 relevant, q2 both of 2: Recall@50 = (3/4 + 1)/2; HitRate@1 = 0
    assert result["Recall@50"] == pytest.approx(7 / 8)
    assert result["HitRate@1"] == 0.0 and result["HitRate@5"] == 1.0


def test_numpy_inputs_are_accepted():
    qrels = {"q": {"a": np.int64(1), "b": np.int32(0)}}
    run = {"q": {"a": np.float32(0.5), "b": np.float32(0.75)}}
    assert evaluate_run(qrels, run)["MRR@10"] == 0.5


@pytest.mark.parametrize(
    "qrels, run, message",
    [
        ({}, {"q": {"a": 1.0}}, "qrels are empty"),
        ({"q": {"a": 1.5}}, {"q": {"a": 1.0}}, "must be an int"),
        ({"q": {"a": True}}, {"q": {"a": 1.0}}, "must be an int"),
        ({"q": {"a": 0}}, {"q": {"a": 1.0}}, "no qrels query has a judgment with grade >= 1"),
        ({"q": {"a": 1}}, {"q": {"a": 1.0, "b": float("nan")}}, "must be numbers, got nan"),
        ({"q": {"a": 1}}, {"q": {"a": 1.0, "b": "2.0"}}, "must be numbers, got '2.0'"),
    ],
)
def test_bad_inputs(qrels, run, message):
    with pytest.raises(ValueError, match=message):
        evaluate_run(qrels, run)


def test_bad_depths():
    with pytest.raises(ValueError, match="recall_depths"):
        evaluate_run(QRELS, RUN, recall_depths=(0,))
    with pytest.raises(ValueError, match="duplicates"):
        evaluate_run(QRELS, RUN, hit_depths=(5, 5))
