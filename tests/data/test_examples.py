"""Training examples: the passage store, the training file, and its format errors."""

from __future__ import annotations

import re

import pytest

from lead.config import DataConfig
from lead.data.examples import (
    PassageStore,
    QueryExample,
    examples_from_qrels,
    read_training_file,
    write_training_file,
)
from lead.data.prepared import PreparedData, prepare
from lead.data.synthetic import SyntheticConfig
from lead.errors import DataFormatError
from lead.records import Passage, Query


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared") / "data"
    prepare(DataConfig(synthetic=SyntheticConfig(train_queries=20, dev_queries=5, test_queries=5, background_passages=5)), folder)
    return folder


def test_passage_store_returns_every_passage_of_a_prepared_collection(prepared):
    store = PassageStore(prepared / "collection.tsv")
    passages = list(PreparedData(prepared).passages())
    assert len(store) == len(passages) == 125
    assert store.pids == [p.pid for p in passages]
    for passage in reversed(passages):  # random access, not a sequential read
        assert store[passage.pid] == passage
        assert passage.pid in store
    assert "no-such-pid" not in store
    with pytest.raises(KeyError):
        store["no-such-pid"]


def test_passage_store_reads_titles_and_non_ascii_text(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("7\tplain text\nD2\tthé café, naïve\tA Title\n10\tlast line without newline", encoding="utf-8")
    store = PassageStore(path)
    assert store["D2"] == Passage("D2", "thé café, naïve", "A Title")
    assert store["7"] == Passage("7", "plain text", "")
    assert store["10"] == Passage("10", "last line without newline", "")
    assert store["D2"] == Passage("D2", "thé café, naïve", "A Title")  # seeking back works
    assert "7" in store and 7 not in store and "8" not in store


def test_passage_store_survives_pickling(tmp_path):
    import pickle

    path = tmp_path / "collection.tsv"
    path.write_text("a\tfirst\nb\tsecond\tT\n")
    store = PassageStore(path)
    store["a"]  # opens the handle
    clone = pickle.loads(pickle.dumps(store))
    assert clone["b"] == Passage("b", "second", "T")


_FORKED: dict[str, PassageStore] = {}  # inherited by forked processes as it is, open file included (not pickled)


def _read_all_in_random_order(seed: int, rounds: int) -> int:
    import random

    store = _FORKED["store"]
    order = [pid for _ in range(rounds) for pid in store.pids]
    random.Random(seed).shuffle(order)
    return sum(store[pid].pid != pid for pid in order)


def test_forked_readers_of_one_open_store_never_mix_up_passages(prepared):
    """Data-loader workers are forked from a process whose store is already open, so they share its file
    descriptor; a shared seek position let one worker's seek move another's read (a CI failure). Four forked
    processes read every passage many times in different orders; each must get exactly the passage asked for."""
    import multiprocessing

    store = PassageStore(prepared / "collection.tsv")
    store[store.pids[0]]  # open the file in the parent before forking, as the training loop does
    _FORKED["store"] = store
    try:
        with multiprocessing.get_context("fork").Pool(4) as pool:
            wrong = pool.starmap(_read_all_in_random_order, [(seed, 40) for seed in range(4)])
    finally:
        _FORKED.clear()
    assert wrong == [0, 0, 0, 0]


def test_missing_or_empty_collection_is_a_data_error(tmp_path):
    with pytest.raises(DataFormatError, match="collection not found"):
        PassageStore(tmp_path / "none.tsv")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(DataFormatError, match="collection is empty"):
        PassageStore(tmp_path / "empty.tsv")


def test_training_file_round_trip(tmp_path):
    examples = [
        QueryExample("17", "which medic in Oslo?", ["804"], ["12", "977", "3"]),
        QueryExample("q2", "tab\tand \"quotes\" é", ["1", "2"], []),
    ]
    path = tmp_path / "sub" / "train.jsonl"
    assert write_training_file(path, examples) == 2
    assert list(read_training_file(path)) == examples
    assert len(path.read_text().splitlines()) == 2


def test_training_file_ids_become_strings_and_negatives_are_optional(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"qid": 17, "query": "q", "positives": [804]}\n\n{"qid": "2", "query": "r", "positives": ["5"], "negatives": [6]}\n')
    assert list(read_training_file(path)) == [QueryExample("17", "q", ["804"], []), QueryExample("2", "r", ["5"], ["6"])]


def test_against_the_collection_an_unknown_passage_or_a_positive_among_negatives_names_the_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"qid": "1", "query": "q", "positives": ["5"], "negatives": ["6"]}\n'
                    '{"qid": "2", "query": "r", "positives": ["5"], "negatives": ["99"]}\n')
    assert len(list(read_training_file(path))) == 2  # without a collection only the format is checked
    with pytest.raises(DataFormatError, match="^" + re.escape(f"{path}:2: query 2: passage '99' is not in the collection")):
        list(read_training_file(path, {"5", "6"}))
    path.write_text('{"qid": "1", "query": "q", "positives": ["5", "7"], "negatives": ["6", "7"]}\n')
    with pytest.raises(DataFormatError, match=re.escape("query 1: negatives ['7'] are its positives")):
        list(read_training_file(path, {"5", "6", "7"}))


