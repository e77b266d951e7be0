"""The paper-style results table: one row per evaluated model, what produced it, and its metrics.

Rows follow ``eval.dense`` then ``eval.rerank`` (params order). Each row says how the model was made (from
params and the stage that wrote its folder, lead.pipeline: a warm-up and its negatives, or a distillation
run's defaults and its loss terms by name), its teacher, its kind and depth
(from the model folder), then the evaluation split's MRR@10, NDCG@10, Recall@100, Recall@1000 and MAP@1000
(``metrics/<name>/metrics.json``), its parameter count and encoding throughput (``timing.json``).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import NamedTuple

import yaml

from lead.config import Params, as_dict
from lead.data.prepared import PreparedData
from lead.data.runs import read_trec_run
from lead.evaluation.metrics import evaluate_run
from lead.io import atomic_open, load_yaml
from lead.losses.terms import describe as describe_terms
from lead.losses.terms import distill_terms, reads
from lead.models.depth import saved_depth
from lead.models.factory import read_scorer_config
from lead.pipeline import PREPARED, SWEEP_PROVENANCE, TRAINING_RECORD, family, producer

log = logging.getLogger(__name__)

COLUMNS = ("MRR@10", "NDCG@10", "Recall@100", "Recall@1000", "MAP@1000")
ANSWER_COLUMNS = ("Accuracy@1", "Accuracy@5", "Accuracy@20", "Accuracy@100")  # a split judged by answer match
CURVE_DEPTHS = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000)


def _short(folder: str) -> str:
    """models/tpd1/student -> tpd1, models/cb_teacher -> cb_teacher, data/scores/ce.tsv -> ce.tsv (scores)."""
    if folder.startswith("data/scores/"):
        return f"{Path(folder).name} (scores)"
    return folder.removeprefix("models/").removesuffix("/student")


def describe(params: Params, folder: str, root: str | Path = ".") -> tuple[str, str]:
    """(how the model in ``folder`` was made, its teacher): the stage that writes the folder (lead.pipeline), its
    params, and a sweep's choice from the folder."""
    made = producer(as_dict(params), folder)
    if made is None:
        return "", "-"
    family, name, rest = made
    if family.stage == "sweep":
        sweep = params.sweep[name]
        how, teacher = describe(params, sweep.model_in(sweep.run).as_posix(), root)
        chosen = _read(Path(root) / folder / SWEEP_PROVENANCE)
        if chosen:
            return (f"{how}; step {chosen['selected_step']} of {chosen['final_step']}, best {sweep.split} "
                    f"{sweep.metric} of {len(chosen['evaluated'])} checkpoints"), teacher
        return f"{how}; the checkpoint best on {sweep.split} {sweep.metric}", teacher
    if family.stage == "distill":
        if Path(rest).name == "teacher":
            return f"teacher trained jointly in {name}", "-"
        config, _ = params.distill_run(name)
        method = f"{params.run_defaults(name)} run: {describe_terms(config)}"
        return method, _short(config.teacher) if "teacher" in reads(distill_terms(config)) else "-"
    if family.stage == "warmup":
        run = params.warmup[name]
        if "mined" in run.train_file or "flash" in run.train_file:
            negatives = "mined negatives"
        elif run.train_file == f"{PREPARED}/train.jsonl" and params.data.train_negatives:
            negatives = f"the first {params.data.train_negatives_per_query} official negatives per query"
        else:
            negatives = "random negatives"
        start = "" if run.init.startswith("models/init/") else f", continued from {_short(run.init)}"
        deep = f", deep supervision x {run.layer_weight:g}" if run.layer_weight > 0 else ""
        return f"warm-up ({negatives}{deep}{start})", "-"
    if family.stage == "init":
        return "pretrained, not trained", "-"
    if family.stage == "fuse":
        fusing = params.fuse[name]
        return f"{_short(fusing.reranker)} interpolated with its first stage {_short(fusing.first_stage)}", "-"
    return "", "-"


def _model_shape(folder: str) -> tuple[str, str]:
    """(kind, layers) read from the saved model folder; "?" where it is not trained yet."""
    try:
        kind = read_scorer_config(folder).kind
    except (OSError, ValueError):  # ModelLoadError and ConfigError are ValueErrors: a model not trained yet
        return "?", "?"
    if kind == "fused":  # two models, no layers of its own
        return kind, "-"
    depth = saved_depth(folder)
    return kind, "?" if depth is None else str(depth)


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def trained_on(folder: Path) -> str:
    """The training record of the run that wrote ``folder`` (itself, or a distill run's folder above its
    student) in a few words: processes x device, precision, queries per optimiser step, candidates per query."""
    record = _read(folder / TRAINING_RECORD) or _read(folder.parent / TRAINING_RECORD)
    if not record:
        return "-"
    gathered = ", gathered" if record["gathered_across_processes"] else ""
    return (f"{record['processes']}x {record['device']} {record['precision']}, {record['global_batch_queries']} q/step, "
            f"{record['candidates_per_query']} {record['candidates'].replace('_', '-')} cand./q{gathered}")


