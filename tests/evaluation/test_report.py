"""The report table: one row per evaluated model, described from params, with its metrics and timing."""

from __future__ import annotations

import json

import yaml

from lead.config import load_params
from lead.evaluation.report import params_summary, report

RUN = {"defaults": "distill", "train_file": "data/mined/train.jsonl"}
PARAMS = {
    "models": {"de": {"kind": "de"}},
    "warmup": {"student": {"init": "models/init/de", "train_file": "data/mined/train.jsonl"},
               "student_random": {"init": "models/init/de", "train_file": "data/prepared/train.jsonl"}},
    "distill_runs": {
        "lead_cb": {**RUN, "student": "models/student", "teacher": "models/cb_teacher"},
        "kd_cb": {**RUN, "student": "models/student", "teacher": "models/cb_teacher", "layer_weight": 0.0},
        "no_kd": {**RUN, "student": "models/student", "teacher": "models/cb_teacher", "layer_weight": 0.0, "response_weight": 0.0},
        "tpd1": {"defaults": "prod", "student": "models/student", "teacher": "models/de_teacher",
                 "train_file": "data/mined/train.jsonl", "kd": "softmax", "lwf_weight": 1.0},
    },
    "eval": {"dense": {"student": "models/student", "student_random": "models/student_random", "lead_cb": "models/lead_cb/student",
                       "kd_cb": "models/kd_cb/student", "no_kd": "models/no_kd/student", "prod_tpd1": "models/tpd1/student"},
             "rerank": {"ce": "models/ce"}, "rerank_depth": 30},
}


def test_rows_describe_each_model_and_carry_its_metrics(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(PARAMS))
    params = load_params(path)
    (tmp_path / "metrics" / "lead_cb").mkdir(parents=True)
    (tmp_path / "metrics" / "lead_cb" / "metrics.json").write_text(json.dumps({"test": {"MRR@10": 0.3, "NDCG@10": 0.25, "MAP@1000": 0.125}}))
    (tmp_path / "metrics" / "lead_cb" / "timing.json").write_text(json.dumps({"parameters": 15_467_520, "passages_per_s": 523.3}))
    (tmp_path / "models" / "lead_cb" / "student").mkdir(parents=True)  # the run's record, beside its models
    (tmp_path / "models" / "lead_cb" / "training.json").write_text(json.dumps(
        {"processes": 8, "device": "NVIDIA H100 80GB HBM3", "precision": "bf16 autocast", "global_batch_queries": 64,
         "candidates": "in_batch", "candidates_per_query": 128, "gathered_across_processes": True}))
    text = report(params, params_summary(path), root=tmp_path)
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in text.splitlines() if line.startswith("| ")}
    assert rows["lead_cb"][-1] == "8x NVIDIA H100 80GB HBM3 bf16 autocast, 64 q/step, 128 in-batch cand./q, gathered |"
    assert rows["kd_cb"][-1] == "- |"  # no record: not trained yet
    assert rows["lead_cb"][1:3] == ["distill run: student_nll + response_kl + teacher_nll + layer_loss (k=2, random "
                                    "layers, re-weighted; teacher trained)", "cb_teacher"]
    assert rows["lead_cb"][5:7] == ["0.3000", "0.2500"] and rows["lead_cb"][7:9] == ["-", "-"]
    assert rows["lead_cb"][9:12] == ["0.1250", "15.5", "523"]
    assert rows["kd_cb"][1:3] == ["distill run: student_nll + response_kl + teacher_nll (teacher trained)", "cb_teacher"]
    # the method's terms, by name (this no_kd's teacher still trains on its own NLL: the params say so)
    assert rows["no_kd"][1:3] == ["distill run: student_nll + teacher_nll (teacher trained)", "cb_teacher"]
    # no prod section here: the step takes PROD's defaults (lead.config.ProdDefaults), not LEAD's
    assert rows["prod_tpd1"][1:3] == ["prod run: 0.1 student_nll + 0.9 kd_softmax + lwf (T=4; frozen teacher)", "de_teacher"]
    assert rows["student"][1] == "warm-up (mined negatives)" and rows["student_random"][1] == "warm-up (random negatives)"
    assert rows["student"][5] == "-"  # not evaluated: no metrics file
    assert "ce re-ranking miner's top 30" in rows
    assert "## The params that produced it" in text and "lead_cb:" in text and "dense:" not in text


def test_warm_ups_on_official_negatives_or_continued_are_described_so(tmp_path):
    from lead.config import Params, parse
    from lead.evaluation.report import describe

    params = parse(Params, {**PARAMS, "data": {"source": "msmarco", "path": "x", "train_negatives": "triples.tsv",
                                               "train_negatives_per_query": 30},
                            "warmup": {**PARAMS["warmup"],
                                       "more": {"init": "models/student", "train_file": "data/mined/train.jsonl",
                                                "layer_weight": 0.5}}})
    assert describe(params, "models/student_random") == ("warm-up (the first 30 official negatives per query)", "-")
    assert describe(params, "models/more") == ("warm-up (mined negatives, deep supervision x 0.5, continued from student)", "-")


