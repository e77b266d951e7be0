"""A re-ranker interpolated with its first stage: s(q, p) = s_reranker(q, p) + w * s_first_stage(q, p).

A re-ranker trained on few queries ranks worse alone than the retriever whose candidates it re-ranks, yet the
two err on different passages; re-rankers are therefore interpolated with their first stage (Wang, Zhuang and
Zuccon, ICTIR 2021). ``w`` is fixed once, without judgments, by the fuse@ stage: the ratio of the two models'
score spreads within a query (``spread_weight``), so each adds as much to the ranking as the other, and the sum
stays on the re-ranker's scale (what a KD temperature was chosen for).

It scores each query's own candidates (a cross-encoder has no in-batch mode), has no layers of its own (LEAD's
layer term and VIRT refuse it) and is not trained: a frozen teacher, a re-ranker for rerank@ and divide@, a
scorer for score@. Saved as ``scorer.json`` (kind ``fused``, the weight) beside its members' own folders,
``reranker/`` and ``first_stage/``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from lead.config import DistillConfig, ScorerConfig
from lead.errors import ParamsValueError
from lead.models.base import Encoded, Scorer, Scores
from lead.records import TextBatch

MEMBERS = ("reranker", "first_stage")


class Fused(Scorer):
    kind = "fused"
    supports_in_batch = False

    def __init__(self, config: ScorerConfig, reranker: Scorer, first_stage: Scorer):
        if config.first_stage_weight is None:
            raise ValueError("a fused model needs first_stage_weight (the fuse@ stage sets it)")
        for role, member in zip(MEMBERS, (reranker, first_stage)):
            if isinstance(member, Fused):
                raise ValueError(f"a fused model's {role} is itself fused: fuse two trained models")
        super().__init__(config, reranker.tokenizer)
        self.reranker, self.first_stage = reranker, first_stage

    @property
    def weight(self) -> float:
        return self.config.first_stage_weight

    @property
    def num_layers(self) -> int:
        return 0  # no layer of its own: LEAD's layer term reads one model's blocks

    def members(self) -> dict[str, Scorer]:
        return {"reranker": self.reranker, "first_stage": self.first_stage}

    def encoders(self) -> list:
        return [encoder for member in self.members().values() for encoder in member.encoders()]

    def tokenize(self, batch: TextBatch) -> dict[str, dict[str, torch.Tensor]]:
        return {role: member.tokenize(batch) for role, member in self.members().items()}

    def forward(self, tokens: dict, layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        if layers or token_states:
            raise ValueError("a fused model (re-ranker + first stage) has no layers or token states of its own")
        final = {}
        for role, member in self.members().items():
            member.length_buckets = self.length_buckets
            final[role] = member.float_scores(member(tokens[role]), own=True).final
        group = final["reranker"].shape[1]
        return Encoded(queries={"final": final["reranker"] + self.weight * final["first_stage"]}, group_size=group)

    def score(self, encoded: Encoded, own: bool = True) -> Scores:
        if not own:
            raise ValueError("a fused model scores each query's own candidates only: use candidates: own")
        return Scores(encoded.queries["final"])


def check_fused_teacher_run(config: DistillConfig, key: str) -> None:
    """Refuse, in one line, what a fused teacher cannot give: layers of its own, or training."""
    if config.layer_weight > 0 or config.virt_weight > 0:
        raise ParamsValueError(f"{key}: the teacher is a fused model (re-ranker + first stage), which has no layers of "
                               "its own: set layer_weight and virt_weight to 0 (response KD) or name the re-ranker")
    if config.teacher_trainable:
        raise ParamsValueError(f"{key}: the teacher is a fused model, which is not trained: set teacher_trainable: false")


def spread_weight(reranker_runs: dict[str, dict[str, float]], first_stage_runs: dict[str, dict[str, float]]) -> float:
    """w = sd_reranker / sd_first_stage, each the root mean within-query variance of its scores over the same
    candidates (qid -> pid -> score): the first stage's scores rescaled to the re-ranker's spread."""

    def spread(runs: dict[str, dict[str, float]]) -> float:
        variances = []
        for qid in sorted(reranker_runs):
            scores = torch.tensor([runs[qid][pid] for pid in sorted(reranker_runs[qid])], dtype=torch.float64)
            if len(scores) > 1:
                variances.append(scores.var(unbiased=False).item())
        if not variances:
            raise ValueError("no query with two candidates or more: the spreads cannot be measured")
        return math.sqrt(sum(variances) / len(variances))

    first = spread(first_stage_runs)
    if first == 0:
        raise ValueError("the first stage gives every candidate of every query one score: nothing to interpolate")
    return spread(reranker_runs) / first
