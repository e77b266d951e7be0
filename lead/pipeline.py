"""The pipeline's graph, told once: every stage family of ``dvc.yaml``, the params it reads, its inputs and the
paths it writes.

``dvc.yaml`` is written by hand with DVC's templating (``foreach`` over a params section, ``${item...}``);
``tests/test_pipeline.py`` resolves it through DVC itself, for ``params.yaml`` and for every preset, and holds
each stage to the family here: the same outs (with their cache / persist / metric flags), the same params and
data inputs, and code deps that cover every module the stage's command imports (from the import graph). The
stages write where ``Family.path`` says, ``Params.outputs`` / ``dangling_inputs`` list what the families write
and read, the report finds the run that made a model folder with ``producer`` and the sweep reads the
snapshot layout below. A new stage family is an entry in ``FAMILIES`` and a block in ``dvc.yaml``.

Templates name values the way ``dvc.yaml`` does: ``{key}`` is the stage's key in its section, ``{item}`` or
``{item.student}`` the entry (or a field of it), ``{eval.split}`` any params key. This module imports nothing
from ``lead``; config and every layer above it read it (README "Layout").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

PREPARED = "data/prepared"  # the prepare stage's output: every later stage's collection and judgments
COLLECTION = f"{PREPARED}/collection.tsv"
TRAINING_FILE = "train.jsonl"  # inside data/mined, data/flash/<name>, data/divided/<name>
SNAPSHOTS = "snapshots"  # <run>/snapshots/step-<N>/: a run's models every train.snapshot_every steps
SNAPSHOT_RUN = "run.json"  # in SNAPSHOTS: the run's final step (its last point is the run folder itself)
TRAINING_RECORD = "training.json"  # in a training run's output folder: the processes, device, batch and precision
SWEEP_PROVENANCE = "sweep.json"  # in a sweep's chosen model folder: which step of which run, and why

# The evaluation's retrieval keys: how a collection is encoded and searched (results do not depend on them,
# except an approximate index's); every stage that searches the collection reads them all.
SEARCH_PARAMS = ("eval.batch_size", "eval.use_gpu", "eval.index", "eval.nprobe", "eval.embeddings_dir",
                 "eval.shard_size")
SCORING_PARAMS = ("eval.split", "eval.depth", "eval.recall_depths", "eval.hit_depths")


@dataclass(frozen=True)
class Out:
    """One path a stage writes (a ``dvc.yaml`` out, or a metric with ``metric``)."""

    role: str  # how the code asks for it: "model", "logs", "run", "training_file", ...
    template: str
    cache: bool = True
    persist: bool = False
    metric: bool = False


@dataclass(frozen=True)
class Family:
    """A stage (``over`` None) or a family of stages ``<stage>@<key>``, one per entry of the params section
    ``over``."""

    stage: str
    module: str  # python -m <module> [<key>]
    over: str | None = None  # dotted params section whose entries are the stages (dvc.yaml's foreach)
    params: tuple[str, ...] = ()  # params keys read (a tuple of one "*" = the whole params file)
    inputs: tuple[str, ...] = ()  # data and model inputs (templates); code inputs come from the import graph
    outs: tuple[Out, ...] = ()
    launcher: bool = False  # started by the params key `launcher` (python, or torchrun: DDP)
    checkpoints: str | None = None  # where a training run keeps its resumable state (not a DVC out)
    extra: Mapping[str, str] = field(default_factory=dict)  # other paths of the stage, by role

    def keys(self, params: Mapping[str, Any]) -> list[str]:
        """The stages' keys under these params (one unnamed stage: [""])."""
        return [""] if self.over is None else list(lookup(params, self.over) or {})

    def name(self, key: str = "") -> str:
        return f"{self.stage}@{key}" if key else self.stage

    def templates(self) -> dict[str, str]:
        """Every path template of the stage by role: its outs, "checkpoints" and the ``extra`` ones."""
        found = {out.role: out.template for out in self.outs} | dict(self.extra)
        return found | ({"checkpoints": self.checkpoints} if self.checkpoints else {})

    def path(self, role: str, key: str = "", params: Mapping[str, Any] | None = None) -> str:
        """The path of ``role`` for the stage ``key`` (``params`` fills ``{item}`` and params keys)."""
        templates = self.templates()
        if role not in templates:
            raise KeyError(f"stage {self.stage} writes no {role!r} (has: {', '.join(templates)})")
        return render(templates[role], params or {}, key, self.over)

    def resolved_outs(self, params: Mapping[str, Any], key: str) -> list[tuple[str, Out]]:
        return [(render(out.template, params, key, self.over), out) for out in self.outs]

    def resolved_inputs(self, params: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
        """(the dotted params key the path comes from, or "" for a fixed path; the path) of every input."""
        return [(_source(template, self, key), render(template, params, key, self.over)) for template in self.inputs]

    def resolved_params(self, params: Mapping[str, Any], key: str) -> list[str]:
        return [render(name, params, key, self.over) for name in self.params]

    def command(self, key: str = "") -> str:
        return " ".join(filter(None, ["${launcher}" if self.launcher else "python", "-m", self.module, key]))


FAMILIES: tuple[Family, ...] = (
    Family("fetch", "stages.fetch", params=("fetch",),
           outs=(Out("downloads", "{fetch.folder}", cache=False, persist=True),)),
    Family("prepare", "stages.prepare", params=("data",), inputs=("{fetch.folder}",),
           outs=(Out("prepared", PREPARED),)),
    Family("init", "stages.init", params=("seed", "models", "model_paths"), inputs=(PREPARED,),
           outs=(Out("model", "models/init"),)),  # models/init/<key of models>
    Family("warmup", "stages.warmup", over="warmup", params=("train", "warmup.{key}", "launcher"),
           inputs=("{item.init}", "{item.train_file}", COLLECTION), launcher=True, checkpoints="checkpoints/{key}",
           outs=(Out("model", "models/{key}"), Out("logs", "logs/{key}", cache=False, persist=True))),
    Family("mine", "stages.mine", params=("mine", *SEARCH_PARAMS), inputs=("models/{mine.model}", PREPARED),
           outs=(Out("mined", "data/mined"),), extra={"training_file": f"data/mined/{TRAINING_FILE}"}),
    Family("fuse", "stages.fuse", over="fuse", params=("fuse.{key}", "eval.batch_size"),
           inputs=("{item.reranker}", "{item.first_stage}", "{item.train_file}", COLLECTION),
           outs=(Out("model", "models/{key}"),)),
    # LEAD runs and PROD steps: one family; each run reads its own defaults section (distill or prod)
    Family("distill", "stages.distill", over="distill_runs",
           params=("train", "{item.defaults}", "distill_runs.{key}", "launcher"),
           inputs=("{item.student}", "{item.teacher}", "{item.train_file}", COLLECTION), launcher=True,
           checkpoints="checkpoints/distill-{key}",
           outs=(Out("model", "models/{key}"), Out("logs", "logs/{key}", cache=False, persist=True))),
    Family("flash", "stages.mine", over="flash", params=("mine", *SEARCH_PARAMS, "flash.{key}"),
           inputs=("{item}", PREPARED), outs=(Out("mined", "data/flash/{key}"),),
           extra={"training_file": f"data/flash/{{key}}/{TRAINING_FILE}"}),
    Family("divide", "stages.divide", over="divide", params=("divide.{key}", *SEARCH_PARAMS),
           inputs=("{item.student}", "{item.teacher}", PREPARED), outs=(Out("divided", "data/divided/{key}"),),
           extra={"training_file": f"data/divided/{{key}}/{TRAINING_FILE}", "stats": "data/divided/{key}/division.json"}),
    Family("score", "stages.score", over="score", params=("score.{key}", "launcher"), inputs=("{item.model}", "{item.train_file}", COLLECTION),
           launcher=True, checkpoints="checkpoints/score-{key}", outs=(Out("scores", "data/scores/{key}.tsv"),)),
    Family("sweep", "stages.sweep", over="sweep", params=("seed", "sweep.{key}", *SCORING_PARAMS, *SEARCH_PARAMS),
           inputs=("{item.run}", PREPARED),
           outs=(Out("model", "models/sweep/{key}"), Out("plots", "metrics/sweep/{key}/plots", cache=False),
                 Out("choice", "metrics/sweep/{key}/metrics.json", cache=False)),
           extra={"logs": "metrics/sweep/{key}"}),
    Family("evaluate", "stages.evaluate", over="eval.dense", params=("seed", *SCORING_PARAMS, *SEARCH_PARAMS),
           inputs=("{item}", PREPARED),
           outs=(Out("run", "runs/{key}.{eval.split}.trec"), Out("timing", "metrics/{key}/timing.json", cache=False),
                 Out("metrics", "metrics/{key}/metrics.json", cache=False, metric=True)),
           extra={"logs": "metrics/{key}"}),
    Family("rerank", "stages.rerank", over="eval.rerank",
           params=("seed", "eval.split", "eval.first_stage", "eval.rerank_depth", "eval.batch_size", "eval.recall_depths",
                   "eval.hit_depths"),
           inputs=("{item}", "runs/{eval.first_stage}.{eval.split}.trec", PREPARED),
           outs=(Out("run", "runs/{key}.rerank.{eval.split}.trec"),
                 Out("metrics", "metrics/{key}.rerank/metrics.json", cache=False, metric=True)),
           extra={"logs": "metrics/{key}.rerank"}),
    Family("report", "stages.report", params=("*",), inputs=("runs", PREPARED),
           outs=(Out("report", "metrics/report.md", cache=False), Out("plots", "metrics/plots", cache=False))),
)
BY_STAGE = {family.stage: family for family in FAMILIES}


def family(stage: str) -> Family:
    return BY_STAGE[stage]


# -- templates ------------------------------------------------------------------------------------------


_FIELD = re.compile(r"\{([^{}]+)\}")


def lookup(params: Mapping[str, Any], dotted: str) -> Any:
    """``params[a][b]...`` for ``a.b...``; None where a key is missing."""
    value: Any = params
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def render(template: str, params: Mapping[str, Any], key: str = "", section: str | None = None) -> str:
    """``template`` with ``{key}``, ``{item...}`` and ``{<params key>}`` filled in."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "key":
            return key
        if name == "item" or name.startswith("item."):
            found = lookup(params, f"{section}.{key}{name[4:]}") if section else None
        else:
            found = lookup(params, name)
        if found is None:
            raise KeyError(f"{template}: {name} is not set in params")
        return str(found)

    return _FIELD.sub(value, template)


def _source(template: str, family: Family, key: str) -> str:
    """The dotted params key an input template reads ("" for a fixed path)."""
    names = _FIELD.findall(template)
    if not names:
        return ""
    name = names[0]
    if name == "item" or name.startswith("item."):
        return f"{family.over}.{key}{name[4:]}"
    return name


def instances(params: Mapping[str, Any]) -> Iterator[tuple[Family, str]]:
    """Every stage of the pipeline under ``params``: (family, key), in ``dvc.yaml`` order."""
    for fam in FAMILIES:
        for key in fam.keys(params):
            yield fam, key


def outputs(params: Mapping[str, Any]) -> list[str]:
    """Every path the stages write under ``params``: outs, and the files and folders named inside them."""
    paths = []
    for fam, key in instances(params):
        paths += [fam.path(role, key, params) for role in fam.templates() if role != "checkpoints"]
    return paths


def inputs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(dotted params key, path) of every model or data input a stage reads under ``params``."""
    return [found for fam, key in instances(params) for found in fam.resolved_inputs(params, key)]


def covered(path: str, written: list[str]) -> bool:
    """Whether ``path`` is one of ``written`` or inside one of them."""
    path = path.rstrip("/")
    return any(path == out.rstrip("/") or path.startswith(out.rstrip("/") + "/") for out in written)


def producer(params: Mapping[str, Any], folder: str) -> tuple[Family, str, str] | None:
    """(family, key, the rest of the path) of the stage whose model output holds ``folder``
    (``models/lead_cb/student`` -> distill, "lead_cb", "student"); None when no stage writes it. The deepest
    match wins (``models/init/de6`` is init's, not a warm-up named ``init``)."""
    folder = Path(folder).as_posix().rstrip("/")
    best: tuple[Family, str, str, str] | None = None
    for fam, key in instances(params):
        if "model" not in fam.templates():
            continue
        root = fam.path("model", key, params)
        if (folder == root or folder.startswith(root + "/")) and (best is None or len(root) > len(best[3])):
            best = (fam, key, folder[len(root):].lstrip("/"), root)
    return None if best is None else best[:3]
