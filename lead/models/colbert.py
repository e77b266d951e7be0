"""ColBERT: late interaction, s(q, p) = sum_i max_j <E(q)_i, E(p)_j> over non-pad passage tokens.

Input view: ``[CLS] [Q] query [SEP]`` padded with attended ``[MASK]`` tokens to ``query_max_length`` (query
augmentation), and ``[CLS] [D] passage [SEP]``. The markers are the tokenizer's ``[unused0]`` /
``[unused1]`` when its vocabulary has them, else two new special tokens. Final token vectors are projected
(``dim``, optional) and L2-normalised. With ``mask_punctuation`` passage punctuation tokens are left out of
the max.

Per-layer score at block l: the same MaxSim over block l's hidden states, L2-normalised per token only with
``normalize_layers`` (the LEAD reference uses raw hidden states, which gives large, peaked scores).
"""

from __future__ import annotations

import string
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lead.config import ScorerConfig
from lead.models.base import Encoded, Scorer, Scores, own_columns
from lead.models.dual_encoder import passage_text
from lead.models.vocabulary import WORD_START
from lead.records import TextBatch

MARKERS = ("[unused0]", "[unused1]")
NEW_MARKERS = ("[Q]", "[D]")


def marker_ids(tokenizer) -> tuple[int, int]:
    """Ids of the query and document markers, adding two special tokens if the vocabulary lacks them."""
    vocab = tokenizer.get_vocab()
    if all(m in vocab for m in MARKERS):
        return tuple(vocab[m] for m in MARKERS)
    if not all(m in vocab for m in NEW_MARKERS):
        tokenizer.add_special_tokens({"additional_special_tokens": list(NEW_MARKERS)})
    return tuple(tokenizer.convert_tokens_to_ids(m) for m in NEW_MARKERS)


def maxsim(q: torch.Tensor, q_mask: torch.Tensor, p: torch.Tensor, p_mask: torch.Tensor) -> torch.Tensor:
    """[Q, Lq, D] x [P, Lp, D] -> [Q, P]: sum over query tokens of the max over passage tokens."""
    sim = torch.einsum("qid,pjd->qpij", q, p)
    sim = sim.masked_fill(~p_mask.bool()[None, :, None, :], torch.finfo(sim.dtype).min)
    return (sim.max(-1).values * q_mask[:, None, :].to(sim.dtype)).sum(-1)


