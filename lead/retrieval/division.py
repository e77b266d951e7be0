"""PROD's data division (spec B.9): keep the training queries where the teacher is right and the student close.

Inputs per training query: the student's ranked list (its top-``depth`` retrieval) and the teacher's
re-ranking of exactly those candidates, both best first, and the query's judged positives. ``r`` is the
0-based rank of the first positive in a list (None when no positive was retrieved).

- ``marco`` (MS MARCO passage and document): keep iff student_min <= r_S <= student_max and r_T <= teacher_max
  (PROD: 1 <= r_S <= 14 and r_T = 0: the student puts the first positive 2nd-15th, the teacher 1st). A
  query without a retrieved positive is skipped.
- ``nq`` (PROD's Natural Questions rule): keep iff r_T < r_S and r_T <= teacher_max, with a missing positive
  counting as rank infinity (PROD: teacher_max = 14, the teacher's hit in its top-15 and strictly above the
  student's).

``divide_training_set`` runs the whole step on a prepared collection (the divide@<name> stage). Where the
training split carries answer strings (DPR's NQ), a candidate holding an answer counts as a positive too, as
PROD judges NQ hits, and is never kept as a negative.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from lead.config import DivideConfig, EvalConfig
from lead.data.answers import answer_matcher
from lead.data.examples import QueryExample
from lead.data.prepared import PreparedData
from lead.data.runs import ranked
from lead.models.base import Scorer
from lead.models.dual_encoder import DualEncoder
from lead.records import Query, Run
from lead.retrieval.mining import remove_positives, rerank
from lead.retrieval.search import search_collection


@dataclass(frozen=True)
class DivisionRule:
    kind: Literal["marco", "nq"] = "marco"
    student_min: int = 1
    student_max: int = 14
    teacher_max: int = 0

    def __post_init__(self):
        if self.kind not in ("marco", "nq"):
            raise ValueError(f"division rule must be marco or nq, got {self.kind!r}")
        if not 0 <= self.student_min <= self.student_max or self.teacher_max < 0:
            raise ValueError(f"division ranks must satisfy 0 <= student_min <= student_max and teacher_max >= 0, got {self}")

    def keep(self, student_rank: int | None, teacher_rank: int | None) -> bool:
        if self.kind == "marco":
            if student_rank is None or teacher_rank is None:
                return False
            return self.student_min <= student_rank <= self.student_max and teacher_rank <= self.teacher_max
        r_s = math.inf if student_rank is None else student_rank
        r_t = math.inf if teacher_rank is None else teacher_rank
        return r_t < r_s and r_t <= self.teacher_max

    def needs_teacher(self, student_rank: int | None) -> bool:
        """Whether some teacher rank could keep a query the student ranks so: the teacher re-ranks only these.
        marco needs student_min <= r_S <= student_max; nq needs r_S > 0 (r_T < r_S), a missing positive included."""
        if self.kind == "marco":
            return student_rank is not None and self.student_min <= student_rank <= self.student_max
        return student_rank is None or student_rank > 0


def first_positive_rank(ranking: Sequence[str], positives: Iterable[str]) -> int | None:
    """0-based rank of the first positive in ``ranking``, or None."""
    positives = set(positives)
    return next((rank for rank, pid in enumerate(ranking) if pid in positives), None)


def ranked_lists(run: Run) -> dict[str, list[str]]:
    """Each query's pids best first, in trec_eval's order: score descending, equal scores by pid descending (so
    a tie between a positive and a negative is decided by the ids, the same way the evaluation decides it)."""
    return {qid: [pid for pid, _ in ranked(scores)] for qid, scores in run.items()}


def divide(student_lists: dict[str, Sequence[str]], teacher_lists: dict[str, Sequence[str]],
           positives: dict[str, Iterable[str]], rule: DivisionRule) -> list[str]:
    """The query ids kept by ``rule``, in ``student_lists`` order; queries missing from either list are skipped."""
    kept = []
    for qid, student_list in student_lists.items():
        if qid not in teacher_lists or qid not in positives:
            continue
        judged = set(positives[qid])
        if rule.keep(first_positive_rank(student_list, judged), first_positive_rank(teacher_lists[qid], judged)):
            kept.append(qid)
    return kept


def divide_training_set(student: DualEncoder, teacher: Scorer, data: PreparedData, examples: list[QueryExample],
                        config: DivideConfig, batch_size: int = 64, search: EvalConfig | None = None,
                        ) -> tuple[list[QueryExample], dict]:
    """The divided training set and its statistics.

    The student retrieves its top ``config.depth`` for every training query; the teacher re-ranks exactly
    those candidates, for the queries whose student rank the rule can keep (``DivisionRule.needs_teacher``: a
    student that already ranks most positives first leaves the teacher little to score); the rule keeps queries;
    each kept query's negatives are the student's top ``config.keep`` non-positives in rank order (for
    ``negative_sampling: descend``). The statistics count the student's ranks over every query, the teacher's
    over the queries it re-ranked (``teacher_reranked``).
    """
    queries = [Query(e.qid, e.query) for e in examples]
    search = dataclasses.replace(search or EvalConfig(), depth=config.depth, batch_size=batch_size)  # its index, storage
    hits, _ = search_collection(student, data, queries, search)
    store, answers = data.store, data.answers("train")
    rule = DivisionRule(config.rule, config.student_min, config.student_max, config.teacher_max)
    divided, student_ranks, teacher_ranks = [], [], []
    for start, student_run in hits.runs():  # a slice of queries at a time: MS MARCO's whole runs would not fit in RAM
        part = examples[start : start + len(student_run)]
        student_lists = ranked_lists(student_run)
        positives = {e.qid: set(e.positives) for e in part}
        if answers is not None:  # judged by answer strings (DPR's NQ): every candidate holding an answer is a hit
            for e in part:
                holds = answer_matcher(answers.get(e.qid, []))
                positives[e.qid] |= {pid for pid in student_lists.get(e.qid, []) if holds(store[pid].text)}
        ranks = {e.qid: first_positive_rank(student_lists.get(e.qid, []), positives[e.qid]) for e in part}
        scored = {qid: student_lists[qid] for qid, rank in ranks.items() if qid in student_lists and rule.needs_teacher(rank)}
        questions = {e.qid: e.query for e in part if e.qid in scored}
        teacher_lists = ranked_lists(rerank(teacher, questions, scored, store, batch_size)) if scored else {}
        kept = set(divide(student_lists, teacher_lists, positives, rule))
        divided += [QueryExample(e.qid, e.query, e.positives, remove_positives(student_lists[e.qid], positives[e.qid], config.keep))
                    for e in part if e.qid in kept]
        student_ranks += [ranks[e.qid] for e in part]
        teacher_ranks += [first_positive_rank(teacher_lists[qid], positives[qid]) for qid in teacher_lists]
    stats = {
        "queries": len(examples), "kept": len(divided),
        "no_positive_retrieved": sum(r is None for r in student_ranks),
        "student_first": sum(r == 0 for r in student_ranks),
        "teacher_reranked": len(teacher_ranks),
        "teacher_first": sum(r == 0 for r in teacher_ranks),
        "rule": dataclasses.asdict(rule), "depth": config.depth,
    }
    return divided, stats
