"""Params of the training stages: ``train`` (defaults of every run), ``warmup.<name>``, ``distill`` (LEAD's
defaults) and ``prod`` (PROD's), each run's overrides merged over them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class TrainConfig:
    steps: int = 200
    batch_queries: int = 8  # queries per device and micro-batch
    negatives: int = 3  # hard negatives per query
    negative_sampling: Literal["random", "descend"] = "random"
    candidates: Literal["in_batch", "own"] = "in_batch"
    lr: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 2.0
    grad_accum: int = 1
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on GPU, fp32 on CPU
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    log_every: int = 5
    seed: int = 13
    # In-batch candidates: a passage judged relevant to a query is never one of its negatives, whichever query
    # of the batch brought it (masked out of the student's and the teacher's score rows alike).
    mask_accidental_positives: bool = True
    snapshot_every: int = 0  # keep the models every N steps in <out>/snapshots for a checkpoint sweep (0: none)
    snapshot_models: list[str] = field(default_factory=list)  # which trainables (student, teacher); []: all
    # Speed (results do not depend on these, except compile's and bf16's rounding):
    loader_workers: int = 0  # processes that build and tokenize the coming batches (0: in the training process)
    compile: bool = False  # torch.compile each transformer (dynamic shapes); pays off on long GPU runs
    gradient_checkpointing: bool = False  # recompute activations in the backward: less memory, ~30% more time
    # Every scorer encodes a batch's texts (DE and ColBERT: queries and passages; cross-encoder: pairs) in this
    # many length-sorted chunks, each padded to its own longest text (1: the whole batch padded to its longest).
    # Same arithmetic and in-batch negatives, but dropout masks are drawn per chunk, so a run differs as with
    # another seed (hence part of the fingerprint).
    length_buckets: int = 1
    # Gradient cache (lead/training/grad_cache.py) for a dual-encoder student: the step's whole candidate set
    # encoded N queries (and their groups) at a time, so a large in-batch set fits one GPU; the gradients are the
    # uncached step's, but dropout masks are drawn per chunk (part of the fingerprint, as length_buckets). 0: off.
    grad_cache_queries: int = 0

    def result_fields(self) -> dict[str, Any]:
        """The keys a trained model depends on: a checkpoint resumes whatever the others are now (the speed
        keys, and snapshot_every, which only adds files; snapshots from before such a change keep its old
        steps, and a sweep names any step it asks for that the run did not keep)."""
        not_results = ("loader_workers", "compile", "gradient_checkpointing", "snapshot_every", "snapshot_models")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in not_results}

    def __post_init__(self):
        for name in ("loader_workers", "snapshot_every", "grad_cache_queries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("steps", "batch_queries", "negatives", "grad_accum", "checkpoint_every", "keep_checkpoints",
                     "log_every", "length_buckets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class WarmupConfig:
    """One warm-up run: its starting model folder, its training file and train overrides."""

    init: str  # models/init/<key of models>, or a trained model's folder to continue from (PROD's S3)
    train_file: str  # dvc.yaml reads it per run to order the stages: no default
    train: dict[str, Any] = field(default_factory=dict)  # keys of the train: section, overriding it
    layer_weight: float = 0.0  # deep supervision: + weight x mean NLL of blocks 1..L-1 (0 = the final score only)

    def __post_init__(self):
        if self.layer_weight < 0:
            raise ValueError(f"layer_weight must be >= 0, got {self.layer_weight}")


@dataclass
class DistillConfig:
    """One distillation run: a student distilled from a teacher. The defaults reproduce LEAD (spec A.6).

    ``distill_runs.<name>`` names the run's defaults section, its student, teacher and training file, and
    overrides any other key (a baseline is such an override, e.g. layer_weight: 0). ``distill`` holds LEAD's
    defaults; ``prod`` PROD's (spec B.7-B.9): a frozen teacher, kd: softmax, T = 4, weights 0.1 / 0.9, no
    layer term, LwF. A PROD step is a run with ``defaults: prod``.
    """

    student: str = ""  # model folder (a warm-up output), set per run
    teacher: str = ""
    train_file: str = ""  # the training file (JSON lines), set per run
    layers: int | Literal["all"] = 2  # k: number of distilled layer pairs
    selection: Literal["random", "random_last", "last", "skip", "fixed"] = "random"
    student_layers: list[int] = field(default_factory=list)  # selection: fixed (blocks 1..L)
    teacher_layers: list[int] = field(default_factory=list)
    resample_every: int = 10  # steps between random layer draws (independent of checkpointing)
    temperature: float = 1.0  # tau, on the target side of every KL
    layer_temperature: float = 10.0  # tau_L of the layer re-weighting
    reweight: bool = True  # lambda = softmax(-NLL_teacher_layer / tau_L); false: uniform 1/k
    student_weight: float = 1.0  # student contrastive NLL
    teacher_weight: float = 1.0  # teacher contrastive NLL (joint training only)
    response_weight: float = 1.0  # final-score KL (both directions when the teacher is trained)
    layer_weight: float = 1.0  # layer-wise KL; 0 = response-only KD (no per-layer scores computed)
    virt_weight: float = 0.0  # VIRT's token-interaction map term (baseline; needs one tokenizer, DE/ColBERT teacher)
    teacher_trainable: bool = True  # LEAD trains the teacher jointly; false = frozen (eval mode, no grad)
    teacher_lr: float | None = None  # the jointly trained teacher's peak LR; null = train.lr (the reference)
    detach_teacher_targets: bool = False  # stop gradients through the teacher's target distributions
    # ColBERT teacher: L2-normalise its per-layer token vectors (null: the teacher model's own setting). The
    # reference does not, and raw hidden-state MaxSim makes every layer's distribution one-hot (BENCHMARKS.md).
    normalize_teacher_layers: bool | None = None
    kd: Literal["lead", "softmax", "logit", "dkd", "prob"] = "lead"  # response term: LEAD's KL, or PROD's KD variants
    dkd_alpha: float = 1.0  # kd: dkd, weight of the target-class term (TCKD)
    dkd_beta: float = 8.0  # kd: dkd, weight of the non-target term (NCKD)
    lwf_weight: float = 0.0  # PROD's LwF: KD to a frozen copy of the student as it entered the run
    epochs: float | None = None  # passes over train_file; sets the run's steps from the file's size (a file smaller than
    # a global batch: each step takes all of it, split evenly over the processes)
    train: dict[str, Any] = field(default_factory=dict)  # overrides of the train: section

    def __post_init__(self):
        for name in ("temperature", "layer_temperature"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("student_weight", "teacher_weight", "response_weight", "layer_weight", "virt_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 leaves the term out), got {getattr(self, name)}")
        teacher_terms = self.response_weight + self.layer_weight + self.virt_weight  # terms that read the teacher
        if self.student_weight + teacher_terms + self.lwf_weight == 0:
            raise ValueError("every student term has weight 0 (student_weight, response_weight, layer_weight, "
                             "virt_weight, lwf_weight): nothing would train the student")
        if self.teacher_trainable and teacher_terms + self.teacher_weight == 0:
            raise ValueError("teacher_trainable is true but no term reads the teacher (teacher_weight, response_weight, "
                             "layer_weight, virt_weight are 0): set teacher_trainable: false")
        if self.resample_every < 1:
            raise ValueError(f"resample_every must be >= 1, got {self.resample_every}")
        for name in ("lwf_weight", "dkd_alpha", "dkd_beta"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"epochs must be > 0 (or null for train.steps), got {self.epochs}")


@dataclass
class ProdDefaults(DistillConfig):
    """The ``prod`` section: DistillConfig's keys with PROD's values as their defaults (spec B.7-B.8), so a PROD
    step gets KD_softmax at T = 4, weights 0.1 / 0.9, LwF 1.0, a frozen teacher and no layer term unless the
    section or the run says otherwise."""

    kd: Literal["lead", "softmax", "logit", "dkd", "prob"] = "softmax"
    temperature: float = 4.0
    student_weight: float = 0.1
    response_weight: float = 0.9
    layer_weight: float = 0.0
    teacher_trainable: bool = False
    lwf_weight: float = 1.0
