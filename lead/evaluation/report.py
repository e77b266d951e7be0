"""The paper-style results table: one row per evaluated model, what produced it, and its metrics.

Rows follow ``eval.dense`` then ``eval.rerank`` (params order). Each row says how the model was made (read
from params: a warm-up run, a LEAD run and its baseline kind, a PROD step), its teacher, its kind and depth
(from the model folder), then the evaluation split's MRR@10, NDCG@10, Recall@100, Recall@1000 and MAP@1000
(``metrics/<name>/metrics.json``), its parameter count and encoding throughput (``timing.json``).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import yaml

from lead.config import DistillConfig, Params
from lead.data.prepared import PreparedData
from lead.evaluation.metrics import evaluate_run
from lead.evaluation.runs import read_trec_run
from lead.evaluation.sweep import PROVENANCE
from lead.io import atomic_open
from lead.models.factory import read_scorer_config

log = logging.getLogger(__name__)

COLUMNS = ("MRR@10", "NDCG@10", "Recall@100", "Recall@1000", "MAP@1000")
ANSWER_COLUMNS = ("Accuracy@1", "Accuracy@5", "Accuracy@20", "Accuracy@100")  # a split judged by answer match
CURVE_DEPTHS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)


def _short(folder: str) -> str:
    """models/prod/tpd1/student -> prod/tpd1, models/cb_teacher -> cb_teacher."""
    return folder.removeprefix("models/").removesuffix("/student")


def _distill_method(config: DistillConfig, section: str, name: str) -> str:
    if section == "prod" and config.response_weight > 0:
        extras = [f"KD {config.kd}"] + ([f"LwF {config.lwf_weight:g}"] if config.lwf_weight > 0 else [])
        return f"PROD {name} ({', '.join(extras)})"
    if config.layer_weight > 0:
        method = "LEAD"
        if not config.reweight:
            method += ", uniform weights"
        if config.selection != "random":
            method += f", {config.selection} layers"
        if not config.teacher_trainable:
            method += ", frozen teacher"
        return f"{method}, k={config.layers}"
    if config.virt_weight > 0:
        return "VIRT + response KD"
    if config.response_weight > 0:
        return "response KD" if config.kd == "lead" else f"KD {config.kd}"
    return "NLL only (no teacher)"


def describe(params: Params, folder: str) -> tuple[str, str]:
    """(how the model in ``folder`` was made, its teacher) from params (and a sweep's choice from its folder)."""
    for name, sweep in params.sweep.items():
        if folder == f"models/sweep/{name}":
            how, teacher = describe(params, sweep.model_in(sweep.run).as_posix())
            chosen = _read(Path(folder) / PROVENANCE)
            if chosen:
                return (f"{how}; step {chosen['selected_step']} of {chosen['final_step']}, best {sweep.split} "
                        f"{sweep.metric} of {len(chosen['evaluated'])} checkpoints"), teacher
            return f"{how}; the checkpoint best on {sweep.split} {sweep.metric}", teacher
    for section, runs in (("distill", params.distill_runs), ("prod", params.prod_steps)):
        for name in runs:
            prefix = f"models/{name}" if section == "distill" else f"models/prod/{name}"
            if folder in (f"{prefix}/student", f"{prefix}/teacher"):
                config, _ = params.distill_run(name, section)
                if folder.endswith("/teacher"):
                    return f"teacher trained jointly in {name}", "-"
                method = _distill_method(config, section, name)
                uses_teacher = config.response_weight > 0 or config.layer_weight > 0 or config.virt_weight > 0
                return method, _short(config.teacher) if uses_teacher else "-"
    for name, run in params.warmup.items():
        if folder == f"models/{name}":
            if "mined" in run.train_file or "flash" in run.train_file:
                negatives = "mined negatives"
            elif run.train_file == "data/prepared/train.jsonl" and params.data.train_negatives:
                negatives = f"the first {params.data.train_negatives_per_query} official negatives per query"
            else:
                negatives = "random negatives"
            start = "" if run.init.startswith("models/init/") else f", continued from {_short(run.init)}"
            return f"warm-up ({negatives}{start})", "-"
    if folder.startswith("models/init/"):
        return "pretrained, not trained", "-"
    return "", "-"


def _model_shape(folder: str) -> tuple[str, str]:
    """(kind, layers) read from the saved model folder."""
    try:
        config = read_scorer_config(folder)
    except (OSError, ValueError):  # ModelLoadError and ConfigError are ValueErrors: a model not trained yet
        return "?", "?"
    layers = config.num_layers
    if layers is None:  # the encoder's own depth; a two-tower dual encoder's towers have the same one
        encoder = "query_encoder" if config.kind == "de" and not config.shared else "encoder"
        try:
            layers = json.loads((Path(folder) / encoder / "config.json").read_text()).get("num_hidden_layers")
        except (OSError, ValueError):
            layers = "?"
    return config.kind, str(layers)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def report(params: Params, metrics_dir: str | Path = "metrics", params_text: str | None = None) -> str:
    """The Markdown report for every evaluated model of ``params``."""
    metrics_dir, split = Path(metrics_dir), params.eval.split
    evaluated = {key: _read(metrics_dir / key / "metrics.json").get(split, {}) for key, *_ in _evaluated(params)}
    by_answers = any("Accuracy@1" in m for m in evaluated.values())
    columns = ANSWER_COLUMNS if by_answers else COLUMNS
    header = ["model", "how it was made", "teacher", "kind", "layers", *columns, "parameters (M)", "encode passages/s"]
    lines = [
        f"# Results on the {split} split",
        "",
        f"Data: `{params.data.source}`" + (f" (`{params.data.path}`)" if params.data.path else " (the embedded benchmark)")
        + f", binary relevance threshold {params.data.rel_threshold}. Written by the report stage from "
        "`metrics/<model>/metrics.json` and `timing.json`; a row with `-` was not evaluated.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for key, folder, label, _ in _evaluated(params):
        metrics = evaluated[key]
        timing = _read(metrics_dir / key / "timing.json")
        how, teacher = describe(params, folder)
        kind, layers = _model_shape(folder)
        values = [f"{metrics[c]:.4f}" if c in metrics else "-" for c in columns]
        size = f"{timing['parameters'] / 1e6:.1f}" if "parameters" in timing else "-"
        speed = f"{timing['passages_per_s']:.0f}" if "passages_per_s" in timing else "-"
        lines.append("| " + " | ".join([label, how, teacher, kind, layers, *values, size, speed]) + " |")
    lines += ["", "MRR@10 and NDCG@10 at cut-off 10 (NDCG on graded labels), Recall@k = standard recall,",
              "MAP@1000; all by pytrec_eval. Re-ranking rows have no encoding figure (they score pairs)."] if not by_answers else [
              "", "Accuracy@k: share of questions with a passage holding an answer string in the top k (DPR's top-k",
              "accuracy, lead/evaluation/answers.py). Re-ranking rows have no encoding figure (they score pairs)."]
    if params_text is not None:
        lines += ["", "## The params that produced it", "", "```yaml", params_text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def params_summary(path: str | Path) -> str:
    """The params sections a reader needs to reproduce the table (everything but eval's model lists)."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    raw.get("eval", {}).pop("dense", None)
    raw.get("eval", {}).pop("rerank", None)
    return yaml.safe_dump(raw, sort_keys=False, width=110)


def _evaluated(params: Params) -> list[tuple[str, str, str, str]]:
    """(metrics name, model folder, row label, run file) of every evaluated model, in report order."""
    split, first = params.eval.split, params.eval.first_stage
    rows = [(name, folder, name, f"runs/{name}.{split}.trec") for name, folder in params.eval.dense.items()]
    return rows + [(f"{name}.rerank", folder, f"{name} re-ranking {first}'s top {params.eval.rerank_depth}",
                    f"runs/{name}.rerank.{split}.trec") for name, folder in params.eval.rerank.items()]


def write_plot_data(params: Params, metrics_dir: str | Path = "metrics", data: str | Path = "data/prepared",
                    out: str | Path = "metrics/plots") -> None:
    """What ``dvc plots show`` draws from the evaluations: ``summary.csv`` (model, NDCG@10, MRR@10, for the
    per-method bars) and ``recall/<model>.csv`` (k, recall: Recall@k for k in CURVE_DEPTHS, from each
    model's run file and the qrels, by pytrec_eval)."""
    out, split = Path(out), params.eval.split
    prepared = PreparedData(data)
    if prepared.answers(split) is not None:  # judged by answer match: no qrels, so no NDCG bars or recall curves
        log.warning("the %s split is judged by answer strings: no plot data written (the plots read NDCG and recall)", split)
        return
    qrels = prepared.qrels(split)
    with atomic_open(out / "summary.csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "NDCG@10", "MRR@10"])
        for name, *_ in _evaluated(params):
            metrics = _read(Path(metrics_dir) / name / "metrics.json").get(split)
            if metrics:
                writer.writerow([name, f"{metrics['NDCG@10']:.4f}", f"{metrics['MRR@10']:.4f}"])
    for name, _, _, run_file in _evaluated(params):
        if not Path(run_file).is_file():
            continue
        recall = evaluate_run(qrels, read_trec_run(run_file), prepared.threshold(split), CURVE_DEPTHS, (1,))
        with atomic_open(out / "recall" / f"{name}.csv") as handle:
            writer = csv.writer(handle)
            writer.writerow(["k", "recall"])
            writer.writerows([k, f"{recall[f'Recall@{k}']:.4f}"] for k in CURVE_DEPTHS)
