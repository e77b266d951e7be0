"""The LEAD method on tiny models: the total is the weighted sum of its terms, each teacher kind gets its
candidate mode, baselines are params of the same path, frozen and detached teachers get the gradients they
should, and a student with its own vocabulary learns from a MiniLM-vocabulary teacher."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lead.config import DistillConfig, ScorerConfig, TrainConfig
from lead.data.examples import BatchSampler
from lead.losses.contrastive import contrastive_nll
from lead.losses.kd import kd_loss, kd_softmax
from lead.models.factory import build_scorer
from lead.training.distill import Distill
from lead.training.loop import Trainer
from tests.helpers import TinySetup, synthetic_training_data, tiny_bert_folder, wordpiece_bert_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> TinySetup:
    root = tmp_path_factory.mktemp("distill")
    return TinySetup(synthetic_training_data(root / "data"), {
        "teacher": str(tiny_bert_folder(root / "teacher", layers=4, hidden=32, seed=1)),
        "student": str(tiny_bert_folder(root / "student", layers=2, hidden=32, seed=2)),
        "wordpiece": str(wordpiece_bert_folder(root / "wordpiece", hidden=48, layers=2, vocab_size=400)),
    })


def scorer(folders, role: str, kind: str = "de", seed: int = 0, **options):
    torch.manual_seed(seed)
    return build_scorer(ScorerConfig(kind=kind, name=folders[role], pooling="mean", query_max_length=16,
                                     passage_max_length=48, **options)).eval()  # eval: no dropout, repeatable losses


def batch(setup: TinySetup, group: int = 3, step: int = 0):
    return BatchSampler(setup.data.examples, setup.data.store, 3, group - 1, seed=4).batch(step)


def run(method: Distill, text_batch, step: int = 0):
    models = dict(method.trainables)
    loss, terms = method.loss(text_batch, models, step)
    return loss, terms


@pytest.mark.parametrize("kind", ["de", "colbert"])
def test_total_is_the_weighted_sum_of_the_logged_terms(setup, kind):
    folders = setup.folders
    config = DistillConfig(student="s", teacher="t", layers=2, student_weight=0.5, teacher_weight=2.0,
                           response_weight=3.0, layer_weight=0.7, layer_temperature=10.0)
    method = Distill(scorer(folders, "student"), scorer(folders, "teacher", kind), config)
    assert not method.own and set(method.trainables) == {"student", "teacher"}
    loss, terms = run(method, batch(setup))
    expected = (0.5 * terms["student_nll"] + 2.0 * terms["teacher_nll"]
                + 3.0 * (terms["response_kl"] + terms["response_kl_reverse"]) + 0.7 * terms["layer_loss"])
    assert loss.item() == pytest.approx(expected, rel=1e-5) == pytest.approx(terms["loss"], rel=1e-6)
    pairs = method.selector.pairs(0)
    lambdas = [terms[f"lambda/teacher_layer{t}"] for t in pairs.teacher]
    assert sum(lambdas) == pytest.approx(1.0) and len(lambdas) == 2
    layer_kls = [terms[f"layer_kl/teacher_layer{t}"] for t in pairs.teacher]
    assert terms["layer_loss"] == pytest.approx(sum(w * k for w, k in zip(lambdas, layer_kls)), rel=1e-5)
    # in-batch: the student's NLL is over all 9 passages of the batch (3 queries x group 3)
    b = batch(setup)
    student = method.trainables["student"].scores(b, own=False)
    assert student.final.shape == (3, 9)
    assert terms["student_nll"] == pytest.approx(contrastive_nll(student.final, torch.tensor([0, 3, 6])).item(), rel=1e-5)


def _hand_kl(target: torch.Tensor, inputs: torch.Tensor, tau: float) -> torch.Tensor:
    """mean over rows of KL(softmax(target / tau) || softmax(inputs)), in float64, written out."""
    p = torch.softmax(target.double() / tau, -1)
    return (p * (p.log() - torch.log_softmax(inputs.double(), -1))).sum(-1).mean()


def _hand_nll(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return -torch.log_softmax(scores.double(), -1)[torch.arange(len(targets)), targets].mean()


@pytest.mark.parametrize("kind, trainable, tau, tau_layers, reweight", [
    ("de", True, 2.0, 3.0, True), ("colbert", False, 0.5, 10.0, True), ("ce", True, 1.5, 0.7, False)])
def test_the_loss_is_the_spec_formula_recomputed_from_the_score_matrices(setup, kind, trainable, tau, tau_layers, reweight):
    """Spec A.6 written out independently of lead/losses: NLLs, KL(P_tau(T) || P(S)) and, for a trained teacher,
    KL(P_tau(S) || P(T)); layer KLs re-weighted by softmax(-NLL_teacher_layer / tau_L) (uniform 1/k without
    re-weighting); temperatures other than 1, a frozen teacher, a cross-encoder's own candidates."""
    folders = setup.folders
    student, teacher = scorer(folders, "student"), scorer(folders, "teacher", kind)
    config = DistillConfig(student="s", teacher="t", layers=2, temperature=tau, layer_temperature=tau_layers,
                           reweight=reweight, teacher_trainable=trainable, student_weight=0.5, teacher_weight=2.0,
                           response_weight=3.0, layer_weight=0.7)
    method = Distill(student, teacher, config)
    b = batch(setup)
    loss, _ = run(method, b)
    own, pairs = kind == "ce", method.selector.pairs(0)
    with torch.no_grad():
        s, t = student.scores(b, own, layers=pairs.student), teacher.scores(b, own, layers=pairs.teacher)
    y = s.targets(own, b.group_size)
    assert s.final.shape == t.final.shape == ((3, 3) if own else (3, 9))
    layer_nll = torch.stack([_hand_nll(layer, y) for layer in t.layers])
    weights = torch.softmax(-layer_nll / tau_layers, 0) if reweight else torch.full((2,), 0.5, dtype=torch.float64)
    layer_term = sum(w * _hand_kl(tl, sl, tau) for w, tl, sl in zip(weights, t.layers, s.layers))
    expected = 0.5 * _hand_nll(s.final, y) + 3.0 * _hand_kl(t.final, s.final, tau) + 0.7 * layer_term
    if trainable:
        expected = expected + 2.0 * _hand_nll(t.final, y) + 3.0 * _hand_kl(s.final, t.final, tau)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_cross_encoder_teacher_restricts_the_student_to_its_own_candidates(setup):
    folders = setup.folders
    method = Distill(scorer(folders, "student"), scorer(folders, "teacher", "ce"), DistillConfig(student="s", teacher="t"))
    assert method.own
    b = batch(setup, group=4)
    _, terms = run(method, b)
    own = method.trainables["student"].scores(b, own=True).final
    assert own.shape == (3, 4)
    assert terms["student_nll"] == pytest.approx(contrastive_nll(own, torch.zeros(3, dtype=torch.long)).item(), rel=1e-5)


