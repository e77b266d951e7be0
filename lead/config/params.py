"""``params.yaml`` as one typed object: every section a dataclass, every key checked when it is read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lead import pipeline
from lead.config.data import DataConfig, FetchConfig
from lead.config.models import ScorerConfig
from lead.config.parse import parse
from lead.config.retrieval import DivideConfig, EvalConfig, MineConfig, SweepConfig
from lead.config.training import DistillConfig, TrainConfig, WarmupConfig
from lead.errors import ConfigError


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
        """Every path the stages of dvc.yaml write with these params (lead.pipeline)."""
        return pipeline.outputs(as_dict(self))

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
