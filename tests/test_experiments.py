"""The users' own commands on the project's own dvc.yaml: `dvc exp run -S` changes a param, re-runs what
depends on it, and `dvc exp show --json` reports the changed metric; `dvc exp run -S distill.layers=<the
student's depth>` re-runs the distillation only; `dvc metrics diff main <branch>` names what a committed variant
changed; `dvc exp run --temp -S preset=<option>` runs another setting composed by Hydra and leaves the workspace
clean. A tiny profile (random 2-layer models, a few training steps, a 30-query benchmark) keeps it to about
two minutes."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.pipeline_repo import exp_metric, exp_params, needs_git_and_dvc, ran_stages, run, tiny_pipeline_repo


@pytest.mark.skipif(**needs_git_and_dvc)
def test_dvc_exp_run_with_a_changed_param_changes_the_metric(tmp_path):
    repo, config = tiny_pipeline_repo(tmp_path)
    run(["dvc", "repro", "evaluate@miner", "evaluate@lead"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline"], repo)
    baseline = json.loads((repo / "metrics/miner/metrics.json").read_text())["test"]["NDCG@10"]

    # another setting as an experiment (Hydra composes params.yaml): the workspace is left as it was, and
    # dvc exp show records the option and the new run's metrics
    out = run(["dvc", "exp", "run", "--temp", "-n", "kd", "-S", "preset=tiny-kd", "evaluate@kd"], repo)
    assert ran_stages(out) == {"distill@kd", "evaluate@kd"}, out
    assert run(["git", "status", "--porcelain"], repo) == ""
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo))
    assert exp_params(shown, "kd")["presets"]["preset"] == "tiny-kd"
    assert exp_metric(shown, "kd", "metrics/kd/metrics.json", "NDCG@10") is not None

    # LEAD's k at the student's depth (2 blocks): only the distillation run and its evaluation re-run
    out = run(["dvc", "exp", "run", "-n", "k-all", "-S", "distill.layers=2", "evaluate@lead"], repo)
    ran = ran_stages(out)
    assert ran == {"distill@lead", "evaluate@lead"}, out
    finished = [line for line in (repo / "logs/lead/stage.log").read_text().splitlines() if "finished models/lead" in line]
    assert "lambda/teacher_layer1" in finished[-1] and "lambda/teacher_layer2" in finished[-1]  # k = 2: both pairs
    run(["git", "checkout", "--", "params.yaml", "dvc.lock"], repo)
    run(["dvc", "checkout", "-q"], repo)

    # a variant committed on a branch: dvc metrics diff names the metrics it changed
    run(["git", "checkout", "-q", "-b", "variant"], repo)
    config["train"]["lr"] = 3e-3
    (repo / "conf" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run(["python", "-m", "lead.presets", "compose"], repo)
    run(["dvc", "repro", "evaluate@miner"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "variant: train.lr 3e-3"], repo)
    diff = json.loads(run(["dvc", "metrics", "diff", "main", "variant", "--json"], repo))
    assert "test.NDCG@10" in diff["metrics/miner/metrics.json"], diff
    assert diff["metrics/miner/metrics.json"]["test.NDCG@10"]["old"] == baseline
    run(["git", "checkout", "-q", "main"], repo)
    run(["dvc", "checkout", "-q"], repo)

    out = run(["dvc", "exp", "run", "-n", "lr-up", "-S", "train.lr=0.01", "evaluate@miner"], repo)
    # only what depends on train re-ran: the warm-up and its evaluation, not the data preparation
    assert "Running stage 'warmup@miner'" in out and "Running stage 'prepare'" not in out, out
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo))
    changed = exp_metric(shown, "lr-up", "metrics/miner/metrics.json", "NDCG@10")
    assert changed is not None and changed != baseline
    # the experiment ran in the workspace: its params and metrics are there until checked out again
    assert yaml.safe_load((repo / "params.yaml").read_text())["train"]["lr"] == 0.01

    # params launcher: the training stages under torchrun (DDP, two gloo processes on the CPU), from DVC
    if shutil.which("torchrun") is None:
        pytest.skip("torchrun is not on PATH")
    out = run(["dvc", "exp", "run", "-n", "ddp", "-S", "launcher='torchrun --standalone --nproc_per_node=2'",
                "evaluate@miner"], repo)
    assert "torchrun --standalone --nproc_per_node=2 -m stages.warmup miner" in out, out
    assert "training models/miner on 2 process(es)" in (repo / "logs/miner/stage.log").read_text()
    assert "processes=2, device=cpu, precision=fp32, batch_queries_per_process=4, grad_accum=1, global_batch_queries=8, " \
           "candidates=in_batch, gathered_across_processes=True, candidates_per_query=16" in (repo / "logs/miner/stage.log").read_text()
    assert json.loads((repo / "models/miner/training.json").read_text())["gathered_across_processes"] is True
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo))
    assert exp_metric(shown, "ddp", "metrics/miner/metrics.json", "NDCG@10") is not None