def test_response_only_kd_computes_no_layer_scores(setup, monkeypatch):
    folders = setup.folders
    student, teacher = scorer(folders, "student"), scorer(folders, "teacher")
    asked = []
    for model in (student, teacher):
        original = model.forward
        monkeypatch.setattr(model, "forward", lambda tokens, layers=(), token_states=False, original=original: asked.append(tuple(layers)) or original(tokens, layers, token_states))
    method = Distill(student, teacher, DistillConfig(student="s", teacher="t", layer_weight=0.0))
    _, terms = run(method, batch(setup))
    assert method.selector is None and asked == [(), ()]
    assert "layer_loss" not in terms and not any(k.startswith("lambda/") for k in terms)


def _gradients(setup, **overrides):
    folders = setup.folders
    student, teacher = scorer(folders, "student"), scorer(folders, "teacher")
    method = Distill(student, teacher, DistillConfig(student="s", teacher="t", layers=2, **overrides))
    loss, _ = run(method, batch(setup))
    loss.backward()
    grads = lambda m: torch.cat([p.grad.flatten() if p.grad is not None else torch.zeros(p.numel()) for p in m.parameters()])  # noqa: E731
    return grads(student), grads(teacher), method


def test_detaching_teacher_targets_changes_only_the_teacher_gradient(setup):
    student_plain, teacher_plain, _ = _gradients(setup)
    student_detached, teacher_detached, _ = _gradients(setup, detach_teacher_targets=True)
    assert torch.allclose(student_plain, student_detached, atol=1e-6)
    assert not torch.allclose(teacher_plain, teacher_detached, atol=1e-6)


