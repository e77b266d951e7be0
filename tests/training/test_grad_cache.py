"""The gradient cache gives the uncached step's loss and gradients (float64, 1e-6): a dual-encoder warm-up with
in-batch negatives, KD from a score file, LEAD's layer term with a frozen teacher, deep supervision; with one chunk
in train mode it reproduces the step's dropout masks; what it cannot cache is refused in one line."""

from __future__ import annotations

import contextlib

import pytest
import torch

from lead.config import DistillConfig, ScorerConfig
from lead.data.examples import BatchSampler
from lead.data.teacher_scores import read_teacher_scores
from lead.errors import ParamsValueError
from lead.models.factory import build_scorer
from lead.retrieval.mining import rerank
from lead.retrieval.scoring import table_lines
from lead.training.distill import Distill
from lead.training.grad_cache import GradCache
from lead.training.methods import Warmup
from tests.helpers import TinySetup, synthetic_training_data, tiny_bert_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> TinySetup:
    root = tmp_path_factory.mktemp("grad_cache")
    return TinySetup(synthetic_training_data(root / "data", train_queries=12, held_out=3),
                     {"student": str(tiny_bert_folder(root / "student", layers=3, hidden=32, seed=2)),
                      "teacher": str(tiny_bert_folder(root / "teacher", layers=2, hidden=32, seed=1))})


def scorer(folders, role: str, kind: str = "de", train: bool = False):
    torch.manual_seed(0)
    model = build_scorer(ScorerConfig(kind=kind, name=folders[role], pooling="mean", query_max_length=16,
                                      passage_max_length=48)).double()
    return model.train(train)


def gradients(method, batch, cache: int = 0, seed: int = 7) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """One step's logged terms and parameter gradients, uncached (cache 0) or cached in chunks of ``cache`` queries."""
    for model in method.trainables.values():
        model.zero_grad(set_to_none=True)
    step = GradCache(method, cache) if cache else method
    torch.manual_seed(seed)
    terms = step.backward(batch, dict(method.trainables), 0, 1, contextlib.nullcontext)
    grads = {f"{role}.{n}": p.grad.clone() for role, m in method.trainables.items()
             for n, p in m.named_parameters() if p.grad is not None}
    return terms, grads


def assert_same(uncached, cached):
    (terms, grads), (cached_terms, cached_grads) = uncached, cached
    assert cached_terms == pytest.approx(terms, rel=1e-9)
    assert grads.keys() == cached_grads.keys() and grads
    for name in grads:
        torch.testing.assert_close(cached_grads[name], grads[name], rtol=0, atol=1e-6, msg=name)


def batch_of(setup: TinySetup, queries: int = 6, negatives: int = 2, step: int = 0):
    return BatchSampler(setup.data.examples, setup.data.store, queries, negatives, seed=3).batch(step)


@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_a_warmup_with_in_batch_negatives(setup, chunk):
    method = Warmup(scorer(setup.folders, "student"), "in_batch")
    batch = batch_of(setup)
    assert_same(gradients(method, batch), gradients(method, batch, chunk))


def test_deep_supervision_caches_the_inner_layers_too(setup):
    method = Warmup(scorer(setup.folders, "student"), "in_batch", layer_weight=0.5)
    batch = batch_of(setup)
    assert_same(gradients(method, batch), gradients(method, batch, 2))


def test_kd_from_a_score_file_with_in_batch_candidates(setup):
    queries, store, folders = setup.data.queries, setup.data.store, setup.folders
    run = rerank(scorer(folders, "teacher", "ce").float(), queries, {qid: store.pids for qid in queries}, store,
                 progress=False)
    path = setup.data.folder.parent / "ce.tsv"
    path.write_text("".join(table_lines(run)))
    config = DistillConfig(student="s", teacher="t", kd="softmax", temperature=4.0, student_weight=0.1,
                           response_weight=0.9, layer_weight=0.0, teacher_trainable=False, lwf_weight=1.0)
    method = Distill(scorer(folders, "student"), read_teacher_scores(path, store, queries), config, "in_batch")
    batch = batch_of(setup)
    with torch.no_grad():  # LwF reads the entry copy: move the student away from it so the term has a gradient
        for p in method.trainables["student"].parameters():
            p.add_(0.01 * torch.randn_like(p))
    assert_same(gradients(method, batch), gradients(method, batch, 2))


def test_leads_layer_term_with_a_frozen_teacher(setup):
    folders = setup.folders
    config = DistillConfig(student="s", teacher="t", layers=2, layer_weight=1.0, teacher_trainable=False)
    method = Distill(scorer(folders, "student"), scorer(folders, "teacher"), config, "in_batch")
    batch = batch_of(setup)
    uncached, cached = gradients(method, batch), gradients(method, batch, 2)
    assert "layer_loss" in uncached[0]
    assert_same(uncached, cached)


def test_one_chunk_in_train_mode_replays_the_steps_dropout_masks(setup):
    method = Warmup(scorer(setup.folders, "student", train=True), "in_batch")
    batch = batch_of(setup)
    uncached = gradients(method, batch)
    assert_same(uncached, gradients(method, batch, 6))  # one chunk of all 6 queries: the same random draws
    # dropout is on: another seed draws other masks and other gradients
    _, other = gradients(method, batch, seed=8)
    assert any(not torch.allclose(other[n], uncached[1][n]) for n in other)


@pytest.mark.parametrize("make, message", [
    (lambda f: Distill(scorer(f, "student"), scorer(f, "teacher"), DistillConfig(student="s", teacher="t")),
     "a jointly trained teacher needs its own cache"),
    (lambda f: Warmup(scorer(f, "student", "colbert"), "in_batch"), "this model is a colbert model"),
])
def test_what_cannot_be_cached_is_refused_in_one_line(setup, make, message):
    with pytest.raises(ParamsValueError, match=f"train.grad_cache_queries: .*{message.split(': ')[-1]}"):
        GradCache(make(setup.folders), 2)


def test_the_trainer_names_the_run_whose_cache_is_refused(setup, tmp_path):
    from lead.config import TrainConfig
    from lead.training.loop import Trainer

    examples, store, folders = setup.data.examples, setup.data.store, setup.folders
    method = Warmup(scorer(folders, "student", "ce"), "own")
    config = TrainConfig(steps=1, batch_queries=2, negatives=1, candidates="own", grad_cache_queries=1)
    with pytest.raises(ParamsValueError, match=r"^ce_teacher: train\.grad_cache_queries: .* this model is a ce model"):
        Trainer(method, BatchSampler(examples, store, 2, 1), config, tmp_path / "models" / "ce_teacher", tmp_path / "c",
                tmp_path / "l")
