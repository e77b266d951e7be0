"""Hard-negative mining: every positive is removed (the reference kept them, spec A.9), rank order is kept."""

import numpy as np
import pytest

from lead.config import ScorerConfig
from lead.data.examples import PassageStore
from lead.models.factory import build_scorer
from lead.records import TextBatch
from lead.retrieval.mining import remove_positives, rerank
from tests.helpers import tiny_bert_folder


def test_every_positive_is_removed_whatever_the_id_type():
    ranking = [7, "3", 12, 5, "9", 1]  # faiss gives ints, qrels give strings: the reference compared them
    assert remove_positives(ranking, ["3", 5, "1"], keep=10) == ["7", "12", "9"]


def test_negatives_keep_rank_order_and_are_cut_at_keep():
    ranking = [str(i) for i in range(10)]
    assert remove_positives(ranking, {"0", "4"}, keep=3) == ["1", "2", "3"]
    assert remove_positives(ranking, set(), keep=0) == []


@pytest.fixture(scope="module")
def ce(tmp_path_factory):
    folder = tiny_bert_folder(tmp_path_factory.mktemp("ce"))
    return build_scorer(ScorerConfig(kind="ce", name=str(folder))).eval()


def test_rerank_scores_every_candidate_like_a_single_batch(tmp_path, ce):
    collection = tmp_path / "collection.tsv"
    collection.write_text("".join(f"p{i}\tpassage number {i} about topic {i % 3}\n" for i in range(7)))
    store = PassageStore(collection)
    candidates = {"q1": ["p3", "p0", "p6", "p1", "p5"], "q2": ["p2"]}
    run = rerank(ce, {"q1": "topic one", "q2": "number two"}, candidates, store, batch_size=2, progress=False)
    assert {q: set(r) for q, r in run.items()} == {q: set(c) for q, c in candidates.items()}
    batch = TextBatch(["q1"], ["topic one"], candidates["q1"], [store[p] for p in candidates["q1"]], 5)
    expected = ce.scores(batch, own=True).final[0].tolist()
    assert [run["q1"][p] for p in candidates["q1"]] == pytest.approx(expected, abs=1e-5)


def test_a_passage_holding_the_answer_is_no_negative_where_the_split_has_answers(tmp_path, monkeypatch):
    """DPR's rule for Natural Questions: an unjudged passage that contains an answer string is a false negative."""
    import json

    from lead.data.examples import QueryExample
    from lead.data.prepared import PreparedData
    from lead.retrieval import mining

    (tmp_path / "collection.tsv").write_text(
        "p1\tThe Eiffel Tower stands in Paris.\n"       # judged positive
        "p2\tParis is the capital of France.\n"         # holds the answer, unjudged
        "p3\tBerlin is the capital of Germany.\n"
        "p4\tCafés of PARIS, at night.\n"              # holds it after normalisation (case, punctuation)
        "p5\tA parish in Rome.\n"                      # 'paris' is not a whole token here
    )
    (tmp_path / "answers.train.jsonl").write_text(json.dumps({"qid": "q1", "answers": ["Paris"]}) + "\n")
    data = PreparedData(tmp_path)
    from lead.retrieval.search import Hits

    # q1: p2 5.0, p1 4.0, p3 3.0, p4 2.0, p5 1.0; q2: p2 2.0, p3 1.0 (-1: faiss's "no hit")
    hits = Hits(["q1", "q2"], np.array(["p1", "p2", "p3", "p4", "p5"]), np.array([[1, 0, 2, 3, 4], [1, 2, -1, -1, -1]]),
                np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [2.0, 1.0, 0.0, 0.0, 0.0]]))
    monkeypatch.setattr(mining, "search_collection", lambda *args, **kwargs: (hits, {}))
    examples = [QueryExample("q1", "where is the eiffel tower", ["p1"], []),
                QueryExample("q2", "a question without answers", ["p3"], [])]
    mined = {e.qid: e.negatives for e in mining.mine_negatives(None, data, examples, depth=5, keep=10)}
    assert mined == {"q1": ["p3", "p5"], "q2": ["p2"]}  # q2 has no answer strings: only its positive goes
    # skip: the first non-positives (here the first one) are dropped before keep counts.
    mined = {e.qid: e.negatives for e in mining.mine_negatives(None, data, examples, depth=5, keep=1, skip=1)}
    assert mined == {"q1": ["p5"]}  # q2 has one non-positive: after skipping it nothing is left, so q2 is dropped


def test_mining_a_slice_of_queries_at_a_time_keeps_each_query_with_its_own_hits(tmp_path, monkeypatch):
    """Five queries read two at a time (MS MARCO's 500k in slices of 10,000): each keeps its own list."""
    from lead.data.examples import QueryExample
    from lead.data.prepared import PreparedData
    from lead.retrieval import mining, search
    from lead.retrieval.search import Hits

    (tmp_path / "collection.tsv").write_text("".join(f"p{i}\tpassage {i}\n" for i in range(10)))
    pids = np.array([f"p{i}" for i in range(10)])
    indices = np.array([[(q + j) % 10 for j in range(4)] for q in range(5)])  # query q: p_q (its positive) first, then 3
    hits = Hits([f"q{q}" for q in range(5)], pids, indices, np.tile([4.0, 3.0, 2.0, 1.0], (5, 1)))
    monkeypatch.setattr(mining, "search_collection", lambda *args, **kwargs: (hits, {}))
    monkeypatch.setattr(search, "QUERIES_PER_RUN", 2)
    examples = [QueryExample(f"q{q}", f"query {q}", [f"p{q}"], []) for q in range(5)]
    mined = mining.mine_negatives(None, PreparedData(tmp_path), examples, depth=4, keep=3)
    assert {e.qid: e.negatives for e in mined} == {f"q{q}": [f"p{(q + j) % 10}" for j in (1, 2, 3)] for q in range(5)}
