"""Every paper setting (conf/preset/) over every MS MARCO data option (conf/dataset/), end to end in miniature.

The path of a user with GPUs, run on the CPU before anyone rents one: a miniature MS MARCO passage / document
+ TREC DL mirror in the official layouts (tests/marco_fixture.py) brought in by the fetch stage with its
checksums; the settings' hub models mapped (``model_paths``) to tiny random models of the same kinds and
depths (BERT 12, DistilBERT 6, ERNIE 12 and 24 layers); step counts and lengths cut (``_cut``). Each combination runs as
``dvc exp run -S dataset=<data> -S preset=<setting>``, the README's "On GPUs with MS MARCO" commands verbatim
for one of them, and one under torchrun with two gloo processes. Every model the setting evaluates must be in
``dvc metrics show``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, ErnieConfig, ErnieModel

from lead.models.pretrained import load_tokenizer
from lead.presets import compose_text, options
from tests.marco_fixture import build_mirror
from tests.pipeline_repo import ROOT, commit_as_dvc_repository, copy_project, needs_git_and_dvc, run

# The hub models the settings name, as (architecture, depth): the stand-ins are built with the same ones.
HUB = {"Luyu/co-condenser-marco": ("bert", 12), "distilbert-base-uncased": ("distilbert", 6),
       "nghuyong/ernie-2.0-base-en": ("ernie", 12), "nghuyong/ernie-2.0-large-en": ("ernie", 24)}
SETTINGS = [name for name in options("preset") if name != "embedded"]
DATA = [name for name in options("dataset") if name != "synthetic"]
README_COMBINATION = ("mspas", "lead-12cb-6de")  # the README's commands, verbatim
TORCHRUN_COMBINATION = ("msdoc", "lead-12de-6de")


def stand_in(folder: Path, architecture: str, depth: int) -> str:
    """A tiny random model of ``architecture`` with ``depth`` blocks, and the BERT uncased tokenizer."""
    torch.manual_seed(depth)
    small = dict(max_position_embeddings=512, vocab_size=30522)
    if architecture == "distilbert":
        model = DistilBertModel(DistilBertConfig(dim=32, n_layers=depth, n_heads=2, hidden_dim=64, **small))
    elif architecture == "ernie":
        model = ErnieModel(ErnieConfig(hidden_size=32, num_hidden_layers=depth, num_attention_heads=2, intermediate_size=64, **small))
    else:
        model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=depth, num_attention_heads=2, intermediate_size=64, **small))
    model.save_pretrained(folder)
    load_tokenizer("packaged:all-MiniLM-L6-v2").save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def miniature(tmp_path_factory):
    """(model_paths, mirror folder, checksums), built once for every combination."""
    root = tmp_path_factory.mktemp("miniature")
    paths = {name: stand_in(root / name.replace("/", "--"), *shape) for name, shape in HUB.items()}
    checksums = build_mirror(root / "mirror")
    return paths, root / "mirror", checksums


def _cut(node, key: str = ""):
    """A setting in miniature, so that its stages meet as on the GPUs in seconds: every ``steps`` cut to 2, every
    text length to 32 tokens, no gradient accumulation, and a data division that keeps every query whose positive the student retrieves
    (the rule's ranks mean nothing for random models, and a division that keeps nothing stops the pipeline)."""
    if isinstance(node, dict):
        cut = {k: _cut(v, k) for k, v in node.items()}
        if key == "divide":
            cut = {name: {**division, "student_min": 0, "student_max": 199, "teacher_max": 199} for name, division in cut.items()}
        return cut
    if isinstance(node, list):
        return [_cut(value) for value in node]
    if key == "steps":
        return 2
    if key == "grad_accum":  # accumulation is tested on its own (tests/training); here it would only cost time
        return 1
    return min(node, 32) if key.endswith("_max_length") else node


def settings_repo(tmp_path: Path, miniature) -> Path:
    """The project (code, dvc.yaml, conf/) in a fresh git + DVC repository, its conf/ pointed at the miniature."""
    paths, mirror, checksums = miniature
    repo = copy_project(tmp_path / "repo", ("dvc.yaml", "lead", "stages", "conf", ".gitignore", "params.yaml"))
    config = yaml.safe_load((repo / "conf" / "config.yaml").read_text())
    config["model_paths"] = paths
    config["fetch"].update(mirror=mirror.as_uri(), checksums=checksums)
    (repo / "conf" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for option in (repo / "conf" / "preset").glob("*.yaml"):
        option.write_text("# @package _global_\n" + yaml.safe_dump(_cut(yaml.safe_load(option.read_text())), sort_keys=False))
    commit_as_dvc_repository(repo, "the project, pointed at the miniature")
    return repo


def readme_commands() -> list[str]:
    """The README's "On GPUs with MS MARCO" command block, line by line."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- gpu-path -->", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_every_hub_model_of_every_setting_has_a_stand_in():
    named = set()
    for setting in SETTINGS:
        for data in DATA:
            named |= {model["name"] for model in yaml.safe_load(compose_text([f"dataset={data}", f"preset={setting}"]))["models"].values()}
    assert named == set(HUB), f"a setting names a hub model with no stand-in here: {sorted(named - set(HUB))}"


def test_the_readme_runs_a_setting_as_an_experiment():
    commands = readme_commands()
    data, setting = README_COMBINATION
    assert f"dvc exp run -S dataset={data} -S preset={setting}" in commands
    assert "dvc metrics show" in commands and "dvc exp show" in commands


@pytest.mark.skipif(**needs_git_and_dvc)
@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("data", DATA)
def test_a_setting_runs_end_to_end_in_miniature(tmp_path, miniature, data, setting):
    repo = settings_repo(tmp_path, miniature)
    if (data, setting) == README_COMBINATION:
        outputs = {command: run(["bash", "-c", command], repo) for command in readme_commands()}
        shown = outputs["dvc metrics show"]
    else:
        command = ["dvc", "exp", "run", "-S", f"dataset={data}", "-S", f"preset={setting}"]
        if (data, setting) == TORCHRUN_COMBINATION:
            command += ["-S", "launcher='torchrun --standalone --nproc_per_node=2'"]
        run(command, repo)
        shown = run(["dvc", "metrics", "show"], repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["presets"] == {"dataset": data, "preset": setting}
    assert json.loads((repo / "data" / "fetched" / "fetched.json").read_text()), "the fetch stage fetched nothing"
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], repo))
    files = {path for rev in metrics.values() for path in (rev.get("data") or {})}
    evaluated = [f"metrics/{name}/metrics.json" for name in params["eval"]["dense"]]
    evaluated += [f"metrics/{name}.rerank/metrics.json" for name in params["eval"]["rerank"]]
    assert evaluated and set(evaluated) <= files, sorted(set(evaluated) - files)
    for path in evaluated:
        assert path.split("/")[1] in shown  # the table the user reads names every model
    if (data, setting) == TORCHRUN_COMBINATION:
        warmups = list(params["warmup"])
        assert "on 2 process(es)" in (repo / "logs" / warmups[0] / "stage.log").read_text()
