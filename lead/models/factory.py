"""Build a scorer from its config, save it as HF folders plus a small head file, load it back strictly.

Saved layout (``save_scorer``)::

    scorer.json             {"format": 1, "config": <ScorerConfig>}
    encoder/                HF model + tokenizer (query_encoder/ and passage_encoder/ for separate towers)
    head.safetensors        the cross-encoder's linear head or ColBERT's projection, when there is one
    reranker/, first_stage/ a fused model's members (lead/models/fused.py), each a folder as above

Loading checks every key: a checkpoint of another shape fails with the missing and unexpected keys named,
never silently (no ``strict=False``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lead.config import ScorerConfig, parse
from lead.errors import UserError
from lead.io import atomic_dir
from lead.models.base import Scorer
from lead.models.colbert import ColBERT
from lead.models.cross_encoder import CrossEncoder
from lead.models.dual_encoder import DualEncoder
from lead.models.fused import MEMBERS, Fused
from lead.models.pretrained import load_encoder, load_tokenizer
from lead.models.vocabulary import adopt_vocabulary, train_wordpiece

FORMAT = 1
SCORERS = {"de": DualEncoder, "colbert": ColBERT, "ce": CrossEncoder}


class ModelLoadError(UserError, ValueError):
    """A saved model does not match what is loaded into it; the message names the keys."""


def build_scorer(config: ScorerConfig, texts: Iterable[str] | None = None) -> Scorer:
    """A fresh scorer: pretrained encoder weights (cut to ``num_layers`` or stacked as ``blocks``), new heads initialised from torch's RNG.

    With ``config.vocabulary_size`` a WordPiece vocabulary is trained on ``texts`` and the encoder gets new
    word embeddings for it (``lead.models.vocabulary``).
    """
    if config.kind == "fused":
        raise ValueError("a fused model is made by a fuse@ stage from a trained re-ranker and its first stage; it "
                         "has no pretrained weights to build from")
    if config.vocabulary_size:
        if texts is None:
            raise ValueError("vocabulary_size is set: build_scorer needs the texts to train the vocabulary on")
        tokenizer = train_wordpiece(texts, config.vocabulary_size)
    else:
        tokenizer = load_tokenizer(config.name)

    def new_encoder() -> nn.Module:
        model = load_encoder(config.name, config.num_layers, config.blocks)
        return adopt_vocabulary(model, tokenizer) if config.vocabulary_size else model

    encoder = new_encoder()
    if config.kind == "de":
        return DualEncoder(config, tokenizer, encoder, None if config.shared else new_encoder())
    head = SCORERS[config.kind].new_head(config, encoder.config.hidden_size)
    return SCORERS[config.kind](config, tokenizer, encoder, head)


def _towers(scorer: Scorer) -> dict[str, nn.Module]:
    if isinstance(scorer, DualEncoder):
        if scorer.query_encoder is scorer.passage_encoder:
            return {"encoder": scorer.query_encoder}
        return {"query_encoder": scorer.query_encoder, "passage_encoder": scorer.passage_encoder}
    return {"encoder": scorer.encoder}


def save_scorer(scorer: Scorer, folder: str | Path) -> None:
    """Save atomically: the folder is complete or absent."""
    scorer = getattr(scorer, "module", scorer)  # unwrap DistributedDataParallel
    with atomic_dir(folder) as tmp:
        if isinstance(scorer, Fused):
            for role, member in scorer.members().items():
                save_scorer(member, tmp / role)
            (tmp / "scorer.json").write_text(json.dumps({"format": FORMAT, "config": dataclasses.asdict(scorer.config)}, indent=2))
            return
        for name, encoder in _towers(scorer).items():
            encoder.save_pretrained(tmp / name)
            scorer.tokenizer.save_pretrained(tmp / name)
        head = getattr(scorer, "head", None)
        if head is not None:
            save_file({k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}, str(tmp / "head.safetensors"))
        (tmp / "scorer.json").write_text(json.dumps({"format": FORMAT, "config": dataclasses.asdict(scorer.config)}, indent=2))


def read_scorer_config(folder: str | Path) -> ScorerConfig:
    path = Path(folder) / "scorer.json"
    if not Path(folder).exists():
        raise ModelLoadError(f"{folder}: model folder not found: run the stage that writes it (dvc repro) or fix the "
                             "model path in params.yaml")
    if not path.is_file():
        raise ModelLoadError(f"{folder}: no scorer.json: not a saved model folder (run its init or warmup stage)")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ModelLoadError(f"{path}: format {meta.get('format')!r}, this code reads format {FORMAT}")
    return parse(ScorerConfig, meta["config"], source=str(path))


def _load_encoder_strict(folder: Path) -> nn.Module:
    from transformers import AutoModel

    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder}: missing encoder folder")
    try:  # saved without the unused pooler (see load_encoder); BERT-like models can be built without it
        model, info = AutoModel.from_pretrained(folder, output_loading_info=True, add_pooling_layer=False)
    except TypeError:
        model, info = AutoModel.from_pretrained(folder, output_loading_info=True)
    problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    if problems:
        raise ModelLoadError(f"{folder}: checkpoint does not match the model: " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in problems.items()))
    return model


def load_head(head: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise ModelLoadError(f"{path}: missing head file")
    state = load_file(str(path))
    expected = head.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        raise ModelLoadError(f"{path}: missing keys {missing}, unexpected keys {unexpected}, shape mismatches {shapes}")
    head.load_state_dict(state)


def inference_device() -> torch.device:
    """Where the stages that only run a model (evaluate, rerank, mine, flash, divide, sweep) run it: the GPU when
    there is one. Training places its models itself (the Trainer, per process under torchrun)."""
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def load_scorer(folder: str | Path, device: torch.device | str | None = None) -> Scorer:
    """Load a folder written by ``save_scorer``, on ``device`` in eval mode when one is given (on the CPU, in
    train mode as built, otherwise)."""
    scorer = _load_scorer(Path(folder))
    return scorer if device is None else scorer.to(device).eval()


def _load_scorer(folder: Path) -> Scorer:
    from transformers import AutoTokenizer

    config = read_scorer_config(folder)
    if config.kind == "fused":
        return Fused(config, *(_load_scorer(folder / role) for role in MEMBERS))
    if config.kind == "de" and not config.shared:
        towers = [_load_encoder_strict(folder / "query_encoder"), _load_encoder_strict(folder / "passage_encoder")]
        tokenizer_folder = folder / "query_encoder"
    else:
        towers = [_load_encoder_strict(folder / "encoder")]
        tokenizer_folder = folder / "encoder"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    if config.kind == "de":
        return DualEncoder(config, tokenizer, *towers)
    head = SCORERS[config.kind].new_head(config, towers[0].config.hidden_size)
    if head is not None:
        load_head(head, folder / "head.safetensors")
    return SCORERS[config.kind](config, tokenizer, towers[0], head)



def parameter_count(scorer: Scorer) -> int:
    return sum(p.numel() for p in {id(p): p for p in scorer.parameters()}.values())

