"""Checkpoint sweep: score a training run's snapshots on a dev split and keep the best one for the test split.

Both papers pick their reported checkpoint this way. A run trained with ``train.snapshot_every: N`` holds its
models at steps N, 2N, ... in ``<run>/snapshots/step-<step>/`` (lead.pipeline, written by lead/training/loop.py) and its final model in
``<run>`` itself, the sweep's last point. ``sweep_steps`` picks the steps ``first, first + every, ... <= last``
(and ``last``), ``run_sweep`` evaluates each by full retrieval on the sweep's split, logs the curve with
DVCLive (x = training step) and copies the best snapshot, with ``sweep.json`` saying where it came from, to a
model folder that ``evaluate@`` then scores on the test split like any other model.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from lead.config import EvalConfig, SweepConfig
from lead.data.prepared import PreparedData
from lead.errors import UserError
from lead.evaluation.dense import evaluate_scorer
from lead.io import atomic_dir, step_folders, write_json
from lead.models.factory import inference_device, load_scorer, read_scorer_config
from lead.pipeline import SNAPSHOT_RUN, SNAPSHOTS, SWEEP_PROVENANCE

log = logging.getLogger(__name__)




class SweepError(UserError, ValueError):
    """A sweep that cannot run: no snapshots, or steps asked for that the run did not keep."""


def available_steps(run: str | Path) -> tuple[dict[int, Path], int]:
    """{step: snapshot run folder} of a finished run, including its final step (the run folder itself)."""
    run = Path(run)
    info = run / SNAPSHOTS / SNAPSHOT_RUN
    if not info.is_file():
        raise SweepError(f"{run}: no snapshots (no {SNAPSHOTS}/{SNAPSHOT_RUN}); train the run with train.snapshot_every > 0")
    final = json.loads(info.read_text())["final_step"]
    return {**dict(step_folders(run / SNAPSHOTS)), final: run}, final


def sweep_steps(config: SweepConfig, available: dict[int, Path], final: int) -> list[int]:
    """The steps the sweep evaluates; a step the run did not keep is an error naming the keys to change."""
    last = final if config.last is None else config.last
    if last > final:
        raise SweepError(f"last={last} is beyond the run's {final} steps")
    wanted = sorted(set(range(config.first, last + 1, config.every)) | {last})
    missing = [step for step in wanted if step not in available]
    if missing:
        kept = ", ".join(map(str, sorted(available)))
        raise SweepError(f"steps {missing} were not kept by the run (it has {kept}): make first and every "
                         "multiples of the run's train.snapshot_every, or change them")
    return wanted


def run_sweep(name: str, config: SweepConfig, data: PreparedData, eval_config: EvalConfig,
              out: str | Path, logs: str | Path) -> dict:
    """Evaluate the chosen snapshots on ``config.split``, log the curve to ``logs`` (DVCLive), copy the best
    to ``out``; return its provenance (also written to ``out/sweep.json``)."""
    from dvclive import Live

    if config.split == eval_config.split:
        raise SweepError(f"sweep.{name}.split is {config.split}, the split eval.split reports: choose on another split")
    available, final = available_steps(config.run)
    steps = sweep_steps(config, available, final)
    if read_scorer_config(config.model_in(available[final])).kind == "ce":
        raise SweepError(f"sweep.{name}: {config.run} holds a cross-encoder, which cannot retrieve from the collection; "
                         "a sweep scores dual encoders and ColBERT models by full retrieval")
    by_answers = data.answers(config.split) is not None
    if by_answers != config.metric.startswith("Accuracy@"):
        raise SweepError(f"sweep.{name}.metric: the {config.split} split is judged by "
                         f"{'answer strings: use Accuracy@k' if by_answers else 'qrels: use e.g. NDCG@10'}, "
                         f"not {config.metric}")
    shutil.rmtree(logs, ignore_errors=True)  # a fresh curve: the sweep is cheap next to training
    scores: dict[int, dict[str, float]] = {}
    with Live(dir=str(logs), dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for step in tqdm(steps, desc=f"sweep {name}"):
            metrics = evaluate_scorer(load_scorer(config.model_in(available[step]), inference_device()), data, config.split, eval_config).metrics
            if config.metric not in metrics:
                raise SweepError(f"sweep.{name}.metric: {config.metric!r} is not measured (have: {', '.join(metrics)})")
            scores[step] = metrics
            live.step = step
            for metric, value in metrics.items():
                if metric != "n_queries":
                    live.log_metric(f"{config.split}/{metric}", value)
            log.info("%s step %d: %s %s %.4f", name, step, config.split, config.metric, metrics[config.metric])
        best = max(steps, key=lambda step: (scores[step][config.metric], -step))  # ties: the earlier step
        live.step = best  # metrics.json holds the chosen step and its scores, not the last step's
        live.summary = {"selected_step": best, "final_step": final, config.split: scores[best]}
    source = config.model_in(available[best])
    provenance = {"sweep": name, **asdict(config), "selected_step": best, "final_step": final,
                  "value": scores[best][config.metric], "evaluated": {str(s): scores[s][config.metric] for s in steps}}
    with atomic_dir(out) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(SNAPSHOTS))
        write_json(tmp / SWEEP_PROVENANCE, provenance)
    log.info("%s: step %d of %d is best on %s (%s %.4f) -> %s", name, best, final, config.split, config.metric,
             scores[best][config.metric], out)
    return provenance
