"""Malformed input: every reader raises DataFormatError naming the file and the 1-based line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lead.data import beir, msmarco, training, trec
from lead.errors import DataFormatError


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def at(name: str, line: int | None, *words: str) -> str:
    """A pattern for a message that starts with ``.../name:line:`` and holds ``words`` in that order."""
    where = re.escape(name) + (f":{line}:" if line is not None else ":")
    return where + "".join(".*" + re.escape(w) for w in words)


def consume(result):
    """Run a reader to the end (generators are lazy)."""
    return result if isinstance(result, dict) else list(result)


# reader, file name, content, line, words expected in the message
TSV_CASES = [
    (msmarco.read_collection, "collection.tsv", "0\tfirst\n1\n2\tthird\n", 2, ["columns", "found 1"]),
    (msmarco.read_collection, "collection.tsv", "0\ta\n1\tb\tc\td\n", 2, ["2 or 3", "found 4"]),
    (msmarco.read_documents, "docs.tsv", "D1\turl\ttitle\tbody\tmore\n", 1, ["expected 4", "found 5"]),
    (msmarco.read_collection, "collection.tsv", "0\ta\tb\tc\n", 1, ["2 or 3", "found 4"]),
    (msmarco.read_queries, "queries.tsv", "1\tq one\n2\tq\ttwo\n", 2, ["columns", "found 3"]),
    (msmarco.read_qrels, "qrels.txt", "1 0 1239 1\n1 0 1502\n", 2, ["qrels fields", "found 3"]),
    (msmarco.read_qrels, "qrels.txt", "1 0 1239\n", 1, ["qrels fields", "found 3"]),
    (msmarco.read_qrels, "qrels.txt", "19335 0 1017759 0\n19335 0 1082489 high\n", 2, ["'high'", "not an integer"]),
    (msmarco.read_qrels, "qrels.txt", "1 0 5 1\n1 0 5 2\n", 2, ["judged 1 before, now 2"]),
    (msmarco.read_triples_negatives, "triples.tsv", "1\t2\t3\n1\t2\n", 2, ["expected 3", "found 2"]),
    (msmarco.read_documents, "docs.tsv", "D1\turl\ttitle\tbody\nD2\turl\tbody\n", 2, ["expected 4", "found 3"]),
    (msmarco.read_collection, "collection.tsv", b"0\tok\n1\tbad \xff byte\n", 2, ["not valid UTF-8"]),
]


@pytest.mark.parametrize("reader, name, content, line, words", TSV_CASES)
def test_tsv_errors(tmp_path, reader, name, content, line, words):
    path = write(tmp_path / name, content)
    with pytest.raises(DataFormatError, match=at(name, line, *words)):
        consume(reader(path))


def test_duplicate_query_ids_name_both_lines(tmp_path):
    path = write(tmp_path / "queries.dev.tsv", "1\tone\n2\ttwo\n1\tone again\n")
    with pytest.raises(DataFormatError, match=at("queries.dev.tsv", 3, "duplicate query id '1'", "line 1")):
        consume(msmarco.read_queries(path))
    folder = tmp_path / "beir"
    write(folder / "queries.jsonl", '{"_id": "7", "text": "a"}\n{"_id": "8", "text": "b"}\n{"_id": 7, "text": "c"}\n')
    with pytest.raises(DataFormatError, match=at("queries.jsonl", 3, "duplicate query id '7'", "line 1")):
        consume(beir.read_queries(folder))
    topics = write(tmp_path / "topics.trec", "<top>\n<num>1</num><title>a</title>\n</top>\n<top>\n<num>1</num>\n"
                                             "<title>b</title>\n</top>\n")
    with pytest.raises(DataFormatError, match=at("topics.trec", 4, "duplicate topic number '1'", "line 1")):
        consume(trec.read_trec_topics(topics))


def test_beir_errors(tmp_path):
    folder = tmp_path / "beir"
    write(folder / "corpus.jsonl", '{"_id": "1", "title": "t", "text": "x"}\n{"_id": "2", "title": "t", \n')
    with pytest.raises(DataFormatError, match=at("corpus.jsonl", 2, "invalid JSON")):
        consume(beir.read_corpus(folder))
    write(folder / "corpus.jsonl", '{"_id": "1", "title": "t", "text": "x"}\n{"_id": "2", "title": "t"}\n')
    with pytest.raises(DataFormatError, match=at("corpus.jsonl", 2, "missing the required key 'text'")):
        consume(beir.read_corpus(folder))
    write(folder / "corpus.jsonl", '["1", "t", "x"]\n')
    with pytest.raises(DataFormatError, match=at("corpus.jsonl", 1, "expected a JSON object")):
        consume(beir.read_corpus(folder))
    write(folder / "queries.jsonl", '{"_id": "1", "text": "x"}\n{"text": "y"}\n')
    with pytest.raises(DataFormatError, match=at("queries.jsonl", 2, "missing the required key '_id'")):
        consume(beir.read_queries(folder))
    write(folder / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\r\n1\t31715818\t1\r\n3\t14717500\t1.0\r\n")
    with pytest.raises(DataFormatError, match=at("test.tsv", 3, "'1.0'", "not an integer")):
        beir.read_qrels(folder, "test")
    write(folder / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\r\n1\t31715818\r\n")
    with pytest.raises(DataFormatError, match=at("test.tsv", 2, "expected 3", "found 2")):
        beir.read_qrels(folder, "test")
    with pytest.raises(DataFormatError, match=at("dev.tsv", None, "not found", "available: test")):
        beir.read_qrels(folder, "dev")


def test_check_qrels_ids_names_the_line(tmp_path):
    path = write(tmp_path / "qrels.dev.tsv", "1\t0\t10\t1\n2\t0\t20\t1\n3\t0\t30\t1\n")
    assert msmarco.check_qrels_ids(path, {"1", "2", "3"}, {"10", "20", "30"}) == 3
    with pytest.raises(DataFormatError, match=at("qrels.dev.tsv", 2, "query id '2'", "not among the queries")):
        msmarco.check_qrels_ids(path, {"1", "3"}, {"10", "20", "30"})
    with pytest.raises(DataFormatError, match=at("qrels.dev.tsv", 3, "passage id '30'", "not in the collection")):
        msmarco.check_qrels_ids(path, {"1", "2", "3"}, {"10", "20"})


def test_trec_errors(tmp_path):
    path = write(tmp_path / "docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\nok\n</DOC>\n<DOC>\nno number\n</DOC>\n")
    with pytest.raises(DataFormatError, match=at("docs.trec", 7, "opened on line 5 has no <DOCNO>")):
        consume(trec.read_trec_documents(path))
    path = write(tmp_path / "docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\ntext\n")
    with pytest.raises(DataFormatError, match=at("docs.trec", 3, "opened on line 1 is never closed")):
        consume(trec.read_trec_documents(path))
    path = write(tmp_path / "docs.trec", "<DOC>\n<DOCNO>1</DOCNO>\n<DOC>\n")
    with pytest.raises(DataFormatError, match=at("docs.trec", 3, "<DOC> inside")):
        consume(trec.read_trec_documents(path))
    path = write(tmp_path / "docs.trec", "stray words\n<DOC>\n<DOCNO>1</DOCNO>\n</DOC>\n")
    with pytest.raises(DataFormatError, match=at("docs.trec", 1, "outside a <DOC>")):
        consume(trec.read_trec_documents(path))
    path = write(tmp_path / "topics.trec", "<top>\n<title>no number</title>\n</top>\n")
    with pytest.raises(DataFormatError, match=at("topics.trec", 3, "has no <num>")):
        consume(trec.read_trec_topics(path))


def json_list(path: Path, records) -> Path:
    return write(path, json.dumps(records, indent=2))


def test_training_json_missing_keys(tmp_path):
    good = {"question": "q", "answers": [], "positive_ctxs": ["1"], "hard_negative_ctxs": ["2"], "negative_ctxs": []}
    path = json_list(tmp_path / "train.json", [good, {"answers": [], "positive_ctxs": ["1"]}])
    with pytest.raises(DataFormatError, match=at("train.json", 13, "missing the required key 'question'")):
        consume(training.read_dpr_json(path))
    nq = {"question": "q", "positive_ctxs": [{"title": "t", "text": "x"}]}
    path = json_list(tmp_path / "nq.json", [nq])
    with pytest.raises(DataFormatError, match=at("nq.json", 2, "missing the required key 'passage_id'")):
        consume(training.read_dpr_json(path))
    path = json_list(tmp_path / "marco_train.json", [{"query_id": "1", "query_string": "q", "pos_id": ["2"]}])
    with pytest.raises(DataFormatError, match=at("marco_train.json", 2, "missing the required key 'neg_id'")):
        consume(training.read_prod_json(path))
    path = json_list(tmp_path / "cands.json", [{"query": "q", "hits": [{"qid": "1", "docid": "2", "rank": 1,
                                                                         "score": 0.5}]}])
    with pytest.raises(DataFormatError, match=at("cands.json", 2, "missing the required key 'content'")):
        consume(training.read_ranked_candidates(path))


def test_training_json_syntax_errors(tmp_path):
    path = write(tmp_path / "train.json", '[\n  {"question": "a", "positive_ctxs": ["1"]},\n  {"question": "b",,}\n]\n')
    with pytest.raises(DataFormatError, match=at("train.json", 3, "invalid JSON")):
        consume(training.read_dpr_json(path))
    path = write(tmp_path / "train.json", '[\n  {"question": "a", "positive_ctxs": ["1"]}\n  {"question": "b"}\n]\n')
    with pytest.raises(DataFormatError, match=at("train.json", 3, "expected ',' or ']'")):
        consume(training.read_dpr_json(path))
    path = write(tmp_path / "train.json", '[\n  {"question": "a", "positive_ctxs": ["1"]},\n')
    with pytest.raises(DataFormatError, match=at("train.json", 3, "JSON list is not closed")):
        consume(training.read_dpr_json(path))
    path = write(tmp_path / "train.json", '{"question": "a"}\n')
    with pytest.raises(DataFormatError, match=at("train.json", 1, "expected a JSON list")):
        consume(training.read_dpr_json(path))
    path = write(tmp_path / "train.json", '[{"question": "a", "positive_ctxs": "1"}]')
    with pytest.raises(DataFormatError, match=at("train.json", 1, "'positive_ctxs' must be a list")):
        consume(training.read_dpr_json(path))


def test_scored_jsonl_errors(tmp_path):
    good = {"query": "q", "pos": ["p"], "neg": ["n1", "n2"], "pos_scores": [9.5], "neg_scores": [1.0, 2.0]}
    lines = [json.dumps(good), json.dumps(good), '{"query": "q", "pos": [']
    path = write(tmp_path / "scores.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=at("scores.jsonl", 3, "invalid JSON")):
        consume(training.read_scored_jsonl(path))
    bad = dict(good, neg_scores=[1.0])
    path = write(tmp_path / "scores.jsonl", json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataFormatError, match=at("scores.jsonl", 2, "'neg_scores' has 1 scores but 'neg' has 2")):
        consume(training.read_scored_jsonl(path))
    missing = {k: v for k, v in good.items() if k != "pos_scores"}
    path = write(tmp_path / "scores.jsonl", json.dumps(missing) + "\n")
    with pytest.raises(DataFormatError, match=at("scores.jsonl", 1, "missing the required key 'pos_scores'")):
        consume(training.read_scored_jsonl(path))


ALL_READERS = [
    (msmarco.read_collection, "collection.tsv"),
    (msmarco.read_queries, "queries.tsv"),
    (msmarco.read_qrels, "qrels.tsv"),
    (msmarco.read_triples_negatives, "triples.tsv"),
    (msmarco.read_documents, "docs.tsv"),
    (trec.read_trec_documents, "doc-text.trec"),
    (trec.read_trec_topics, "query-text.trec"),
    (beir.read_corpus, "corpus.jsonl"),
    (beir.read_queries, "queries.jsonl"),
    (training.read_dpr_json, "train.json"),
    (training.read_prod_json, "prod.json"),
    (training.read_scored_jsonl, "scores.jsonl"),
    (training.read_ranked_candidates, "candidates.json"),
]


@pytest.mark.parametrize("reader, name", ALL_READERS)
def test_missing_and_empty_files(tmp_path, reader, name):
    with pytest.raises(DataFormatError, match=at(name, None, "not found")):
        reader(tmp_path / name)  # checked at the call, before iteration
    write(tmp_path / name, "")
    with pytest.raises(DataFormatError, match=at(name, None, "is empty")):
        reader(tmp_path / name)
    write(tmp_path / name, "[]\n" if name.endswith(".json") else "\n\n")
    with pytest.raises(DataFormatError, match=at(name, None, "is empty")):
        consume(reader(tmp_path / name))


def test_header_only_qrels_is_empty(tmp_path):
    folder = tmp_path / "beir"
    write(folder / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\r\n")
    with pytest.raises(DataFormatError, match=at("test.tsv", None, "is empty")):
        beir.read_qrels(folder, "test")
