"""The papers' settings as Hydra config groups (conf/): params.yaml is DVC's own composition of conf/, each
setting over each data option gives valid params naming its models, and a bad choice fails with one line."""

from __future__ import annotations

import pytest
import yaml

from lead.config import Params, load_params, parse
from lead.errors import UserError
from lead.presets import CONF, ROOT, compose_text, composed, main, options

SETTINGS = {"lead-12de-6de": "de_teacher", "lead-12cb-6de": "cb_teacher", "lead-12ce-6de": "ce_teacher", "lead-24cb-12de": "cb_teacher"}


def test_params_yaml_is_what_dvc_exp_run_composes_from_conf():
    """dvc exp run (hydra.enabled in .dvc/config) rewrites params.yaml from conf/: with no overrides it must write
    the committed file byte for byte, or the first experiment shows a diff nobody asked for."""
    assert "[hydra]" in (ROOT / ".dvc" / "config").read_text() and "enabled = true" in (ROOT / ".dvc" / "config").read_text()
    assert compose_text([]) == (ROOT / "params.yaml").read_text(), "params.yaml is stale: run python -m lead.presets compose"


@pytest.mark.parametrize("group", ["dataset", "preset"])
def test_each_option_records_its_own_name_at_the_root(group):
    """Each option is packaged at the root (# @package _global_) and records itself under presets: the column
    dvc exp show lists for the experiment."""
    assert options(group) and ("synthetic" if group == "dataset" else "embedded") in options(group)
    for name in options(group):
        text = (CONF / group / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_\n"), name
        assert yaml.safe_load(compose_text([f"{group}={name}"]))["presets"][group] == name


@pytest.mark.parametrize("data", ["mspas", "msdoc"])
@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_each_setting_over_each_data_option_is_valid(data, setting):
    _, params = composed([f"dataset={data}", f"preset={setting}"])  # loaded (every key) and checked
    assert params.presets == {"dataset": data, "preset": setting}
    train_queries = {"mspas": "queries.train.tsv", "msdoc": "msmarco-doctrain-queries.tsv"}[data]
    assert params.data.source == "msmarco" and params.data.splits["train"].queries == train_queries
    assert not params.flash and not params.divide  # the embedded ladder is not there
    assert not params.sweep  # nor the embedded sweep's run (and the data options have no dev split)
    suffix = setting[5:].replace("-", "_")
    assert set(params.distill_runs) == {f"lead_{suffix}", f"kd_{suffix}"}
    lead_run, train = params.distill_run(f"lead_{suffix}")
    assert lead_run.teacher == f"models/{SETTINGS[setting]}" and lead_run.layers == 5 and lead_run.layer_temperature == 10.0
    assert train.steps in (50000, 100000)
    assert {m.name for m in params.models.values()} <= {"Luyu/co-condenser-marco", "distilbert-base-uncased", "nghuyong/ernie-2.0-large-en"}
    for name, folder in params.eval.dense.items():  # every evaluated model is a warm-up or a distill output
        assert folder.removeprefix("models/").split("/")[0] in set(params.warmup) | set(params.distill_runs), name


@pytest.mark.parametrize("data", ["mspas", "msdoc"])
def test_the_prod_ladder_over_each_data_option_is_a_whole_pipeline(data):
    """PROD's MS MARCO ladder (spec B.1, D.3): the paper's hyper-parameters, and no stage reads a folder that no
    stage writes (over the embedded default it once kept mine.model: miner with no miner warm-up)."""
    text, params = composed([f"dataset={data}", "preset=prod-marco"])
    assert params.dangling_inputs() == []
    assert not params.sweep and list(params.distill_runs) == ["tpd1", "tpd2", "tpd3", "dpd"]  # the ladder, in order
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


def test_a_key_override_changes_that_key_only():
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    changed = yaml.safe_load(compose_text(["distill.layers=6"]))
    assert changed["distill"].pop("layers") == 6 and default["distill"].pop("layers") == 5
    assert changed == default


@pytest.mark.parametrize(("overrides", "named"), [
    (["preset=lead-12cb-6dee"], "preset/lead-12cb-6dee"),  # a typo in an option: named, and the options listed
    (["dataset=marco"], "lead-12cb-6de"),
    (["distill.layerz=3"], "distill.layerz"),  # a key that does not exist (Hydra: +key= adds one)
    (["distill.layers=7"], "choose 1..6 or 'all'"),  # layer pairs the depths cannot hold: before any GPU is rented
    (["mine.model=nope"], "mine.model: models/nope"),  # an input no stage writes
    (["fetch.sources=[msmarco-pasage]"], "msmarco-pasage"),
])
def test_a_bad_composition_is_refused_with_one_line_naming_it(overrides, named):
    with pytest.raises(UserError) as error:
        composed(overrides)
    assert named in str(error.value) and "\n" not in str(error.value)


def test_compose_writes_params_whole_and_check_writes_nothing(tmp_path, capsys):
    out = tmp_path / "params.yaml"
    main(["check", "dataset=mspas", "preset=prod-marco", "--params", str(out)])
    assert not out.exists() and "valid" in capsys.readouterr().out
    main(["compose", "preset=lead-12ce-6de", "--params", str(out)])
    assert load_params(out).presets == {"dataset": "synthetic", "preset": "lead-12ce-6de"}
    out.write_text("seed: 1\n")
    with pytest.raises(UserError):
        main(["compose", "preset=nope", "--params", str(out)])
    assert out.read_text() == "seed: 1\n" and list(tmp_path.iterdir()) == [out]  # a refused compose leaves it as it was


def test_dangling_inputs_names_the_key_and_the_folder_no_stage_writes():
    params = load_params(ROOT / "params.yaml")
    assert params.dangling_inputs() == []
    merged = yaml.safe_load((ROOT / "params.yaml").read_text())
    merged["mine"]["model"] = "nope"
    merged["eval"]["dense"]["mine_me"] = "models/lead_cb/student"  # inside a distill run's folder: written
    merged["eval"]["dense"]["elsewhere"] = "/data/my_model"  # the user's own folder: not checked
    assert parse(Params, merged).dangling_inputs() == ["mine.model: models/nope"]


def test_dvc_exp_run_with_a_mistyped_setting_fails_naming_it_and_leaves_the_workspace(tmp_path):
    import shutil
    import subprocess

    from tests.pipeline_repo import run, tiny_pipeline_repo

    if shutil.which("git") is None or shutil.which("dvc") is None:
        pytest.skip("needs git and dvc on PATH")
    repo, _ = tiny_pipeline_repo(tmp_path)
    done = subprocess.run(["dvc", "exp", "run", "-S", "preset=tiny-kdd"], cwd=repo, capture_output=True, text=True)
    assert done.returncode != 0
    assert "Could not find 'preset/tiny-kdd'" in done.stderr.splitlines()[0]  # the first line names it
    assert run(["git", "status", "--porcelain"], repo) == ""  # params.yaml as it was, nothing written
    assert not (repo / "models").exists()
