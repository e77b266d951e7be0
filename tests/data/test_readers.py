"""The readers on real files (../shared/data) and on small files written in the exact real layouts."""

from __future__ import annotations

import inspect
import itertools
import json
from pathlib import Path

import pytest

from lead.data import beir, msmarco, training, trec
from lead.errors import DataFormatError
from lead.records import Passage, Query


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.write_text(text.replace("\n", newline), encoding="utf-8", newline="")
    return path


# --- BEIR SciFact (real) ------------------------------------------------------------------------


def test_scifact_corpus(shared_data):
    corpus = list(beir.read_corpus(shared_data / "scifact"))
    assert len(corpus) == 5183
    assert len({p.pid for p in corpus}) == 5183
    assert all(p.title and p.text for p in corpus)
    first = corpus[0]
    assert first.pid == "4983"
    assert first.title == (
        "Microstructural development of human newborn cerebral white matter assessed in vivo "
        "by diffusion tensor magnetic resonance imaging."
    )
    assert first.text.startswith("Alterations of the architecture of cerebral white matter in the developing")
    assert len(first.text) == 1809


def test_scifact_queries(shared_data):
    queries = list(beir.read_queries(shared_data / "scifact"))
    assert len(queries) == 1109
    assert queries[0] == Query("0", "0-dimensional biomaterials lack inductive properties.")
    assert Query("1", "0-dimensional biomaterials show inductive properties.") in queries


@pytest.mark.parametrize("split, lines, n_queries", [("test", 339, 300), ("train", 919, 809)])
def test_scifact_qrels(shared_data, split, lines, n_queries):
    folder = shared_data / "scifact"
    assert beir.available_splits(folder) == ["test", "train"]
    qrels = beir.read_qrels(folder, split)  # CRLF line ends and a header
    assert len(qrels) == n_queries
    assert sum(len(docs) for docs in qrels.values()) == lines
    assert {rel for docs in qrels.values() for rel in docs.values()} == {1}
    doc_ids = {p.pid for p in beir.read_corpus(folder)}
    query_ids = {q.qid for q in beir.read_queries(folder)}
    assert msmarco.check_qrels_ids(beir.qrels_path(folder, split), query_ids, doc_ids) == lines


def test_scifact_test_qrels_first_entry(shared_data):
    assert beir.read_qrels(shared_data / "scifact", "test")["1"] == {"31715818": 1}


# --- Vaswani (real, TREC SGML) ------------------------------------------------------------------


def test_vaswani_documents(shared_data):
    docs = list(trec.read_trec_documents(shared_data / "vaswani" / "doc-text.trec"))
    assert len(docs) == 11429
    assert [d.pid for d in docs[:3]] == ["1", "2", "3"]
    assert docs[2].text.startswith("electronic coordinate transformer circuit details are given for the construction")
    assert docs[2].text.endswith("to be derived from those of a rectangular system of axes")
    assert docs[-1].pid == "11429"
    assert all(d.text for d in docs)


def test_vaswani_topics_and_qrels(shared_data):
    topics = list(trec.read_trec_topics(shared_data / "vaswani" / "query-text.trec"))
    assert len(topics) == 93
    assert topics[0] == Query("1", "MEASUREMENT OF DIELECTRIC CONSTANT OF LIQUIDS BY THE USE OF MICROWAVE TECHNIQUES")
    assert topics[5] == Query("6", "NUMBER REPRESENTATION IN BINARY MACHINES")
    qrels = trec.read_trec_qrels(shared_data / "vaswani" / "qrels")
    assert sum(len(d) for d in qrels.values()) == 2083
    assert set(qrels) == {t.qid for t in topics}
    assert qrels["1"]["1239"] == 1


def test_classic_unclosed_trec_topics(tmp_path):
    path = write(tmp_path / "topics.301-350", (
        "<top>\n\n<num> Number: 301\n<title> International Organized Crime\n\n"
        "<desc> Description:\nIdentify organizations that participate in international criminal activity.\n\n"
        "<narr> Narrative:\nA relevant document must as a minimum identify the organization.\n</top>\n"
    ))
    assert list(trec.read_trec_topics(path)) == [Query("301", "International Organized Crime")]
    [both] = trec.read_trec_topics(path, field="title+desc")
    assert both.text == (
        "International Organized Crime Identify organizations that participate in international criminal activity."
    )


def test_trec_documents_with_sub_elements(tmp_path):
    path = write(tmp_path / "fr.trec", (
        "<DOC>\n<DOCNO> FT911-3 </DOCNO>\n<HEADLINE>Cocoa prices</HEADLINE>\n<TEXT>\nPrices rose\n"
        "sharply.\n</TEXT>\n</DOC>\n"
    ))
    assert list(trec.read_trec_documents(path)) == [Passage("FT911-3", "Prices rose sharply.", "Cocoa prices")]


