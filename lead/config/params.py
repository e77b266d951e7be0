"""``params.yaml`` as one typed object: every section a dataclass, every key checked when it is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lead import pipeline
from lead.config.data import DataConfig, FetchConfig
from lead.config.models import ScorerConfig
from lead.config.parse import parse
from lead.config.retrieval import DivideConfig, EvalConfig, FuseConfig, MineConfig, ScoreConfig, SweepConfig
from lead.config.training import DistillConfig, ProdDefaults, TrainConfig, WarmupConfig
from lead.errors import ConfigError
from lead.io import load_yaml

RUN_DEFAULTS = ("distill", "prod")  # the sections a distill@ run may start from: LEAD's and PROD's defaults


@dataclass
class Params:
    seed: int = 13
    launcher: str = "python"  # how dvc.yaml starts the training stages: python, or torchrun --nproc_per_node=N
    presets: dict[str, str] = field(default_factory=dict)  # the conf/ group options it was composed from (a record)
    # hub model name -> a local folder holding it (an offline copy, or a stand-in): read wherever a
    # models.<key>.name says that name, so a setting's params stay as the paper names its models
    model_paths: dict[str, str] = field(default_factory=dict)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    data: DataConfig = field(default_factory=DataConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    models: dict[str, ScorerConfig] = field(default_factory=dict)  # initial models; init writes models/init/<key>
    train: TrainConfig = field(default_factory=TrainConfig)  # training defaults of every run
    warmup: dict[str, WarmupConfig] = field(default_factory=dict)
    mine: MineConfig = field(default_factory=MineConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)  # LEAD's defaults: runs with defaults: distill
    prod: ProdDefaults = field(default_factory=ProdDefaults)  # PROD's defaults: runs with defaults: prod
    # distill@<name>: its defaults section, student, teacher, training file, and overrides of the defaults
    distill_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    flash: dict[str, str] = field(default_factory=dict)  # flash@<name>: the model folder that re-mines negatives
    divide: dict[str, DivideConfig] = field(default_factory=dict)  # divide@<name> -> data/divided/<name>/
    score: dict[str, ScoreConfig] = field(default_factory=dict)  # score@<name> -> data/scores/<name>.tsv
    fuse: dict[str, FuseConfig] = field(default_factory=dict)  # fuse@<name> -> models/<name>
    sweep: dict[str, SweepConfig] = field(default_factory=dict)  # sweep@<name> -> models/sweep/<name>

    def __post_init__(self):
        for model in self.models.values():
            model.name = self.model_paths.get(model.name, model.name)
        if self.launcher.split()[:1] not in (["python"], ["torchrun"]):
            raise ConfigError("launcher", f"{self.launcher!r}: name python, or torchrun with its options "
                                          "(torchrun --nproc_per_node=8); the stage's module follows it")
        for name, run in self.warmup.items():
            self.check_warmup_init(name, run.init)
            self.train_config(run.train, f"warmup.{name}.train")  # a typo fails here, not when the stage runs
        for section in RUN_DEFAULTS:  # a run names its own models and training file (dvc.yaml reads them per run)
            for role in ("student", "teacher", "train_file"):
                if getattr(getattr(self, section), role):
                    raise ConfigError(f"{section}.{role}", f"set per run (distill_runs.<name>.{role}), not in the defaults")
        for name in self.distill_runs:
            self.distill_run(name)  # every run's keys and values are checked when params.yaml is read
        self.check_outputs()
        for name, division in self.divide.items():
            for role in ("student", "teacher"):
                if not getattr(division, role):  # dvc.yaml reads both as dependencies
                    raise ConfigError(f"divide.{name}.{role}", "missing: name the model folder")
        for name, scoring in self.score.items():
            for role in ("model", "train_file"):
                if not getattr(scoring, role):  # dvc.yaml reads both as dependencies
                    raise ConfigError(f"score.{name}.{role}", "missing: name the teacher's model folder and the training file")
        for name, fusing in self.fuse.items():
            for role in ("reranker", "first_stage", "train_file"):
                if not getattr(fusing, role):  # dvc.yaml reads all three as dependencies
                    raise ConfigError(f"fuse.{name}.{role}", "missing: name the re-ranker's and the first stage's model "
                                      "folders and the training file")
        for name, sweep in self.sweep.items():
            if sweep.split == self.eval.split:
                raise ConfigError(f"sweep.{name}.split", f"{sweep.split!r} is eval.split, the split the report shows: "
                                  "a checkpoint chosen on it would be tuned on the test queries (use dev)")

    def outputs(self) -> list[str]:
        """Every path the stages of dvc.yaml write with these params (lead.pipeline)."""
        return pipeline.outputs(as_dict(self))

    def check_outputs(self) -> None:
        """Two stages may not write one path (a run named like a warm-up: both write models/<name>)."""
        raw, writers = as_dict(self), {}
        for fam, key in pipeline.instances(raw):
            for role, template in fam.templates().items():
                path = fam.path(role, key, raw)
                other = writers.setdefault(path, fam.name(key))
                if other != fam.name(key):
                    section = fam.over or fam.stage
                    raise ConfigError(f"{section}.{key}" if key else section, f"{other} writes {path} too: rename one of them")

    def dangling_inputs(self) -> list[str]:
        """"key: path" for each model folder, training file or run file (under models/, data/ or runs/) that a
        stage reads and no stage writes (``dvc repro`` would stop there). Paths elsewhere are the user's own."""
        raw = as_dict(self)
        written = pipeline.outputs(raw)
        dangling = []
        for key, path in pipeline.inputs(raw):
            holds_outputs = any(pipeline.covered(out, [path]) for out in written)  # a folder of outputs ("runs")
            if path.split("/")[0] in ("models", "data", "runs") and not holds_outputs and not pipeline.covered(path, written):
                dangling.append(f"{key or '(fixed)'}: {path}")
        return list(dict.fromkeys(dangling))

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

    def run_defaults(self, name: str) -> str:
        """The defaults section of run ``name``: distill (LEAD's) or prod (PROD's)."""
        key = f"distill_runs.{name}"
        section = (self.distill_runs[name] or {}).get("defaults")
        if section is None:  # dvc.yaml makes the run depend on that section alone
            raise ConfigError(f"{key}.defaults", f"missing: name the defaults the run starts from ({' or '.join(RUN_DEFAULTS)})")
        if section not in RUN_DEFAULTS:
            raise ConfigError(f"{key}.defaults", f"{section!r} is not one of {', '.join(RUN_DEFAULTS)}")
        return section

    def distill_run(self, name: str) -> tuple[DistillConfig, TrainConfig]:
        """Run ``name`` of distill_runs: its defaults section (distill or prod) with its overrides, and its train
        config."""
        key = f"distill_runs.{name}"
        defaults = getattr(self, self.run_defaults(name))
        overrides = {k: v for k, v in (self.distill_runs[name] or {}).items() if k != "defaults"}
        if not isinstance(overrides.get("train", {}), dict):
            raise ConfigError(f"{key}.train", f"expected a mapping of train keys, got {overrides['train']!r}")
        merged = {**dataclasses.asdict(defaults), **overrides, "train": {**defaults.train, **overrides.get("train", {})}}
        config = parse(DistillConfig, merged, key)
        for role, example in (("student", "models/student"), ("teacher", "models/cb_teacher"),
                              ("train_file", "data/mined/train.jsonl, a flash@ or a divide@ output")):
            if not getattr(config, role):
                raise ConfigError(f"{key}.{role}", f"missing: name it ({example})")
        return config, self.train_config(config.train, f"{key}.train")

    def train_config(self, overrides: dict[str, Any], key: str) -> TrainConfig:
        """The train: defaults with a run's overrides, checked like any other params key."""
        return parse(TrainConfig, {**dataclasses.asdict(self.train), **overrides}, key)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate ``params.yaml``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = load_yaml(handle)
    except FileNotFoundError:
        raise ConfigError("<file>", "not found", str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"invalid YAML: {exc}", str(path)) from None
    try:
        return parse(Params, data, source=str(path))
    except ConfigError as error:  # the checks across sections name params.yaml: name the file read
        if error.source == str(path):
            raise
        raise ConfigError(error.key, error.message, str(path)) from None


def as_dict(config: Any) -> Any:
    """A dataclass tree as plain data (for logging the resolved params of a run)."""
    return dataclasses.asdict(config)
