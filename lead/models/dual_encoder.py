"""A dual encoder: one (or two) HF encoders, its own tokenizer and lengths, pooling and similarity.

score(q, p) = sim(pool(enc_q(q)), pool(enc_p(p)))   with pool in {cls, mean} and sim in {dot, cosine}.

The model owns its tokenizer and its maximum lengths, so a teacher and a student may tokenise the same
texts differently; they meet only through query and passage ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lead.data.records import Passage
from lead.models.pretrained import DEFAULT_MODEL, load_encoder, load_tokenizer

Pooling = Literal["cls", "mean"]
Similarity = Literal["dot", "cosine"]


@dataclass
class DualEncoderConfig:
    """How to build a dual encoder; also the ``model`` section of a params entry."""

    name: str = DEFAULT_MODEL
    num_layers: int | None = None  # keep only the first n blocks (PROD-style student init)
    pooling: Pooling = "cls"
    similarity: Similarity = "dot"
    shared: bool = True  # one encoder for queries and passages
    query_max_length: int = 32
    passage_max_length: int = 128


def passage_text(passage: Passage) -> str:
    """The text a passage is encoded as: ``title + " " + text`` (BEIR convention), or the text alone."""
    return f"{passage.title} {passage.text}" if passage.title else passage.text


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """[batch, seq, hidden] -> [batch, hidden]: the first token, or the mean over non-pad tokens."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


class DualEncoder(nn.Module):
    def __init__(
        self,
        query_encoder: nn.Module,
        tokenizer,
        config: DualEncoderConfig,
        passage_encoder: nn.Module | None = None,
    ):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.query_encoder = query_encoder
        # A shared tower is the same module object, so it is stored (and trained) once.
        self.passage_encoder = passage_encoder if passage_encoder is not None else query_encoder

    @classmethod
    def from_config(cls, config: DualEncoderConfig) -> "DualEncoder":
        query_encoder = load_encoder(config.name, config.num_layers)
        passage_encoder = None if config.shared else load_encoder(config.name, config.num_layers)
        return cls(query_encoder, load_tokenizer(config.name), config, passage_encoder)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def tokenize_queries(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self._tokenize(list(texts), self.config.query_max_length)

    def tokenize_passages(self, passages: Sequence[Passage]) -> dict[str, torch.Tensor]:
        return self._tokenize([passage_text(p) for p in passages], self.config.passage_max_length)

    def _tokenize(self, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
        # Dynamic padding to the longest text of the batch; truncation keeps the final [SEP].
        return self.tokenizer(texts, max_length=max_length, truncation=True, padding=True, return_tensors="pt")

    def _embed(self, encoder: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {k: v.to(self.device) for k, v in batch.items()}
        hidden = encoder(**batch).last_hidden_state
        embeddings = pool(hidden, batch["attention_mask"], self.config.pooling)
        if self.config.similarity == "cosine":
            embeddings = F.normalize(embeddings, dim=-1)
        return embeddings

    def embed_queries(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._embed(self.query_encoder, batch)

    def embed_passages(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._embed(self.passage_encoder, batch)

    @staticmethod
    def similarity(query_embeddings: torch.Tensor, passage_embeddings: torch.Tensor) -> torch.Tensor:
        """[Q, H] x [C, H] -> [Q, C]; cosine is a dot product of normalised embeddings."""
        return query_embeddings @ passage_embeddings.T

    @property
    def embedding_dim(self) -> int:
        return self.query_encoder.config.hidden_size
