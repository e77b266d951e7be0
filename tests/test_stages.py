"""The stages end to end on a small embedded benchmark with tiny random models (prepare -> ... -> rerank)."""

import json

import pytest
import yaml

from lead.data.examples import read_training_file
from lead.evaluation.runs import read_trec_run
from stages import distill, evaluate, init, mine, prepare, rerank, warmup
from tests.helpers import tiny_bert_folder


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
            "miner": {"init": "de"},
            "ce": {"init": "ce", "train_file": "data/mined/train.jsonl", "train": {"candidates": "own"}},
        },
        "mine": {"model": "miner", "depth": 30, "keep": 10},
        "distill": {"layers": 1, "resample_every": 2, "train": {"steps": 4}},
        "distill_runs": {"lead_ce": {"student": "models/miner", "teacher": "models/ce", "train": {"candidates": "own"}}},
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

    distill.main(["lead_ce"])  # LEAD from the cross-encoder into the miner: both trained jointly
    assert (project / "models/lead_ce/student/scorer.json").exists() and (project / "models/lead_ce/teacher/head.safetensors").exists()
    assert not (project / "checkpoints/distill-lead_ce").exists()
    curves = project / "logs/lead_ce/plots/metrics/train"
    for name in ("loss", "student_nll", "teacher_nll", "response_kl", "response_kl_reverse", "layer_loss"):
        assert len((curves / f"{name}.tsv").read_text().splitlines()) == 3, name  # header + steps 2 and 4
    assert list((curves / "lambda").glob("teacher_layer*.tsv")) and list((curves / "layer_kl").glob("teacher_layer*.tsv"))


def test_evaluate_is_deterministic(project):
    prepare.main([])
    init.main([])
    evaluate.main(["zeroshot"])
    first = (project / "runs/zeroshot.test.trec").read_text()
    evaluate.main(["zeroshot"])
    assert (project / "runs/zeroshot.test.trec").read_text() == first


def test_unknown_names_and_bad_params_say_what_is_wrong(project):
    with pytest.raises(SystemExit, match=r"eval\.dense\.nope: no such entry \(have: zeroshot, miner\)"):
        evaluate.main(["nope"])
    with pytest.raises(SystemExit, match=r"warmup\.nope: no such entry \(have: miner, ce\)"):
        warmup.main(["nope"])
    with pytest.raises(SystemExit, match=r"distill_runs\.nope: no such entry \(have: lead_ce\)"):
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
