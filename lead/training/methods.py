"""Training methods for the loop: what is trained and the loss of one batch.

``Method`` is the contract between a method and the trainer (lead/training/loop.py): the models it trains and
those it only reads, each model's peak learning rate if not ``train.lr``, the roles whose tokens another role's
serve, and the loss of one micro-batch with its named terms for the logs.

``Warmup`` trains one scorer with the contrastive NLL over its candidates: global in-batch (dual encoder,
ColBERT; gathered across devices) or each query's own group (cross-encoder). With ``layer_weight`` > 0 it
also puts the NLL on every inner block's scores (deep supervision), so a teacher's intermediate layers rank
and LEAD's layer-wise term has something to pass on (BENCHMARKS.md "Teachers trained to rank at their inner layers").
"""

from __future__ import annotations

import abc
import contextlib
import logging
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import nn

from lead.errors import ParamsValueError
from lead.losses.contrastive import contrastive_nll
from lead.models.base import Encoded, Scorer, Scores
from lead.records import TextBatch
from lead.training.distributed import gather_encoded


class Method(abc.ABC):
    """A training method. Subclasses set ``trainables`` and implement ``loss``; the rest has defaults."""

    trainables: dict[str, Scorer]  # role -> model the optimiser updates ("model", "student", "teacher")
    frozen: Mapping[str, Scorer] = MappingProxyType({})  # role -> model the loss reads but never trains (eval mode)
    learning_rates: Mapping[str, float] = MappingProxyType({})  # role -> its own peak LR (others: train.lr)
    shares_tokens: frozenset[str] = frozenset()  # roles that read another role's tokens: the loader skips them

    def roles(self) -> dict[str, Scorer]:
        """Every model the method reads, trained or frozen, by role."""
        return {**self.trainables, **self.frozen}

    @abc.abstractmethod
    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimise and the named values to log; ``models`` are the (DDP-wrapped) trainables."""

    def backward(self, batch: TextBatch, models: dict[str, nn.Module], step: int, accumulation: int,
                 autocast: Callable[[], contextlib.AbstractContextManager]) -> dict[str, float]:
        """Accumulate the gradient of loss / ``accumulation`` (the loss under ``autocast``, its backward outside);
        the logged values. A method that computes its gradients otherwise (the gradient cache) overrides it."""
        with autocast():
            loss, terms = self.loss(batch, models, step)
        (loss / accumulation).backward()
        return terms

log = logging.getLogger(__name__)


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def candidate_scores(model: nn.Module, batch: TextBatch, own: bool, layers=(), token_states: bool = False,
                     role: str | None = None) -> tuple[Scores, Encoded]:
    """One forward of ``model`` (DDP-wrapped or not) and its scores over the candidate set.

    The tokens are the batch's ``tokens[role]`` when the data loader made them ahead of the step, else the
    scorer tokenizes here. In-batch mode gathers the encodings of every rank first, so each query is scored
    against every passage of the global batch; own mode scores each query's own group locally. In-batch
    candidates that are judged positives of a query other than its own (``batch.accidental_positives``) are
    masked out of its row.
    """
    scorer: Scorer = unwrap(model)
    tokens = batch.tokens.get(role) if role is not None else None
    encoded = model(tokens if tokens is not None else scorer.tokenize(batch), layers=layers, token_states=token_states)
    if not own:
        encoded = gather_encoded(encoded)
    scores = scorer.float_scores(encoded, own=own)
    if not own and batch.accidental_positives is not None:
        scores = scores.masked(batch.accidental_positives)
    return scores, encoded


class Warmup(Method):
    def __init__(self, scorer: Scorer, candidates: str, layer_weight: float = 0.0):
        if candidates == "in_batch" and not scorer.supports_in_batch:
            raise ParamsValueError(f"a {scorer.kind} scorer needs train.candidates: own (it scores query-passage pairs)")
        self.trainables = {"model": scorer}
        self.own = candidates == "own"
        self.layer_weight = layer_weight
        # Blocks 1..L-1: the last block's scores are the final scores, already in the loss.
        self.inner_layers = list(range(1, scorer.num_layers)) if layer_weight > 0 else []
        if self.inner_layers and scorer.kind == "colbert" and not scorer.config.normalize_layers:
            log.warning("layer_weight with raw ColBERT layers: their MaxSim scores spread by hundreds and the inner "
                        "layers' NLL swamps the loss (BENCHMARKS.md); set normalize_layers: true in the model's entry")

    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int):
        scores, _ = candidate_scores(models["model"], batch, self.own, layers=self.inner_layers, role="model")
        targets = scores.targets(self.own, batch.group_size)
        final = contrastive_nll(scores.final, targets)
        loss, terms = final, {}
        if self.inner_layers:
            per_layer = torch.stack([contrastive_nll(layer, targets) for layer in scores.layers])
            loss = final + self.layer_weight * per_layer.mean()
            terms = {"final_nll": final.item(), "layer_nll": per_layer.mean().item()}
        # In-batch: every rank computes the global loss but only its slice has gradient; DDP averages the
        # ranks' gradients, so scale by the world size to get the gradient of the global mean.
        scale = 1 if self.own else world_size()
        return loss * scale, {"loss": loss.item(), **terms}
