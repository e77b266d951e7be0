"""prepare() from real sources: BEIR SciFact (real files) and MS MARCO layouts (small files written here)."""

import pytest

from lead.config import DataConfig, SplitFiles
from lead.data.examples import read_training_file
from lead.data.prepared import PreparedData, prepare
from lead.errors import DataFormatError


def test_scifact_prepares_train_and_test_splits(shared_data, tmp_path):
    meta = prepare(DataConfig(source="beir", path=str(shared_data / "scifact"), rel_threshold=1), tmp_path / "p")
    assert meta["passages"] == 5183
    assert meta["splits"] == {"train": {"queries": 809, "judgments": 919}, "test": {"queries": 300, "judgments": 339}}
    data = PreparedData(tmp_path / "p")
    assert data.splits() == ["train", "test"] and data.rel_threshold == 1 and data.num_passages == 5183
    passages = list(data.passages())
    assert all(p.title for p in passages)  # every SciFact abstract has a title, kept as the third column
    assert len(data.queries("test")) == 300 and sum(map(len, data.qrels("test").values())) == 339
    with pytest.raises(DataFormatError, match=r"split 'dev' not prepared; available: train, test"):
        data.queries("dev")


def write_msmarco(folder, qrels_lines):
    folder.mkdir()
    (folder / "collection.tsv").write_text("0\tThe Manhattan Project.\n1\tSecond passage.\n7\tThird.\n")
    (folder / "queries.tsv").write_text("19335\twho led the manhattan project\n47923\taxon terminals\n")
    (folder / "qrels.txt").write_text("".join(line + "\n" for line in qrels_lines))
    return DataConfig(source="msmarco", path=str(folder), splits={"test": SplitFiles("queries.tsv", "qrels.txt")})


def test_msmarco_layout_with_graded_trec_qrels(tmp_path):
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3", "19335 Q0 1 0", "47923 Q0 7 2"])
    meta = prepare(config, tmp_path / "p")
    assert meta["splits"] == {"test": {"queries": 2, "judgments": 3}}
    assert PreparedData(tmp_path / "p").qrels("test") == {"19335": {"0": 3, "1": 0}, "47923": {"7": 2}}


def test_qrels_naming_an_unknown_passage_fail_with_file_and_line(tmp_path):
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3", "47923 Q0 99 2"])
    with pytest.raises(DataFormatError, match=r"qrels\.txt:2: .*99"):
        prepare(config, tmp_path / "p")
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_qrels_naming_an_unknown_query_fail_with_file_and_line(tmp_path):
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3", "55555 Q0 1 1"])
    with pytest.raises(DataFormatError, match=r"qrels\.txt:2: .*55555"):
        prepare(config, tmp_path / "p")


def test_a_graded_split_is_scored_at_the_data_threshold_a_binary_one_at_1(tmp_path):
    """TREC DL 2019 as dev (graded) is scored as the test split it stands for (grade >= 2 relevant); a binary
    split (MS MARCO dev.small, the embedded benchmark's train and dev) at >= 1."""
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3", "19335 Q0 1 1", "47923 Q0 7 2"])
    (tmp_path / "src" / "binary.txt").write_text("19335 0 0 1\n47923 0 7 1\n")
    config.rel_threshold = 2
    config.splits = {"dev": SplitFiles("queries.tsv", "qrels.txt"), "train": SplitFiles("queries.tsv", "binary.txt"),
                     "test": SplitFiles("queries.tsv", "binary.txt")}
    prepare(config, tmp_path / "p")
    data = PreparedData(tmp_path / "p")
    assert (data.threshold("dev"), data.threshold("train"), data.threshold("test")) == (2, 1, 2)


def test_leads_own_passage_file_with_ids_one_up_is_read_with_an_offset(tmp_path):
    """LEAD's mspas psgs_w100.tsv stores id = pid + 1 without a header: id_offset -1 gives the qrels' pids back."""
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3", "47923 Q0 7 2"])
    (tmp_path / "src" / "collection.tsv").write_text("1\tThe Manhattan Project.\n2\tSecond passage.\n8\tThird.\n")
    with pytest.raises(DataFormatError, match="qrels"):  # read as it is, pid 0 is no passage
        prepare(config, tmp_path / "p")
    config.id_offset = -1
    prepare(config, tmp_path / "p")
    assert [p.pid for p in PreparedData(tmp_path / "p").passages()] == ["0", "1", "7"]
    with pytest.raises(ValueError, match="data.id_offset shifts"):
        DataConfig(source="beir", path="x", id_offset=-1)