def test_the_depth_of_a_two_tower_dual_encoder_is_read_from_its_query_tower(tmp_path):
    from lead.config import ScorerConfig
    from lead.evaluation.report import _model_shape
    from lead.models.factory import build_scorer, save_scorer
    from tests.helpers import tiny_bert_folder

    tiny = str(tiny_bert_folder(tmp_path / "tiny", layers=3))
    for shared in (True, False):
        save_scorer(build_scorer(ScorerConfig(kind="de", name=tiny, shared=shared)), tmp_path / f"de-{shared}")
        assert _model_shape(str(tmp_path / f"de-{shared}")) == ("de", "3")
    assert _model_shape(str(tmp_path / "not-trained-yet")) == ("?", "?")


def test_plot_data_has_every_evaluated_model_and_recall_curves_from_the_runs(tmp_path, monkeypatch):
    from lead.config import DataConfig
    from lead.data.prepared import PreparedData, prepare
    from lead.data.runs import write_trec_run
    from lead.data.synthetic import SyntheticConfig
    from lead.evaluation.metrics import evaluate_run
    from lead.evaluation.report import CURVE_DEPTHS, write_plot_data

    monkeypatch.chdir(tmp_path)
    prepare(DataConfig(synthetic=SyntheticConfig(train_queries=4, dev_queries=2, test_queries=6, background_passages=5)), "data/prepared")
    data = PreparedData("data/prepared")
    qrels = data.qrels("test")
    pids = [p.pid for p in data.passages()]
    run = {q: {pid: float(-i) for i, pid in enumerate(pids[j:] + pids[:j])} for j, q in enumerate(qrels)}  # rotated lists
    write_trec_run("runs/student.test.trec", run, tag="student")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"eval": {"dense": {"student": "models/student", "teacher": "models/t"}}}))
    (tmp_path / "metrics" / "student").mkdir(parents=True)
    (tmp_path / "metrics" / "student" / "metrics.json").write_text(json.dumps({"test": {"NDCG@10": 0.5, "MRR@10": 0.25}}))
    write_plot_data(load_params(tmp_path / "params.yaml"))
    assert (tmp_path / "metrics/plots/summary.csv").read_text().splitlines() == ["model,NDCG@10,MRR@10", "student,0.5000,0.2500"]
    curve = (tmp_path / "metrics/plots/recall/student.csv").read_text().splitlines()
    expected = evaluate_run(qrels, run, data.rel_threshold, CURVE_DEPTHS, (1,))
    assert curve[0] == "k,recall" and len(curve) == 1 + len(CURVE_DEPTHS)
    assert [float(line.split(",")[1]) for line in curve[1:]] == [round(expected[f"Recall@{k}"], 4) for k in CURVE_DEPTHS]
    assert not (tmp_path / "metrics/plots/recall/teacher.csv").exists()  # no run file: no curve


def test_a_split_judged_by_answers_reports_top_k_accuracy_and_writes_no_plot_data(tmp_path, monkeypatch):
    from lead.evaluation.report import write_plot_data

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(PARAMS))
    params = load_params(path)
    (tmp_path / "metrics" / "lead_cb").mkdir(parents=True)
    (tmp_path / "metrics" / "lead_cb" / "metrics.json").write_text(json.dumps(
        {"test": {"Accuracy@1": 0.4, "Accuracy@5": 0.6, "Accuracy@20": 0.75, "Accuracy@100": 0.875, "n_queries": 8}}))
    text = report(params, root=tmp_path)
    assert "| Accuracy@1 | Accuracy@5 | Accuracy@20 | Accuracy@100 |" in text and "NDCG@10 |" not in text
    row = next(line for line in text.splitlines() if line.startswith("| lead_cb |")).split(" | ")
    assert row[5:9] == ["0.4000", "0.6000", "0.7500", "0.8750"]

    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "collection.tsv").write_text("1\tOslo is in Norway\n")
    (prepared / "queries.test.tsv").write_text("test-0\tcapital of norway\n")
    (prepared / "answers.test.jsonl").write_text('{"qid": "test-0", "answers": ["Oslo"]}\n')
    write_plot_data(params, tmp_path, prepared, tmp_path / "plots")  # no qrels: must not fail
    assert not (tmp_path / "plots").exists()


def test_a_fused_model_is_described_by_its_members(tmp_path):
    from lead.config import Params, parse
    from lead.evaluation.report import _model_shape, describe

    params = parse(Params, {**PARAMS, "fuse": {"ce_fused": {"reranker": "models/ce_teacher", "first_stage": "models/student",
                                                            "train_file": "data/mined/train.jsonl"}}})
    assert describe(params, "models/ce_fused") == ("ce_teacher interpolated with its first stage student", "-")
    (tmp_path / "fused").mkdir()
    (tmp_path / "fused" / "scorer.json").write_text(json.dumps({"format": 1, "config": {"kind": "fused", "first_stage_weight": 2.0}}))
    assert _model_shape(str(tmp_path / "fused")) == ("fused", "-")
