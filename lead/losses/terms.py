"""A distillation method as a list of named loss terms; the loss is their weighted sum.

| input (``Inputs``)   | shape           | meaning                                                              |
|----------------------|-----------------|----------------------------------------------------------------------|
| student / teacher    | [Q, C]          | final scores over one candidate set (same columns)                   |
| student_layers / ... | [k, Q, C]       | per-layer scores at the paired layers (LEAD's term), or None         |
| targets              | [Q]             | column of each query's positive                                      |
| entry_student        | [Q, C]          | the frozen student as it entered the run (PROD's LwF), or None       |
| student_tokens / ... | dicts           | token states of the paired layers and their masks (VIRT), or None    |
| layer_pairs          | tuple of tuples | (student layers, teacher layers) of the per-layer scores             |

Every term has a name (what DVCLive logs and the report shows), a weight (a ``distill`` param) and a function of
the inputs that returns its value and any values it logs beside it. A term with weight 0 is not computed (a
response-only run computes no per-layer scores; a run with no teacher term runs no teacher). ``distill_terms``
builds LEAD's and PROD's methods from a ``DistillConfig`` (spec A.6, B.7-B.8):

    loss = student_weight * student_nll                     # the student's contrastive NLL
         + response_weight * <response>                     # response_kl: LEAD's KL (both ways when the teacher
                                                            #   trains); kd_<kind>: PROD's KD variants
         + teacher_weight * teacher_nll                     # only when the teacher trains jointly
         + lwf_weight * lwf                                 # KD to the entry student (PROD's LwF)
         + virt_weight * virt                               # VIRT's interaction maps (a baseline)
         + layer_weight * layer_loss                        # LEAD's re-weighted per-layer KL

The sum runs in that order, so a method's loss is the same float whatever terms follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from lead.config import DistillConfig
from lead.losses.contrastive import contrastive_nll
from lead.losses.kd import kd_loss
from lead.losses.kl import kl_divergence
from lead.losses.layerwise import layerwise_kl
from lead.losses.response import response_kl
from lead.losses.virt import virt_loss


@dataclass
class Inputs:
    """What the terms of one step read (see the module's table)."""

    student: torch.Tensor
    targets: torch.Tensor
    teacher: torch.Tensor | None = None
    student_layers: torch.Tensor | None = None
    teacher_layers: torch.Tensor | None = None
    layer_pairs: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    entry_student: Callable[[], torch.Tensor] | None = None  # computed when a term asks (no gradient)
    student_tokens: dict[str, torch.Tensor] | None = None  # {"queries": ..., "passages": ...} token states
    teacher_tokens: dict[str, torch.Tensor] | None = None


Value = tuple[torch.Tensor, dict[str, float]]


@dataclass(frozen=True)
class Term:
    name: str
    weight: float
    compute: Callable[[Inputs], Value]
    reads: frozenset[str] = frozenset()  # what it needs besides the student's final scores: teacher, layers, ...


def weighted_sum(terms: list[Term], inputs: Inputs) -> tuple[torch.Tensor, dict[str, float]]:
    """sum_i weight_i * term_i in list order, and every term's value (and what it logs beside it) by name."""
    total, logged = None, {}
    for term in terms:
        value, extra = term.compute(inputs)
        total = term.weight * value if total is None else total + term.weight * value
        logged[term.name] = value.item()
        logged.update(extra)  # a term may log its parts, its own name included (LEAD's forward response KL)
    if total is None:
        raise ValueError("a method needs at least one term with a weight above 0")
    logged["loss"] = total.item()
    return total, logged


def reads(terms: list[Term]) -> frozenset[str]:
    return frozenset().union(*(term.reads for term in terms))


# -- the terms ------------------------------------------------------------------------------------------


def student_nll(weight: float) -> Term:
    return Term("student_nll", weight, lambda x: (contrastive_nll(x.student, x.targets), {}))


def teacher_nll(weight: float) -> Term:
    return Term("teacher_nll", weight, lambda x: (contrastive_nll(x.teacher, x.targets), {}), frozenset({"teacher"}))


def _kd(config: DistillConfig) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """One direction of a response term: the student's scores pulled towards a target's (``config.kd``)."""
    if config.kd == "lead":
        return lambda student, target, targets: kl_divergence(target, student, target_temperature=config.temperature)
    return lambda student, target, targets: kd_loss(config.kd, student, target, targets, config.temperature,
                                                    config.dkd_alpha, config.dkd_beta)


def response(config: DistillConfig) -> Term:
    """LEAD's ``response_kl``: KL(P_tau(teacher) || P(student)) plus, when the teacher trains, the reverse KL
    (each logged on its own: ``response_kl`` the forward one, ``response_kl_reverse``); or PROD's ``kd_<kind>``."""
    detach = config.detach_teacher_targets
    if config.kd == "lead":
        def lead(x: Inputs) -> Value:
            forward, reverse = response_kl(x.student, x.teacher, config.temperature, reverse=config.teacher_trainable,
                                           detach_teacher_targets=detach)
            logged = {"response_kl": forward.item()}  # the forward KL alone, though the term sums both directions
            if config.teacher_trainable:
                logged["response_kl_reverse"] = reverse.item()
            return forward + reverse, logged
        return Term("response_kl", config.response_weight, lead, frozenset({"teacher"}))
    kd = _kd(config)
    return Term(f"kd_{config.kd}", config.response_weight,
                lambda x: (kd(x.student, x.teacher.detach() if detach else x.teacher, x.targets), {}),
                frozenset({"teacher"}))


def lwf(config: DistillConfig) -> Term:
    """PROD's LwF: the response form of ``config.kd`` towards the entry student's scores."""
    kd = _kd(config)
    return Term("lwf", config.lwf_weight, lambda x: (kd(x.student, x.entry_student(), x.targets), {}),
                frozenset({"entry_student"}))


def virt(weight: float) -> Term:
    def compute(x: Inputs) -> Value:
        s, t = x.student_tokens, x.teacher_tokens
        return virt_loss(s["queries"]["token_layers"], s["queries"]["token_mask"], s["passages"]["token_layers"],
                         s["passages"]["token_mask"], t["queries"]["token_layers"], t["queries"]["token_mask"],
                         t["passages"]["token_layers"], t["passages"]["token_mask"]), {}
    return Term("virt", weight, compute, frozenset({"teacher", "layers", "tokens"}))


def layers(config: DistillConfig) -> Term:
    """LEAD's per-layer KL, each pair weighted by lambda; logs lambda and the KL per teacher layer."""
    def compute(x: Inputs) -> Value:
        loss, weights, kls = layerwise_kl(x.student_layers, x.teacher_layers, x.targets, config.temperature,
                                          config.layer_temperature, config.reweight, config.detach_teacher_targets)
        logged = {}
        for t, weight, kl in zip(x.layer_pairs[1], weights.tolist(), kls.tolist()):
            logged[f"lambda/teacher_layer{t}"] = weight
            logged[f"layer_kl/teacher_layer{t}"] = kl
        return loss, logged
    return Term("layer_loss", config.layer_weight, compute, frozenset({"teacher", "layers"}))


def distill_terms(config: DistillConfig) -> list[Term]:
    """The terms of a distillation run (LEAD's, a baseline's or a PROD step's), weight-0 ones left out."""
    candidates = [student_nll(config.student_weight), response(config)]
    if config.teacher_trainable:
        candidates.append(teacher_nll(config.teacher_weight))
    candidates += [lwf(config), virt(config.virt_weight), layers(config)]
    return [term for term in candidates if term.weight > 0]


def describe(config: DistillConfig) -> str:
    """A run's method in its term names, e.g. ``student_nll + response_kl + teacher_nll + layer_loss (k=2, random
    layers, re-weighted; teacher trained)`` or ``0.1 student_nll + 0.9 kd_softmax + lwf (T=4; frozen teacher)``."""
    terms = distill_terms(config)
    text = " + ".join(f"{t.name}" if t.weight == 1 else f"{t.weight:g} {t.name}" for t in terms)
    details = []
    if any(t.name == "layer_loss" for t in terms):
        details.append(f"k={config.layers}, {config.selection} layers, {'re-weighted' if config.reweight else 'uniform'}")
    if config.kd != "lead" and any(t.name in (f"kd_{config.kd}", "lwf") for t in terms):
        details.append(f"T={config.temperature:g}")
    if "teacher" in reads(terms):
        details.append("teacher trained" if config.teacher_trainable else "frozen teacher")
    return text + (f" ({'; '.join(details)})" if details else "")
