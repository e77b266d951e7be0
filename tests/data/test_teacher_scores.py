"""Teacher score files: the three layouts read to the same scores, looked up per batch; every bad line named."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lead.data.examples import PassageStore
from lead.data.teacher_scores import is_score_file, read_teacher_scores
from lead.errors import DataFormatError

QUERIES = {"q1": "what is one", "q2": "what is two"}


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("p0\tzero\tT0\np1\tone is a number\tT1\np2\ttwo  is\ta number\np3\tthree\t\np4\tone is a number\t\n")
    return PassageStore(path)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_tsv_table_is_looked_up_per_query_and_candidate(tmp_path, store):
    path = write(tmp_path, "s.tsv", "qid\tpid\tscore\nq1\tp1\t2.5\nq1\tp0\t-1\nq2\tp2\t3\nq2\tp3\t0.25\nq9\tp1\t1\n"
                 .replace("q9\tp1\t1\n", ""))
    scores = read_teacher_scores(path, store, QUERIES)
    assert len(scores) == 4 and is_score_file(path) and not is_score_file(tmp_path / "models" / "ce")
    # own: each query's own group of 2
    own = scores.matrix(["q1", "q2"], ["p1", "p0", "p2", "p3"], 2, own=True)
    assert own.tolist() == [[2.5, -1.0], [3.0, 0.25]]
    # in-batch: every query against the global candidate set; pairs the file does not score are NaN
    full = scores.matrix(["q1", "q2"], ["p1", "p0", "p2", "p3"], 2, own=False)
    assert full[0, :2].tolist() == [2.5, -1.0] and full[1, 2:].tolist() == [3.0, 0.25]
    assert np.isnan(full[0, 2:]).all() and np.isnan(full[1, :2]).all()


def test_only_the_runs_training_queries_are_kept_and_a_file_of_none_of_them_is_refused(tmp_path, store):
    path = write(tmp_path, "s.tsv", "q1\tp1\t2.5\nq2\tp2\t3\nq7\tp2\t1\n")  # q7: another run's query
    scores = read_teacher_scores(path, store, {"q2": "what is two"})
    assert list(scores.by_query) == ["q2"]
    with pytest.raises(DataFormatError, match=r"s\.tsv: scores none of the 1 training queries"):
        read_teacher_scores(path, store, {"q5": "five"})


def test_a_parquet_table_with_integer_ids_reads_as_the_tsv(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("7\tseven\t\n8\teight\t\n")
    store = PassageStore(path)
    table = tmp_path / "s.parquet"
    pd.DataFrame({"qid": [3, 3], "pid": [8, 7], "score": [1.5, 0.5]}).to_parquet(table)
    scores = read_teacher_scores(table, store, {"3": "a query"})
    assert scores.matrix(["3"], ["7", "8"], 2, own=True).tolist() == [[0.5, 1.5]]


def test_flagembedding_jsonl_is_resolved_by_text_and_a_shared_text_scores_every_id(tmp_path, store):
    line = {"query": "what  is one", "pos": ["one is a number"], "neg": ["two is", "zero"], "pos_scores": [4.0],
            "neg_scores": [1.0, -2.0], "prompt": "ignored"}
    path = write(tmp_path, "s.jsonl", json.dumps(line) + "\n")
    scores = read_teacher_scores(path, store, QUERIES)
    # p1 and p4 hold the same text; p2's text has a double space in the collection and its title is not read
    assert scores.matrix(["q1"], ["p1", "p4", "p2", "p0"], 4, own=True).tolist() == [[4.0, 4.0, 1.0, -2.0]]


def test_the_shared_msmarco_sample_reads_against_a_collection_of_its_texts(tmp_path, shared_data):
    sample = shared_data / "msmarco-samples" / "train-with-teacher-scores.jsonl"
    records = [json.loads(line) for line in sample.read_text().splitlines() if line.strip()]
    texts = sorted({text for r in records for text in r["pos"] + r["neg"]})
    collection = tmp_path / "collection.tsv"
    collection.write_text("".join(f"p{i}\t{' '.join(text.split())}\t\n" for i, text in enumerate(texts)))
    store = PassageStore(collection)
    queries = {f"q{i}": r["query"] for i, r in enumerate(records)}
    scores = read_teacher_scores(sample, store, queries)
    row = {text: f"p{i}" for i, text in enumerate(texts)}
    first = records[0]
    pids = [row[t] for t in first["pos"] + first["neg"]]
    got = scores.matrix(["q0"], pids, len(pids), own=True)[0]
    assert np.allclose(got, first["pos_scores"] + first["neg_scores"], rtol=1e-6)
    assert len(scores) == sum(len(r["pos"]) + len(r["neg"]) for r in records)


@pytest.mark.parametrize("text, line, message", [
    ("q1\tp1\t2.5\nq1\tp0\n", 2, r"expected qid<TAB>pid<TAB>score, found 2 field\(s\)"),
    ("q1\tp1\t2.5\nq1\tp0\t\n", 2, "no score for query 'q1' and passage 'p0'"),
    ("q1\tp1\tnan\n", 1, "score nan is not a finite number"),
    ("q1\tp1\thigh\n", 1, "score 'high' is not a number"),
    ("q1\tp1\t1\nq1\tp7\t1\n", 2, "passage id 'p7' is not in the collection"),
])
def test_a_bad_tsv_line_is_named(tmp_path, store, text, line, message):
    path = write(tmp_path, "s.tsv", text)
    with pytest.raises(DataFormatError, match=rf"s\.tsv:{line}: {message}"):
        read_teacher_scores(path, store, QUERIES)


def test_a_pair_scored_twice_is_refused(tmp_path, store):
    with pytest.raises(DataFormatError, match=r"scores query 'q1' and passage 'p1' twice"):
        read_teacher_scores(write(tmp_path, "s.tsv", "q1\tp1\t1\nq1\tp1\t2\n"), store, QUERIES)


@pytest.mark.parametrize("record, message", [
    ({"query": "what is one", "pos": ["zero"], "neg": ["three"], "pos_scores": [1.0], "neg_scores": []},
     r"'neg_scores' has 0 scores for 1 texts in 'neg': a score is missing"),
    ({"query": "what is one", "pos": ["zero"], "neg": [], "pos_scores": [math.nan], "neg_scores": []},
     "score nan is not a finite number"),
    ({"query": "what is one", "pos": ["eleven"], "neg": [], "pos_scores": [1.0], "neg_scores": []},
     "pos text 1 is not in the collection"),
])
def test_a_bad_jsonl_line_is_named(tmp_path, store, record, message):
    path = write(tmp_path, "s.jsonl", "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataFormatError, match=rf"s\.jsonl:2: {message}"):
        read_teacher_scores(path, store, QUERIES)


def test_a_parquet_null_score_names_its_row(tmp_path, store):
    table = tmp_path / "s.parquet"
    pd.DataFrame({"qid": ["q1", "q1"], "pid": ["p1", "p0"], "score": [1.0, None]}).to_parquet(table)
    with pytest.raises(DataFormatError, match=r"s\.parquet:row 2: has no score \(null\)"):
        read_teacher_scores(table, store, QUERIES)


def test_an_unscored_own_candidate_is_an_error_naming_the_pair(tmp_path, store):
    scores = read_teacher_scores(write(tmp_path, "s.tsv", "q1\tp1\t1\n"), store, QUERIES)
    with pytest.raises(DataFormatError, match=r"has no score for query 'q1' and its candidate 'p0'"):
        scores.matrix(["q1"], ["p1", "p0"], 2, own=False)
