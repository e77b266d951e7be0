"""benchmarks/experiments.stale_stages: which stages a DVC experiment did not re-run although their inputs
changed (their metrics are the baseline's), on hand-made locks of a three-stage pipeline."""

from __future__ import annotations

import copy


from benchmarks.experiments import dir_md5, stale_stages
from lead.io import load_yaml

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
    stage.setdefault("params", {}).setdefault("params.yaml", {}).update(params or {})


def test_the_baseline_itself_is_fresh():
    assert stale_stages(BASELINE, PARAMS, BASELINE) == set()


def test_only_the_targets_ran_after_a_data_change():
    lock = copy.deepcopy(BASELINE)
    params = {**PARAMS, "data": {"scale": 6}}
    ran(lock, "prepare", outs={"data/prepared": "B.dir"}, params={"data": {"scale": 6}})
    assert stale_stages(lock, params, BASELINE) == {"warmup@s", "evaluate@s", "evaluate@t"}
    ran(lock, "warmup@s", deps={"data/prepared": "B.dir"}, outs={"models/s": "S2.dir"})
    ran(lock, "evaluate@s", deps={"data/prepared": "B.dir", "models/s": "S2.dir"}, outs={"metrics/s/metrics.json": "M3"})
    # evaluate@t reads one file inside data/prepared: stale if that file changed, fresh if only others did
    listings = {"B.dir": {"collection.tsv": "C2", "qrels.test.tsv": "Q"}}
    assert stale_stages(lock, params, BASELINE, listings.get) == {"evaluate@t"}
    listings["B.dir"]["collection.tsv"] = "C"
    assert stale_stages(lock, params, BASELINE, listings.get) == set()
    assert stale_stages(lock, params, BASELINE, lambda md5: None) == {"evaluate@t"}  # no listing: not trusted


def test_a_changed_param_of_a_stage_that_did_not_run():
    assert stale_stages(BASELINE, {**PARAMS, "eval": {"depth": 100}}, BASELINE) == {"evaluate@s", "evaluate@t"}
    assert stale_stages(BASELINE, {**PARAMS, "train": {"lr": 1e-4}}, BASELINE) == {"warmup@s", "evaluate@s"}


def test_a_rerun_that_reproduces_its_outputs_leaves_the_later_stages_fresh():
    lock = copy.deepcopy(BASELINE)
    ran(lock, "warmup@s", deps={"lead/training": "code2.dir"})  # new code, same weights
    assert stale_stages(lock, PARAMS, BASELINE) == set()


def test_a_subfolder_of_a_changed_folder_is_compared_by_its_own_files():
    base = copy.deepcopy(BASELINE)
    de = {"encoder/model.safetensors": "W", "scorer.json": "J"}
    base["stages"]["init"] = {"outs": [{"path": "models/init", "md5": "I1.dir"}]}
    base["stages"]["warmup@s"]["deps"].append({"path": "models/init/de", "md5": dir_md5(de)})
    lock = copy.deepcopy(base)
    ran(lock, "init", outs={"models/init": "I2.dir"})  # another model of init changed, de did not
    listings = {"I2.dir": {**{f"de/{k}": v for k, v in de.items()}, "ce/head.safetensors": "H2"}}
    assert stale_stages(lock, PARAMS, base, listings.get) == set()
    listings["I2.dir"]["de/scorer.json"] = "J2"
    assert stale_stages(lock, PARAMS, base, listings.get) == {"warmup@s", "evaluate@s"}


def test_changed_code_that_a_stage_did_not_rerun_with():
    lock = copy.deepcopy(BASELINE)
    lock["stages"]["warmup@u"] = {"deps": [{"path": "lead/training", "md5": "code2.dir"}], "outs": [{"path": "models/u", "md5": "U"}]}
    # warmup@u ran with new training code; warmup@s still records the old code, so it (and its evaluation) is stale
    assert stale_stages(lock, PARAMS, BASELINE) == {"warmup@s", "evaluate@s"}


def test_an_entry_the_experiment_changed_is_still_checked():
    lock = copy.deepcopy(BASELINE)
    ran(lock, "evaluate@s", outs={"metrics/s/metrics.json": "M9"}, params={"eval.depth": 100})  # e.g. an old repro
    assert stale_stages(lock, {**PARAMS, "eval": {"depth": 1000}}, BASELINE) == {"evaluate@s"}


def test_a_folder_holding_other_stages_outputs():
    base = copy.deepcopy(BASELINE)
    base["stages"]["report"] = {"deps": [{"path": "metrics", "md5": "R.dir"}], "outs": [{"path": "report.md", "md5": "P"}]}
    lock = copy.deepcopy(base)
    ran(lock, "evaluate@s", outs={"metrics/s/metrics.json": "M3"})
    assert stale_stages(lock, PARAMS, base) == {"report"}  # a metric under metrics/ changed after it was read
    ran(lock, "report", deps={"metrics": "R2.dir"}, outs={"report.md": "P2"})
    assert stale_stages(lock, PARAMS, base) == set()


def test_dvc_lock_exponent_floats_read_as_floats():
    assert load_yaml("lr: 5e-05\nsteps: 13\nscale: 1.0\nname: 1e3x") == {
        "lr": 5e-05, "steps": 13, "scale": 1.0, "name": "1e3x"}


def test_a_file_inside_nested_outputs_is_judged_by_the_deepest_one():
    """A lock that still holds an old stage writing the parent folder (a stage since split into divide@<name>):
    the file's own producer decides, not the leftover entry (which seed 14's experiment lock had)."""
    lock = copy.deepcopy(BASELINE)
    lock["stages"]["divide"] = {"deps": [{"path": "models/gone", "md5": "G.dir"}],
                                "outs": [{"path": "data/divided", "md5": "D0.dir"}]}
    lock["stages"]["divide@dpd"] = {"deps": [{"path": "models/s", "md5": "S1.dir"}],
                                    "outs": [{"path": "data/divided/dpd", "md5": "D1.dir"}]}
    lock["stages"]["distill@dpd"] = {"deps": [{"path": "data/divided/dpd/train.jsonl", "md5": "J"}],
                                     "outs": [{"path": "models/dpd", "md5": "P.dir"}]}
    baseline = copy.deepcopy(lock)
    ran(lock, "divide@dpd", outs={"data/divided/dpd": "D2.dir"})
    ran(lock, "distill@dpd", deps={"data/divided/dpd/train.jsonl": "J2"}, outs={"models/dpd": "P2.dir"})
    listings = {"D2.dir": {"train.jsonl": "J2"}}
    assert "distill@dpd" not in stale_stages(lock, PARAMS, baseline, listings.get)
