"""KD from a teacher score file against KD from the live teacher: the same student, and the time saved per run.

    python -m benchmarks.score_file --project /path/to/a/reproduced/checkout --run ce_only

Reads a checkout where `dvc repro` has run (its params.yaml, prepared data, models and training files; nothing
is written there). For the distillation run ``--run`` (default ``ce_only``: PROD's single-teacher KD from the
fused teacher, the ladder's length, each query's own candidates), in a temporary folder:

1. the teacher scores every candidate of the run's training file once (``score@`` stage's code), timed;
2. the run trains twice from the same student and seed: with the live teacher, and with the score file, timed;
3. both students retrieve the test split (exact search); NDCG@10 and MRR@10 side by side, the per-query
   difference with a paired sign-flip test, and the largest weight difference.

The break-even is the number of runs over the same file (PROD's ce_only, tpd3, the ablations' re-runs) from which
scoring once costs less than running the teacher in every run.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from benchmarks.paired import shown_p, sign_flip_p
from lead.config import load_params
from lead.data.examples import PassageStore, read_training_file
from lead.data.prepared import PreparedData
from lead.data.teacher_scores import read_teacher_scores
from lead.evaluation.dense import evaluate_scorer
from lead.evaluation.metrics import evaluate_per_query
from lead.models.factory import load_scorer
from lead.retrieval.scoring import join_shards, prepare_work, score_shards
from lead.training.loop import Trainer
from lead.training.runs import build_distill_run


def train(project: Path, params, name: str, teacher, out: Path) -> tuple[float, Path]:
    """Run ``name`` of the checkout at ``project`` (the stage's own wiring) with ``teacher``; its time and student."""
    built = build_distill_run(params, name, root=project, teacher=teacher)
    started = time.perf_counter()
    Trainer(built.method, built.sampler, built.train, out / "model", out / "checkpoints", out / "logs",
            subfolders=True).train()
    return time.perf_counter() - started, out / "model" / "student"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--run", default="ce_only")
    parser.add_argument("--batch-size", type=int, default=64, help="pairs per teacher forward when scoring the file")
    args = parser.parse_args(argv)
    project = args.project.resolve()
    params = load_params(project / "params.yaml")
    config, _ = params.distill_run(args.run)
    store = PassageStore(project / "data/prepared/collection.tsv")
    examples = list(read_training_file(project / config.train_file, store))
    teacher = load_scorer(project / config.teacher)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        prepare_work(work / "shards", "benchmark")
        score_shards(teacher, examples, store, work / "shards", batch_size=args.batch_size)
        pairs = join_shards(work / "shards", len(examples), 10_000, work / "scores.tsv")
        score_s = time.perf_counter() - started
        live_s, live_model = train(project, params, args.run, teacher, work / "live")
        started = time.perf_counter()
        table = read_teacher_scores(work / "scores.tsv", store, {e.qid: e.query for e in examples})
        read_s = time.perf_counter() - started
        file_s, file_model = train(project, params, args.run, table, work / "file")
        weights = [load_file(str(folder / "encoder" / "model.safetensors")) for folder in (live_model, file_model)]
        largest = max((weights[0][k] - weights[1][k]).abs().max().item() for k in weights[0])
        data = PreparedData(project / "data/prepared")
        split = params.eval.split
        qrels, threshold = data.qrels(split), data.threshold(split)
        results = {label: evaluate_scorer(load_scorer(folder), data, split, params.eval)
                   for label, folder in (("live teacher", live_model), ("score file", file_model))}
    per_query = {label: evaluate_per_query(qrels, result.run, threshold) for label, result in results.items()}
    device = f"{platform.processor() or 'cpu'} x {torch.get_num_threads()} threads"
    print(f"run {args.run} of {project}: {config.teacher} teacher, {len(examples)} training queries; {device}\n")
    print(f"scoring the training file once: {pairs} pairs in {score_s:.1f} s ({pairs / score_s:.0f} pairs/s); "
          f"reading the table: {read_s:.2f} s\n")
    print("| teacher | training s | NDCG@10 | MRR@10 |")
    print("|---|---|---|---|")
    for (label, result), seconds in zip(results.items(), (live_s, file_s)):
        print(f"| {label} | {seconds:.1f} | {result.metrics['NDCG@10']:.4f} | {result.metrics['MRR@10']:.4f} |")
    for metric in ("NDCG@10", "MRR@10"):
        live, file = per_query["live teacher"], per_query["score file"]
        differences = np.array([file[q][metric] - live[q][metric] for q in live])
        print(f"\n{metric} score file - live: {differences.mean():+.4f} over {len(differences)} queries "
              f"({int((differences != 0).sum())} differ), sign-flip p {shown_p(sign_flip_p(differences))}")
    saved = live_s - file_s
    print(f"\nlargest weight difference between the two students: {largest:.2e}")
    print(f"time saved per run: {saved:.1f} s ({saved / live_s:.0%} of the live run); scoring once pays off from "
          f"{score_s / saved:.1f} runs" if saved > 0 else "no time saved per run")


if __name__ == "__main__":
    main()
