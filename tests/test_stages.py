"""The prepare and evaluate stages end to end, on a small embedded benchmark and a tiny random model."""

import json

import pytest
import yaml

from lead.evaluation.runs import read_trec_run
from stages import evaluate, prepare
from tests.helpers import tiny_bert_folder


@pytest.fixture
def project(tmp_path, monkeypatch):
    model = tiny_bert_folder(tmp_path / "tiny")
    params = {
        "seed": 1,
        "data": {"synthetic": {"train_queries": 10, "dev_queries": 5, "test_queries": 8, "background_passages": 5}},
        "eval": {"depth": 20, "batch_size": 16},
        "models": {"tiny": {"name": str(model), "pooling": "mean", "similarity": "cosine"}},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_prepare_then_evaluate_writes_run_and_metrics(project):
    prepare.main([])
    meta = json.loads((project / "data/prepared/meta.json").read_text())
    assert meta["passages"] == 4 * 23 + 5 and meta["source"] == "synthetic"

    evaluate.main(["tiny"])
    metrics = json.loads((project / "metrics/tiny/metrics.json").read_text())["test"]
    assert metrics["n_queries"] == 8
    assert 0.0 <= metrics["NDCG@10"] <= 1.0 and "HitRate@20" in metrics and "MAP@1000" in metrics
    run = read_trec_run(project / "runs/tiny.test.trec")
    assert len(run) == 8 and all(len(ranking) == 20 for ranking in run.values())
    timing = json.loads((project / "metrics/tiny/timing.json").read_text())
    assert timing["passages"] == 97 and timing["parameters"] > 0


def test_evaluate_is_deterministic(project):
    prepare.main([])
    evaluate.main(["tiny"])
    first = (project / "runs/tiny.test.trec").read_text()
    evaluate.main(["tiny"])
    assert (project / "runs/tiny.test.trec").read_text() == first


def test_unknown_model_and_bad_params_say_what_is_wrong(project):
    with pytest.raises(SystemExit, match=r"models\.nope: no such model \(have: tiny\)"):
        evaluate.main(["nope"])
    (project / "params.yaml").write_text("eval: {depht: 10}\n")
    with pytest.raises(Exception, match=r"eval\.depht: unknown key \(did you mean 'depth'\?\)"):
        prepare.main([])


def test_failed_prepare_keeps_the_previous_output(project, monkeypatch):
    prepare.main([])
    before = (project / "data/prepared/collection.tsv").read_text()

    def explode(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr("lead.data.synthetic.SyntheticBenchmark.write", explode)
    with pytest.raises(RuntimeError, match="killed half-way"):
        prepare.main([])
    assert (project / "data/prepared/collection.tsv").read_text() == before
    assert [p.name for p in (project / "data").iterdir()] == ["prepared"]  # no temporary folder left
