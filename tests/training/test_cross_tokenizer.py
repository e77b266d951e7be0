"""A teacher and a student with different tokenizers and hidden sizes score one batch, aligned by passage id.

Teacher: the tiny hidden-32 BERT with MiniLM's WordPiece vocabulary (30522 ids). Student: a hidden-48 BERT
with its own 400-token WordPiece vocabulary trained here on the synthetic benchmark's words. Each tokenizes
the same ``TextBatch`` its own way; their score matrices must still share the candidate columns, in the
batch's pid order.
"""

from __future__ import annotations

import pytest
import torch

from lead.config import ScorerConfig
from lead.data.examples import BatchSampler
from lead.models.factory import build_scorer
from lead.records import TextBatch
from tests.helpers import synthetic_training_data, tiny_bert_folder, wordpiece_bert_folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cross")
    data = synthetic_training_data(root / "data")
    batch = BatchSampler(data.examples, data.store, 3, 2, seed=4).batch(0)
    teacher_folder = str(tiny_bert_folder(root / "teacher", layers=4, hidden=32))
    student_folder = str(wordpiece_bert_folder(root / "student", hidden=48, layers=2, vocab_size=400))
    teachers = {
        "colbert": build_scorer(ScorerConfig(kind="colbert", name=teacher_folder, query_max_length=24)).eval(),
        "de": build_scorer(ScorerConfig(kind="de", name=teacher_folder)).eval(),
    }
    student = build_scorer(ScorerConfig(kind="de", name=student_folder, pooling="mean")).eval()
    return batch, teachers, student


def permuted(batch: TextBatch, order: list[int]) -> TextBatch:
    return TextBatch(batch.qids, batch.queries, [batch.pids[j] for j in order], [batch.passages[j] for j in order], batch.group_size)


@pytest.mark.parametrize("teacher_kind", ["colbert", "de"])
def test_teacher_and_student_with_different_tokenizers_score_the_same_candidates(setup, teacher_kind):
    batch, teachers, student = setup
    teacher = teachers[teacher_kind]
    q, c = len(batch.qids), len(batch.pids)
    assert (q, c) == (3, 9)

    # different vocabularies and hidden sizes
    assert len(teacher.tokenizer) == 30522 and len(student.tokenizer) == 400
    t_tokens, s_tokens = teacher.tokenize(batch), student.tokenize(batch)
    assert t_tokens["p_input_ids"].shape[0] == s_tokens["p_input_ids"].shape[0] == c
    assert t_tokens["p_input_ids"].shape != s_tokens["p_input_ids"].shape or not torch.equal(t_tokens["p_input_ids"], s_tokens["p_input_ids"])
    assert int(s_tokens["p_input_ids"].max()) < 400 < int(t_tokens["p_input_ids"].max())
    with torch.no_grad():
        t_encoded, s_encoded = teacher(t_tokens, layers=[2, 4]), student(s_tokens, layers=[1, 2])
    t_width = t_encoded.passages["tokens" if teacher_kind == "colbert" else "emb"].shape[-1]
    assert (t_width, s_encoded.passages["emb"].shape[-1]) == (32, 48)

    # the same [Q, C] candidate columns, per layer too
    t_scores, s_scores = teacher.score(t_encoded, own=False), student.score(s_encoded, own=False)
    assert t_scores.final.shape == s_scores.final.shape == (q, c)
    assert t_scores.layers.shape == s_scores.layers.shape == (2, q, c)
    assert torch.equal(t_scores.targets(False, batch.group_size), s_scores.targets(False, batch.group_size))
    t_own, s_own = teacher.score(t_encoded, own=True), student.score(s_encoded, own=True)
    assert t_own.final.shape == s_own.final.shape == (q, batch.group_size)

    # columns follow the batch's pid order in both: permuting the passages permutes both matrices' columns
    order = torch.randperm(c, generator=torch.Generator().manual_seed(0)).tolist()
    assert order != list(range(c))
    shuffled = permuted(batch, order)
    with torch.no_grad():
        t_shuffled = teacher.scores(shuffled, own=False, layers=[2, 4])
        s_shuffled = student.scores(shuffled, own=False, layers=[1, 2])
    for before, after in [(t_scores, t_shuffled), (s_scores, s_shuffled)]:
        torch.testing.assert_close(after.final, before.final[:, order], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(after.layers, before.layers[:, :, order], atol=1e-4, rtol=1e-5)
    # and by pid: the score of query i for a pid is the same whatever column the pid sits in
    for before, after in [(t_scores, t_shuffled), (s_scores, s_shuffled)]:
        for i in range(q):
            for pid in batch.pids[:3]:
                torch.testing.assert_close(after.final[i, shuffled.pids.index(pid)], before.final[i, batch.pids.index(pid)], atol=1e-5, rtol=1e-5)
