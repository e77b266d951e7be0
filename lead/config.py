"""Typed params: ``params.yaml`` is read into dataclasses, and a wrong key fails with its dotted name.

Every section is a dataclass; ``parse(cls, mapping, key)`` checks each value against the field's type hint
(int, float, str, bool, Literal, Optional, list, dict and nested dataclasses) and rejects unknown keys with a
"did you mean" hint, so ``dvc exp run -S distill.layres=2`` cannot silently do nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lead.data.synthetic import SyntheticConfig
from lead.errors import ConfigError
from lead.models.base import ScorerConfig

T = typing.TypeVar("T")


def parse(cls: type[T], data: Any, key: str = "", source: str = "params.yaml") -> T:
    """Build dataclass ``cls`` from ``data``; ``key`` is the dotted path used in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(key or "<root>", f"expected a mapping, got {type(data).__name__} {data!r}", source)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in data:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(fields)})"
            raise ConfigError(_join(key, name), "unknown key" + hint, source)
    missing = [name for name, f in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(_join(key, missing[0]), "missing: this key has no default", source)
    values = {name: _convert(hints[name], data[name], _join(key, name), source) for name in fields if name in data}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(key or "<root>", str(exc), source) from exc


def _join(key: str, name: Any) -> str:
    return f"{key}.{name}" if key else str(name)


def _convert(hint: Any, value: Any, key: str, source: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key, source)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, key, source)
            except ConfigError as exc:
                errors.append(str(exc).split(": ", 2)[-1])
        raise ConfigError(key, " or ".join(errors), source)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"{value!r} is not one of {', '.join(map(repr, args))}", source)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}", source)
        return [_convert(args[0], v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {value!r}", source)
        return {k: _convert(args[1], v, _join(key, k), source) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise ConfigError(key, f"expected {hint.__name__}, got {value!r}", source)
        return value
    raise ConfigError(key, f"unsupported type {hint}", source)  # a programming error in a config class


# -- sections -------------------------------------------------------------------------------------------


@dataclass
class SplitFiles:
    """One split of a real collection: its queries file and its qrels file (paths inside ``data.path``)."""

    queries: str
    qrels: str


@dataclass
class DataConfig:
    """Where the prepared benchmark comes from.

    ``synthetic``: the embedded generator. ``beir``: a BEIR folder (splits name ``qrels/<split>.tsv``).
    ``msmarco``: MS MARCO-layout files (``collection`` plus queries and qrels per split), also used for
    TREC DL test queries with graded qrels. ``dpr``: Natural Questions in DPR's files: ``collection``
    (psgs_w100.tsv) and per split one file name: a DPR training JSON (positives become the split's
    judgments) or a question-answer CSV (``nq-test.qa.csv``: the split is evaluated by answer match).
    """

    source: Literal["synthetic", "beir", "msmarco", "dpr"] = "synthetic"
    path: str | None = None
    collection: str = "collection.tsv"  # msmarco and dpr
    # msmarco: "documents" reads msmarco-docs.tsv (docid, url, title, body); each document is one passage
    # (FirstP, as LEAD and PROD): its title, and its body cut at document_chars (the models cut the tokens)
    collection_format: Literal["passages", "documents"] = "passages"
    document_chars: int = 10_000  # PROD's cut of the document text; the URL is dropped (LEAD)
    # msmarco passages: added to every collection id (LEAD's own headerless psgs_w100.tsv stores pid + 1: -1)
    id_offset: int = 0
    # msmarco: the training file's starting negatives, from a triples file in data.path (qid, positive pid,
    # negative pid: qidpidtriples.train.full.2.tsv), the first N per query in file order (LEAD's mspas: 100);
    # null: none, so warm-ups on data/prepared/train.jsonl see in-batch and random negatives
    train_negatives: str | None = None
    train_negatives_per_query: int = 100
    splits: dict[str, SplitFiles | str | None] = field(default_factory=dict)
    rel_threshold: int = 2  # binary relevance threshold for the test split (TREC DL passage: 2)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self):
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.source={self.source} needs data.path (the folder of the collection)")
        if self.collection_format == "documents" and self.source != "msmarco":
            raise ValueError(f"data.collection_format=documents reads MS MARCO's msmarco-docs.tsv: it needs "
                             f"data.source=msmarco, not {self.source}")
        if self.train_negatives and self.collection_format == "documents":
            raise ValueError("data.train_negatives reads passage triples (qidpidtriples): not with "
                             "data.collection_format=documents")
        if self.train_negatives and self.source != "msmarco":
            raise ValueError(f"data.train_negatives reads an MS MARCO triples file: it needs data.source=msmarco, "
                             f"not {self.source}")
        if self.id_offset and (self.source != "msmarco" or self.collection_format != "passages"):
            raise ValueError("data.id_offset shifts the integer ids of an MS MARCO-layout passage collection: it needs "
                             f"data.source=msmarco and collection_format=passages, not {self.source}/{self.collection_format}")
        if self.train_negatives_per_query < 1:
            raise ValueError(f"data.train_negatives_per_query must be >= 1, got {self.train_negatives_per_query}")
        if self.document_chars < 1:
            raise ValueError(f"data.document_chars must be >= 1, got {self.document_chars}")
        unknown = set(self.splits) - {"train", "dev", "test"}
        if unknown:
            raise ValueError(f"data.splits: unknown split(s) {sorted(unknown)}; use train, dev, test")


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

    def result_fields(self) -> dict[str, Any]:
        """The keys a trained model depends on: a checkpoint resumes whatever the others are now (the speed
        keys, and snapshot_every, which only adds files; snapshots from before such a change keep its old
        steps, and a sweep names any step it asks for that the run did not keep)."""
        not_results = ("loader_workers", "compile", "gradient_checkpointing", "snapshot_every", "snapshot_models")
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in not_results}

    def __post_init__(self):
        for name in ("loader_workers", "snapshot_every"):
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


@dataclass
class DistillConfig:
    """One distillation run: a student distilled from a teacher. The defaults reproduce LEAD (spec A.6).

    ``distill`` in params.yaml holds the defaults of every LEAD run; ``distill_runs.<name>`` names the run's
    student and teacher and overrides any other key (a baseline is such an override, e.g. layer_weight: 0).
    A PROD step (spec B.7-B.9) is the same config with PROD's values: a frozen teacher, kd: softmax, T = 4,
    weights 0.1 / 0.9, no layer term, LwF (params ``prod`` and ``prod_steps``).
    """

    student: str = ""  # model folder (a warm-up output), set per run
    teacher: str = ""
    train_file: str = "data/mined/train.jsonl"
    layers: int | Literal["all"] = 2  # k: number of distilled layer pairs
    selection: Literal["random", "last", "skip", "fixed"] = "random"
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
    epochs: float | None = None  # passes over train_file; sets the run's steps from the file's size
    train: dict[str, Any] = field(default_factory=dict)  # overrides of the train: section

    def __post_init__(self):
        for name in ("temperature", "layer_temperature"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.resample_every < 1:
            raise ValueError(f"resample_every must be >= 1, got {self.resample_every}")
        for name in ("lwf_weight", "dkd_alpha", "dkd_beta"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f"epochs must be > 0 (or null for train.steps), got {self.epochs}")


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


@dataclass
class FetchConfig:
    """The fetch stage: official files to download (lead.data.download.SOURCES); none by default."""

    sources: list[str] = field(default_factory=list)  # e.g. [msmarco-passage, trec-dl-2019-passage]
    folder: str = "data/fetched"
    mirror: str | None = None  # a base URL or file:// folder in place of the official locations
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256 to require

    def __post_init__(self):
        from lead.data.download import SOURCES

        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown:
            raise ValueError(f"unknown sources {unknown}; known: {', '.join(sorted(SOURCES))}")


@dataclass
class Params:
    seed: int = 13
    launcher: str = "python"  # how dvc.yaml starts the training stages: python, or torchrun --nproc_per_node=N
    fetch: FetchConfig = field(default_factory=FetchConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    models: dict[str, ScorerConfig] = field(default_factory=dict)  # initial models; init writes models/init/<key>
    train: TrainConfig = field(default_factory=TrainConfig)  # training defaults of every run
    warmup: dict[str, WarmupConfig] = field(default_factory=dict)
    mine: MineConfig = field(default_factory=MineConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)  # defaults of every distill@<name> run
    distill_runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides of distill
    prod: DistillConfig = field(default_factory=DistillConfig)  # defaults of every prod@<name> step (PROD's values)
    prod_steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> overrides of prod, ladder order
    flash: dict[str, str] = field(default_factory=dict)  # flash@<name>: the model folder that re-mines negatives
    divide: dict[str, DivideConfig] = field(default_factory=dict)  # divide@<name> -> data/divided/<name>/
    sweep: dict[str, SweepConfig] = field(default_factory=dict)  # sweep@<name> -> models/sweep/<name>

    def __post_init__(self):
        if self.launcher.split()[:1] not in (["python"], ["torchrun"]):
            raise ConfigError("launcher", f"{self.launcher!r}: name python, or torchrun with its options "
                                          "(torchrun --nproc_per_node=8); the stage's module follows it")
        for name, run in self.warmup.items():
            self.check_warmup_init(name, run.init)
            self.train_config(run.train, f"warmup.{name}.train")  # a typo fails here, not when the stage runs
        for name, run in self.distill_runs.items():
            self.distill_run(name)  # every run's keys and values are checked when params.yaml is read
            if "train_file" in (run or {}) and run["train_file"] != self.distill.train_file:
                raise ConfigError(f"distill_runs.{name}.train_file", "dvc.yaml tracks distill.train_file for every "
                                  "distill@ run: set it there, or make this run a prod_steps entry (its own train_file)")
        for name, step in self.prod_steps.items():
            if "train_file" not in (step or {}):  # dvc.yaml reads it per step to order the stages
                raise ConfigError(f"prod_steps.{name}.train_file", "missing: name the step's training file "
                                  "(data/mined/train.jsonl, a flash@ output or a divide@ output)")
            self.distill_run(name, "prod")
        for name, division in self.divide.items():
            for role in ("student", "teacher"):
                if not getattr(division, role):  # dvc.yaml reads both as dependencies
                    raise ConfigError(f"divide.{name}.{role}", "missing: name the model folder")
        for name, sweep in self.sweep.items():
            if sweep.split == self.eval.split:
                raise ConfigError(f"sweep.{name}.split", f"{sweep.split!r} is eval.split, the split the report shows: "
                                  "a checkpoint chosen on it would be tuned on the test queries (use dev)")

    def outputs(self) -> list[str]:
        """The model folders and training files the stages of dvc.yaml write with these params."""
        return [*(f"models/init/{key}" for key in self.models), *(f"models/{name}" for name in self.warmup),
                *(f"models/{name}" for name in self.distill_runs), *(f"models/prod/{name}" for name in self.prod_steps),
                *(f"models/sweep/{name}" for name in self.sweep), "data/prepared", "data/mined/train.jsonl",
                *(f"data/flash/{name}/train.jsonl" for name in self.flash),
                *(f"data/divided/{name}/train.jsonl" for name in self.divide)]

    def dangling_inputs(self) -> list[str]:
        """"key: path" for each model folder or training file under models/ or data/ that a stage reads and no
        stage writes (``dvc repro`` would stop there). Paths elsewhere are the user's own files."""
        inputs = [*((f"warmup.{n}.{k}", getattr(r, k)) for n, r in self.warmup.items() for k in ("init", "train_file")),
                  ("mine.model", f"models/{self.mine.model}"),
                  *((f"flash.{n}", folder) for n, folder in self.flash.items()),
                  *((f"divide.{n}.{k}", getattr(d, k)) for n, d in self.divide.items() for k in ("student", "teacher")),
                  *((f"sweep.{n}.run", sweep.run) for n, sweep in self.sweep.items()),
                  *((f"eval.dense.{n}", folder) for n, folder in self.eval.dense.items()),
                  *((f"eval.rerank.{n}", folder) for n, folder in self.eval.rerank.items())]
        for section in ("distill", "prod"):
            runs = self.distill_runs if section == "distill" else self.prod_steps
            for name in runs:
                config, _ = self.distill_run(name, section)
                key = f"{'distill_runs' if section == 'distill' else 'prod_steps'}.{name}"
                inputs += [(f"{key}.{k}", getattr(config, k)) for k in ("student", "teacher", "train_file")]
        written = self.outputs()
        dangling = [f"{key}: {path}" for key, path in inputs if path.split("/")[0] in ("models", "data")
                    and not any(path.rstrip("/") == out or path.startswith(out + "/") for out in written)]
        if self.eval.rerank and self.eval.first_stage not in self.eval.dense:
            dangling.append(f"eval.first_stage: {self.eval.first_stage} (not a key of eval.dense: no run to re-rank)")
        return dangling

    def check_warmup_init(self, name: str, init: str) -> None:
        key = f"warmup.{name}.init"
        init = init.rstrip("/")
        if init == "models/init":
            raise ConfigError(key, "'models/init' holds every initial model: name one, models/init/<key of models>")
        if "/" not in init:  # the form before init named folders
            hint = f"models/init/{init}" if init in self.models else "models/init/<key of models>"
            raise ConfigError(key, f"{init!r} is not a model folder: name {hint} or a trained model's folder")
        if init.startswith("models/init/") and init.removeprefix("models/init/") not in self.models:
            raise ConfigError(key, f"{init!r}: {init.removeprefix('models/init/')!r} is not a key of models "
                                   f"({', '.join(self.models)})")
        if init == f"models/{name}":
            raise ConfigError(key, f"{init!r} is this run's own output")

    def distill_run(self, name: str, section: Literal["distill", "prod"] = "distill") -> tuple[DistillConfig, TrainConfig]:
        """Run ``name`` of distill_runs (or prod_steps): the section's defaults with its overrides, and its
        train config."""
        runs, defaults = (self.distill_runs, self.distill) if section == "distill" else (self.prod_steps, self.prod)
        key = f"{'distill_runs' if section == 'distill' else 'prod_steps'}.{name}"
        overrides = runs[name] or {}
        merged = {**dataclasses.asdict(defaults), **overrides, "train": {**defaults.train, **overrides.get("train", {})}}
        config = parse(DistillConfig, merged, key)
        for role in ("student", "teacher"):
            if not getattr(config, role):
                raise ConfigError(f"{key}.{role}", "missing: name the model folder (e.g. models/student)")
        return config, self.train_config(config.train, f"{key}.train")

    def train_config(self, overrides: dict[str, Any], key: str) -> TrainConfig:
        """The train: defaults with a run's overrides, checked like any other params key."""
        return parse(TrainConfig, {**dataclasses.asdict(self.train), **overrides}, key)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError("<file>", "not found", str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"invalid YAML: {exc}", str(path)) from None
    return parse(Params, data, source=str(path))


def as_dict(config: Any) -> Any:
    """A dataclass tree as plain data (for logging the resolved params of a run)."""
    return dataclasses.asdict(config)
