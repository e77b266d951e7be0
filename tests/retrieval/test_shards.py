"""Corpus scale: float16 embedding shards (streamed, resumable), approximate indexes, exact search with torch."""

import dataclasses

import numpy as np
import pytest

from lead.config import DataConfig, EvalConfig, ScorerConfig
from lead.data.prepared import PreparedData, prepare
from lead.data.synthetic import SyntheticConfig
from lead.models.factory import build_scorer
from lead.records import Passage
from lead.retrieval.encode import encode
from lead.retrieval.index import TorchExactIndex, build_index, search
from lead.retrieval.search import retrieve
from lead.retrieval.shards import ShardedEmbeddings, encode_corpus
from tests.helpers import tiny_bert_folder


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tiny_bert_folder(tmp_path_factory.mktemp("m") / "bert")
    return build_scorer(ScorerConfig(name=str(folder), pooling="mean"))


def corpus(n: int) -> list[Passage]:
    return [Passage(f"p{i}", "word " * (1 + (7 * i) % 13) + f"number {i}") for i in range(n)]


class Stop(Exception):
    pass


def killed_after(passages, n: int):
    """The passages, then a crash once ``n`` have been read (a run killed mid-corpus)."""
    for i, passage in enumerate(passages):
        if i == n:
            raise Stop
        yield passage


def test_shards_are_float16_memory_maps_equal_to_in_memory_encoding(model, tmp_path):
    passages = corpus(23)
    shards = encode_corpus(model, iter(passages), 23, tmp_path / "emb", shard_size=10, batch_size=4, progress=False)
    assert [len(b) for b in shards.blocks()] == [10, 10, 3]
    assert all(isinstance(b, np.memmap) and b.dtype == np.float16 for b in shards.blocks())
    assert list(shards.pids()) == [p.pid for p in passages]
    exact = encode(model, iter(passages), "passages", 23, batch_size=4, progress=False)
    np.testing.assert_allclose(np.concatenate(list(shards.blocks())).astype(np.float32), exact, rtol=2e-3, atol=2e-3)


def test_a_killed_encoding_resumes_at_its_first_missing_shard(model, tmp_path, monkeypatch):
    passages = corpus(25)
    with pytest.raises(Stop):
        encode_corpus(model, killed_after(passages, 17), 25, tmp_path / "emb", shard_size=10, batch_size=4, progress=False)
    assert sorted(p.name for p in (tmp_path / "emb").glob("shard-*.npy")) == ["shard-00000.npy"]  # no half shard
    with pytest.raises(FileNotFoundError, match="incomplete embeddings"):
        ShardedEmbeddings(tmp_path / "emb")

    encoded = []
    import lead.retrieval.shards as shards_module

    def counting(model, items, kind, total, *args, **kwargs):
        encoded.append(total)
        return encode(model, items, kind, total, *args, **kwargs)

    monkeypatch.setattr(shards_module, "encode", counting)
    resumed = encode_corpus(model, iter(passages), 25, tmp_path / "emb", shard_size=10, batch_size=4, progress=False)
    assert encoded == [10, 5]  # shard 0 was kept, not encoded again
    fresh = encode_corpus(model, iter(passages), 25, tmp_path / "fresh", shard_size=10, batch_size=4, progress=False)
    np.testing.assert_array_equal(np.concatenate(list(resumed.blocks())), np.concatenate(list(fresh.blocks())))


def test_shards_of_another_fingerprint_are_replaced_and_a_short_collection_fails(model, tmp_path):
    encode_corpus(model, iter(corpus(12)), 12, tmp_path / "emb", shard_size=10, fingerprint="a", progress=False)
    again = encode_corpus(model, iter(corpus(12)[::-1]), 12, tmp_path / "emb", shard_size=10, fingerprint="b", progress=False)
    assert list(again.pids())[0] == "p11"
    with pytest.raises(ValueError, match="expected 30 passages to encode, the collection ended at 12"):
        encode_corpus(model, iter(corpus(12)), 30, tmp_path / "short", shard_size=10, progress=False)


def test_torch_exact_index_matches_faiss_flat_across_blocks():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float16)
    queries = rng.normal(size=(7, 16)).astype(np.float32)
    index = TorchExactIndex(16, "cpu", score_budget=7 * 64)  # slices of 64 rows: the running top-k merge is exercised
    index.add(vectors[:100])
    index.add(vectors[100:])
    scores, rows = search(index, queries, k=20)
    flat_scores, flat_rows = search(build_index(vectors.astype(np.float32), use_gpu=False), queries, k=20)
    np.testing.assert_array_equal(rows, flat_rows)
    np.testing.assert_allclose(scores, flat_scores, rtol=1e-5)


def test_exact_search_over_shards_on_the_cpu_leaves_them_on_disk(tmp_path):
    """Flat over float16 shards: searched through the memory-maps themselves (no float32 copy of the corpus in
    RAM, which is what faiss's IndexFlatIP would hold), with faiss Flat's results on the same values."""
    rng = np.random.default_rng(3)
    vectors = (rng.normal(size=(500, 32)) * 3).astype(np.float16)
    for i, start in enumerate(range(0, 500, 200)):
        np.save(tmp_path / f"shard-{i}.npy", vectors[start : start + 200])
    shards = [np.load(tmp_path / f"shard-{i}.npy", mmap_mode="r") for i in range(3)]
    index = build_index(iter(shards), use_gpu=False)
    assert isinstance(index, TorchExactIndex) and all(b is s for b, s in zip(index.blocks, shards))
    queries = rng.normal(size=(9, 32)).astype(np.float32)
    scores, rows = search(index, queries, k=50)
    flat_scores, flat_rows = search(build_index(vectors.astype(np.float32), use_gpu=False), queries, k=50)
    np.testing.assert_array_equal(rows, flat_rows)
    np.testing.assert_allclose(scores, flat_scores, rtol=1e-5)


