"""Which snapshots a sweep evaluates, and the errors that name what to change."""

from __future__ import annotations

import json

import pytest

from lead.config import SweepConfig
from lead.errors import ConfigError
from lead.evaluation.sweep import SweepError, available_steps, sweep_steps


@pytest.fixture
def run(tmp_path):
    """A finished 100-step run with a snapshot every 20 steps (folders only: no weights needed here)."""
    folder = tmp_path / "lead_cb"
    for step in (20, 40, 60, 80):
        (folder / "snapshots" / f"step-{step:07d}" / "student").mkdir(parents=True)
    (folder / "snapshots" / ".step-0000090.tmp").mkdir()  # a snapshot being written when the run was killed
    (folder / "snapshots" / "run.json").write_text(json.dumps({"final_step": 100}))
    return folder


def test_the_final_model_is_the_last_point(run):
    available, final = available_steps(run)
    assert final == 100 and sorted(available) == [20, 40, 60, 80, 100]
    assert available[100] == run and available[40] == run / "snapshots" / "step-0000040"


@pytest.mark.parametrize("first, every, last, expected", [
    (20, 20, None, [20, 40, 60, 80, 100]),
    (40, 40, None, [40, 80, 100]),  # the end of training is always evaluated
    (20, 20, 60, [20, 40, 60]),
    (60, 20, 60, [60]),
    (40, 60, 100, [40, 100]),
])
def test_first_every_last(run, first, every, last, expected):
    config = SweepConfig(run=str(run), model="student", first=first, every=every, last=last)
    assert sweep_steps(config, *available_steps(run)) == expected


def test_steps_the_run_did_not_keep_are_named_with_the_fix(run):
    with pytest.raises(SweepError, match=r"steps \[10, 30, 50, 70, 90\] were not kept by the run \(it has 20, 40, "
                                         r"60, 80, 100\): make first and every multiples of the run's train.snapshot_every"):
        sweep_steps(SweepConfig(run=str(run), first=10, every=10), *available_steps(run))
    with pytest.raises(SweepError, match="last=120 is beyond the run's 100 steps"):
        sweep_steps(SweepConfig(run=str(run), first=20, every=20, last=120), *available_steps(run))


def test_a_run_without_snapshots_says_which_param_keeps_them(tmp_path):
    (tmp_path / "student").mkdir()
    with pytest.raises(SweepError, match=r"no snapshots .* train the run with train.snapshot_every > 0"):
        available_steps(tmp_path / "student")


def test_bad_sweep_params_fail_with_their_key(tmp_path):
    from lead.config import load_params

    params = tmp_path / "params.yaml"
    params.write_text("sweep:\n  s: {run: models/x, first: 0}\n")
    with pytest.raises(ConfigError, match=r"sweep\.s: first and every must be >= 1"):
        load_params(params)
    params.write_text("sweep:\n  s: {run: models/x, first: 40, last: 20}\n")
    with pytest.raises(ConfigError, match=r"sweep\.s: last \(20\) must be >= first \(40\)"):
        load_params(params)
    params.write_text("sweep:\n  s: {run: models/x, split: test}\n")  # eval.split defaults to test
    with pytest.raises(ConfigError, match=r"sweep\.s\.split: 'test' is eval\.split"):
        load_params(params)


def _scorer_json(folder, kind: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scorer.json").write_text(json.dumps({"format": 1, "config": {"kind": kind}}))


def test_what_a_sweep_cannot_score_is_refused_before_any_evaluation(run, tmp_path):
    from lead.config import EvalConfig
    from lead.data.prepared import PreparedData
    from lead.evaluation.sweep import run_sweep

    data = tmp_path / "prepared"
    data.mkdir()
    (data / "collection.tsv").write_text("p1\tParis is the capital of France.\n")
    (data / "answers.dev.jsonl").write_text(json.dumps({"qid": "q1", "answers": ["Paris"]}) + "\n")
    prepared, evaluation = PreparedData(data), EvalConfig(split="test")
    _scorer_json(run / "student", "ce")
    with pytest.raises(SweepError, match="holds a cross-encoder, which cannot retrieve"):
        run_sweep("s", SweepConfig(run=str(run), model="student", first=20, every=20), prepared, evaluation,
                  tmp_path / "out", tmp_path / "logs")
    _scorer_json(run / "student", "de")
    with pytest.raises(SweepError, match=r"sweep\.s\.metric: the dev split is judged by answer strings: use Accuracy@k"):
        run_sweep("s", SweepConfig(run=str(run), model="student", first=20, every=20), prepared, evaluation,
                  tmp_path / "out", tmp_path / "logs")
    with pytest.raises(SweepError, match=r"sweep\.s\.split is test, the split eval\.split reports"):
        run_sweep("s", SweepConfig(run=str(run), model="student", split="test"), prepared, evaluation,
                  tmp_path / "out", tmp_path / "logs")
    assert not (tmp_path / "out").exists() and not (tmp_path / "logs").exists()
