"""Dual encoder: s(q, p) = scale * sim(pool(enc_q(q)), pool(enc_p(p))), pool in {cls, mean}, sim in {dot, cosine}.

Per-layer score at block l: the same pooling and similarity applied to block l's hidden states (with CLS
pooling and dot product this is LEAD's "CLS dot product at layer l"). Only the pooled vector of each
requested layer is kept, never the full per-layer token stacks.

With ``length_buckets`` > 1 (``train.length_buckets``) a batch's texts are encoded in that many chunks of
similar length, each cut to its own longest text (``Scorer._rows``): the same vectors up to float rounding for
a third fewer token positions on MS MARCO passages (BENCHMARKS.md), and the same in-batch negatives.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lead.config import ScorerConfig
from lead.models.base import Encoded, Scorer, Scores, own_columns
from lead.records import Passage, TextBatch


def passage_text(passage: Passage) -> str:
    """The text a passage is encoded as: ``title + " " + text`` (BEIR convention), or the text alone."""
    return f"{passage.title} {passage.text}" if passage.title else passage.text


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """[batch, seq, hidden] -> [batch, hidden]: the first token, or the mean over non-pad tokens; in float32 (a
    bf16 sum over 100+ tokens would round)."""
    hidden = hidden.float() if hidden.dtype in (torch.bfloat16, torch.float16) else hidden
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


class DualEncoder(Scorer):
    kind = "de"

    def __init__(self, config: ScorerConfig, tokenizer, query_encoder: nn.Module, passage_encoder: nn.Module | None = None):
        super().__init__(config, tokenizer)
        self.query_encoder = query_encoder
        # A shared tower is the same module object, so it is stored (and trained) once.
        self.passage_encoder = passage_encoder if passage_encoder is not None else query_encoder

    @property
    def num_layers(self) -> int:
        return self.query_encoder.config.num_hidden_layers

    @property
    def embedding_dim(self) -> int:
        return self.query_encoder.config.hidden_size

    # -- tokenisation ------------------------------------------------------------------------------------
    def tokenize_queries(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self._tokenize(list(texts), self.config.query_max_length)

    def tokenize_passages(self, passages: Sequence[Passage]) -> dict[str, torch.Tensor]:
        return self._tokenize([passage_text(p) for p in passages], self.config.passage_max_length)

    def _tokenize(self, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
        # Dynamic padding to the longest text of the batch; truncation keeps the final [SEP].
        return self.tokenizer(
            texts, max_length=max_length, truncation=True, padding=True, return_tensors="pt", return_token_type_ids=False
        )

    def tokenize(self, batch: TextBatch) -> dict[str, torch.Tensor]:
        queries, passages = self.tokenize_queries(batch.queries), self.tokenize_passages(batch.passages)
        return {**{f"q_{k}": v for k, v in queries.items()}, **{f"p_{k}": v for k, v in passages.items()}}

    # -- encoding ----------------------------------------------------------------------------------------
    def _embed(self, encoder: nn.Module, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False):
        tokens = self._to_device(tokens)
        if token_states:  # VIRT's token stacks keep one padded length: never in length buckets
            return self._embed_padded(encoder, tokens, layers, token_states)
        final, per_layer = self._rows(lambda part: self._pooled(encoder, part, layers), tokens)
        return final, ({"layers": per_layer} if layers else {})

    def _pooled(self, encoder: nn.Module, tokens: dict[str, torch.Tensor], layers: Sequence[int]):
        final, kept = self._embed_padded(encoder, tokens, layers)
        return final, kept.get("layers")

    def _embed_padded(self, encoder: nn.Module, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (),
                      token_states: bool = False):
        output = encoder(**tokens, output_hidden_states=bool(layers))
        mask = tokens["attention_mask"]
        final = self._normalise(pool(output.last_hidden_state, mask, self.config.pooling))
        if not layers:
            return final, {}
        per_layer = torch.stack([self._normalise(pool(output.hidden_states[l], mask, self.config.pooling)) for l in layers], 1)
        kept = {"layers": per_layer}
        if token_states:
            kept.update(token_layers=torch.stack([output.hidden_states[l] for l in layers], 1), token_mask=mask)
        return final, kept

    def _normalise(self, embeddings: torch.Tensor) -> torch.Tensor:
        return F.normalize(embeddings, dim=-1) if self.config.similarity == "cosine" else embeddings

    def embed_queries(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._embed(self.query_encoder, tokens)[0]

    def embed_passages(self, tokens: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._embed(self.passage_encoder, tokens)[0]

    def forward(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        layers = self.check_layers(layers)
        q, q_kept = self._embed(self.query_encoder, _prefixed(tokens, "q_"), layers, token_states)
        p, p_kept = self._embed(self.passage_encoder, _prefixed(tokens, "p_"), layers, token_states)
        return Encoded({"emb": q, **q_kept}, {"emb": p, **p_kept}, group_size=len(p) // max(len(q), 1), layers=layers)

    def score(self, encoded: Encoded, own: bool) -> Scores:
        scale = self.config.scale
        full = scale * (encoded.queries["emb"] @ encoded.passages["emb"].T)
        per_layer = None
        if encoded.layers:  # [Q, k, H] x [P, k, H] -> [k, Q, P]
            per_layer = scale * torch.einsum("qkh,pkh->kqp", encoded.queries["layers"], encoded.passages["layers"])
        if own:
            full = own_columns(full, encoded.group_size)
            per_layer = None if per_layer is None else own_columns(per_layer, encoded.group_size)
        return Scores(full, per_layer)


def _prefixed(tokens: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tokens.items() if k.startswith(prefix)}
