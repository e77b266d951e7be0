import numpy as np
import pytest
import torch

from lead.config import ScorerConfig
from lead.errors import OutOfMemory
from lead.models.factory import build_scorer
from lead.records import Passage
from lead.retrieval.encode import encode
from lead.retrieval.index import build_index, search
from tests.helpers import tiny_bert_folder


def test_encode_keeps_input_order_despite_length_sorting(tmp_path):
    model = build_scorer(ScorerConfig(name=str(tiny_bert_folder(tmp_path / "m")), pooling="mean"))
    passages = [Passage(str(i), "word " * (1 + (7 * i) % 13), title="t" if i % 2 else "") for i in range(23)]
    batched = encode(model, iter(passages), "passages", len(passages), batch_size=4, sort_window=3, progress=False)
    with torch.inference_mode():
        one_by_one = np.concatenate(
            [model.eval().embed_passages(model.tokenize_passages([p])).numpy() for p in passages]
        )
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_exact_search_matches_brute_force():
    rng = np.random.default_rng(0)
    corpus, queries = rng.normal(size=(50, 8)).astype("float32"), rng.normal(size=(5, 8)).astype("float32")
    scores, indices = search(build_index(corpus, use_gpu=False), queries, k=10, batch_size=2)
    expected = np.argsort(-(queries @ corpus.T), axis=1)[:, :10]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ corpus.T, expected, axis=1), rtol=1e-5)


def test_depth_is_capped_at_the_corpus_size():
    corpus = np.eye(3, dtype="float32")
    scores, indices = search(build_index(corpus, use_gpu=False), corpus, k=1000)
    assert indices.shape == (3, 3) and list(indices[:, 0]) == [0, 1, 2]


def test_encoding_out_of_memory_names_the_batch_size(tmp_path, monkeypatch):
    model = build_scorer(ScorerConfig(name=str(tiny_bert_folder(tmp_path / "m")), pooling="mean"))

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(model, "embed_passages", oom)
    with pytest.raises(OutOfMemory, match=r"encoding passages: out of GPU memory .*lower eval\.batch_size \(now 8\)"):
        encode(model, iter([Passage("1", "text")]), "passages", 1, batch_size=8, progress=False)


def test_exhaustive_maxsim_ranks_every_passage_as_the_colbert_scores_do(tmp_path):
    """ColBERT's full retrieval (passage token vectors kept in float16, each slice scored on the model's device)
    against the model scoring each query's every passage itself."""
    from lead.config import DataConfig
    from lead.data.prepared import PreparedData, prepare
    from lead.data.synthetic import SyntheticConfig
    from lead.models.factory import build_scorer
    from lead.retrieval.maxsim import exhaustive_maxsim
    from lead.retrieval.mining import rerank

    prepare(DataConfig(synthetic=SyntheticConfig(train_queries=4, dev_queries=2, test_queries=3, background_passages=5)), tmp_path / "d")
    data = PreparedData(tmp_path / "d")
    torch.manual_seed(0)
    model = build_scorer(ScorerConfig(kind="colbert", name=str(tiny_bert_folder(tmp_path / "m")), dim=16, passage_max_length=48))
    queries = data.queries("test")
    run = exhaustive_maxsim(model, data, queries, depth=5, batch_size=8)
    every = [p.pid for p in data.passages()]
    direct = rerank(model, {q.qid: q.text for q in queries}, {q.qid: every for q in queries}, data.store, progress=False)
    for q in queries:
        best = sorted(direct[q.qid].items(), key=lambda item: -item[1])[:5]
        assert len(run[q.qid]) == 5
        for (pid, score), (got_pid, got) in zip(best, sorted(run[q.qid].items(), key=lambda item: -item[1])):
            assert got == pytest.approx(score, abs=2e-2)  # float16 passage vectors
        assert {pid for pid, _ in best[:1]} <= set(run[q.qid])
