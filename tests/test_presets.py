"""The papers' presets: each LEAD setting over each MS MARCO data preset gives valid params naming its models."""

from __future__ import annotations

import shutil

import pytest
import yaml

from lead.config import load_params
from lead.data.download import SOURCES
from lead.errors import UserError
from lead.presets import PRESETS, apply, main, merge

ROOT = PRESETS.parent
SETTINGS = {"lead-12de-6de": "de_teacher", "lead-12cb-6de": "cb_teacher", "lead-12ce-6de": "ce_teacher", "lead-24cb-12de": "cb_teacher"}


def test_merge_merges_mappings_and_replaces_the_listed_keys():
    base = {"eval": {"depth": 10, "dense": {"a": 1}}, "models": {"x": 1}, "seed": 1}
    merged = merge(base, {"eval": {"dense": {"b": 2}}, "models": {"y": 2}, "seed": 2}, frozenset({"eval.dense"}))
    assert merged == {"eval": {"depth": 10, "dense": {"b": 2}}, "models": {"x": 1, "y": 2}, "seed": 2}
    assert base["eval"]["dense"] == {"a": 1}  # the input is not modified


@pytest.mark.parametrize("data", ["data-mspas", "data-msdoc"])
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_each_setting_over_each_data_preset_is_valid(tmp_path, data, setting):
    merged = apply([data, setting], yaml.safe_load((ROOT / "params.yaml").read_text()))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(merged))
    params = load_params(path)
    train_queries = {"data-mspas": "queries.train.tsv", "data-msdoc": "msmarco-doctrain-queries.tsv"}[data]
    assert params.data.source == "msmarco" and params.data.splits["train"].queries == train_queries
    assert not params.flash and not params.divide  # the embedded ladder is gone
    assert not params.sweep  # the embedded sweep's run is gone too (and the data presets have no dev split)
    assert set(params.distill_runs) == {f"lead_{setting[5:].replace('-', '_')}", f"kd_{setting[5:].replace('-', '_')}"}
    lead_run, train = params.distill_run(f"lead_{setting[5:].replace('-', '_')}")
    assert lead_run.teacher == f"models/{SETTINGS[setting]}" and lead_run.layers == 5 and lead_run.layer_temperature == 10.0
    assert train.steps in (50000, 100000)
    names = {m.name for m in params.models.values()}
    assert names <= {"Luyu/co-condenser-marco", "distilbert-base-uncased", "nghuyong/ernie-2.0-large-en"}
    for name, folder in params.eval.dense.items():  # every evaluated model is a warm-up or a distill output
        assert folder.removeprefix("models/").split("/")[0] in set(params.warmup) | set(params.distill_runs), name
    assert params.dangling_inputs() == []  # every model folder and training file a stage reads, a stage writes


@pytest.mark.parametrize("data", ["data-mspas", "data-msdoc"])
def test_the_prod_ladder_over_each_data_preset_is_a_whole_pipeline(tmp_path, data):
    """PROD's MS MARCO ladder (spec B.1, D.3): the paper's hyper-parameters, and no stage reads a folder that no
    stage writes (over params.yaml it once kept mine.model: miner with no miner warm-up)."""
    merged = apply([data, "prod-marco"], yaml.safe_load((ROOT / "params.yaml").read_text()))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))  # as lead.presets apply writes it: the ladder's order
    params = load_params(path)
    assert params.dangling_inputs() == []
    assert not params.sweep and list(params.distill_runs) == ["tpd1", "tpd2", "tpd3", "dpd"]  # the ladder alone
    assert {params.run_defaults(name) for name in params.distill_runs} == {"prod"}
    config, train = params.distill_run("dpd")
    assert (config.kd, config.temperature, config.lwf_weight, config.epochs) == ("softmax", 4.0, 1.0, 3.5)
    assert (train.negatives, train.negative_sampling, train.lr, train.candidates) == (15, "descend", 1e-5, "own")
    tpd1, tpd1_train = params.distill_run("tpd1")
    assert (tpd1.lwf_weight, tpd1.student_weight, tpd1.response_weight, tpd1_train.steps, tpd1_train.lr) == (0.0, 0.1, 0.9, 40000, 5e-5)
    # S3 continues S1's models on flash-1, which the mine stage writes with S1's 12-layer model (S2)
    assert (params.warmup["de6"].init, params.warmup["de6"].train_file) == ("models/de6_s1", "data/mined/train.jsonl")
    assert params.mine.model == "de12_s1" and params.flash == {"f2": "models/de12", "f3": "models/tpd2/student"}
    assert params.divide["dpd"].depth == 200 and params.models["ce24"].name == "nghuyong/ernie-2.0-large-en"
    assert params.data.train_negatives_per_query == 30


def test_dangling_inputs_names_the_key_and_the_folder_no_stage_writes():
    params = load_params(ROOT / "params.yaml")
    assert params.dangling_inputs() == []
    merged = yaml.safe_load((ROOT / "params.yaml").read_text())
    merged["mine"]["model"] = "nope"
    merged["eval"]["dense"]["mine_me"] = "models/lead_cb/student"  # inside a distill run's folder: written
    merged["eval"]["dense"]["elsewhere"] = "/data/my_model"  # the user's own folder: not checked
    from lead.config import Params, parse
    assert parse(Params, merged).dangling_inputs() == ["mine.model: models/nope"]


def test_apply_rewrites_params_only_when_valid(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    main(["apply", "data-mspas", "lead-12cb-6de"])
    assert load_params("params.yaml").distill_run("lead_12cb_6de")[1].lr == 2e-5
    before = (tmp_path / "params.yaml").read_text()
    with pytest.raises(UserError, match="no preset 'nope'"):
        main(["apply", "nope"])
    assert (tmp_path / "params.yaml").read_text() == before


def test_the_document_preset_reads_what_its_fetch_sources_write():
    params = apply(["data-msdoc"], yaml.safe_load((ROOT / "params.yaml").read_text()))
    fetched = {f.name.removesuffix(".gz") for source in params["fetch"]["sources"] for f in SOURCES[source]}
    data = params["data"]
    read = {data["collection"]} | {name for split in data["splits"].values() for name in split.values()}
    assert data["path"] == params["fetch"]["folder"] and read <= fetched, read - fetched
    assert data["collection_format"] == "documents" and data["rel_threshold"] == 1


def test_the_passage_preset_starts_the_miner_on_the_official_triples():
    params = apply(["data-mspas"], yaml.safe_load((ROOT / "params.yaml").read_text()))
    fetched = {f.name.removesuffix(".gz") for source in params["fetch"]["sources"] for f in SOURCES[source]}
    assert params["data"]["train_negatives"] in fetched and params["data"]["train_negatives_per_query"] == 100
