"""TREC run files and runs from faiss output."""

from __future__ import annotations

import numpy as np
import pytest
import pytrec_eval

from lead.data.runs import ranked, read_trec_run, run_from_arrays, write_trec_run
from lead.errors import DataFormatError


def test_written_text_is_exact(tmp_path):
    run = {"q2": {"p1": 0.5, "p2": 2.0}, "q10": {"b": 1.0, "a": 1.0, "c": 3.0}}
    path = tmp_path / "run.trec"
    write_trec_run(path, run, tag="bm25")
    # queries in string order (q10 < q2); score descending; the a/b tie goes pid descending (trec_eval)
    assert path.read_text() == (
        "q10 Q0 c 1 3.0 bm25\n"
        "q10 Q0 b 2 1.0 bm25\n"
        "q10 Q0 a 3 1.0 bm25\n"
        "q2 Q0 p2 1 2.0 bm25\n"
        "q2 Q0 p1 2 0.5 bm25\n"
    )
    write_trec_run(path, run, tag="bm25", depth=1)
    assert path.read_text() == "q10 Q0 c 1 3.0 bm25\nq2 Q0 p2 1 2.0 bm25\n"
    assert [p.name for p in tmp_path.iterdir()] == ["run.trec"]  # no temporary left behind


def test_round_trip(tmp_path):
    run = {"q1": {"d1": 0.1, "d2": 1e-7, "d3": -3.25, "d4": 12345.678901234}, "q2": {"x": 1.0}}
    path = tmp_path / "sub" / "run.trec"
    write_trec_run(path, run, tag="dense")
    assert read_trec_run(path) == run
    assert {qid: list(scores) for qid, scores in read_trec_run(path).items()} == {
        "q1": ["d4", "d1", "d2", "d3"],
        "q2": ["x"],
    }


def test_a_byte_order_mark_is_not_read_into_the_first_qid(tmp_path):
    path = tmp_path / "run.trec"
    path.write_bytes("1 Q0 a 1 2.0 t\r\n1 Q0 b 2 1.0 t\r\n".encode("utf-8-sig"))  # as Windows editors save it
    assert read_trec_run(path) == {"1": {"a": 2.0, "b": 1.0}}


def test_outputs_get_the_usual_permissions_not_the_temporary_files_owner_only_ones(tmp_path):
    import os
    import stat

    from lead.io import atomic_dir, write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {"a": 1})
        with atomic_dir(tmp_path / "folder") as tmp:
            (tmp / "x").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644  # mkstemp alone gives 0o600
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o755  # mkdtemp alone gives 0o700


def test_rank_column_matches_trec_eval_order(tmp_path):
    # ties and a difference below float32 precision: trec_eval ranks c, b, a (docno descending)
    scores = {"a": 1.0 + 1e-9, "b": 1.0, "c": 1.0, "d": 0.5}
    assert [pid for pid, _ in ranked(scores)] == ["c", "b", "a", "d"]
    for relevant, rank in (("c", 1), ("b", 2), ("a", 3), ("d", 4)):
        evaluator = pytrec_eval.RelevanceEvaluator({"q": {relevant: 1}}, {"recip_rank"})
        assert evaluator.evaluate({"q": scores})["q"]["recip_rank"] == pytest.approx(1 / rank)
    path = tmp_path / "run.trec"
    write_trec_run(path, {"q": scores}, tag="t")
    assert [line.split()[2:4] for line in path.read_text().splitlines()] == [
        ["c", "1"], ["b", "2"], ["a", "3"], ["d", "4"],
    ]  # fmt: skip


def test_bad_tag_or_depth(tmp_path):
    with pytest.raises(ValueError, match="tag"):
        write_trec_run(tmp_path / "r", {"q": {"a": 1.0}}, tag="two words")
    with pytest.raises(ValueError, match="depth"):
        write_trec_run(tmp_path / "r", {"q": {"a": 1.0}}, tag="t", depth=0)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataFormatError, match="not found"):
        read_trec_run(tmp_path / "absent.trec")
    (tmp_path / "empty.trec").write_text("")
    with pytest.raises(DataFormatError, match="is empty"):
        read_trec_run(tmp_path / "empty.trec")
    (tmp_path / "blank.trec").write_text("\n  \n")
    with pytest.raises(DataFormatError, match="is empty"):
        read_trec_run(tmp_path / "blank.trec")


GOOD = "q1 Q0 a 1 2.5 t\n"


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("q1 Q0 b 2 1.0\n", "expected 6 columns .* got 5"),
        ("q1 Q0 b 2 1.0 t extra\n", "got 7"),
        ("q1 Q0 b 2 high t\n", "score 'high' is not a number"),
        ("q1 Q0 b 2 nan t\n", "not finite"),
        ("q1 Q0 a 2 1.0 t\n", "pid 'a' appears twice for query 'q1'"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, bad_line, message):
    path = tmp_path / "bad.trec"
    path.write_text(GOOD + bad_line + GOOD.replace("q1", "q2"))
    with pytest.raises(DataFormatError, match=message) as info:
        read_trec_run(path)
    assert str(info.value).startswith(f"{path}:2: ")
    assert info.value.line == 2


def test_run_from_arrays_skips_minus_one():
    pids = np.array(["p0", "p1", "p2", "p3"])
    indices = np.array([[2, 0, -1], [-1, -1, -1], [3, 1, 2]])
    scores = np.array([[0.9, 0.5, -np.inf], [0, 0, 0], [0.8, 0.7, 0.1]], dtype=np.float32)
    run = run_from_arrays(["qa", "qb", "qc"], pids, indices, scores)
    assert run == {
        "qa": {"p2": pytest.approx(0.9), "p0": 0.5},
        "qb": {},
        "qc": {"p3": pytest.approx(0.8), "p1": pytest.approx(0.7), "p2": pytest.approx(0.1)},
    }
    assert all(type(s) is float and type(p) is str for q in run.values() for p, s in q.items())
    # a pid hit twice (an index of repeated passages) keeps its higher score
    assert run_from_arrays(["q"], ["x", "y"], np.array([[0, 0]]), np.array([[2.0, 1.0]])) == {"q": {"x": 2.0}}
    assert run_from_arrays(["q"], ["x", "y"], np.array([[1, 0]]), np.array([[2.0, 1.0]])) == {
        "q": {"y": 2.0, "x": 1.0}
    }


@pytest.mark.parametrize(
    "qids, indices, scores, message",
    [
        (["a"], [[0, 1]], [[1.0]], "shapes"),
        (["a", "b"], [[0]], [[1.0]], "2 qids but 1 rows"),
        (["a", "a"], [[0], [1]], [[1.0], [1.0]], "duplicates"),
        (["a"], [[5]], [[1.0]], "indices must lie in"),
        (["a"], [[2]], [[1.0]], "indices must lie in"),  # exactly len(pids): one past the last row
        (["a"], [[-2]], [[1.0]], "indices must lie in"),
    ],
)
def test_run_from_arrays_rejects_bad_shapes(qids, indices, scores, message):
    with pytest.raises(ValueError, match=message):
        run_from_arrays(qids, ["p0", "p1"], np.array(indices), np.array(scores))
