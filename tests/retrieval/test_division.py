"""PROD's data division on a worked example and its edge cases (spec B.9)."""

from __future__ import annotations

import pytest

from lead.retrieval.division import (
    DivisionRule,
    divide,
    first_positive_rank,
    ranked_lists,
)

MARCO = DivisionRule()  # keep iff 1 <= r_S <= 14 and r_T == 0
NQ = DivisionRule(kind="nq", teacher_max=14)  # keep iff r_T < r_S and r_T <= 14


def test_first_positive_rank():
    assert first_positive_rank(["a", "b", "c"], {"c", "b"}) == 1
    assert first_positive_rank(["a", "b"], {"z"}) is None
    assert first_positive_rank([], {"a"}) is None


def test_worked_example():
    positives = {"q1": ["p"], "q2": ["p"], "q3": ["p"], "q4": ["p"], "q5": ["p"], "q6": ["p", "p2"]}
    negatives = [f"n{i}" for i in range(20)]
    student = {
        "q1": negatives[:3] + ["p"],          # r_S = 3
        "q2": ["p"] + negatives[:5],          # r_S = 0: positive first for the student too
        "q3": negatives[:14] + ["p"],         # r_S = 14: the last rank kept
        "q4": negatives[:15] + ["p"],         # r_S = 15: too far
        "q5": negatives[:10],                 # no positive retrieved
        "q6": ["n1", "p2", "p"],              # r_S = 1 through the second positive
    }
    teacher = {
        "q1": ["p"] + negatives[:3],          # r_T = 0
        "q2": ["p"] + negatives[:5],          # r_T = 0
        "q3": ["p"] + negatives[:14],         # r_T = 0
        "q4": ["p"] + negatives[:15],         # r_T = 0
        "q5": negatives[:10],                 # none
        "q6": ["p", "n1", "p2"],              # r_T = 0
    }
    assert divide(student, teacher, positives, MARCO) == ["q1", "q3", "q6"]
    # nq: the teacher strictly above the student and in its top 15; a missing positive is rank infinity
    assert divide(student, teacher, positives, NQ) == ["q1", "q3", "q4", "q6"]
    assert divide(student, {"q1": negatives[:3] + ["p"]}, positives, NQ) == []  # a tie r_T == r_S is not kept
    # the teacher wrong at the top: not kept by either rule
    assert divide({"q1": ["n0", "p"]}, {"q1": ["n0", "p"]}, positives, MARCO) == []
    # nq with no student positive at all: kept when the teacher finds one in its top 15
    assert divide({"q5": negatives[:3]}, {"q5": ["n0", "p"]}, positives, NQ) == ["q5"]
    # queries absent from the teacher lists or the judgments are skipped
    assert divide({"qx": ["n0", "p"]}, {}, {"qx": ["p"]}, MARCO) == []
    assert divide({"qx": ["n0", "p"]}, {"qx": ["p"]}, {}, MARCO) == []


def test_ties_in_the_teacher_scores_follow_the_evaluation_order():
    # the positive "p1" and the negative "p9" tie at the top: trec_eval orders equal scores by pid descending,
    # so "p9" comes first, r_T = 1 and the query is not kept; a strictly higher positive score keeps it
    student = {"q": ["p9", "p1"]}
    tied = ranked_lists({"q": {"p1": 2.0, "p9": 2.0, "p5": 0.5}})
    assert tied == {"q": ["p9", "p1", "p5"]}
    assert divide(student, tied, {"q": ["p1"]}, MARCO) == []
    assert divide(student, ranked_lists({"q": {"p1": 2.5, "p9": 2.0}}), {"q": ["p1"]}, MARCO) == ["q"]


def test_rule_checks_its_ranks():
    with pytest.raises(ValueError, match="student_min"):
        DivisionRule(student_min=5, student_max=2)
    with pytest.raises(ValueError, match="marco or nq"):
        DivisionRule(kind="trec")


def test_each_rule_defaults_to_prods_teacher_cut_off():
    from lead.config import DivideConfig

    assert DivideConfig().teacher_max == 0 and DivideConfig(rule="nq").teacher_max == 14  # spec B.9: r_T = 0; NQ: r_T < 15
    assert DivideConfig(rule="nq", teacher_max=3).teacher_max == 3


def test_division_a_slice_of_queries_at_a_time_keeps_each_query_with_its_own_lists(tmp_path, monkeypatch):
    """Five queries read two at a time: the kept ones, their negatives and the counts are each query's own."""
    import numpy as np

    from lead.config import DivideConfig
    from lead.data.examples import QueryExample
    from lead.data.prepared import PreparedData
    from lead.retrieval import division, search
    from lead.retrieval.search import Hits

    (tmp_path / "collection.tsv").write_text("".join(f"p{i}\tpassage {i}\n" for i in range(10)))
    # the student ranks query q's positive p_q second (r_S = 1), except query 3's first (r_S = 0: not kept)
    rows = [[(q + 1) % 10, q, (q + 2) % 10, (q + 3) % 10] for q in range(5)]
    rows[3] = [3, 4, 5, 6]
    hits = Hits([f"q{q}" for q in range(5)], np.array([f"p{i}" for i in range(10)]), np.array(rows),
                np.tile([4.0, 3.0, 2.0, 1.0], (5, 1)))
    monkeypatch.setattr(division, "search_collection", lambda *args, **kwargs: (hits, {}))
    # the teacher puts every query's positive first (r_T = 0)
    reranked = []

    def teacher(scorer, queries, candidates, store, batch_size):
        assert sorted(queries) == sorted(candidates)
        reranked.extend(candidates)
        return {qid: {pid: (9.0 if pid == f"p{qid[1:]}" else -float(i)) for i, pid in enumerate(pids)}
                for qid, pids in candidates.items()}

    monkeypatch.setattr(division, "rerank", teacher)
    monkeypatch.setattr(search, "QUERIES_PER_RUN", 2)
    examples = [QueryExample(f"q{q}", f"query {q}", [f"p{q}"], []) for q in range(5)]
    divided, stats = division.divide_training_set(None, None, PreparedData(tmp_path), examples,
                                                  DivideConfig(student="s", teacher="t", depth=4, keep=2, student_max=3))
    assert {e.qid: e.negatives for e in divided} == {f"q{q}": [f"p{(q + 1) % 10}", f"p{(q + 2) % 10}"] for q in (0, 1, 2, 4)}
    assert (stats["queries"], stats["kept"], stats["student_first"]) == (5, 4, 1)
    # query 3's student rank (0) can never be kept: the teacher re-ranks the other four only
    assert sorted(reranked) == ["q0", "q1", "q2", "q4"]
    assert (stats["teacher_reranked"], stats["teacher_first"]) == (4, 4)


@pytest.mark.parametrize("rule", [MARCO, NQ, DivisionRule(student_min=0, student_max=3, teacher_max=2),
                                  DivisionRule(kind="nq", teacher_max=0)])
def test_the_teacher_is_needed_exactly_where_some_teacher_rank_keeps_the_query(rule):
    for student_rank in [None, *range(20)]:
        could_keep = any(rule.keep(student_rank, teacher_rank) for teacher_rank in [None, *range(20)])
        assert rule.needs_teacher(student_rank) == could_keep, (rule, student_rank)
