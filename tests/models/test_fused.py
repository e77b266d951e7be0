"""A fused model (a re-ranker interpolated with its first stage): its scores are the members' own scores summed
with the weight, it saves and loads strictly, its weight is the ratio of score spreads (a worked example), and
what it cannot do (in-batch candidates, layers, training as a teacher, being built from weights) is refused."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lead.config import DistillConfig, ScorerConfig
from lead.errors import ParamsValueError
from lead.models.factory import build_scorer, load_scorer, save_scorer
from lead.models.fused import Fused, spread_weight
from lead.records import Passage, TextBatch
from lead.training.distill import Distill
from tests.helpers import tiny_bert_folder


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> tuple:
    tiny = str(tiny_bert_folder(tmp_path_factory.mktemp("tiny") / "bert", layers=2, hidden=32))
    torch.manual_seed(0)
    reranker = build_scorer(ScorerConfig(kind="ce", name=tiny, query_max_length=16, passage_max_length=48)).eval()
    torch.manual_seed(1)
    first = build_scorer(ScorerConfig(kind="de", name=tiny, pooling="mean", similarity="cosine", scale=20.0,
                                      query_max_length=16, passage_max_length=48)).eval()
    return reranker, first


def batch() -> TextBatch:
    passages = [Passage("p1", "Maria Lopez is a doctor in Oslo."), Passage("p2", "Tom Chen, a lawyer from Rome."),
                Passage("p3", "Aiko Tanaka works as a chef in Tokyo."), Passage("p4", "Lars Berg is a pilot.")]
    return TextBatch(["q1", "q2"], ["who is a doctor", "which chef lives in Tokyo"], [p.pid for p in passages],
                     passages, group_size=2)


def fused(members, weight: float = 2.5) -> Fused:
    return Fused(ScorerConfig(kind="fused", first_stage_weight=weight), *members).eval()


def test_the_fused_score_is_the_rerankers_plus_the_weighted_first_stages(members):
    reranker, first = members
    with torch.no_grad():
        expected = reranker.scores(batch(), own=True).final + 2.5 * first.scores(batch(), own=True).final
        got = fused(members).scores(batch(), own=True)
    assert got.final.shape == (2, 2) and got.layers is None
    torch.testing.assert_close(got.final, expected, rtol=0, atol=1e-6)


def test_it_saves_and_loads_with_its_weight_and_both_members(members, tmp_path):
    save_scorer(fused(members, 3.0), tmp_path / "fused")
    meta = json.loads((tmp_path / "fused" / "scorer.json").read_text())
    assert meta["config"]["kind"] == "fused" and meta["config"]["first_stage_weight"] == 3.0
    assert (tmp_path / "fused" / "reranker" / "scorer.json").is_file()
    assert (tmp_path / "fused" / "first_stage" / "scorer.json").is_file()
    loaded = load_scorer(tmp_path / "fused").eval()
    assert isinstance(loaded, Fused) and loaded.weight == 3.0
    with torch.no_grad():
        torch.testing.assert_close(loaded.scores(batch(), own=True).final, fused(members, 3.0).scores(batch(), own=True).final)


def test_what_a_fused_model_cannot_do_is_refused(members):
    model = fused(members)
    with pytest.raises(ValueError, match="own candidates only"):
        model.score(model(model.tokenize(batch())), own=False)
    with pytest.raises(ValueError, match="no layers"):
        model(model.tokenize(batch()), layers=[1])
    with pytest.raises(ValueError, match="made by a fuse@ stage"):
        build_scorer(ScorerConfig(kind="fused", first_stage_weight=1.0))
    with pytest.raises(ValueError, match="itself fused"):
        Fused(ScorerConfig(kind="fused", first_stage_weight=1.0), model, members[1])
    student = members[1]
    for config, message in ((DistillConfig(student="s", teacher="t", layer_weight=1.0, teacher_trainable=False), "no layers"),
                            (DistillConfig(student="s", teacher="t", layer_weight=0.0, teacher_trainable=True), "not trained")):
        with pytest.raises(ParamsValueError, match=f"distill_runs.x: the teacher is a fused model.*{message}"):
            Distill(student, model, config, "own", key="distill_runs.x")


def test_a_frozen_fused_teacher_gives_kd_its_scores(members):
    """PROD's KD from a fused teacher: the teacher row is the fused score of each query's own candidates."""
    reranker, first = members
    config = DistillConfig(student="s", teacher="t", kd="softmax", temperature=4.0, student_weight=0.0,
                           response_weight=1.0, layer_weight=0.0, teacher_trainable=False, lwf_weight=0.0)
    method = Distill(first, fused(members), config, "own")
    assert method.own and "teacher" in method.frozen
    _, terms = method.loss(batch(), dict(method.trainables), 0)
    with torch.no_grad():
        teacher = reranker.scores(batch(), own=True).final + 2.5 * first.scores(batch(), own=True).final
        student = first.scores(batch(), own=True).final
    # kd_softmax = tau^2 KL(softmax(t / tau) || softmax(s / tau)), averaged over the queries, by hand
    p, log_q = torch.softmax(teacher / 4.0, -1), torch.log_softmax(student / 4.0, -1)
    expected = 16.0 * (p * (p.log() - log_q)).sum(-1).mean()
    assert terms["kd_softmax"] == pytest.approx(expected.item(), rel=1e-5)


def test_the_weight_is_the_ratio_of_the_within_query_score_spreads():
    reranker = {"q1": {"a": 1.0, "b": 3.0}, "q2": {"a": 0.0, "b": 0.0, "c": 6.0}}
    first = {"q1": {"a": 0.1, "b": 0.2}, "q2": {"a": 0.0, "b": 0.1, "c": 0.2}}
    # within-query variances (population): reranker 1 and 8, first stage 0.0025 and 0.02 / 3
    expected = math.sqrt((1 + 8) / 2) / math.sqrt((0.0025 + 0.02 / 3) / 2)
    assert spread_weight(reranker, first) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="one score"):
        spread_weight(reranker, {q: {p: 0.5 for p in pids} for q, pids in reranker.items()})
    with pytest.raises(ValueError, match="two candidates"):
        spread_weight({"q1": {"a": 1.0}}, {"q1": {"a": 0.3}})


def test_a_batch_pins_a_fused_models_nested_token_views(members, monkeypatch):
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pinned.append(self) or self)
    text = batch()
    model = fused(members)
    text.tokens = {"teacher": model.tokenize(text), "student": members[1].tokenize(text)}
    text.pin_memory()
    leaves = [v for view in text.tokens["teacher"].values() for v in view.values()] + list(text.tokens["student"].values())
    assert len(pinned) == len(leaves) and all(any(t is leaf for t in pinned) for leaf in leaves)