# --- MS MARCO samples (real) --------------------------------------------------------------------


def test_msmarco_scored_jsonl(shared_data):
    examples = list(training.read_scored_jsonl(shared_data / "msmarco-samples" / "train-with-teacher-scores.jsonl"))
    assert len(examples) == 10
    for ex in examples:
        assert len(ex.positive_texts) == 1 and len(ex.negative_texts) == 25
        assert len(ex.positive_scores) == 1 and len(ex.negative_scores) == 25
        assert ex.positives == [] and ex.negatives == [] and ex.qid is None
    first = examples[0]
    assert first.query == ")what was the immediate impact of the success of the manhattan project?"
    assert first.positive_texts[0].startswith("Introduction The presence of communication amid scientific minds")
    assert first.positive_scores == [96.6875]
    assert first.negative_scores[:3] == [90.5625, 89.0, 92.9375]


def test_msmarco_ranked_candidates(shared_data):
    lists = list(training.read_ranked_candidates(shared_data / "msmarco-samples" / "candidates-with-text.json"))
    assert [(r.qid, len(r.candidates)) for r in lists] == [("323", 20), ("376", 20)]
    assert lists[0].query == "+which president has living grandsons"
    top = lists[0].candidates[0]
    assert (top.pid, top.rank, top.score) == ("4169902", 1, 0.876201)
    assert top.text.startswith("Message (optional): President John Tyler has two living grandsons.")
    for r in lists:
        assert [c.rank for c in r.candidates] == list(range(1, 21))
        scores = [c.score for c in r.candidates]
        assert scores == sorted(scores, reverse=True)


# --- MS MARCO layouts (tmp files) ---------------------------------------------------------------

COLLECTION = (
    "0\tThe presence of communication amid scientific minds was equally important to the success of the "
    "Manhattan Project as scientific intellect was.\n"
    "1\tThe Manhattan Project and its atomic bomb helped bring an end to World War II.\n"
    "2\tEssay on The Manhattan Project - The Manhattan Project The Manhattan Project was to see if making "
    "an atomic bomb possible.\n"
)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_read_collection_msmarco(tmp_path, newline):
    passages = list(msmarco.read_collection(write(tmp_path / "collection.tsv", COLLECTION, newline)))
    assert [p.pid for p in passages] == ["0", "1", "2"]
    assert passages[1] == Passage("1", "The Manhattan Project and its atomic bomb helped bring an end to World War II.", "")


def test_read_collection_dpr_psgs_w100(tmp_path):
    path = write(tmp_path / "psgs_w100.tsv", (
        "id\ttext\ttitle\n"
        '1\t"Aaron Aaron ( or ; ""Ahärôn"") is the elder brother of Moses"\tAaron\n'
        "2\tGod at Sinai granted Aaron the priesthood for himself and his male descendants\tAaron\n"
    ))
    assert list(msmarco.read_collection(path)) == [
        Passage("1", 'Aaron Aaron ( or ; "Ahärôn") is the elder brother of Moses', "Aaron"),
        Passage("2", "God at Sinai granted Aaron the priesthood for himself and his male descendants", "Aaron"),
    ]


def test_read_collection_lead_psgs_w100_offset(tmp_path):
    # LEAD writes psgs_w100.tsv as id = pid + 1, text, title, without a header.
    path = write(tmp_path / "psgs_w100.tsv", "1\tThe presence of communication\t-\n8841823\tlast passage\t-\n")
    assert [p.pid for p in msmarco.read_collection(path, id_offset=-1)] == ["0", "8841822"]


def test_read_collection_prepared_layout_mixes_title_columns(tmp_path):
    path = write(tmp_path / "collection.tsv", "4983\tAlterations of the architecture\tMicrostructural development\n"
                                               "5836\tno title here\n")
    assert list(msmarco.read_collection(path)) == [
        Passage("4983", "Alterations of the architecture", "Microstructural development"),
        Passage("5836", "no title here", ""),
    ]


def test_read_collection_is_lazy(tmp_path):
    path = tmp_path / "collection.tsv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("0\tfirst passage\n1\tsecond passage\n3\tbad\tline\twith too many columns\n")
        for i in range(4, 100_000):
            handle.write(f"{i}\tpassage number {i}\n")
    passages = msmarco.read_collection(path)
    assert inspect.isgenerator(passages)
    assert [p.pid for p in itertools.islice(passages, 2)] == ["0", "1"]  # line 3 not parsed yet
    with pytest.raises(DataFormatError, match=r"collection\.tsv:3:"):
        next(passages)


