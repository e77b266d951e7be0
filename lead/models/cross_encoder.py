"""Cross-encoder: s(q, p) = w . pool(h_L([CLS] q [SEP] p [SEP])) + b, scored over each query's own candidates.

``pooling``: ``cls`` (the [CLS] vector, as BERT re-rankers) or ``mean`` (the masked mean of the pair's token
vectors: a sentence embedder such as MiniLM never trained its [CLS], and its early blocks' [CLS] is the same for
every pair). Per-layer score at block l: the same head on block l's pooled vector. A cross-encoder reads (query, passage)
pairs, so it has no in-batch mode: each query is scored against its own group only.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lead.config import ScorerConfig
from lead.models.base import Encoded, Scorer, Scores
from lead.models.dual_encoder import passage_text, pool
from lead.records import TextBatch


class CrossEncoder(Scorer):
    kind = "ce"
    supports_in_batch = False

    def __init__(self, config: ScorerConfig, tokenizer, encoder: nn.Module, head: nn.Linear):
        super().__init__(config, tokenizer)
        self.encoder = encoder
        self.classifier = head

    @staticmethod
    def new_head(config: ScorerConfig, hidden_size: int) -> nn.Linear:
        head = nn.Linear(hidden_size, 1)
        nn.init.normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)
        return head

    @property
    def head(self) -> nn.Module:
        return self.classifier

    @property
    def num_layers(self) -> int:
        return self.encoder.config.num_hidden_layers

    def tokenize_pairs(self, queries: Sequence[str], passages) -> dict[str, torch.Tensor]:
        c = self.config
        return self.tokenizer(
            list(queries), [passage_text(p) for p in passages], max_length=c.query_max_length + c.passage_max_length,
            truncation="longest_first", padding=True, return_tensors="pt",
        )

    def tokenize(self, batch: TextBatch) -> dict[str, torch.Tensor]:
        repeated = [q for q in batch.queries for _ in range(batch.group_size)]
        return {**self.tokenize_pairs(repeated, batch.passages), "group_size": torch.tensor(batch.group_size)}

    def pair_scores(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = ()):
        """Scores of each (query, passage) row: final [N] and per-layer [N, k] (in length buckets when set)."""
        return self._rows(lambda part: self._pair_scores(part, layers), self._to_device(tokens))

    def _pair_scores(self, tokens: dict[str, torch.Tensor], layers: Sequence[int]):
        output = self.encoder(**tokens, output_hidden_states=bool(layers))
        mask, pooling = tokens["attention_mask"], self.config.pooling
        final = self._head(pool(output.last_hidden_state, mask, pooling)).squeeze(-1)
        if not layers:
            return final, None
        pooled = torch.stack([pool(output.hidden_states[l], mask, pooling) for l in layers], 1)  # [N, k, H]
        return final, self._head(pooled).squeeze(-1)

    def _head(self, pooled: torch.Tensor) -> torch.Tensor:
        """The linear head in float32 whatever the autocast: its outputs are the scores (see ``float_scores``)."""
        with torch.autocast(pooled.device.type, enabled=False):
            return self.classifier(pooled.float())

    def forward(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        if token_states:
            raise ValueError("a cross-encoder has no separate query and passage token states (VIRT needs a DE or ColBERT teacher)")
        layers = self.check_layers(layers)
        tokens = dict(tokens)
        group = int(tokens.pop("group_size"))
        final, per_layer = self.pair_scores(tokens, layers)
        encoded = Encoded(queries={"final": final.view(-1, group)}, group_size=group, layers=layers)
        if layers:
            encoded.queries["layers"] = per_layer.view(-1, group, len(layers)).transpose(1, 2)  # [Q, k, g]
        return encoded

    def score(self, encoded: Encoded, own: bool = True) -> Scores:
        if not own:
            raise ValueError("a cross-encoder scores each query's own candidates only: use candidates: own")
        layers = encoded.queries.get("layers")
        return Scores(encoded.queries["final"], None if layers is None else layers.transpose(0, 1))