def test_a_frozen_teacher_is_not_trained_and_gets_no_gradient(setup):
    _, teacher_grads, method = _gradients(setup, teacher_trainable=False)
    assert set(method.trainables) == {"student"} and set(method.frozen) == {"teacher"}
    assert torch.count_nonzero(teacher_grads) == 0
    _, terms = run(method, batch(setup))
    assert "teacher_nll" not in terms and "response_kl_reverse" not in terms


def test_a_student_with_its_own_vocabulary_learns_from_the_teacher(setup, tmp_path):
    """LEAD between different tokenizers and hidden sizes: a 400-word WordPiece student (hidden 48) and a
    MiniLM-vocabulary teacher (hidden 32); a few steps of the training loop lower the distillation loss."""
    examples, store, folders = setup.data.examples, setup.data.store, setup.folders
    # a peaked teacher (cosine x 20) so there is a distribution to learn; distillation terms only
    student, teacher = scorer(folders, "wordpiece"), scorer(folders, "teacher", similarity="cosine", scale=20.0)
    assert len(student.tokenizer) != len(teacher.tokenizer)
    config = DistillConfig(student="s", teacher="t", layers=2, teacher_trainable=False, student_weight=0.0)
    method = Distill(student, teacher, config)
    fixed = batch(setup)
    before = run(method, fixed)[1]
    train = TrainConfig(steps=40, batch_queries=3, negatives=2, lr=2e-3, warmup_ratio=0.0, checkpoint_every=100, log_every=4)
    sampler = BatchSampler(examples, store, 3, 2, seed=4)
    sampler.batch = lambda step, rank=0: fixed  # the same batch every step: the loss must fall
    Trainer(method, sampler, train, tmp_path / "out", tmp_path / "ckpt", tmp_path / "logs", subfolders=True).train()
    student.eval()
    after = run(method, fixed)[1]
    assert math.isfinite(after["loss"]) and after["loss"] < 0.5 * before["loss"]
    assert after["response_kl"] < before["response_kl"] and after["layer_loss"] < before["layer_loss"]
    assert (tmp_path / "out" / "student" / "scorer.json").exists() and not (tmp_path / "out" / "teacher").exists()
    assert (tmp_path / "logs" / "plots" / "metrics" / "train" / "layer_loss.tsv").exists()
    assert list((tmp_path / "logs" / "plots" / "metrics" / "train" / "lambda").glob("teacher_layer*.tsv"))


def test_the_jointly_trained_teacher_gets_its_own_learning_rate(setup, tmp_path):
    examples, store, folders = setup.data.examples, setup.data.store, setup.folders
    method = Distill(scorer(folders, "student"), scorer(folders, "teacher"), DistillConfig(student="s", teacher="t", teacher_lr=1e-5))
    train = TrainConfig(steps=1, lr=1e-3, warmup_ratio=0.0)
    trainer = Trainer(method, BatchSampler(examples, store, 3, 2, seed=4), train, tmp_path / "o", tmp_path / "c", tmp_path / "l")
    assert {g["name"]: g["lr"] for g in trainer.optimizer.param_groups} == {"student": 1e-3, "teacher": 1e-5}


