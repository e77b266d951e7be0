"""benchmarks.experiments.shown_metrics: the metrics of finished experiments from ``dvc exp show --json -A``."""

import json
import subprocess

import pytest

from benchmarks import experiments


def _rev(rev: str, name: str | None, ndcg: float) -> dict:
    metrics = {"metrics/lead_de/metrics.json": {"data": {"test": {"NDCG@10": ndcg}}}}
    return {"rev": rev, "name": name, "data": {"rev": rev, "metrics": metrics}, "error": None, "experiments": None}


def _experiment(name: str, state: str | None, ndcg: float) -> dict:
    executor = None if state is None else {"state": state, "name": "dvc-task", "local": {}}
    return {"executor": executor, "name": name, "revs": [_rev(name[:8] * 5, name, ndcg)]}


def test_shown_metrics_leaves_out_queued_running_and_failed_experiments(monkeypatch):
    # The shape of DVC 3's output: the workspace, then each baseline commit with its experiments. A queued or
    # running experiment lists its baseline's metrics; reading them as its own would fill a table with copies.
    baseline = _rev("c9aba20d" * 5, "main", 0.70)
    baseline["experiments"] = [
        _experiment("abl-done", "success", 0.71),
        _experiment("abl-ran-in-workspace", None, 0.72),  # dvc exp run without the queue: no executor
        _experiment("abl-queued", "queued", 0.70),
        _experiment("abl-running", "running", 0.70),
        _experiment("abl-failed", "failed", 0.70),
    ]
    shown = [{**_rev("workspace", None, 0.70), "experiments": None}, baseline]

    def fake_run(command, **kwargs):
        assert command[:3] == ["dvc", "exp", "show"]
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(shown))

    monkeypatch.setattr(experiments.subprocess, "run", fake_run)
    names = {"abl-done", "abl-ran-in-workspace", "abl-queued", "abl-running", "abl-failed", "abl-absent"}
    found = experiments.shown_metrics(names)
    assert set(found) == {"workspace", "abl-done", "abl-ran-in-workspace"}
    assert found["abl-done"]["metrics/lead_de/metrics.json"]["data"]["test"]["NDCG@10"] == 0.71
    assert found["abl-ran-in-workspace"]["metrics/lead_de/metrics.json"]["data"]["test"]["NDCG@10"] == 0.72


def test_run_file_of_a_reranker_is_its_rerank_stages_output():
    lock = {"stages": {
        "evaluate@student": {"outs": [{"path": "runs/student.test.trec", "md5": "aa" + "1" * 30}]},
        "rerank@ce_teacher": {"outs": [{"path": "runs/ce_teacher.rerank.test.trec", "md5": "bb" + "2" * 30}]},
    }}
    experiment = object.__new__(experiments.Experiment)  # the lock without a git ref
    experiment.name, experiment.lock, experiment.stale = "x", lock, set()
    assert experiment.run_file("student", "test") == experiments.cached("aa" + "1" * 30)
    assert experiment.run_file("ce_teacher.rerank", "test") == experiments.cached("bb" + "2" * 30)
    experiment.stale = {"rerank@ce_teacher"}
    with pytest.raises(SystemExit, match="did not run rerank@ce_teacher"):  # the baseline's file, not its own
        experiment.run_file("ce_teacher.rerank", "test")
