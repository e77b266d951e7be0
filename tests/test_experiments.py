"""The users' own commands on the project's own dvc.yaml: `dvc exp run -S` changes a param, re-runs what
depends on it, and `dvc exp show --json` reports the changed metric; `dvc exp run -S distill.layers=<the
student's depth>` re-runs the distillation only; `dvc metrics diff main <branch>` names what a committed variant
changed; `dvc exp run --temp -S preset=<option>` runs another setting composed by Hydra and leaves the workspace
clean. A tiny profile (random 2-layer models, a few training steps, a 30-query benchmark) keeps it to about
two minutes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import tiny_bert_folder

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(cwd)}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _metric(node, name: str, path: str, key: str):
    """The value of ``key`` in metrics file ``path`` of the experiment (or workspace) named ``name``."""
    if isinstance(node, dict):
        if node.get("name") == name or node.get("rev") == name:
            metrics = (node.get("data") or {}).get("metrics") or {}
            if path in metrics:
                return metrics[path]["data"]["test"][key]
        for value in node.values():
            found = _metric(value, name, path, key)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _metric(value, name, path, key)
            if found is not None:
                return found
    return None


def _params(node, name: str) -> dict:
    """params.yaml of the experiment named ``name`` in ``dvc exp show --json``."""
    if isinstance(node, dict):
        if node.get("name") == name and "params" in (node.get("data") or {}):
            return node["data"]["params"]["params.yaml"]["data"]
        found = [_params(value, name) for value in node.values()]
    elif isinstance(node, list):
        found = [_params(value, name) for value in node]
    else:
        return {}
    return next((f for f in found if f), {})


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("dvc") is None, reason="needs git and dvc on PATH")
def test_dvc_exp_run_with_a_changed_param_changes_the_metric(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for item in ("dvc.yaml", "lead", "stages"):
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, repo / item)
    for cache in repo.rglob("__pycache__"):
        shutil.rmtree(cache)
    tiny = str(tiny_bert_folder(tmp_path / "tiny", layers=2))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())  # every key dvc.yaml reads, then a tiny profile
    params.update(
        seed=1,
        models={"de": {"kind": "de", "name": tiny, "pooling": "mean", "passage_max_length": 48}},
        warmup={"miner": {"init": "models/init/de", "train_file": "data/prepared/train.jsonl"}},
        distill_runs={}, flash={}, divide={}, sweep={},
    )
    params["distill"].update(layers=1, train={"steps": 3, "lr": 1e-3})
    params["data"]["synthetic"].update(train_queries=16, dev_queries=4, test_queries=8, background_passages=5)
    params["train"].update(steps=4, batch_queries=4, negatives=1, checkpoint_every=100, log_every=2, lr=1e-3)
    params["mine"].update(depth=20, keep=5)
    params["eval"].update(depth=20, batch_size=16, dense={}, rerank={})
    # conf/ as the project's: the tiny profile, and two settings as options of the preset group
    run = {"defaults": "distill", "train_file": "data/mined/train.jsonl", "student": "models/miner", "teacher": "models/miner"}
    settings = {"tiny": {"lead": run}, "tiny-kd": {"kd": {**run, "layer_weight": 0.0}}}
    (repo / "conf" / "preset").mkdir(parents=True)
    config = {"defaults": ["_self_", {"preset": "tiny"}], **params}
    (repo / "conf" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for name, runs in settings.items():
        option = {"presets": {"preset": name}, "distill_runs": runs,
                  "eval": {"dense": {"miner": "models/miner", **{key: f"models/{key}/student" for key in runs}}}}
        (repo / "conf" / "preset" / f"{name}.yaml").write_text("# @package _global_\n" + yaml.safe_dump(option))
    _run(["python", "-m", "lead.presets", "compose"], repo)  # params.yaml as dvc exp run writes it
    _run(["git", "init", "-q", "-b", "main"], repo)
    _run(["git", "config", "user.email", "ci@example.com"], repo)
    _run(["git", "config", "user.name", "ci"], repo)
    _run(["dvc", "init", "-q"], repo)
    _run(["dvc", "config", "core.analytics", "false"], repo)
    _run(["dvc", "config", "hydra.enabled", "true"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "tiny profile"], repo)

    _run(["dvc", "repro", "evaluate@miner", "evaluate@lead"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "baseline"], repo)
    baseline = json.loads((repo / "metrics/miner/metrics.json").read_text())["test"]["NDCG@10"]

    # another setting as an experiment (Hydra composes params.yaml): the workspace is left as it was, and
    # dvc exp show records the option and the new run's metrics
    out = _run(["dvc", "exp", "run", "--temp", "-n", "kd", "-S", "preset=tiny-kd", "evaluate@kd"], repo)
    assert set(re.findall(r"Running stage '([^']+)'", out)) == {"distill@kd", "evaluate@kd"}, out
    assert _run(["git", "status", "--porcelain"], repo) == ""
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo))
    assert _params(shown, "kd")["presets"]["preset"] == "tiny-kd"
    assert _metric(shown, "kd", "metrics/kd/metrics.json", "NDCG@10") is not None

    # LEAD's k at the student's depth (2 blocks): only the distillation run and its evaluation re-run
    out = _run(["dvc", "exp", "run", "-n", "k-all", "-S", "distill.layers=2", "evaluate@lead"], repo)
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"distill@lead", "evaluate@lead"}, out
    finished = [line for line in (repo / "logs/lead/stage.log").read_text().splitlines() if "finished models/lead" in line]
    assert "lambda/teacher_layer1" in finished[-1] and "lambda/teacher_layer2" in finished[-1]  # k = 2: both pairs
    _run(["git", "checkout", "--", "params.yaml", "dvc.lock"], repo)
    _run(["dvc", "checkout", "-q"], repo)

    # a variant committed on a branch: dvc metrics diff names the metrics it changed
    _run(["git", "checkout", "-q", "-b", "variant"], repo)
    config["train"]["lr"] = 3e-3
    (repo / "conf" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    _run(["python", "-m", "lead.presets", "compose"], repo)
    _run(["dvc", "repro", "evaluate@miner"], repo)
    _run(["git", "add", "-A"], repo)
    _run(["git", "commit", "-qm", "variant: train.lr 3e-3"], repo)
    diff = json.loads(_run(["dvc", "metrics", "diff", "main", "variant", "--json"], repo))
    assert "test.NDCG@10" in diff["metrics/miner/metrics.json"], diff
    assert diff["metrics/miner/metrics.json"]["test.NDCG@10"]["old"] == baseline
    _run(["git", "checkout", "-q", "main"], repo)
    _run(["dvc", "checkout", "-q"], repo)

    out = _run(["dvc", "exp", "run", "-n", "lr-up", "-S", "train.lr=0.01", "evaluate@miner"], repo)
    # only what depends on train re-ran: the warm-up and its evaluation, not the data preparation
    assert "Running stage 'warmup@miner'" in out and "Running stage 'prepare'" not in out, out
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo))
    changed = _metric(shown, "lr-up", "metrics/miner/metrics.json", "NDCG@10")
    assert changed is not None and changed != baseline
    # the experiment ran in the workspace: its params and metrics are there until checked out again
    assert yaml.safe_load((repo / "params.yaml").read_text())["train"]["lr"] == 0.01

    # params launcher: the training stages under torchrun (DDP, two gloo processes on the CPU), from DVC
    if shutil.which("torchrun") is None:
        pytest.skip("torchrun is not on PATH")
    out = _run(["dvc", "exp", "run", "-n", "ddp", "-S", "launcher='torchrun --standalone --nproc_per_node=2'",
                "evaluate@miner"], repo)
    assert "torchrun --standalone --nproc_per_node=2 -m stages.warmup miner" in out, out
    assert "training models/miner on 2 process(es)" in (repo / "logs/miner/stage.log").read_text()
    assert "processes=2, device=cpu, precision=fp32, batch_queries_per_process=4, grad_accum=1, global_batch_queries=8, " \
           "candidates=in_batch, gathered_across_processes=True, candidates_per_query=16" in (repo / "logs/miner/stage.log").read_text()
    assert json.loads((repo / "models/miner/training.json").read_text())["gathered_across_processes"] is True
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo))
    assert _metric(shown, "ddp", "metrics/miner/metrics.json", "NDCG@10") is not None