def test_virt_adds_its_term_to_the_total(setup):
    folders = setup.folders
    config = DistillConfig(student="s", teacher="t", layers=1, layer_weight=0.0, virt_weight=2.0)
    method = Distill(scorer(folders, "student"), scorer(folders, "teacher", "colbert"), config)
    loss, terms = run(method, batch(setup))
    assert terms["virt"] > 0 and "layer_loss" not in terms
    expected = terms["student_nll"] + terms["teacher_nll"] + terms["response_kl"] + terms["response_kl_reverse"] + 2.0 * terms["virt"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_a_prod_step_is_nll_plus_tempered_kd_plus_lwf(setup):
    """PROD's TPD loss with a frozen cross-encoder teacher: 0.1 NLL + 0.9 KD_softmax(T=4) + 1.0 LwF, over each
    query's own candidates; LwF is zero while the student still equals its entry copy, positive once it moved."""
    folders = setup.folders
    config = DistillConfig(student="s", teacher="t", kd="softmax", temperature=4.0, student_weight=0.1,
                           response_weight=0.9, layer_weight=0.0, teacher_trainable=False, lwf_weight=1.0)
    student, teacher = scorer(folders, "student"), scorer(folders, "teacher", "ce")
    method = Distill(student, teacher, config)
    assert method.own and set(method.frozen) == {"teacher", "entry_student"}
    b = batch(setup, group=4)
    loss, terms = run(method, b)
    assert set(terms) == {"student_nll", "kd_softmax", "lwf", "loss"}
    with torch.no_grad():
        s, t = student.scores(b, own=True).final, teacher.scores(b, own=True).final
    assert s.shape == (3, 4)
    assert terms["kd_softmax"] == pytest.approx(kd_softmax(s, t, 4.0).item(), rel=1e-5)
    assert terms["lwf"] == pytest.approx(0.0, abs=1e-6)
    assert loss.item() == pytest.approx(0.1 * terms["student_nll"] + 0.9 * terms["kd_softmax"], rel=1e-5)

    with torch.no_grad():  # the student moves; its entry copy must not
        for p in student.parameters():
            p.add_(0.05 * torch.randn_like(p))
    loss, terms = run(method, b)
    with torch.no_grad():
        moved, entry = student.scores(b, own=True).final, method.frozen["entry_student"].scores(b, own=True).final
    assert terms["lwf"] > 0 and terms["lwf"] == pytest.approx(kd_softmax(moved, entry, 4.0).item(), rel=1e-5)
    expected = 0.1 * terms["student_nll"] + 0.9 * terms["kd_softmax"] + terms["lwf"]
    assert loss.item() == pytest.approx(expected, rel=1e-5)

    # The data loader tokenizes once per tokenizer: the entry copy reads the student's tokens.
    from lead.training.loader import role_tokenizers

    tokenizers = role_tokenizers(method)
    assert set(tokenizers) == {"student", "teacher"}
    b.tokens = {role: tokenize(b) for role, tokenize in tokenizers.items()}
    _, ahead = run(method, b)
    assert ahead == pytest.approx(terms, rel=1e-5)


@pytest.mark.parametrize("kind", ["logit", "dkd", "prob"])
def test_every_kd_variant_is_a_param_of_the_same_path(setup, kind):
    folders = setup.folders
    config = DistillConfig(student="s", teacher="t", kd=kind, temperature=2.0, layer_weight=0.0, teacher_trainable=False)
    student, teacher = scorer(folders, "student"), scorer(folders, "teacher")
    b = batch(setup)
    _, terms = run(Distill(student, teacher, config), b)
    with torch.no_grad():
        s, t = student.scores(b, own=False).final, teacher.scores(b, own=False).final
    assert terms[f"kd_{kind}"] == pytest.approx(kd_loss(kind, s, t, torch.tensor([0, 3, 6]), 2.0).item(), rel=1e-5)


def test_normalised_colbert_teacher_layers_are_bounded_maxsim(setup):
    """Raw hidden-state MaxSim (the reference) is unbounded; with normalize_teacher_layers each query token
    contributes a cosine, so a per-layer score is at most the query length."""
    folders = setup.folders
    b = batch(setup)
    config = DistillConfig(student="s", teacher="t", layers=2, selection="fixed", student_layers=[1, 2], teacher_layers=[3, 4])
    raw_teacher = scorer(folders, "teacher", "colbert")
    raw = Distill(scorer(folders, "student"), raw_teacher, config)
    normalised_teacher = scorer(folders, "teacher", "colbert")
    Distill(scorer(folders, "student"), normalised_teacher, dataclasses.replace(config, normalize_teacher_layers=True))
    assert normalised_teacher.config.normalize_layers and not raw_teacher.config.normalize_layers
    with torch.no_grad():
        raw_layers = raw_teacher.scores(b, own=False, layers=[3, 4]).layers
        normalised = normalised_teacher.scores(b, own=False, layers=[3, 4]).layers
    assert normalised.abs().max() <= 16 + 1e-4 < raw_layers.abs().max()  # query_max_length 16
    assert raw.teacher is raw_teacher
    with pytest.raises(ValueError, match="normalize_teacher_layers applies to ColBERT teachers"):
        Distill(scorer(folders, "student"), scorer(folders, "teacher"), dataclasses.replace(config, normalize_teacher_layers=True))
