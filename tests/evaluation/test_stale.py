"""benchmarks/experiments.stale_stages: which stages a DVC experiment did not re-run although their inputs
changed (their metrics are the baseline's), on hand-made locks of a three-stage pipeline."""

from __future__ import annotations

import copy

import yaml

from benchmarks.experiments import _Yaml12Floats, stale_stages

BASELINE = {"stages": {
    "prepare": {"params": {"params.yaml": {"data": {"scale": 1.0}}}, "outs": [{"path": "data/prepared", "md5": "A.dir"}]},
    "warmup@s": {"deps": [{"path": "data/prepared", "md5": "A.dir"}, {"path": "lead/training", "md5": "code.dir"}],
                 "params": {"params.yaml": {"train": {"lr": 5e-05}}}, "outs": [{"path": "models/s", "md5": "S1.dir"}]},
    "evaluate@s": {"deps": [{"path": "models/s", "md5": "S1.dir"}, {"path": "data/prepared", "md5": "A.dir"}],
                   "params": {"params.yaml": {"eval.depth": 1000}}, "outs": [{"path": "metrics/s/metrics.json", "md5": "M1"}]},
    "evaluate@t": {"deps": [{"path": "models/t", "md5": "T.dir"}, {"path": "data/prepared/collection.tsv", "md5": "C"}],
                   "params": {"params.yaml": {"eval.depth": 1000}}, "outs": [{"path": "metrics/t/metrics.json", "md5": "M2"}]},
}}
PARAMS = {"data": {"scale": 1.0}, "train": {"lr": 5.0e-5}, "eval": {"depth": 1000}}


def ran(lock, name, deps=None, outs=None, params=None):
    """The lock after ``name`` ran in the experiment with these new dependency / output hashes."""
    stage = lock["stages"][name]
    for dep in stage.get("deps", []):
        dep["md5"] = (deps or {}).get(dep["path"], dep["md5"])
    for out in stage["outs"]:
        out["md5"] = (outs or {}).get(out["path"], out["md5"])
    stage.setdefault("params", {})["params.yaml"].update(params or {})


def test_the_baseline_itself_is_fresh():
    assert stale_stages(BASELINE, PARAMS, BASELINE) == set()


def test_only_the_targets_ran_after_a_data_change():
    lock = copy.deepcopy(BASELINE)
    params = {**PARAMS, "data": {"scale": 6}}
    ran(lock, "prepare", outs={"data/prepared": "B.dir"}, params={"data": {"scale": 6}})
    assert stale_stages(lock, params, BASELINE) == {"warmup@s", "evaluate@s", "evaluate@t"}
    ran(lock, "warmup@s", deps={"data/prepared": "B.dir"}, outs={"models/s": "S2.dir"})
    ran(lock, "evaluate@s", deps={"data/prepared": "B.dir", "models/s": "S2.dir"}, outs={"metrics/s/metrics.json": "M3"})
    # evaluate@t reads a file inside data/prepared, which changed: its metrics are the baseline's
    assert stale_stages(lock, params, BASELINE) == {"evaluate@t"}


def test_a_changed_param_of_a_stage_that_did_not_run():
    assert stale_stages(BASELINE, {**PARAMS, "eval": {"depth": 100}}, BASELINE) == {"evaluate@s", "evaluate@t"}
    assert stale_stages(BASELINE, {**PARAMS, "train": {"lr": 1e-4}}, BASELINE) == {"warmup@s", "evaluate@s"}


def test_a_rerun_that_reproduces_its_outputs_leaves_the_later_stages_fresh():
    lock = copy.deepcopy(BASELINE)
    ran(lock, "warmup@s", deps={"lead/training": "code2.dir"})  # new code, same weights
    assert stale_stages(lock, PARAMS, BASELINE) == set()


def test_dvc_lock_exponent_floats_read_as_floats():
    assert yaml.load("lr: 5e-05\nsteps: 13\nscale: 1.0\nname: 1e3x", Loader=_Yaml12Floats) == {
        "lr": 5e-05, "steps": 13, "scale": 1.0, "name": "1e3x"}
