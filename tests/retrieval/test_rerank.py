"""lead/retrieval/mining.rerank: a dual encoder and ColBERT encode each distinct passage once, a fused model sums
its members' runs; all give the scores the pair-by-pair path gives."""

from __future__ import annotations

import pytest
import torch

from lead.config import ScorerConfig
from lead.data.examples import PassageStore
from lead.models.factory import build_scorer
from lead.models.fused import Fused
from lead.records import TextBatch
from lead.retrieval import maxsim as maxsim_module
from lead.retrieval import mining
from lead.retrieval.mining import rerank
from tests.helpers import tiny_bert_folder

TEXTS = {"p1": "Maria Lopez is a doctor in Oslo.", "p2": "Tom Chen, a lawyer from Rome.",
         "p3": "Aiko Tanaka works as a chef in Tokyo.", "p4": "Lars Berg is a pilot.", "p5": "A chef from Oslo."}
QUERIES = {"q1": "who is a doctor", "q2": "which chef lives in Tokyo", "q3": "a pilot"}
CANDIDATES = {"q1": ["p1", "p2", "p5"], "q2": ["p3", "p5", "p1", "p4"], "q3": ["p4"]}  # overlapping lists


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rerank")
    (folder / "collection.tsv").write_text("".join(f"{pid}\t{text}\n" for pid, text in TEXTS.items()))
    tiny = str(tiny_bert_folder(folder / "bert", layers=2, hidden=32))
    torch.manual_seed(0)
    ce = build_scorer(ScorerConfig(kind="ce", name=tiny, query_max_length=16, passage_max_length=48)).eval()
    torch.manual_seed(1)
    de = build_scorer(ScorerConfig(kind="de", name=tiny, pooling="mean", similarity="cosine", scale=20.0,
                                   query_max_length=16, passage_max_length=48)).eval()
    torch.manual_seed(2)
    colbert = build_scorer(ScorerConfig(kind="colbert", name=tiny, query_max_length=16, passage_max_length=48)).eval()
    return PassageStore(folder / "collection.tsv"), ce, de, colbert


def pairwise(scorer, store) -> dict[str, dict[str, float]]:
    """Each query's candidates scored in one own-candidate batch (the generic path)."""
    run = {}
    with torch.inference_mode():
        for qid, pids in CANDIDATES.items():
            batch = TextBatch([qid], [QUERIES[qid]], pids, [store[p] for p in pids], len(pids))
            run[qid] = dict(zip(pids, scorer.scores(batch, own=True).final[0].float().tolist()))
    return run


def assert_runs_close(got, expected):
    assert got.keys() == expected.keys()
    for qid in expected:
        assert list(got[qid]) == list(expected[qid]), qid
        assert got[qid] == pytest.approx(expected[qid], abs=1e-4), qid


def test_a_dual_encoder_embeds_each_passage_once_and_scores_as_pairs_do(setup, monkeypatch):
    store, _, de, _ = setup
    embedded = []
    real_encode = mining.encode

    def counting_encode(model, items, kind, *args, **kwargs):
        embedded.extend([kind] * len(items))
        return real_encode(model, items, kind, *args, **kwargs)

    monkeypatch.setattr(mining, "encode", counting_encode)
    assert_runs_close(rerank(de, QUERIES, CANDIDATES, store, progress=False), pairwise(de, store))
    assert embedded.count("passages") == 5 and embedded.count("queries") == 3  # 8 candidates, 5 distinct


def test_chunks_of_queries_give_the_same_run(setup):
    store, _, de, _ = setup
    whole = mining._rerank_dense(de, QUERIES, CANDIDATES, store, 32, False)
    assert_runs_close(mining._rerank_dense(de, QUERIES, CANDIDATES, store, 32, False, chunk_pairs=3), whole)


def test_a_fused_models_run_is_its_members_runs_summed(setup):
    store, ce, de, _ = setup
    fused = Fused(ScorerConfig(kind="fused", first_stage_weight=2.5), ce, de).eval()
    got = rerank(fused, QUERIES, CANDIDATES, store, progress=False)
    assert_runs_close(got, pairwise(fused, store))
    reranked, first = pairwise(ce, store), pairwise(de, store)
    assert got["q2"]["p5"] == pytest.approx(reranked["q2"]["p5"] + 2.5 * first["q2"]["p5"], abs=1e-4)


def test_colbert_encodes_each_passage_once_and_scores_as_pairs_do(setup, monkeypatch):
    store, _, _, colbert = setup
    encoded = []
    real_encode = colbert.encode_passages

    def counting_encode(tokens):
        encoded.append(len(tokens["input_ids"]))
        return real_encode(tokens)

    monkeypatch.setattr(colbert, "encode_passages", counting_encode)
    got = rerank(colbert, QUERIES, CANDIDATES, store, progress=False)
    assert sum(encoded) == 5  # 8 candidates, 5 distinct
    monkeypatch.undo()
    assert_runs_close(got, pairwise(colbert, store))
    chunked = maxsim_module.rerank_maxsim(colbert, QUERIES, CANDIDATES, store, progress=False, chunk_pairs=3)
    assert_runs_close(chunked, got)


def test_a_cross_encoder_scores_pairs_sorted_by_length_across_queries_as_each_query_alone(setup, monkeypatch):
    store, ce, _, _ = setup
    batches = []
    real_scores = ce.scores

    def tokens(text):
        return len(ce.tokenizer(text, add_special_tokens=False)["input_ids"])

    def recording_scores(batch, own=False):  # one pair a group: a query per passage
        batches.append((list(batch.qids), [tokens(q) + tokens(p.text) for q, p in zip(batch.queries, batch.passages)]))
        return real_scores(batch, own=own)

    monkeypatch.setattr(ce, "scores", recording_scores)
    got = mining.rerank_pairs(ce, QUERIES, CANDIDATES, store, batch_size=3, progress=False)
    monkeypatch.undo()
    assert_runs_close(got, pairwise(ce, store))  # candidate order kept, the scores of each query's own batch
    assert [len(qids) for qids, _ in batches] == [3, 3, 2]  # 8 pairs in batches of 3, across queries
    assert any(len(set(qids)) > 1 for qids, _ in batches)
    lengths = [length for _, batch in batches for length in batch]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]  # one window (3 x 256 pairs): token order
    per_query = mining.rerank_pairs(ce, QUERIES, CANDIDATES, store, batch_size=3, progress=False, sort_window=0)
    assert_runs_close(per_query, got)