def test_a_passage_id_given_twice_fails_naming_the_file_and_the_id(tmp_path):
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3"])
    with open(tmp_path / "src" / "collection.tsv", "a") as handle:
        handle.write("1\tA second text under id 1.\n")
    with pytest.raises(DataFormatError, match=r"collection\.tsv: passage id '1' appears twice \(again as passage 4\)"):
        prepare(config, tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_missing_source_folder_and_files(tmp_path):
    with pytest.raises(DataFormatError, match="data.path folder not found"):
        prepare(DataConfig(source="beir", path=str(tmp_path / "nope")), tmp_path / "p")
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3"])
    (tmp_path / "src" / "queries.tsv").unlink()
    with pytest.raises(DataFormatError, match=r"queries\.tsv: .*not found"):
        prepare(config, tmp_path / "p")


def test_msmarco_documents_become_one_passage_each_firstp(tmp_path):
    """msmarco-docs.tsv (docid, url, title, body) and the doctrain qrels layout (``qid 0 docid 1``): each document
    is one passage, title kept, URL dropped, body cut at data.document_chars; the training file names docids."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "msmarco-docs.tsv").write_text(
        "D1555982\thttps://en.wikipedia.org/wiki/Manhattan_Project\tManhattan Project\tThe Manhattan Project was a "
        "research and development undertaking during World War II.\n"
        "D301595\thttp://example.com/axon\tAxon terminal\tAxon terminals are the distal terminations of the axon.\n"
        "D59235\thttp://example.com/empty\t\t\n")
    (src / "msmarco-doctrain-queries.tsv").write_text("1185869\twho led the manhattan project\n1185868\taxon terminals\n")
    (src / "msmarco-doctrain-qrels.tsv").write_text("1185869 0 D1555982 1\n1185868 0 D301595 1\n")
    config = DataConfig(source="msmarco", path=str(src), collection="msmarco-docs.tsv", collection_format="documents",
                        document_chars=40, splits={"train": SplitFiles("msmarco-doctrain-queries.tsv",
                                                                        "msmarco-doctrain-qrels.tsv")})
    meta = prepare(config, tmp_path / "p")
    assert meta["passages"] == 3 and meta["train_examples"] == 2
    data = PreparedData(tmp_path / "p")
    passages = {p.pid: p for p in data.passages()}
    assert passages["D1555982"].text == "The Manhattan Project was a research and"  # 40 characters
    assert passages["D1555982"].title == "Manhattan Project" and "wikipedia" not in passages["D1555982"].text
    assert (passages["D59235"].text, passages["D59235"].title) == ("", "")  # an empty document stays a passage
    assert data.qrels("train") == {"1185869": {"D1555982": 1}, "1185868": {"D301595": 1}}


def test_documents_need_the_four_column_layout_and_the_msmarco_source(tmp_path):
    config = write_msmarco(tmp_path / "src", ["19335 Q0 0 3"])
    config.collection_format = "documents"  # collection.tsv has 2 columns: not msmarco-docs.tsv
    with pytest.raises(DataFormatError, match=r"collection\.tsv:1: .*4"):
        prepare(config, tmp_path / "p")
    with pytest.raises(ValueError, match="collection_format=documents reads MS MARCO's msmarco-docs.tsv"):
        DataConfig(source="beir", path="x", collection_format="documents")


def test_msmarco_training_negatives_from_a_triples_file(tmp_path):
    """qidpidtriples layout (qid, pos, neg): the first N negatives per query in file order, repeats and
    positives left out; a negative outside the collection names the file."""
    config = write_msmarco(tmp_path / "src", ["19335 0 0 1", "47923 0 7 1"])
    config.splits["train"] = config.splits.pop("test")
    config.train_negatives, config.train_negatives_per_query = "triples.tsv", 2
    (tmp_path / "src" / "collection.tsv").write_text("0\tThe Manhattan Project.\n1\tSecond.\n6\tFourth.\n7\tThird.\n")
    (tmp_path / "src" / "triples.tsv").write_text(
        "19335\t0\t0\n19335\t0\t7\n19335\t0\t7\n19335\t0\t1\n19335\t0\t6\n47923\t7\t0\n")
    meta = prepare(config, tmp_path / "p")
    assert meta["train_examples"] == 2 and meta["train_with_negatives"] == 2
    examples = {e.qid: e for e in read_training_file(tmp_path / "p" / "train.jsonl")}
    assert examples["19335"].negatives == ["7", "1"] and examples["47923"].negatives == ["0"]

    (tmp_path / "src" / "triples.tsv").write_text("19335\t0\t7\n47923\t7\t99\n")
    with pytest.raises(DataFormatError, match=r"triples\.tsv: negative passage id '99' \(query '47923'\) is not in the collection"):
        prepare(config, tmp_path / "p2")