def test_read_queries(tmp_path):
    path = write(tmp_path / "queries.train.tsv", (
        "121352\tdefine extreme\n634306\twhat does chattel mean on credit history\n"
        "920825\twhat was the great leap forward brainly\n"
    ))
    assert list(msmarco.read_queries(path)) == [
        Query("121352", "define extreme"),
        Query("634306", "what does chattel mean on credit history"),
        Query("920825", "what was the great leap forward brainly"),
    ]


def test_read_qrels_layouts(tmp_path):
    train = write(tmp_path / "qrels.train.tsv", "1185869\t0\t0\t1\n1185868\t0\t16\t1\n597651\t0\t49\t1\n")
    assert msmarco.read_qrels(train) == {"1185869": {"0": 1}, "1185868": {"16": 1}, "597651": {"49": 1}}
    doc = write(tmp_path / "msmarco-docdev-qrels.tsv", "2 0 D1650436 1\n1215 0 D1202771 1\n")
    assert msmarco.read_qrels(doc) == {"2": {"D1650436": 1}, "1215": {"D1202771": 1}}
    rocketqa = write(tmp_path / "qrels.dev.tsv", "300674\t7067032\n125705\t7067056\n125705\t7067057\n")
    assert msmarco.read_qrels(rocketqa) == {"300674": {"7067032": 1}, "125705": {"7067056": 1, "7067057": 1}}
    assert list(msmarco.iter_qrels_lines(rocketqa))[2] == (3, "125705", "7067057", 1)


def test_read_qrels_trec_dl_graded_keeps_zero(tmp_path):
    path = write(tmp_path / "2019qrels-pass.txt", (
        "19335 0 1017759 0\n19335 0 1082489 0\n19335 0 109063 0\n19335 0 1160863 2\n19335 0 1720389 3\n"
        "47923 0 1001069 1\n"
    ))
    qrels = msmarco.read_qrels(path)
    assert qrels["19335"] == {"1017759": 0, "1082489": 0, "109063": 0, "1160863": 2, "1720389": 3}
    assert qrels["47923"] == {"1001069": 1}


def test_read_triples_negatives_groups_consecutive_lines(tmp_path):
    path = write(tmp_path / "qidpidtriples.train.full.2.tsv", (
        "400296\t1540783\t3518497\n400296\t1540783\t4212117\n400296\t1540784\t3518497\n400296\t1540783\t5061744\n"
        "662731\t193249\t2975302\n662731\t193249\t7067121\n"
        "238256\t5018474\t1227914\n"
    ))
    assert list(msmarco.read_triples_negatives(path)) == [
        ("400296", ["3518497", "4212117", "5061744"]),
        ("662731", ["2975302", "7067121"]),
        ("238256", ["1227914"]),
    ]
    assert list(msmarco.read_triples_negatives(path, max_per_query=2))[0] == ("400296", ["3518497", "4212117"])
    assert inspect.isgenerator(msmarco.read_triples_negatives(path))


DOCS = (
    "D1555982\thttps://answers.yahoo.com/question/index?qid=20071007114826AAwCFvR\tThe hot glowing surfaces of "
    "stars emit energy in the form of\tThe hot glowing surfaces of stars emit energy in the form of "
    "electromagnetic radiation\n"
    "D301595\thttp://childparenting.about.com/od/physicalemotionalgrowth/tp/Child-Development.htm\t"
    "Developmental Milestones and Your 8-Year-Old Child\t" + " ".join(f"w{i}" for i in range(10)) + "\n"
)


def test_read_documents_and_split(tmp_path):
    docs = list(msmarco.read_documents(write(tmp_path / "msmarco-docs.tsv", DOCS)))
    assert [d.docid for d in docs] == ["D1555982", "D301595"]
    assert docs[0].url == "https://answers.yahoo.com/question/index?qid=20071007114826AAwCFvR"
    assert docs[0].title == "The hot glowing surfaces of stars emit energy in the form of"
    doc = docs[1]
    [first] = msmarco.split_document(doc, "firstp", passage_words=4)
    assert first == Passage("D301595", "w0 w1 w2 w3", "Developmental Milestones and Your 8-Year-Old Child")
    windows = msmarco.split_document(doc, "maxp", passage_words=4, stride=3)
    assert [(p.pid, p.text) for p in windows] == [
        ("D301595#0", "w0 w1 w2 w3"), ("D301595#1", "w3 w4 w5 w6"), ("D301595#2", "w6 w7 w8 w9"),
    ]
    assert {p.title for p in windows} == {doc.title}
    assert [p.text for p in msmarco.split_document(doc, "maxp", passage_words=4, stride=4)][-1] == "w8 w9"
    assert len(msmarco.split_document(doc, "maxp", passage_words=50, stride=25)) == 1
    assert msmarco.split_document(doc._replace(body=""), "maxp") == [Passage("D301595#0", "", doc.title)]
    assert {msmarco.passage_to_doc_id(p.pid) for p in windows} == {"D301595"}
    assert msmarco.passage_to_doc_id("D301595") == "D301595"
    assert msmarco.passage_to_doc_id("a#b") == "a#b"
    with pytest.raises(ValueError, match="mode"):
        msmarco.split_document(doc, "lastp")


