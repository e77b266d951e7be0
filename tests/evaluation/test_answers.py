"""Natural Questions in DPR's formats, evaluated by answer-string match: normalisation, hits, top-k accuracy."""

import json

import pytest

from lead.config import DataConfig, EvalConfig, ScorerConfig
from lead.data.answers import answer_accuracy, first_hit_rank, has_answer, normalize
from lead.data.examples import read_training_file
from lead.data.msmarco import read_collection
from lead.data.prepared import PreparedData, prepare
from lead.data.qa import read_qa_csv
from lead.data.training import read_dpr_json
from lead.errors import DataFormatError
from lead.evaluation.dense import evaluate_scorer
from lead.models.factory import build_scorer
from tests.helpers import tiny_bert_folder


@pytest.mark.parametrize("text, expected", [
    ("The Beatles", "beatles"),                    # article and case
    ("U.S. Army", "us army"),                      # punctuation inside a token
    ("Beyoncé Knowles", "beyonce knowles"),        # combining accent
    ("ＮＡＳＡ", "nasa"),                           # full-width letters (NFKD)
    ("“Hey Jude” — a song", "hey jude song"),      # typographic quotes and dash, article
    ("  an   apple  ", "apple"),                   # whitespace collapsed
])
def test_normalisation_cases(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("passage, answers, hit", [
    ("The band the Beatles formed in Liverpool.", ["Beatles"], True),
    ("Formed by beatles fans", ["The Beatles"], True),     # the article does not block a hit
    ("He served in the U.S. army.", ["US Army"], True),
    ("a party in Paris", ["art"], False),                    # whole tokens, not substrings
    ("Beyonce sang it", ["Beyoncé"], True),
    ("nothing relevant here", ["Paris", "London"], False),
    ("capital: London.", ["Paris", "London"], True),          # any answer
    ("the the the", ["the"], False),                          # an answer that normalises to nothing never hits
])
def test_has_answer(passage, answers, hit):
    assert has_answer(passage, answers) is hit


def test_top_k_accuracy_on_a_worked_example():
    texts = {"p1": "Paris is the capital of France", "p2": "London is large", "p3": "Berlin",
             "p4": "The capital of Germany is Berlin", "p5": "nothing"}
    run = {
        "q1": {"p2": 3.0, "p1": 2.0, "p5": 1.0},            # first hit at rank 1 (0-based)
        "q2": {"p4": 9.0, "p3": 8.0},                       # hit at rank 0
        "q3": {"p5": 1.0, "p2": 0.5},                       # no hit
        # q4 is not in the run: a miss
    }
    answers = {"q1": ["Paris"], "q2": ["Berlin"], "q3": ["Rome"], "q4": ["Oslo"]}
    assert first_hit_rank(["p2", "p1"], ["paris"], texts.get) == 1
    result = answer_accuracy(run, answers, texts.get, depths=(1, 2, 5))
    assert result == {"Accuracy@1": 0.25, "Accuracy@2": 0.5, "Accuracy@5": 0.5, "n_queries": 4.0}


def test_ties_are_broken_as_trec_eval_does():
    """Equal scores rank by descending passage id (trec_eval's order), so the answer-holding p9 comes first."""
    texts = {"p1": "no", "p9": "yes Oslo"}
    assert answer_accuracy({"q": {"p1": 1.0, "p9": 1.0}}, {"q": ["Oslo"]}, texts.get, depths=(1,))["Accuracy@1"] == 1.0


def test_dpr_files_read_from_hand_made_examples(tmp_path):
    (tmp_path / "nq-train.json").write_text('''[
      {"question": "who sang hey jude", "answers": ["The Beatles"],
       "positive_ctxs": [{"passage_id": "11", "title": "Hey Jude", "text": "Hey Jude is a song by the Beatles."}],
       "hard_negative_ctxs": [{"passage_id": "12", "title": "Jude", "text": "Jude is a name."}],
       "negative_ctxs": []},
      {"question": "no positive here", "answers": ["x"], "positive_ctxs": [], "hard_negative_ctxs": []}
    ]''')
    examples = list(read_dpr_json(tmp_path / "nq-train.json"))
    assert len(examples) == 1 and examples[0].positives == ["11"] and examples[0].negatives == ["12"]
    assert examples[0].positive_titles == ["Hey Jude"]

    (tmp_path / "psgs_w100.tsv").write_text('id\ttext\ttitle\n1\t"He said ""yes"" twice"\tQuote\n2\tplain text\tPlain\n')
    passages = list(read_collection(tmp_path / "psgs_w100.tsv"))
    assert [(p.pid, p.text, p.title) for p in passages] == [("1", 'He said "yes" twice', "Quote"), ("2", "plain text", "Plain")]

    (tmp_path / "nq-test.qa.csv").write_text("who sang hey jude\t['The Beatles', 'Beatles']\nwhere is paris\t['France']\n")
    assert list(read_qa_csv(tmp_path / "nq-test.qa.csv")) == [
        ("0", "who sang hey jude", ["The Beatles", "Beatles"]), ("1", "where is paris", ["France"])]


@pytest.mark.parametrize("line, message", [
    ("a question without answers\n", "expected question<TAB>\\[answers\\]"),
    ("q\t['unclosed\n", "answers are not a list literal"),
    ("q\t[]\n", "answers must be a non-empty list of strings"),
    ("q\t[1, 2]\n", "answers must be a non-empty list of strings"),
])
def test_bad_question_answer_lines_name_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text("fine\t['yes']\n" + line)
    with pytest.raises(DataFormatError, match=rf"bad\.csv:2: {message}"):
        list(read_qa_csv(path))


def dpr_folder(tmp_path, positive="2"):
    folder = tmp_path / "nq"
    folder.mkdir()
    (folder / "psgs_w100.tsv").write_text(
        "id\ttext\ttitle\n1\tParis is the capital of France.\tParis\n2\tHey Jude is a song by the Beatles.\tHey Jude\n"
        "3\tThe Danube flows through Vienna.\tDanube\n4\tOslo is in Norway.\tOslo\n5\tParis hosts the Louvre.\tLouvre\n")
    (folder / "nq-train.json").write_text(json.dumps([
        {"question": "who sang hey jude", "answers": ["The Beatles"],
         "positive_ctxs": [{"passage_id": positive, "title": "Hey Jude", "text": "Hey Jude is a song by the Beatles."}],
         "hard_negative_ctxs": []},
        {"question": "capital of france", "answers": ["Paris"],
         "positive_ctxs": [{"passage_id": "1", "title": "Paris", "text": "Paris is the capital of France."}]}]))
    (folder / "nq-test.qa.csv").write_text("what river flows through vienna\t['Danube']\n"
                                           "capital of norway\t['Oslo']\nwho wrote hamlet\t['Shakespeare']\n")
    return folder


def test_a_dpr_folder_is_prepared_and_its_test_split_evaluated_by_answer_match(tmp_path):
    folder = dpr_folder(tmp_path)
    config = DataConfig(source="dpr", path=str(folder), collection="psgs_w100.tsv",
                        splits={"train": "nq-train.json", "test": "nq-test.qa.csv"})
    meta = prepare(config, tmp_path / "prepared")
    data = PreparedData(tmp_path / "prepared")
    assert meta["passages"] == 5 and data.splits() == ["train", "test"]
    assert data.qrels("train") == {"train-0": {"2": 1}, "train-1": {"1": 1}}
    assert [e.positives for e in read_training_file(tmp_path / "prepared" / "train.jsonl")] == [["2"], ["1"]]
    assert data.answers("test") == {"test-0": ["Danube"], "test-1": ["Oslo"], "test-2": ["Shakespeare"]}
    assert data.answers("train") == {"train-0": ["The Beatles"], "train-1": ["Paris"]}  # from the DPR JSON

    model = build_scorer(ScorerConfig(name=str(tiny_bert_folder(tmp_path / "m")), pooling="mean"))
    result = evaluate_scorer(model, data, "test", EvalConfig(depth=10, batch_size=4))
    # every passage is retrieved (5 <= depth): the two questions whose answer is in the collection are hits by
    # 100, Shakespeare never is; Accuracy@1 is whatever the model ranks first, checked against the run itself
    assert result.metrics["Accuracy@100"] == pytest.approx(2 / 3) and result.metrics["n_queries"] == 3
    texts = {p.pid: p.text for p in data.passages()}
    firsts = [max(result.run[q], key=lambda pid: (result.run[q][pid], pid)) for q in ("test-0", "test-1", "test-2")]
    expected = sum(has_answer(texts[pid], answers) for pid, answers in zip(firsts, (["Danube"], ["Oslo"], ["Shakespeare"])))
    assert result.metrics["Accuracy@1"] == pytest.approx(expected / 3)


def test_a_dpr_positive_missing_from_the_passages_names_the_file_and_question(tmp_path):
    folder = dpr_folder(tmp_path, positive="99")
    config = DataConfig(source="dpr", path=str(folder), collection="psgs_w100.tsv", splits={"train": "nq-train.json"})
    with pytest.raises(DataFormatError, match=r"nq-train\.json: question 0 \('who sang hey jude'\): positive passage "
                                              r"ids \['99'\] are not in psgs_w100\.tsv"):
        prepare(config, tmp_path / "prepared")


def test_prods_division_on_nq_counts_every_answer_holding_candidate_as_a_hit(tmp_path):
    """Passage 5 also holds "Paris" without being the judged positive: it counts as a hit and is never kept as
    a negative of "capital of france"."""
    from lead.config import DivideConfig
    from lead.retrieval.division import divide_training_set

    folder = dpr_folder(tmp_path)
    prepare(DataConfig(source="dpr", path=str(folder), collection="psgs_w100.tsv", splits={"train": "nq-train.json"}),
            tmp_path / "prepared")
    data = PreparedData(tmp_path / "prepared")
    examples = list(read_training_file(tmp_path / "prepared" / "train.jsonl"))
    model = build_scorer(ScorerConfig(name=str(tiny_bert_folder(tmp_path / "m")), pooling="mean"))
    config = DivideConfig(depth=5, keep=4, rule="marco", student_min=0, student_max=4, teacher_max=4)  # keeps all
    divided, stats = divide_training_set(model, model, data, examples, config, batch_size=4)
    negatives = {e.qid: e.negatives for e in divided}
    assert set(negatives) == {"train-0", "train-1"} and stats["no_positive_retrieved"] == 0
    assert set(negatives["train-1"]) == {"2", "3", "4"}  # neither the positive 1 nor the answer-holding 5
    assert set(negatives["train-0"]) == {"1", "3", "4", "5"}