def report(params: Params, params_text: str | None = None, root: str | Path = ".") -> str:
    """The Markdown report for every evaluated model of ``params`` (stage outputs read under ``root``)."""
    root, split = Path(root), params.eval.split
    evaluated = {row.name: _read(root / row.metrics).get(split, {}) for row in _evaluated(params)}
    by_answers = any("Accuracy@1" in m for m in evaluated.values())
    columns = ANSWER_COLUMNS if by_answers else COLUMNS
    header = ["model", "how it was made", "teacher", "kind", "layers", *columns, "parameters (M)", "encode passages/s", "trained on"]
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
    for row in _evaluated(params):
        metrics = evaluated[row.name]
        timing = _read(root / row.timing) if row.timing else {}
        how, teacher = describe(params, row.folder, root)
        kind, layers = _model_shape(str(root / row.folder))
        values = [f"{metrics[c]:.4f}" if c in metrics else "-" for c in columns]
        size = f"{timing['parameters'] / 1e6:.1f}" if "parameters" in timing else "-"
        speed = f"{timing['passages_per_s']:.0f}" if "passages_per_s" in timing else "-"
        lines.append("| " + " | ".join([row.label, how, teacher, kind, layers, *values, size, speed, trained_on(root / row.folder)]) + " |")
    lines += ["", "MRR@10 and NDCG@10 at cut-off 10 (NDCG on graded labels), Recall@k = standard recall,",
              "MAP@1000; all by pytrec_eval. Re-ranking rows have no encoding figure (they score pairs). Trained on:",
              "processes x device and precision, queries per optimiser step, in-batch or own candidates per query,",
              "gathered across processes or not (models/<run>/training.json)."] if not by_answers else [
              "", "Accuracy@k: share of questions with a passage holding an answer string in the top k (DPR's top-k",
              "accuracy, lead/data/answers.py). Re-ranking rows have no encoding figure (they score pairs)."]
    if params_text is not None:
        lines += ["", "## The params that produced it", "", "```yaml", params_text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def params_summary(path: str | Path) -> str:
    """The params sections a reader needs to reproduce the table (everything but eval's model lists)."""
    raw = load_yaml(Path(path).read_text()) or {}
    raw.get("eval", {}).pop("dense", None)
    raw.get("eval", {}).pop("rerank", None)
    return yaml.safe_dump(raw, sort_keys=False, width=110)


class Row(NamedTuple):
    """One evaluated model: its name in metrics, its folder, the report's label and the paths its stage wrote."""

    name: str
    folder: str
    label: str
    run: str
    metrics: str
    timing: str | None


def _evaluated(params: Params) -> list[Row]:
    """Every evaluated model (evaluate@, then rerank@), in report order, with its stage's output paths."""
    raw, first = as_dict(params), params.eval.first_stage
    dense, rerank = family("evaluate"), family("rerank")
    rows = [Row(name, folder, name, dense.path("run", name, raw), dense.path("metrics", name, raw), dense.path("timing", name, raw))
            for name, folder in params.eval.dense.items()]
    return rows + [Row(f"{name}.rerank", folder, f"{name} re-ranking {first}'s top {params.eval.rerank_depth}",
                       rerank.path("run", name, raw), rerank.path("metrics", name, raw), None)
                   for name, folder in params.eval.rerank.items()]


def write_plot_data(params: Params, root: str | Path = ".", data: str | Path | None = None,
                    out: str | Path | None = None) -> None:
    """What ``dvc plots show`` draws from the evaluations: ``summary.csv`` (model, NDCG@10, MRR@10, for the
    per-method bars) and ``recall/<model>.csv`` (k, recall: Recall@k for k in CURVE_DEPTHS, from each
    model's run file and the qrels, by pytrec_eval); under ``out`` (the report stage's plots folder)."""
    root, split = Path(root), params.eval.split
    out = Path(out) if out is not None else root / family("report").path("plots")
    prepared = PreparedData(data if data is not None else root / PREPARED)
    if prepared.answers(split) is not None:  # judged by answer match: no qrels, so no NDCG bars or recall curves
        log.warning("the %s split is judged by answer strings: no plot data written (the plots read NDCG and recall)", split)
        return
    qrels = prepared.qrels(split)
    with atomic_open(out / "summary.csv") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "NDCG@10", "MRR@10"])
        for row in _evaluated(params):
            metrics = _read(root / row.metrics).get(split)
            if metrics:
                writer.writerow([row.name, f"{metrics['NDCG@10']:.4f}", f"{metrics['MRR@10']:.4f}"])
    for row in _evaluated(params):
        if not (root / row.run).is_file():
            continue
        recall = evaluate_run(qrels, read_trec_run(root / row.run), prepared.threshold(split), CURVE_DEPTHS, (1,))
        with atomic_open(out / "recall" / f"{row.name}.csv") as handle:
            writer = csv.writer(handle)
            writer.writerow(["k", "recall"])
            writer.writerows([k, f"{recall[f'Recall@{k}']:.4f}"] for k in CURVE_DEPTHS)