# --- training JSON (tmp files) ------------------------------------------------------------------


def test_read_dpr_json_lead_ids(tmp_path):
    records = [
        {"question": ")what was the immediate impact of the success of the manhattan project?", "answers": ["0"],
         "positive_ctxs": ["0"], "hard_negative_ctxs": ["7067032", "7067056"], "negative_ctxs": []},
        {"question": "no positive here", "answers": [], "positive_ctxs": [], "hard_negative_ctxs": ["1"],
         "negative_ctxs": []},
        {"question": "_________ justice is designed to repair the harm", "answers": [1, 2],
         "positive_ctxs": [1, 2], "hard_negative_ctxs": [3], "negative_ctxs": []},
    ]
    path = tmp_path / "biencoder-mspas-train.json"
    path.write_text(json.dumps(records, indent=4), encoding="utf-8")
    examples = list(training.read_dpr_json(path))
    assert len(examples) == 2  # the record with no positive is skipped
    assert examples[0] == training.TrainingExample(
        qid=None, query=records[0]["question"], positives=["0"], negatives=["7067032", "7067056"],
    )
    assert (examples[1].positives, examples[1].negatives) == (["1", "2"], ["3"])  # int ids become str


def test_read_dpr_json_nq_objects(tmp_path):
    ctx = lambda pid, title, text: {"title": title, "text": text, "score": 1000, "title_score": 1, "passage_id": pid}
    record = {
        "dataset": "nq_train_psgs_w100", "question": "big little lies season 2 how many episodes",
        "answers": ["seven"],
        "positive_ctxs": [ctx("18768923", "Big Little Lies (TV series)", "series garnered several accolades.")],
        "negative_ctxs": [ctx("1000", "Cormac McCarthy", "a random negative")],
        "hard_negative_ctxs": [ctx("18768929", "Big Little Lies (TV series)", "a hard negative")],
    }
    path = tmp_path / "nq-train.json"
    path.write_text(json.dumps([record]), encoding="utf-8")
    [ex] = training.read_dpr_json(path)
    assert (ex.positives, ex.negatives) == (["18768923"], ["18768929"])
    assert ex.positive_texts == ["series garnered several accolades."]
    assert ex.positive_titles == ["Big Little Lies (TV series)"]
    assert ex.negative_texts == ["a hard negative"]
    [ex] = training.read_dpr_json(path, include_negative_ctxs=True)
    assert ex.negatives == ["18768929", "1000"] and ex.negative_titles[1] == "Cormac McCarthy"


def test_read_prod_json(tmp_path):
    records = [
        {"query_id": "1185869", "query_string": ")what was the immediate impact of the success of the manhattan project?",
         "pos_id": ["0"], "neg_id": ["6553887", "1849328"]},
        {"query_id": "1185868", "query_string": "_________ justice is designed to repair the harm",
         "pos_id": ["16"], "neg_id": []},
        {"query_id": "597651", "query_string": "what color is amber urine", "pos_id": ["49"], "neg_id": ["8"]},
    ]
    path = tmp_path / "marco_train.json"
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    examples = list(training.read_prod_json(path))
    assert [(e.qid, e.positives, e.negatives) for e in examples] == [
        ("1185869", ["0"], ["6553887", "1849328"]), ("597651", ["49"], ["8"]),
    ]
    assert examples[1].query == "what color is amber urine"


@pytest.mark.parametrize("chunk_chars", [1, 5, 64, 1 << 20])
def test_iter_json_list_streams_with_line_numbers(tmp_path, chunk_chars):
    records = [{"question": f"q{i}", "n": 12345678 * i, "t": "é \"quoted\" " * i} for i in range(5)]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=4), encoding="utf-8")
    got = list(training.iter_json_list(path, chunk_chars=chunk_chars))
    assert [record for _, record in got] == records
    assert [line for line, _ in got] == [2 + 5 * i for i in range(5)]  # each record spans 5 lines
