"""Training methods for the loop: what is trained and the loss of one batch.

``Warmup`` trains one scorer with the contrastive NLL over its candidates: global in-batch (dual encoder,
ColBERT; gathered across devices) or each query's own group (cross-encoder).
"""

from __future__ import annotations

import torch
from torch import nn

from lead.losses.contrastive import contrastive_nll
from lead.models.base import Encoded, Scorer, Scores, TextBatch
from lead.training.distributed import gather_encoded


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def candidate_scores(model: nn.Module, batch: TextBatch, own: bool, layers=(), token_states: bool = False,
                     role: str | None = None) -> tuple[Scores, Encoded]:
    """One forward of ``model`` (DDP-wrapped or not) and its scores over the candidate set.

    The tokens are the batch's ``tokens[role]`` when the data loader made them ahead of the step, else the
    scorer tokenizes here. In-batch mode gathers the encodings of every rank first, so each query is scored
    against every passage of the global batch; own mode scores each query's own group locally.
    """
    scorer: Scorer = unwrap(model)
    tokens = batch.tokens.get(role) if role is not None else None
    encoded = model(tokens if tokens is not None else scorer.tokenize(batch), layers=layers, token_states=token_states)
    if not own:
        encoded = gather_encoded(encoded)
    return scorer.score(encoded, own=own), encoded


class Warmup:
    def __init__(self, scorer: Scorer, candidates: str):
        if candidates == "in_batch" and not scorer.supports_in_batch:
            raise ValueError(f"a {scorer.kind} scorer needs train.candidates: own (it scores query-passage pairs)")
        self.trainables = {"model": scorer}
        self.own = candidates == "own"

    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int):
        scores, _ = candidate_scores(models["model"], batch, self.own, role="model")
        loss = contrastive_nll(scores.final, scores.targets(self.own, batch.group_size))
        # In-batch: every rank computes the global loss but only its slice has gradient; DDP averages the
        # ranks' gradients, so scale by the world size to get the gradient of the global mean.
        scale = 1 if self.own else world_size()
        return loss * scale, {"loss": loss.item()}