class ColBERT(Scorer):
    kind = "colbert"

    def __init__(self, config: ScorerConfig, tokenizer, encoder: nn.Module, projection: nn.Linear | None = None):
        super().__init__(config, tokenizer)
        self.encoder = encoder
        self.projection = projection
        self.query_marker, self.passage_marker = marker_ids(tokenizer)
        if len(tokenizer) > encoder.get_input_embeddings().num_embeddings:
            encoder.resize_token_embeddings(len(tokenizer))
        vocab = tokenizer.get_vocab()  # once: get_vocab() builds a new dict on every call
        # A punctuation mark alone, or marked as a word start (an own vocabulary, lead/models/vocabulary.py).
        self.punctuation = {vocab[t] for c in string.punctuation for t in (c, WORD_START + c) if t in vocab}

    @staticmethod
    def new_head(config: ScorerConfig, hidden_size: int) -> nn.Linear | None:
        return nn.Linear(hidden_size, config.dim, bias=False) if config.dim else None

    @property
    def num_layers(self) -> int:
        return self.encoder.config.num_hidden_layers

    @property
    def head(self) -> nn.Module | None:
        return self.projection

    # -- tokenisation ------------------------------------------------------------------------------------
    def _with_marker(self, texts: list[str], marker: int, max_length: int, augment: bool) -> dict[str, torch.Tensor]:
        tokens = self.tokenizer(
            texts, max_length=max_length - 1, truncation=True, padding="max_length" if augment else True,
            return_tensors="pt", return_token_type_ids=False,
        )
        ids, mask = tokens["input_ids"], tokens["attention_mask"]
        ids = torch.cat([ids[:, :1], torch.full_like(ids[:, :1], marker), ids[:, 1:]], 1)
        mask = torch.cat([mask[:, :1], torch.ones_like(mask[:, :1]), mask[:, 1:]], 1)
        if augment:  # pads become attended [MASK] tokens
            pads = mask == 0
            ids = ids.masked_fill(pads, self.tokenizer.mask_token_id)
            mask = torch.ones_like(mask)
        return {"input_ids": ids, "attention_mask": mask}

    def tokenize_queries(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        c = self.config
        return self._with_marker(list(texts), self.query_marker, c.query_max_length, c.query_augmentation)

    def tokenize_passages(self, passages) -> dict[str, torch.Tensor]:
        tokens = self._with_marker([passage_text(p) for p in passages], self.passage_marker, self.config.passage_max_length, False)
        if self.config.mask_punctuation:
            tokens["score_mask"] = tokens["attention_mask"] * ~_isin(tokens["input_ids"], self.punctuation)
        return tokens

    def tokenize(self, batch: TextBatch) -> dict[str, torch.Tensor]:
        q, p = self.tokenize_queries(batch.queries), self.tokenize_passages(batch.passages)
        return {**{f"q_{k}": v for k, v in q.items()}, **{f"p_{k}": v for k, v in p.items()}}

    # -- encoding ----------------------------------------------------------------------------------------
    def _encode(self, tokens: dict[str, torch.Tensor], layers: Sequence[int], token_states: bool = False) -> dict[str, torch.Tensor]:
        tokens = self._to_device(tokens)
        if token_states:  # VIRT's token stacks: one padded call
            return self._encode_padded(tokens, layers, token_states)
        length = tokens["attention_mask"].shape[1]

        def run(part: dict[str, torch.Tensor]):  # a length bucket's outputs padded back to the batch's length
            out, pad = self._encode_padded(part, layers), length - part["attention_mask"].shape[1]
            layer_stack = out.get("layers")
            return (F.pad(out["tokens"], (0, 0, 0, pad)), F.pad(out["mask"], (0, pad)),
                    None if layer_stack is None else F.pad(layer_stack, (0, 0, 0, pad)))

        vectors, mask, layer_stack = self._rows(run, tokens)  # padded positions are masked out of MaxSim
        return {"tokens": vectors, "mask": mask, **({"layers": layer_stack} if layers else {})}

    def _encode_padded(self, tokens: dict[str, torch.Tensor], layers: Sequence[int],
                       token_states: bool = False) -> dict[str, torch.Tensor]:
        tokens = dict(tokens)
        score_mask = tokens.pop("score_mask", tokens["attention_mask"])
        output = self.encoder(**tokens, output_hidden_states=bool(layers))
        final = output.last_hidden_state
        if self.projection is not None:
            final = self.projection(final)
        out = {"tokens": F.normalize(final, dim=-1), "mask": score_mask}
        if layers:
            stack = torch.stack([output.hidden_states[l] for l in layers], 1)  # [B, k, L, H]
            out["layers"] = F.normalize(stack, dim=-1) if self.config.normalize_layers else stack
            if token_states:  # the plain view: drop the marker at position 1 -> [CLS] text [SEP] (+ [MASK]s)
                keep = [0, *range(2, stack.shape[2])]
                out["token_layers"], out["token_mask"] = stack[:, :, keep], tokens["attention_mask"][:, keep]
        return out

    def encode_queries(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._encode(tokens, ())

    def encode_passages(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self._encode(tokens, ())

    def forward(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        layers = self.check_layers(layers)
        q = self._encode({k[2:]: v for k, v in tokens.items() if k.startswith("q_")}, layers, token_states)
        p = self._encode({k[2:]: v for k, v in tokens.items() if k.startswith("p_")}, layers, token_states)
        return Encoded(q, p, group_size=len(p["tokens"]) // max(len(q["tokens"]), 1), layers=layers)

    def score(self, encoded: Encoded, own: bool) -> Scores:
        q, p = encoded.queries, encoded.passages
        full = maxsim(q["tokens"], q["mask"], p["tokens"], p["mask"])
        per_layer = None
        if encoded.layers:
            per_layer = torch.stack(
                [maxsim(q["layers"][:, i], q["mask"], p["layers"][:, i], p["mask"]) for i in range(len(encoded.layers))]
            )
        if own:
            full = own_columns(full, encoded.group_size)
            per_layer = None if per_layer is None else own_columns(per_layer, encoded.group_size)
        return Scores(full, per_layer)


def _isin(ids: torch.Tensor, values: set[int]) -> torch.Tensor:
    return torch.isin(ids, torch.tensor(sorted(values), dtype=ids.dtype)) if values else torch.zeros_like(ids, dtype=torch.bool)
