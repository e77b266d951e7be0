"""Params of the stages that run trained models: ``mine`` / ``flash``, ``divide.<name>``, ``sweep.<name>`` and
``eval`` (evaluate@ and rerank@)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass
class MineConfig:
    model: str = "miner"  # a warm-up run whose dual encoder mines
    depth: int = 200  # retrieve this many
    keep: int = 100  # keep the top non-positives, in rank order
    skip: int = 0  # first drop this many top non-positives: the likeliest unjudged relevant ones (false negatives)

    def __post_init__(self):
        if not 1 <= self.keep <= self.depth:
            raise ValueError(f"mine.keep must be between 1 and mine.depth ({self.depth}), got {self.keep}")
        if not 0 <= self.skip <= self.depth - self.keep:
            raise ValueError(f"mine.skip must be between 0 and mine.depth - mine.keep ({self.depth - self.keep}), got {self.skip}")


@dataclass
class DivideConfig:
    """PROD's data division (spec B.9; lead/retrieval/division.py): the student's top ``depth`` training
    retrieval re-ranked by the teacher; the kept queries get the student's top ``keep`` non-positives."""

    student: str = ""  # model folders
    teacher: str = ""
    depth: int = 200  # PROD: 200
    keep: int = 100
    rule: Literal["marco", "nq"] = "marco"
    student_min: int = 1  # marco: keep iff student_min <= r_S <= student_max and r_T <= teacher_max (0-based)
    student_max: int = 14
    teacher_max: int | None = None  # marco: r_T <= teacher_max (PROD: 0); nq: r_T < r_S and r_T <= it (PROD: 14);
    # null: PROD's value for the rule

    def __post_init__(self):
        if self.teacher_max is None:
            self.teacher_max = 0 if self.rule == "marco" else 14
        if not 1 <= self.keep <= self.depth:
            raise ValueError(f"keep must be between 1 and depth ({self.depth}), got {self.keep}")
        if self.student_max >= self.depth:
            raise ValueError(f"student_max ({self.student_max}) must be below depth ({self.depth}): ranks are 0-based")
        if not 0 <= self.student_min <= self.student_max or self.teacher_max < 0:
            raise ValueError(f"ranks must satisfy 0 <= student_min ({self.student_min}) <= student_max "
                             f"({self.student_max}) and teacher_max ({self.teacher_max}) >= 0")


@dataclass
class ScoreConfig:
    """score@<name> (lead/retrieval/scoring.py): a teacher's scores of a training file's candidates, written to
    data/scores/<name>.tsv for distillation runs that name it as their teacher."""

    model: str = ""  # the teacher's model folder
    train_file: str = ""  # the training file whose candidates it scores (data/mined/train.jsonl, a flash@ output)
    negatives: int | None = None  # the first N negatives of each query (null: all of them)
    shard_queries: int = 10_000  # queries per resumable shard
    batch_size: int = 64  # query-passage pairs per forward

    def __post_init__(self):
        if self.negatives is not None and self.negatives < 0:
            raise ValueError(f"negatives must be >= 0 or null (all), got {self.negatives}")
        if self.shard_queries < 1 or self.batch_size < 1:
            raise ValueError(f"shard_queries and batch_size must be >= 1, got {self.shard_queries}, {self.batch_size}")


@dataclass
class FuseConfig:
    """fuse@<name> (lead/models/fused.py): a trained re-ranker interpolated with its first stage, written to
    models/<name>; the first stage's weight is the ratio of the two models' score spreads within a query,
    measured on a training file's candidates (no judgments read)."""

    reranker: str = ""  # the re-ranker's model folder (a cross-encoder)
    first_stage: str = ""  # the retriever whose candidates it re-ranks (the student)
    train_file: str = ""  # the training file whose candidates the spreads are measured on
    negatives: int = 3  # the first N negatives of each query, with its positives
    queries: int | None = 100  # the first N training queries (null: all)

    def __post_init__(self):
        if self.negatives < 1:
            raise ValueError(f"negatives must be >= 1 (a spread needs two candidates), got {self.negatives}")
        if self.queries is not None and self.queries < 1:
            raise ValueError(f"queries must be >= 1 or null (all), got {self.queries}")


@dataclass
class EvalConfig:
    split: Literal["train", "dev", "test"] = "test"
    depth: int = 1000
    batch_size: int = 64
    recall_depths: list[int] = field(default_factory=lambda: [50, 100, 1000])
    hit_depths: list[int] = field(default_factory=lambda: [1, 5, 20, 50, 100, 1000])
    use_gpu: bool | None = None  # search on the GPU (faiss-gpu, else torch for Flat); null = when available
    index: str = "Flat"  # faiss index-factory string, inner product: Flat (exact), HNSW32, IVF4096,Flat, IVF4096,PQ64
    nprobe: int = 32  # inverted lists searched by an IVF index
    # Corpus embeddings: null = in memory (float32); a folder = float16 shards on disk, memory-mapped and
    # resumable per shard (lead.retrieval.shards), removed once the search is done. For corpora beyond RAM.
    embeddings_dir: str | None = None
    shard_size: int = 100_000
    first_stage: str = "miner"  # whose run the re-rankers re-rank (a key of eval.dense)
    rerank_depth: int = 50
    dense: dict[str, str] = field(default_factory=dict)  # name -> model folder, evaluated by full retrieval
    rerank: dict[str, str] = field(default_factory=dict)  # name -> model folder, re-ranking first_stage's run

    def __post_init__(self):
        for name in ("recall_depths", "hit_depths"):
            depths = getattr(self, name)
            if any(k < 1 for k in depths) or len(set(depths)) != len(depths):
                raise ValueError(f"{name} must be distinct depths >= 1, got {depths}")
        for name in ("depth", "batch_size", "nprobe", "shard_size", "rerank_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class SweepConfig:
    """sweep@<name>: which run's snapshots, which of them, and how the best is chosen."""

    run: str  # a training stage's output folder, trained with train.snapshot_every (models/lead_cb)
    model: str | None = None  # the model of the run (student, teacher); null for a one-model run (a warm-up)
    first: int = 1  # the first step evaluated
    every: int = 1  # steps between evaluated snapshots (a multiple of the run's train.snapshot_every)
    last: int | None = None  # the last step evaluated; null: the end of training (the run's final model)
    split: Literal["train", "dev", "test"] = "dev"  # never eval.split: the test split only sees the chosen model
    metric: str = "NDCG@10"  # the metric (a key of metrics.json) whose highest value wins; ties: the earlier step

    def model_in(self, run_folder: str | Path) -> Path:
        """The swept model's folder inside a folder laid out like the run (the run, or one of its snapshots)."""
        return Path(run_folder) / self.model if self.model else Path(run_folder)

    def __post_init__(self):
        if self.first < 1 or self.every < 1:
            raise ValueError(f"first and every must be >= 1, got first={self.first}, every={self.every}")
        if self.last is not None and self.last < self.first:
            raise ValueError(f"last ({self.last}) must be >= first ({self.first})")
