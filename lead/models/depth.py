"""A model's depth (its number of transformer blocks) told from params alone, before any model is loaded.

The model a stage reads is followed back through the pipeline's description (lead.pipeline.producer) to where
its depth is fixed: a trained model has its starting model's depth (a distillation run's student its student's,
its jointly trained teacher its teacher's; a sweep's choice its run's), and an initial model ``models.<key>``
has ``num_layers`` (or ``blocks``) or the depth of the pretrained weights it names (their ``config.json``: the packaged
MiniLM, or a local folder). A folder no stage writes is read as a saved model. None where it cannot be told
offline (a hub name not downloaded yet).
"""

from __future__ import annotations

import json
from pathlib import Path

from lead.config import Params, as_dict
from lead.models.factory import ModelLoadError, read_scorer_config
from lead.models.pretrained import ModelResolutionError, resolve_model
from lead.pipeline import producer


def planned_depth(params: Params, folder: str) -> int | None:
    """The depth of the model that is, or will be, in ``folder`` under ``params``."""
    raw = as_dict(params)
    for _ in range(50):  # each step goes back one stage; a chain of runs that loops ends here
        made = producer(raw, folder)
        if made is None:  # a user's own folder
            break
        family, key, rest = made
        if family.stage == "init":
            config = params.models.get(rest.split("/")[0])
            return None if config is None else config.depth or pretrained_depth(config.name)
        if family.stage == "warmup":
            folder = params.warmup[key].init
        elif family.stage == "distill":
            run, _ = params.distill_run(key)
            folder = run.teacher if Path(rest).name == "teacher" else run.student
        elif family.stage == "sweep":
            folder = params.sweep[key].model_in(params.sweep[key].run).as_posix()
        else:
            return None
    return saved_depth(folder)


def saved_depth(folder: str | Path) -> int | None:
    """The depth of a saved model folder (its scorer.json, or its encoder's config.json); None if there is none."""
    try:
        config = read_scorer_config(folder)
    except (OSError, ValueError):  # ModelLoadError and ConfigError are ValueErrors: nothing saved there yet
        return None
    if config.depth is not None:
        return config.depth
    encoder = "query_encoder" if config.kind == "de" and not config.shared else "encoder"  # towers of one depth
    return _config_depth(Path(folder) / encoder / "config.json")


def pretrained_depth(name: str) -> int | None:
    """The depth of pretrained weights named by a model param (packaged or a local folder; None for a hub name)."""
    try:
        resolved = resolve_model(name)
    except (ModelResolutionError, ModelLoadError):
        return None
    return _config_depth(Path(resolved) / "config.json")


def _config_depth(path: Path) -> int | None:
    """``num_hidden_layers`` (BERT and its kin) or ``n_layers`` (DistilBERT) of an HF config.json."""
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    depth = config.get("num_hidden_layers", config.get("n_layers"))
    return depth if isinstance(depth, int) else None