# Floors measured over seeds 0-9 of this data (faiss-cpu 1.15.1) with a margin below the lowest: HNSW32's
# overlap 0.96-0.99, IVF16,Flat's 1.0 (4 of 16 lists searched), IVF16,PQ8's 0.33-0.46 (8 bytes a vector over
# tight clusters loses the order inside a cluster; chance is 0.001). 12,000 vectors: PQ's 256 centroids per
# sub-quantizer get the 39 x 256 training points faiss asks for (with 4,000 it warned, and the overlap sat on
# its old floor of 0.5 on some CPUs).
@pytest.mark.parametrize("spec, minimum", [("HNSW32", 0.9), ("IVF16,Flat", 0.95), ("IVF16,PQ8", 0.25)])
def test_approximate_indexes_find_most_of_the_exact_top_10(spec, minimum):
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(16, 32))
    vectors = (centres[rng.integers(16, size=12_000)] + 0.3 * rng.normal(size=(12_000, 32))).astype(np.float32)
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    _, exact = search(build_index(vectors, use_gpu=False), queries, k=10)
    blocks = [vectors[:6000], vectors[6000:]]  # built from blocks, trained on a sample of both
    _, approximate = search(build_index(blocks, use_gpu=False, spec=spec, nprobe=4), queries, k=10)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact)])
    assert overlap >= minimum, (spec, overlap)


def test_retrieval_through_shards_gives_the_in_memory_run_and_removes_them(model, tmp_path):
    folder = tmp_path / "data"
    prepare(DataConfig(synthetic=SyntheticConfig(train_queries=10, dev_queries=2, test_queries=6, background_passages=5)), folder)
    data = PreparedData(folder)
    queries = data.queries("test")
    config = EvalConfig(depth=20, batch_size=8)
    in_memory, _ = retrieve(model, data, queries, config)
    sharded, _ = retrieve(model, data, queries, dataclasses.replace(config, embeddings_dir=str(tmp_path / "emb"), shard_size=16))
    for qid in in_memory:  # the same top passages; scores equal up to float16 storage
        top = sorted(in_memory[qid], key=in_memory[qid].get, reverse=True)[:5]
        assert set(top) <= set(sharded[qid]), qid
        for pid in top:
            assert sharded[qid][pid] == pytest.approx(in_memory[qid][pid], rel=1e-2, abs=1e-2)
    assert list((tmp_path / "emb").iterdir()) == []


def test_an_interrupted_runs_shards_are_kept_and_named_in_a_warning(model, tmp_path, caplog):
    folder = tmp_path / "data"
    prepare(DataConfig(synthetic=SyntheticConfig(train_queries=4, dev_queries=2, test_queries=3, background_passages=5)), folder)
    left = tmp_path / "emb" / "0123456789abcdef"  # another model's shards, from a killed run
    left.mkdir(parents=True)
    (left / "shard-00000.npy").write_bytes(b"x" * 1000)
    config = EvalConfig(depth=5, batch_size=8, embeddings_dir=str(tmp_path / "emb"), shard_size=16)
    with caplog.at_level("WARNING"):
        retrieve(model, PreparedData(folder), PreparedData(folder).queries("test"), config)
    assert "1 interrupted run(s) of other models" in caplog.text and "0123456789abcdef" in caplog.text
    assert [p.name for p in (tmp_path / "emb").iterdir()] == [left.name]  # kept (it may resume); ours removed


def test_a_graph_index_returns_the_full_depth_asked():
    """HNSW explores efSearch (16 by default) candidates; a top-1000 search must still return 1000 rows."""
    vectors = np.random.default_rng(2).normal(size=(3000, 16)).astype(np.float32)
    scores, rows = search(build_index(vectors, use_gpu=False, spec="HNSW32"), vectors[:5], k=1000)
    assert rows.shape == (5, 1000) and (rows >= 0).all()
    assert all(len(set(r)) == 1000 for r in rows)


def test_hits_read_a_slice_of_queries_at_a_time_give_the_whole_run():
    from lead.retrieval.search import Hits

    rng = np.random.default_rng(4)
    qids = [f"q{i}" for i in range(7)]
    hits = Hits(qids, np.array([f"p{i}" for i in range(30)]), rng.integers(-1, 30, size=(7, 5)), rng.normal(size=(7, 5)))
    merged = {}
    for start, run in hits.runs(queries_per_run=3):
        assert list(run) == qids[start : start + 3]
        merged.update(run)
    assert merged == hits.run() and len(merged) == 7


def test_a_trained_index_learns_from_rows_of_every_block_not_the_first_ones():
    from lead.retrieval.index import _training_sample

    blocks = [np.full((300, 2), float(i), dtype=np.float16) for i in range(4)]  # block i's rows all hold i
    sample = _training_sample(blocks, 200)
    assert sample.shape == (200, 2) and sample.dtype == np.float32
    assert set(np.unique(sample[:, 0])) == {0.0, 1.0, 2.0, 3.0}  # the first 200 rows would all be block 0's
    np.testing.assert_array_equal(sample, _training_sample(blocks, 200))  # seeded
    assert len(_training_sample(blocks, 5000)) == 1200  # fewer rows than asked: all of them
    assert _training_sample(blocks, 1199).shape == (1199, 2)  # nearly every row: the block boundaries are drawn
