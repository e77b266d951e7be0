"""A teacher read from a score file: a file that holds the live teacher's scores trains the student to the live
run's weights (own and in-batch candidates); in-batch candidates the file does not score leave the teacher's
distribution; what a file cannot give (layers, training, every score for kd: logit) is refused in one line."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from lead.config import DistillConfig, ScorerConfig, TrainConfig
from lead.data.examples import BatchSampler
from lead.data.teacher_scores import read_teacher_scores
from lead.errors import ParamsValueError
from lead.losses.kl import kl_divergence
from lead.models.factory import build_scorer
from lead.retrieval.mining import rerank
from lead.retrieval.scoring import table_lines
from lead.training.distill import Distill
from lead.training.loop import Trainer
from tests.helpers import TinySetup, synthetic_training_data, tiny_bert_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> TinySetup:
    root = tmp_path_factory.mktemp("score_file")
    return TinySetup(synthetic_training_data(root / "data", train_queries=12, held_out=3),
                     {"teacher": str(tiny_bert_folder(root / "teacher", layers=2, hidden=32, seed=1)),
                      "student": str(tiny_bert_folder(root / "student", layers=2, hidden=32, seed=2))})


def scorer(folders, role: str, kind: str = "de"):
    torch.manual_seed(0)
    return build_scorer(ScorerConfig(kind=kind, name=folders[role], pooling="mean", query_max_length=16,
                                     passage_max_length=48)).eval()


def score_file(setup: TinySetup, teacher, name: str, pairs: dict[str, list[str]]):
    """The live teacher's scores of ``pairs`` (qid -> pids) written as a qid/pid/score table."""
    queries, store = setup.data.queries, setup.data.store
    run = rerank(teacher, queries, pairs, store, batch_size=64, progress=False)
    path = setup.data.folder.parent / f"{name}.tsv"
    path.write_text("".join(table_lines(run)))
    return read_teacher_scores(path, store, queries)


def train(setup: TinySetup, teacher, config: DistillConfig, candidates: str, out) -> dict[str, torch.Tensor]:
    examples, store, folders = setup.data.examples, setup.data.store, setup.folders
    student = scorer(folders, "student")
    method = Distill(student, teacher, config, candidates)
    train_config = TrainConfig(steps=3, batch_queries=3, negatives=2, lr=1e-3, warmup_ratio=0.0, checkpoint_every=100,
                               candidates=candidates, seed=5)
    sampler = BatchSampler(examples, store, 3, 2, seed=5)
    Trainer(method, sampler, train_config, out / "model", out / "checkpoints", out / "logs").train()
    return load_file(str(out / "model" / "encoder" / "model.safetensors"))


KD = DistillConfig(student="s", teacher="t", kd="softmax", temperature=4.0, student_weight=0.1, response_weight=0.9,
                   layer_weight=0.0, teacher_trainable=False)
LEAD_RESPONSE = DistillConfig(student="s", teacher="t", layer_weight=0.0, teacher_trainable=False)


@pytest.mark.parametrize("kind, candidates, config", [("ce", "own", KD), ("de", "in_batch", LEAD_RESPONSE)])
def test_a_file_of_the_live_teachers_scores_trains_the_same_student(setup, tmp_path, kind, candidates, config):
    queries, store, folders = setup.data.queries, setup.data.store, setup.folders
    teacher = scorer(folders, "teacher", kind)
    live = train(setup, teacher, config, candidates, tmp_path / "live")
    every_pair = {qid: list(store.pids) for qid in queries}  # random negatives and in-batch: any passage may come
    from_file = train(setup, score_file(setup, teacher, f"{kind}_all", every_pair), config, candidates, tmp_path / "file")
    assert live.keys() == from_file.keys()
    start = scorer(folders, "student").query_encoder.state_dict()
    moved = max((live[k] - start[k]).abs().max().item() for k in live if k in start)
    assert moved > 1e-4  # the runs trained: equal weights are not two untouched copies
    for key in live:
        torch.testing.assert_close(from_file[key], live[key], rtol=0, atol=2e-5)


def test_in_batch_candidates_the_file_does_not_score_leave_the_teachers_distribution(setup):
    """A file that scores each query's own group only: the teacher row puts zero probability on the other
    queries' candidates (the student's row keeps them), so the forward KL reads the student there only through
    its normaliser."""
    examples, store, folders = setup.data.examples, setup.data.store, setup.folders
    teacher = scorer(folders, "teacher")
    batch = BatchSampler(examples, store, 3, 2, seed=5).batch(0)
    own_groups = {qid: batch.pids[i * 3:(i + 1) * 3] for i, qid in enumerate(batch.qids)}
    method = Distill(scorer(folders, "student"), score_file(setup, teacher, "own_only", own_groups), LEAD_RESPONSE)
    assert not method.own and not method.frozen
    _, terms = method.loss(batch, dict(method.trainables), 0)
    with torch.no_grad():
        student = method.trainables["student"].scores(batch, own=False).final
        live = teacher.scores(batch, own=False).final
    unscored = torch.ones_like(live, dtype=torch.bool)
    for i in range(3):
        unscored[i, i * 3:(i + 1) * 3] = False
    expected = kl_divergence(live.masked_fill(unscored, -1e9), student)  # exp(-1e9) = 0: out of the distribution
    assert terms["response_kl"] == pytest.approx(expected.item(), rel=1e-5)
    # and not the live teacher's full-row KL
    assert abs(terms["response_kl"] - kl_divergence(live, student).item()) > 1e-3


@pytest.mark.parametrize("overrides, message", [
    ({"layer_weight": 1.0}, "the teacher is a score file, which has no layers: set layer_weight and virt_weight to 0"),
    ({"teacher_trainable": True}, "the teacher is a score file, which cannot be trained"),
    ({"kd": "logit"}, "kd: logit needs a teacher score for every candidate"),
])
def test_what_a_file_cannot_give_is_refused_in_one_line(setup, overrides, message):
    queries, store, folders = setup.data.queries, setup.data.store, setup.folders
    values = {"student": "s", "teacher": "t", "layer_weight": 0.0, "teacher_trainable": False, **overrides}
    scores = score_file(setup, scorer(folders, "teacher"), "few", {next(iter(queries)): store.pids[:2]})
    with pytest.raises(ParamsValueError, match=f"distill_runs.x: {message}"):
        Distill(scorer(folders, "student"), scores, DistillConfig(**values), "in_batch", key="distill_runs.x")
