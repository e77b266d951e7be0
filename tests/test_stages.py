"""The stages end to end on a small embedded benchmark with tiny random models (prepare -> ... -> rerank)."""

import json
import shutil

import pytest
import torch
import yaml

from lead.config import ConfigError
from lead.data.examples import read_training_file, write_training_file
from lead.data.runs import read_trec_run
from lead.models.factory import load_scorer
from stages import (
    distill,
    divide,
    evaluate,
    fuse,
    init,
    mine,
    prepare,
    report,
    rerank,
    score,
    sweep,
    warmup,
)
from tests.helpers import tiny_bert_folder
from tests.training import torchrun_two


@pytest.fixture
def project(tmp_path, monkeypatch):
    model = str(tiny_bert_folder(tmp_path / "tiny"))
    tiny = {"name": model, "pooling": "mean", "passage_max_length": 48}
    params = {
        "seed": 1,
        "data": {"synthetic": {"train_queries": 12, "dev_queries": 4, "test_queries": 8, "background_passages": 5}},
        "models": {"de": {"kind": "de", **tiny}, "ce": {"kind": "ce", **tiny}},
        "train": {"steps": 4, "batch_queries": 4, "negatives": 2, "checkpoint_every": 2, "log_every": 2, "lr": 1e-3},
        "warmup": {
            "miner": {"init": "models/init/de", "train_file": "data/prepared/train.jsonl"},
            # PROD's S3: the trained miner continued on its own mined negatives (a tiny LR: it must start there)
            "miner_more": {"init": "models/miner", "train_file": "data/mined/train.jsonl", "train": {"lr": 1e-12}},
            "ce": {"init": "models/init/ce", "train_file": "data/mined/train.jsonl", "train": {"candidates": "own"}},
        },
        "mine": {"model": "miner", "depth": 30, "keep": 10},
        "distill": {"layers": 1, "resample_every": 2, "train": {"steps": 4}},
        "distill_runs": {"lead_ce": {"defaults": "distill", "student": "models/miner", "teacher": "models/ce",
                                     "train_file": "data/mined/train.jsonl", "train": {"candidates": "own"}}},
        "eval": {"depth": 20, "batch_size": 16, "first_stage": "miner", "rerank_depth": 5,
                 "dense": {"zeroshot": "models/init/de", "miner": "models/miner"}, "rerank": {"ce": "models/ce"}},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_pipeline_runs_stage_by_stage(project):
    prepare.main([])
    meta = json.loads((project / "data/prepared/meta.json").read_text())
    assert meta["passages"] == 4 * 24 + 5 and meta["source"] == "synthetic" and meta["train_examples"] == 12

    init.main([])
    assert (project / "models/init/ce/head.safetensors").exists()

    warmup.main(["miner"])
    assert (project / "models/miner/scorer.json").exists()
    assert not (project / "checkpoints/miner").exists()  # a finished run leaves nothing to resume
    loss_log = (project / "logs/miner/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in loss_log[1:]] == ["2", "4"]  # step column, then loss

    mine.main([])
    mined = list(read_training_file(project / "data/mined/train.jsonl"))
    assert len(mined) == 12 and all(len(e.negatives) == 10 for e in mined)
    assert all(not set(e.negatives) & set(e.positives) for e in mined)

    warmup.main(["miner_more"])  # starts from the trained miner, not from models/init/de
    start, trained, continued = (load_scorer(project / f).state_dict() for f in ("models/init/de", "models/miner", "models/miner_more"))
    assert all(torch.allclose(continued[k], trained[k], atol=1e-6) for k in trained)
    assert not all(torch.allclose(start[k], trained[k], atol=1e-6) for k in trained)

    evaluate.main(["miner"])
    metrics = json.loads((project / "metrics/miner/metrics.json").read_text())["test"]
    assert metrics["n_queries"] == 8 and 0.0 <= metrics["NDCG@10"] <= 1.0 and "HitRate@20" in metrics
    run = read_trec_run(project / "runs/miner.test.trec")
    assert len(run) == 8 and all(len(ranking) == 20 for ranking in run.values())
    timing = json.loads((project / "metrics/miner/timing.json").read_text())
    assert timing["passages"] == 101 and timing["parameters"] > 0

    warmup.main(["ce"])
    rerank.main(["ce"])
    reranked = read_trec_run(project / "runs/ce.rerank.test.trec")
    assert all(set(reranked[q]) == set(sorted(run[q], key=run[q].get, reverse=True)[:5]) for q in run)
    assert json.loads((project / "metrics/ce.rerank/metrics.json").read_text())["test"]["n_queries"] == 8

    params = yaml.safe_load((project / "params.yaml").read_text())  # keep the student every 2 steps, not the teacher
    params["distill_runs"]["lead_ce"]["train"].update(snapshot_every=2, snapshot_models=["student"])
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    distill.main(["lead_ce"])  # LEAD from the cross-encoder into the miner: both trained jointly
    assert (project / "models/lead_ce/student/scorer.json").exists() and (project / "models/lead_ce/teacher/head.safetensors").exists()
    assert [p.name for p in (project / "models/lead_ce/snapshots/step-0000002").iterdir()] == ["student"]
    assert not (project / "checkpoints/distill-lead_ce").exists()
    curves = project / "logs/lead_ce/plots/metrics/train"
    for name in ("loss", "student_nll", "teacher_nll", "response_kl", "response_kl_reverse", "layer_loss"):
        assert len((curves / f"{name}.tsv").read_text().splitlines()) == 3, name  # header + steps 2 and 4
    assert list((curves / "lambda").glob("teacher_layer*.tsv")) and list((curves / "layer_kl").glob("teacher_layer*.tsv"))


def warm_up_miner_and_ce() -> None:
    """The stages a distillation from the cross-encoder starts from: data, initial models, the miner, its
    negatives, the cross-encoder trained on them."""
    prepare.main([])
    init.main([])
    warmup.main(["miner"])
    mine.main([])
    warmup.main(["ce"])


def test_the_prod_ladder_runs_step_by_step(project):
    """TPD with a DE teacher, a flash re-mine with its student, the cross-encoder fused with its first stage,
    TPD with the fused teacher and LwF, the division by it, and DPD for one epoch over the divided set (descend
    negatives)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["prod"] = {"kd": "softmax", "temperature": 4.0, "student_weight": 0.1, "response_weight": 0.9,
                      "layer_weight": 0.0, "teacher_trainable": False, "lwf_weight": 1.0, "train": {"steps": 2}}
    params["distill_runs"] = {
        "tpd1": {"defaults": "prod", "student": "models/init/de", "teacher": "models/miner",
                 "train_file": "data/mined/train.jsonl", "lwf_weight": 0.0},
        "tpd2": {"defaults": "prod", "student": "models/tpd1/student", "teacher": "models/ce_fused",
                 "train_file": "data/flash/tpd1/train.jsonl", "train": {"candidates": "own"}},
        "dpd": {"defaults": "prod", "student": "models/tpd2/student", "teacher": "models/ce_fused",
                "train_file": "data/divided/dpd/train.jsonl", "epochs": 1,
                "train": {"candidates": "own", "negative_sampling": "descend"}},
        "dpd_small": {"defaults": "prod", "student": "models/tpd2/student", "teacher": "models/ce_fused",
                      "train_file": "data/divided/small.jsonl", "epochs": 2,
                      "train": {"candidates": "own", "negative_sampling": "descend"}},
    }
    params["flash"] = {"tpd1": "models/tpd1/student"}
    # every positive is inside the top 100 of 101 passages, so this rule keeps every training query
    params["fuse"] = {"ce_fused": {"reranker": "models/ce", "first_stage": "models/miner",
                                   "train_file": "data/mined/train.jsonl", "negatives": 3, "queries": 6}}
    params["divide"] = {"dpd": {"student": "models/tpd2/student", "teacher": "models/ce_fused", "depth": 100, "keep": 5,
                                "student_min": 0, "student_max": 99, "teacher_max": 99}}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    warm_up_miner_and_ce()

    fuse.main(["ce_fused"])
    fused = load_scorer(project / "models/ce_fused")
    assert fused.kind == "fused" and fused.weight > 0 and fused.first_stage.kind == "de"
    distill.main(["tpd1"])
    assert (project / "models/tpd1/student/scorer.json").exists() and not (project / "models/tpd1/teacher").exists()
    mine.main(["tpd1"])
    flashed = list(read_training_file(project / "data/flash/tpd1/train.jsonl"))
    assert len(flashed) == 12 and all(len(e.negatives) == 10 and not set(e.negatives) & set(e.positives) for e in flashed)
    distill.main(["tpd2"])
    curves = project / "logs/tpd2/plots/metrics/train"
    assert (curves / "lwf.tsv").exists() and (curves / "kd_softmax.tsv").exists() and not (curves / "layer_loss.tsv").exists()

    divide.main(["dpd"])
    divided = list(read_training_file(project / "data/divided/dpd/train.jsonl"))
    stats = json.loads((project / "data/divided/dpd/division.json").read_text())
    assert stats["kept"] == len(divided) == 12 and stats["queries"] == 12
    assert all(len(e.negatives) == 5 and not set(e.negatives) & set(e.positives) for e in divided)
    distill.main(["dpd"])  # 1 epoch of 12 queries at 4 a step: 3 steps
    assert (project / "models/dpd/student/scorer.json").exists()
    steps = (project / "logs/dpd/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in steps[1:]] == ["2", "3"]  # every 2 steps and the last

    # A divided set smaller than a global batch (4): each pass is one step over all 3 of its queries
    write_training_file(project / "data/divided/small.jsonl", divided[:3])
    distill.main(["dpd_small"])
    record = json.loads((project / "models/dpd_small/training.json").read_text())
    assert record["batch_queries_per_process"] == 3
    steps = (project / "logs/dpd_small/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in steps[1:]] == ["2"]  # 2 passes of 3 queries: 2 steps


def test_a_run_is_built_from_a_checkout_other_than_the_working_directory(project, tmp_path_factory, monkeypatch):
    """What a benchmark does (another checkout, another teacher): the run's files are read under ``root``."""
    from lead.config import load_params
    from lead.training.runs import build_distill_run

    warm_up_miner_and_ce()
    params = load_params(project / "params.yaml")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    built = build_distill_run(params, "lead_ce", root=project)
    mined = list(read_training_file(project / "data/mined/train.jsonl"))
    assert [e.qid for e in built.examples] == [e.qid for e in mined] and len(built.store) == len(built.sampler.store)
    assert built.method.own and built.train.steps == 4 and built.teacher.kind == "ce"
    assert built.describe().startswith("distill lead_ce: models/miner student (")
    other = load_scorer(project / "models/miner")  # a teacher given in place of the one params names
    assert build_distill_run(params, "lead_ce", root=project, teacher=other).teacher is other


def test_a_teacher_scores_the_training_file_once_and_a_run_distills_from_the_table(project):
    """score@ce writes the cross-encoder's scores of the mined candidates in resumable shards; a PROD step that
    reads the table trains the student the live cross-encoder trains (same weights up to rounding)."""
    from safetensors.torch import load_file

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["score"] = {"ce": {"model": "models/ce", "train_file": "data/mined/train.jsonl", "negatives": 4,
                              "shard_queries": 5, "batch_size": 8}}
    step = {"defaults": "prod", "student": "models/miner", "train_file": "data/mined/train.jsonl",
            "train": {"candidates": "own", "negative_sampling": "descend", "negatives": 3}}
    params["distill_runs"] = {"kd_live": {**step, "teacher": "models/ce"}, "kd_file": {**step, "teacher": "data/scores/ce.tsv"}}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    warm_up_miner_and_ce()

    score.main(["ce"])
    table = (project / "data/scores/ce.tsv").read_text().splitlines()
    mined = list(read_training_file(project / "data/mined/train.jsonl"))
    assert table[0] == "qid\tpid\tscore" and len(table) - 1 == sum(len(e.positives) + 4 for e in mined)
    shards = sorted((project / "checkpoints/score-ce").glob("shard-*.tsv"))
    assert len(shards) == 3  # 12 queries, 5 a shard
    shards[1].unlink()  # a killed run: the next one scores only the missing shard, and the table is the same
    (project / "data/scores/ce.tsv").unlink()
    finished = {path: path.stat().st_mtime_ns for path in (shards[0], shards[2])}
    score.main(["ce"])
    assert (project / "data/scores/ce.tsv").read_text().splitlines() == table
    assert shards[1].exists() and {path: path.stat().st_mtime_ns for path in finished} == finished
    # torchrun: two processes split the shards; the joined table is the same pairs (scores up to rounding)
    shutil.rmtree(project / "checkpoints/score-ce")
    (project / "data/scores/ce.tsv").unlink()
    torchrun_two("-m", "stages.score", "ce", cwd=project, timeout=300)
    rows = [line.split("\t") for line in (project / "data/scores/ce.tsv").read_text().splitlines()]
    assert [r[:2] for r in rows] == [line.split("\t")[:2] for line in table]
    assert all(abs(float(a[2]) - float(b.split("\t")[2])) < 1e-5 for a, b in zip(rows[1:], table[1:]))

    distill.main(["kd_live"])
    distill.main(["kd_file"])
    live, from_file = (load_file(str(project / f"models/{run}/student/encoder/model.safetensors")) for run in ("kd_live", "kd_file"))
    for key in live:
        torch.testing.assert_close(from_file[key], live[key], rtol=0, atol=2e-5)


def test_a_checkpoint_sweep_chooses_on_dev_and_the_chosen_step_is_tested_and_reported(project):
    """The miner keeps a snapshot every step; sweep@miner scores steps 1..4 on dev, copies the best one to
    models/sweep/miner, evaluate@ tests it and the report names the step."""
    from safetensors.torch import load_file

    from lead.config import load_params
    from lead.data.prepared import PreparedData
    from lead.evaluation.dense import evaluate_scorer
    from lead.models.factory import load_scorer

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["warmup"]["miner"]["train"] = {"snapshot_every": 1}
    params["sweep"] = {"miner": {"run": "models/miner", "first": 1, "every": 1, "split": "dev"}}
    params["eval"]["dense"]["miner_best"] = "models/sweep/miner"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    prepare.main([])
    init.main([])
    warmup.main(["miner"])
    sweep.main(["miner"])

    curve = (project / "metrics/sweep/miner/plots/metrics/dev/NDCG@10.tsv").read_text().splitlines()[1:]
    dev = {int(line.split("\t")[0]): float(line.split("\t")[1]) for line in curve}
    assert sorted(dev) == [1, 2, 3, 4]  # snapshots 1-3 and the final model, x = training step
    # The curve's point at step 2 is snapshot 2 evaluated on dev (threshold 1, as every non-test split).
    by_hand = evaluate_scorer(load_scorer(project / "models/miner/snapshots/step-0000002"), PreparedData("data/prepared"),
                              "dev", load_params().eval).metrics["NDCG@10"]
    assert dev[2] == pytest.approx(by_hand, abs=1e-6)
    best = max(sorted(dev), key=lambda step: dev[step])  # the earliest of the best
    chosen = json.loads((project / "models/sweep/miner/sweep.json").read_text())
    assert chosen["selected_step"] == best and chosen["final_step"] == 4 and chosen["split"] == "dev"
    summary = json.loads((project / "metrics/sweep/miner/metrics.json").read_text())
    assert summary["selected_step"] == best and summary["dev"]["NDCG@10"] == pytest.approx(dev[best], abs=1e-4)
    source = project / ("models/miner" if best == 4 else f"models/miner/snapshots/step-{best:07d}")
    copied, original = load_file(project / "models/sweep/miner/encoder/model.safetensors"), load_file(source / "encoder/model.safetensors")
    assert copied.keys() == original.keys() and all((copied[k] == original[k]).all() for k in copied)
    assert not (project / "models/sweep/miner/snapshots").exists()

    evaluate.main(["miner_best"])  # the chosen checkpoint on the test split
    assert json.loads((project / "metrics/miner_best/metrics.json").read_text())["test"]["n_queries"] == 8
    report.main([])
    row = next(line for line in (project / "metrics/report.md").read_text().splitlines() if line.startswith("| miner_best "))
    assert f"step {best} of 4, best dev NDCG@10 of 4 checkpoints" in row

    params["sweep"]["miner"]["split"] = "test"  # the split the report shows: refused before anything runs
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(Exception, match=r"sweep\.miner\.split: 'test' is eval\.split"):
        sweep.main(["miner"])


def test_evaluate_is_deterministic(project):
    prepare.main([])
    init.main([])
    evaluate.main(["zeroshot"])
    first = (project / "runs/zeroshot.test.trec").read_text()
    evaluate.main(["zeroshot"])
    assert (project / "runs/zeroshot.test.trec").read_text() == first


def test_unknown_names_and_bad_params_say_what_is_wrong(project):
    with pytest.raises(ConfigError, match=r"eval\.dense\.nope: no such entry \(have: zeroshot, miner\)"):
        evaluate.main(["nope"])
    with pytest.raises(ConfigError, match=r"warmup\.nope: no such entry \(have: miner, miner_more, ce\)"):
        warmup.main(["nope"])
    with pytest.raises(ConfigError, match=r"distill_runs\.nope: no such entry \(have: lead_ce\)"):
        distill.main(["nope"])
    (project / "params.yaml").write_text("eval: {depht: 10}\n")
    with pytest.raises(Exception, match=r"eval\.depht: unknown key \(did you mean 'depth'\?\)"):
        prepare.main([])


def test_failed_prepare_keeps_the_previous_output(project, monkeypatch):
    prepare.main([])
    before = (project / "data/prepared/collection.tsv").read_text()

    def explode(*args, **kwargs):
        raise RuntimeError("killed half-way")

    monkeypatch.setattr("lead.data.synthetic.SyntheticBenchmark.write", explode)
    with pytest.raises(RuntimeError, match="killed half-way"):
        prepare.main([])
    assert (project / "data/prepared/collection.tsv").read_text() == before
    assert [p.name for p in (project / "data").iterdir()] == ["prepared"]  # no temporary folder left