def test_bad_json_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"qid": "1", "query": "q", "positives": ["5"]}\n{"qid": "2", "query": \n')
    with pytest.raises(DataFormatError, match="^" + re.escape(f"{path}:2: invalid JSON")) as info:
        list(read_training_file(path))
    assert info.value.line == 2 and info.value.path == str(path)


def test_missing_key_is_named(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"qid": "1", "query": "q", "positives": ["5"]}\n\n{"qid": "2", "query": "r"}\n')
    with pytest.raises(DataFormatError, match="^" + re.escape(f"{path}:3: missing key 'positives'")):
        list(read_training_file(path))


@pytest.mark.parametrize(
    "line,message",
    [
        ('["1", "q", ["5"]]', "expected a JSON object, got list"),
        ('{"qid": "1", "query": "q", "positives": "804"}', "positives must be a list of passage ids, got '804'"),
        ('{"qid": "1", "query": "q", "positives": ["5"], "negatives": 7}', "negatives must be a list of passage ids, got 7"),
        ('{"qid": "1", "query": "q", "positives": []}', "query 1: empty positives"),
    ],
)
def test_malformed_records_name_the_file_line_and_problem(tmp_path, line, message):
    path = tmp_path / "train.jsonl"
    path.write_text('{"qid": "0", "query": "fine", "positives": ["5"]}\n' + line + "\n")
    with pytest.raises(DataFormatError, match="^" + re.escape(f"{path}:2: {message}")):
        list(read_training_file(path))


def test_missing_training_file_is_a_data_error(tmp_path):
    with pytest.raises(DataFormatError, match="training file not found"):
        list(read_training_file(tmp_path / "none.jsonl"))


def test_examples_from_qrels_keeps_judged_queries_with_a_relevant_passage():
    queries = [Query("1", "a"), Query("2", "b"), Query("3", "c")]
    qrels = {"1": {"p9": 2, "p1": 3, "p5": 1}, "2": {"p4": 1}}
    assert examples_from_qrels(queries, qrels, min_grade=2) == [QueryExample("1", "a", ["p1", "p9"])]
    assert examples_from_qrels(queries, qrels) == [QueryExample("1", "a", ["p1", "p5", "p9"]), QueryExample("2", "b", ["p4"])]


def test_a_batch_larger_than_the_training_set_names_the_params_to_lower(prepared):
    from lead.data.examples import BatchSampler

    data = PreparedData(prepared)
    examples = examples_from_qrels(data.queries("train"), data.qrels("train"))[:15]  # a small divided set
    with pytest.raises(ValueError, match=r"a global batch of 24 queries \(8 per process x 3\) but only 15 training "
                                         r"queries: lower train\.batch_queries or the number of processes"):
        BatchSampler(examples, PassageStore(prepared / "collection.tsv"), 8, 1, world_size=3)


def test_passes_over_a_file_smaller_than_a_global_batch_take_all_of_it_each_step():
    from lead.data.examples import queries_per_rank_for_passes

    assert queries_per_rank_for_passes(100, 8, 2) == 8  # the file fills the batch: unchanged
    assert queries_per_rank_for_passes(16, 8, 2) == 8
    assert queries_per_rank_for_passes(5, 8, 1) == 5  # PROD's divided set of 5 queries: one step is a pass
    assert queries_per_rank_for_passes(7, 8, 2) == 3  # every process the same share; one query left out
    assert queries_per_rank_for_passes(9, 8, 1, grad_accum=2) == 4  # a step of 2 micro-batches: still one pass
    with pytest.raises(ValueError, match=r"only 1 training queries for 2 processes x 1 accumulated micro-batches: lower "
                                         r"train\.grad_accum or the number of processes"):
        queries_per_rank_for_passes(1, 8, 2)
