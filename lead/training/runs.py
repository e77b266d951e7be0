"""A distillation run of params (``distill_runs.<name>``) built from its files, ready to train: what the
distill@<name> stage trains, and what a benchmark re-trains from another checkout or with another teacher.

Paths in params are relative to the project's root (where ``dvc repro`` runs); ``root`` prefixes them, so the
same run can be built from a checkout other than the working directory.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

from lead.config import DistillConfig, Params, TrainConfig
from lead.data.examples import (
    BatchSampler,
    PassageStore,
    QueryExample,
    queries_per_rank_for_passes,
    read_training_file,
)
from lead.data.teacher_scores import TeacherScores, is_score_file, read_teacher_scores
from lead.models.base import Scorer
from lead.models.factory import load_scorer
from lead.pipeline import COLLECTION
from lead.seeding import seed_everything
from lead.training.distill import Distill
from lead.training.layers import check_run_layers

log = logging.getLogger("lead.training.runs")


@dataclass
class DistillRun:
    """Run ``name``'s parts: its configs (steps resolved for an epoch-based run), data, models and method."""

    name: str
    section: str  # the defaults the run starts from: distill (LEAD's) or prod (PROD's)
    config: DistillConfig
    train: TrainConfig
    store: PassageStore
    examples: list[QueryExample]
    student: Scorer
    teacher: Scorer | TeacherScores
    method: Distill
    sampler: BatchSampler

    def describe(self) -> str:
        """One log line: who teaches whom, on what, for how long."""
        config, teacher = self.config, self.teacher
        if self.method.score_file:
            what = f"{len(teacher)} scored pairs"
        else:
            what = "re-ranker + first stage" if teacher.kind == "fused" else f"{teacher.num_layers} layers"
        return (f"{self.section} {self.name}: {config.student} student ({self.student.num_layers} layers) from "
                f"{'trained' if config.teacher_trainable else 'frozen'} {teacher.kind} teacher ({what}, {config.teacher}), "
                f"{'own' if self.method.own else 'in-batch'} candidates, {self.train.steps} steps on "
                f"{len(self.examples)} queries")


def epoch_steps(name: str, train: TrainConfig, epochs: float, queries: int, world_size: int) -> TrainConfig:
    """``train`` with the steps that make ``epochs`` passes over ``queries``; a file smaller than one step takes
    the whole file each micro-batch (a data loader's partial batch) rather than stopping."""
    per_rank = queries_per_rank_for_passes(queries, train.batch_queries, world_size, train.grad_accum)
    if per_rank != train.batch_queries:
        log.warning("%s: %d training queries, fewer than a step of %d x %d processes x %d micro-batches: each "
                    "micro-batch takes %d per process", name, queries, train.batch_queries, world_size,
                    train.grad_accum, per_rank)
        train = replace(train, batch_queries=per_rank)
    per_step = train.batch_queries * world_size * train.grad_accum
    return replace(train, steps=max(1, math.ceil(epochs * queries / per_step)))


def build_distill_run(params: Params, name: str, root: str | Path = ".", world_size: int = 1,
                      teacher: Scorer | TeacherScores | None = None) -> DistillRun:
    """Run ``name`` of ``params``, its files read under ``root``; ``teacher`` replaces the one params names (a
    benchmark's score table or live model). Seeds everything with the run's seed before any model is loaded."""
    root = Path(root)
    config, train = params.distill_run(name)
    check_run_layers(params, name)  # before any model is loaded
    seed_everything(train.seed)
    store = PassageStore(root / COLLECTION)
    examples = list(read_training_file(root / config.train_file, store))
    student = load_scorer(root / config.student)
    if teacher is None and is_score_file(config.teacher):  # scored once (score@<name> or your own file)
        teacher = read_teacher_scores(root / config.teacher, store, {e.qid: e.query for e in examples})
    elif teacher is None:
        teacher = load_scorer(root / config.teacher)
    method = Distill(student, teacher, config, train.candidates, seed=train.seed, key=f"distill_runs.{name}")
    if config.epochs is not None:  # passes over the file: one step takes batch_queries x world x grad_accum queries
        train = epoch_steps(name, train, config.epochs, len(examples), world_size)
    sampler = BatchSampler(examples, store, train.batch_queries, train.negatives, train.negative_sampling, train.seed,
                           world_size, train.mask_accidental_positives)
    return DistillRun(name, params.run_defaults(name), config, train, store, examples, student, teacher, method,
                      sampler)
