"""Artifacts shared through a DVC remote (README "Sharing the artifacts"): after `dvc repro` and `dvc push`, a
fresh clone's `dvc pull` restores every model, mined file, run and metric; `dvc repro` there has nothing to do,
and `dvc exp run -S distill.layers=...` re-trains only the distillation (the pulled warm-ups are reused)."""

from __future__ import annotations

import pytest

from tests.pipeline_repo import needs_git_and_dvc, ran_stages, run, tiny_pipeline_repo


@pytest.mark.skipif(**needs_git_and_dvc)
def test_a_fresh_clone_pulls_every_artifact_and_reuses_them(tmp_path):
    repo, _ = tiny_pipeline_repo(tmp_path)
    remote = tmp_path / "remote"  # a local folder remote; s3://, gs://, ssh:// work the same (README)
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], repo)
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "pipeline run"], repo)
    run(["dvc", "push"], repo)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    for path in ("models/miner/encoder/model.safetensors", "models/lead/student/scorer.json", "data/mined/train.jsonl",
                 "data/prepared/collection.tsv", "runs/lead.test.trec", "metrics/lead/metrics.json", "metrics/report.md"):
        assert (clone / path).is_file(), path
    assert "up to date" in run(["dvc", "status"], clone)
    assert ran_stages(run(["dvc", "repro"], clone)) == set()

    out = run(["dvc", "exp", "run", "-S", "distill.layers=2"], clone)
    assert ran_stages(out) == {"distill@lead", "evaluate@lead", "report"}, out  # no warm-up, mining or preparation
    finished = [line for line in (clone / "logs/lead/stage.log").read_text().splitlines() if "finished models/lead" in line]
    assert "lambda/teacher_layer2" in finished[-1]  # k = 2 this time
