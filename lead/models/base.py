"""What every scorer shares: its config, the text batch it reads, what it encodes and the scores it returns.

A scorer turns a batch of queries and candidate passages into relevance scores, in three steps that keep
the teacher and the student independent of each other's tokenizer and architecture::

    tokens  = scorer.tokenize(batch)             # its own tokenizer, lengths and input view
    encoded = scorer(tokens, layers=[2, 4])      # ONE forward per step (DDP-friendly); per-layer reps kept
    scores  = scorer.float_scores(encoded, own=False)   # final [Q, C] and per-layer [k, Q, C], float32

``own=False`` scores every query against every passage of the (possibly gathered) batch: global in-batch
negatives. ``own=True`` scores each query against its own group only (positive first); a cross-encoder
supports only that. Layers are numbered 1..L: block l's output (``hidden_states[l]`` in HF, the embedding
layer excluded).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from lead.config import Kind, ScorerConfig
from lead.records import TextBatch


@dataclass
class Encoded:
    """A forward's output, batch-first so it can be gathered across devices along dim 0.

    ``queries`` / ``passages`` map a name to a tensor whose dim 0 runs over the batch's queries / passages
    (per-layer stacks are [batch, k, ...]). A cross-encoder fills ``pair_scores`` instead ([Q, g] and
    [Q, k, g]).
    """

    queries: dict[str, torch.Tensor] = field(default_factory=dict)
    passages: dict[str, torch.Tensor] = field(default_factory=dict)
    group_size: int = 1
    layers: tuple[int, ...] = ()


# What a masked candidate scores: finite, so a KL whose target puts 0 there adds 0 (not 0 x inf = nan), and far
# below any real score (raw ColBERT layer scores reach the thousands).
MASKED_SCORE = -1e9


@dataclass
class Scores:
    final: torch.Tensor  # [Q, C]
    layers: torch.Tensor | None = None  # [k, Q, C], in the order of the requested layers

    def masked(self, mask: torch.Tensor) -> "Scores":
        """These scores with the candidates of ``mask`` ([Q, C], True = leave out) at MASKED_SCORE: zero
        probability in every softmax over the row, final and per-layer."""
        mask = mask.to(self.final.device)
        layers = None if self.layers is None else self.layers.masked_fill(mask, MASKED_SCORE)
        return Scores(self.final.masked_fill(mask, MASKED_SCORE), layers)

    def targets(self, own: bool, group_size: int) -> torch.Tensor:
        """The positive's column for each query: 0 in own mode, i * group_size in in-batch mode."""
        n = self.final.shape[0]
        step = 0 if own else group_size
        return torch.arange(n, device=self.final.device) * step


def _float(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.float() if tensor.is_floating_point() and tensor.dtype != torch.float64 else tensor


def own_columns(full: torch.Tensor, group_size: int) -> torch.Tensor:
    """[..., Q, P] in-batch scores -> [..., Q, g]: each query's own group (positive first)."""
    n = full.shape[-2]
    index = torch.arange(n, device=full.device)[:, None] * group_size + torch.arange(group_size, device=full.device)
    return torch.gather(full, -1, index.expand(*full.shape[:-2], n, group_size))


class Scorer(nn.Module, abc.ABC):
    """Base class of the three scorers."""

    kind: Kind
    supports_in_batch: bool = True

    def __init__(self, config: ScorerConfig, tokenizer):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        # Set by the Trainer from train.length_buckets: a scorer encodes a batch's texts (a cross-encoder its
        # pairs) in this many length-sorted chunks, each padded to its own longest text (``_rows``).
        self.length_buckets = 1

    @property
    @abc.abstractmethod
    def num_layers(self) -> int: ...

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_layers(self, layers: Sequence[int]) -> tuple[int, ...]:
        layers = tuple(int(layer) for layer in layers)
        bad = [layer for layer in layers if not 1 <= layer <= self.num_layers]
        if bad:
            raise ValueError(
                f"layers {bad} out of range for this {self.kind} model with {self.num_layers} layers (use 1..{self.num_layers})"
            )
        return layers

    @abc.abstractmethod
    def tokenize(self, batch: TextBatch) -> dict[str, torch.Tensor]:
        """This model's own input view of the batch (its tokenizer, markers and lengths)."""

    @abc.abstractmethod
    def forward(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        """Encode the batch, keeping what the per-layer scores of ``layers`` need and nothing more.

        ``token_states`` also keeps the token vectors of ``layers`` in the plain view ``[CLS] text [SEP]``
        (``token_layers`` [batch, k, seq, H] and ``token_mask``), for the VIRT baseline's interaction maps.
        """

    @abc.abstractmethod
    def score(self, encoded: Encoded, own: bool) -> Scores:
        """Final and per-layer scores from (possibly gathered) encodings."""

    def float_scores(self, encoded: Encoded, own: bool) -> Scores:
        """``score`` in float32 whatever the autocast. Under bf16 autocast the products of the encodings would come
        out rounded to bf16: steps of 0.5-1 at dot-product scores near 200, the size of the gaps between logits,
        before any loss could upcast them. A no-op in float32 (the CPU default)."""
        with torch.autocast(self.device.type, enabled=False):
            return self.score(Encoded({k: _float(v) for k, v in encoded.queries.items()},
                                      {k: _float(v) for k, v in encoded.passages.items()},
                                      encoded.group_size, encoded.layers), own=own)

    def scores(self, batch: TextBatch, own: bool, layers: Sequence[int] = ()) -> Scores:
        """tokenize -> forward -> score in one call (no gathering)."""
        return self.float_scores(self(self.tokenize(batch), layers=layers), own=own)

    def encoders(self) -> list[nn.Module]:
        """The transformer(s) inside this scorer, each once (a shared tower is one module)."""
        from transformers import PreTrainedModel

        return [m for m in self.children() if isinstance(m, PreTrainedModel)]

    def _rows(self, run, tokens: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, ...]:
        """``run(tokens)``: a tuple of tensors (or None) with one row per token row. With ``length_buckets`` > 1
        the rows go through ``run`` in that many length-sorted chunks, each without the columns that are padding
        in all its rows, and come back in the batch's order: the same values up to float rounding (padding is
        masked; in training, dropout masks are drawn per chunk). Left padding is not cut (it would move the
        position ids)."""
        mask = tokens["attention_mask"]
        if self.length_buckets <= 1 or len(mask) <= 1 or self.tokenizer.padding_side != "right":
            return run(tokens)
        order = torch.argsort(mask.sum(1), stable=True)
        parts = []
        for chunk in torch.tensor_split(order, min(self.length_buckets, len(order))):
            columns = mask[chunk].any(0)  # right padding: the kept columns are the first ones
            parts.append(run({k: v[chunk][:, columns] for k, v in tokens.items()}))
        restore = torch.argsort(order)  # a gather: gradients flow back to each chunk
        return tuple(None if part[0] is None else torch.cat(part)[restore] for part in zip(*parts))

    def _to_device(self, tokens: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = self.device
        return {k: v.to(device, non_blocking=True) for k, v in tokens.items()}
