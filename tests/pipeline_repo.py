"""A git + DVC repository of the project's own pipeline on a tiny profile, for the tests of the users' commands.

The repository has the project's dvc.yaml, code, .gitignore and Hydra set-up (``conf/`` composed into
params.yaml by ``dvc exp run``), with random 2-layer models, a few training steps and a 30-query benchmark, and
two settings as options of the preset group: ``tiny`` (a LEAD run ``lead``, the default) and ``tiny-kd`` (its
response-only KD pair ``kd``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.helpers import tiny_bert_folder

ROOT = Path(__file__).resolve().parents[1]
needs_git_and_dvc = dict(condition=shutil.which("git") is None or shutil.which("dvc") is None, reason="needs git and dvc on PATH")


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(cwd)}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def copy_project(repo: Path, items: tuple[str, ...]) -> Path:
    """The project's ``items`` (files and folders, without bytecode caches) copied into a new folder ``repo``."""
    repo.mkdir()
    for item in items:
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, repo / item)
    for cache in repo.rglob("__pycache__"):
        shutil.rmtree(cache)
    return repo


def commit_as_dvc_repository(repo: Path, message: str) -> None:
    """``repo`` made a git + DVC repository with Hydra composition on, as the project is, all of it committed."""
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "config", "user.email", "ci@example.com"], repo)
    run(["git", "config", "user.name", "ci"], repo)
    run(["dvc", "init", "-q"], repo)
    run(["dvc", "config", "core.analytics", "false"], repo)
    run(["dvc", "config", "hydra.enabled", "true"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)


def tiny_pipeline_repo(tmp_path: Path) -> tuple[Path, dict]:
    """(the repository, its conf/config.yaml as a dict), committed on ``main``."""
    repo = copy_project(tmp_path / "repo", ("dvc.yaml", "lead", "stages", ".gitignore"))
    tiny = str(tiny_bert_folder(tmp_path / "tiny", layers=2))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())  # every key dvc.yaml reads, then a tiny profile
    params.update(
        seed=1,
        models={"de": {"kind": "de", "name": tiny, "pooling": "mean", "passage_max_length": 48}},
        warmup={"miner": {"init": "models/init/de", "train_file": "data/prepared/train.jsonl"}},
        distill_runs={}, flash={}, divide={}, fuse={}, sweep={},
    )
    params["distill"].update(layers=1, train={"steps": 3, "lr": 1e-3})
    params["data"]["synthetic"].update(train_queries=16, dev_queries=4, test_queries=8, background_passages=5)
    params["train"].update(steps=4, batch_queries=4, negatives=1, checkpoint_every=100, log_every=2, lr=1e-3)
    params["mine"].update(depth=20, keep=5)
    params["eval"].update(depth=20, batch_size=16, dense={}, rerank={})
    # conf/ as the project's: the tiny profile, and two settings as options of the preset group
    lead = {"defaults": "distill", "train_file": "data/mined/train.jsonl", "student": "models/miner", "teacher": "models/miner"}
    settings = {"tiny": {"lead": lead}, "tiny-kd": {"kd": {**lead, "layer_weight": 0.0}}}
    (repo / "conf" / "preset").mkdir(parents=True)
    config = {"defaults": ["_self_", {"preset": "tiny"}], **params}
    (repo / "conf" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for name, runs in settings.items():
        option = {"presets": {"preset": name}, "distill_runs": runs,
                  "eval": {"dense": {"miner": "models/miner", **{key: f"models/{key}/student" for key in runs}}}}
        (repo / "conf" / "preset" / f"{name}.yaml").write_text("# @package _global_\n" + yaml.safe_dump(option))
    run(["python", "-m", "lead.presets", "compose"], repo)  # params.yaml as dvc exp run writes it
    commit_as_dvc_repository(repo, "tiny profile")
    return repo, config


def ran_stages(output: str) -> set[str]:
    """The stages a dvc repro / dvc exp run output says it ran."""
    import re

    return set(re.findall(r"Running stage '([^']+)'", output))


def exp_metric(node, name: str, path: str, key: str):
    """The value of ``key`` in metrics file ``path`` of the experiment (or workspace) named ``name`` in ``dvc exp
    show --json``."""
    if isinstance(node, dict):
        if node.get("name") == name or node.get("rev") == name:
            metrics = (node.get("data") or {}).get("metrics") or {}
            if path in metrics:
                return metrics[path]["data"]["test"][key]
        for value in node.values():
            found = exp_metric(value, name, path, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = exp_metric(value, name, path, key)
            if found is not None:
                return found
    return None


def exp_params(node, name: str) -> dict:
    """params.yaml of the experiment named ``name`` in ``dvc exp show --json``."""
    if isinstance(node, dict):
        if node.get("name") == name and "params" in (node.get("data") or {}):
            return node["data"]["params"]["params.yaml"]["data"]
        found = [exp_params(value, name) for value in node.values()]
    elif isinstance(node, list):
        found = [exp_params(value, name) for value in node]
    else:
        return {}
    return next((f for f in found if f), {})
