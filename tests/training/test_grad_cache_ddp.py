"""Under two gloo processes, a cached step's all-reduced gradients equal the uncached DDP step's and one process's
over the global batch (float64, 1e-6): a warm-up with gathered in-batch negatives, KD from a score file whose
teacher rows cover the gathered candidates, and KD from one that scores each query's own group only."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import torch

from lead.config import ScorerConfig
from lead.data.examples import BatchSampler
from lead.data.teacher_scores import read_teacher_scores
from lead.models.factory import build_scorer, save_scorer
from lead.retrieval.mining import rerank
from lead.retrieval.scoring import table_lines
from tests.helpers import synthetic_training_data, tiny_bert_folder
from tests.training import grad_cache_worker as worker
from tests.training import require_gloo, torchrun_two

WORKER = Path(worker.__file__).resolve()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    require_gloo()  # before the models are built
    root = tmp_path_factory.mktemp("grad_cache_ddp")
    training = synthetic_training_data(root / "data", train_queries=12, held_out=3)
    data, store, queries = training.folder, training.store, training.queries
    tiny = str(tiny_bert_folder(root / "tiny", layers=2, hidden=32))
    torch.manual_seed(0)
    save_scorer(build_scorer(ScorerConfig(kind="de", name=tiny, pooling="mean", query_max_length=16, passage_max_length=48)),
                root / "de")
    torch.manual_seed(1)
    teacher = build_scorer(ScorerConfig(kind="ce", name=tiny, query_max_length=16, passage_max_length=48)).eval()
    run = rerank(teacher, queries, {qid: store.pids for qid in queries}, store, progress=False)
    (root / "ce.tsv").write_text("".join(table_lines(run)))
    single = BatchSampler(training.examples, store, 2 * worker.QUERIES_PER_RANK, worker.NEGATIVES,
                          seed=worker.SEED).batch(worker.STEP)
    group = 1 + worker.NEGATIVES
    own = {qid: {pid: run[qid][pid] for pid in single.pids[i * group:(i + 1) * group]} for i, qid in enumerate(single.qids)}
    (root / "ce_own.tsv").write_text("".join(table_lines(own)))
    out = root / "result.pt"
    torchrun_two(WORKER, "--model", str(root / "de"), "--data", str(data), "--scores", str(root / "ce.tsv"),
                 "--scores-own", str(root / "ce_own.tsv"), "--out", str(out))
    expected = {}
    files = (read_teacher_scores(root / name, store, queries) for name in ("ce.tsv", "ce_own.tsv"))
    for name, method in worker.methods(root / "de", *files).items():
        (role, scorer), = method.trainables.items()
        terms = method.backward(single, {role: scorer}, worker.STEP, 1, contextlib.nullcontext)
        expected[name] = {"terms": terms, "grads": {n: p.grad for n, p in scorer.named_parameters() if p.grad is not None}}
    return torch.load(out, weights_only=False), expected


@pytest.mark.parametrize("name", ["warmup", "kd_file", "kd_own_only"])
@pytest.mark.parametrize("label", ["uncached", "cached"])
def test_the_ddp_step_cached_or_not_is_the_single_process_step(setup, name, label):
    result, expected = setup
    got, want = result[f"{name}/{label}"], expected[name]
    assert got["terms"] == pytest.approx(want["terms"], rel=1e-9)
    assert got["grads"].keys() == want["grads"].keys() and len(want["grads"]) > 10
    for param, grad in want["grads"].items():
        torch.testing.assert_close(got["grads"][param], grad, rtol=0, atol=1e-6, msg=f"{name} {label}: {param}")


def test_a_file_of_own_groups_only_teaches_otherwise_than_one_of_every_pair(setup):
    """The masked rows matter: the two files give other KD terms (so the test above exercises the masking)."""
    result, _ = setup
    assert result["kd_own_only/cached"]["terms"]["kd_softmax"] != pytest.approx(result["kd_file/cached"]["terms"]["kd_softmax"])
