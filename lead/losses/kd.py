"""PROD's response-KD variants (spec B.7): the student's scores against a target model's over one candidate set.

| input       | shape  | meaning                                                                    |
|-------------|--------|----------------------------------------------------------------------------|
| student     | [Q, C] | the student's scores                                                       |
| target      | [Q, C] | the teacher's (or, for LwF, the frozen entry student's) scores, same columns |
| targets     | [Q]    | column of each query's positive (DKD only)                                 |
| temperature | float  | T                                                                          |

- ``softmax``: T^2 mean_i KL(softmax(t_i / T) || softmax(s_i / T)), both sides tempered (Hinton KD; PROD's
  KD_softmax, T = 4).
- ``logit``: 1/2 MSE(s, t), mean over every entry; no temperature.
- ``dkd``: decoupled KD, alpha TCKD + beta NCKD. TCKD is the KL between the tempered two-way distributions
  (positive vs the rest); NCKD the KL between the tempered distributions over the non-positive columns (the
  positive's tempered score pushed down by 1000). Both summed over queries, times T^2, divided by Q.
- ``prob``: -mean_i sum_j softmax(t_i / T)_j log(softmax(s_i)_j + 1e-7): a soft-label cross-entropy with the
  student not tempered (PROD's prob_loss).

LEAD's own response term (target side tempered only, no T^2, both directions) is ``response.response_kl``.
Every variant is computed in at least float32 and returns a scalar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lead.losses.kl import kl_divergence

KD_KINDS = ("softmax", "logit", "dkd", "prob")


def _wide(x: torch.Tensor) -> torch.Tensor:
    """At least float32 (bf16 autocast would round the log-probabilities); float64 stays."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def kd_softmax(student: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
    return temperature**2 * kl_divergence(target, student, temperature, temperature)


def kd_logit(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * F.mse_loss(_wide(student), _wide(target))


def dkd(student: torch.Tensor, target: torch.Tensor, targets: torch.Tensor, temperature: float,
        alpha: float = 1.0, beta: float = 8.0) -> torch.Tensor:
    s, t = _wide(student) / temperature, _wide(target) / temperature
    positive = F.one_hot(targets, s.shape[-1]).bool()
    p_s, p_t = s.softmax(-1), t.softmax(-1)
    # TCKD: the two-way split of each distribution into (positive, everything else).
    binary_s = torch.stack([p_s[positive], 1 - p_s[positive]], -1).clamp_min(1e-12)
    binary_t = torch.stack([p_t[positive], 1 - p_t[positive]], -1).clamp_min(1e-12)
    tckd = (binary_t * (binary_t.log() - binary_s.log())).sum()
    # NCKD: the distributions over the negatives alone; -1000 removes the positive from each softmax.
    log_q = F.log_softmax(s - 1000.0 * positive, -1)
    log_p = F.log_softmax(t - 1000.0 * positive, -1)
    nckd = F.kl_div(log_q, log_p, reduction="sum", log_target=True)
    return (alpha * tckd + beta * nckd) * temperature**2 / s.shape[0]


def prob_loss(student: torch.Tensor, target: torch.Tensor, temperature: float) -> torch.Tensor:
    p_t = (_wide(target) / temperature).softmax(-1)
    return -(p_t * torch.log(_wide(student).softmax(-1) + 1e-7)).sum(-1).mean()


def kd_loss(kind: str, student: torch.Tensor, target: torch.Tensor, targets: torch.Tensor, temperature: float,
            dkd_alpha: float = 1.0, dkd_beta: float = 8.0) -> torch.Tensor:
    """The variant ``kind`` (one of KD_KINDS) of the student's scores against ``target``'s."""
    if student.shape != target.shape:
        raise ValueError(f"student scores {tuple(student.shape)} and target scores {tuple(target.shape)} must cover the same candidates")
    if kind == "softmax":
        return kd_softmax(student, target, temperature)
    if kind == "logit":
        return kd_logit(student, target)
    if kind == "dkd":
        return dkd(student, target, targets, temperature, dkd_alpha, dkd_beta)
    if kind == "prob":
        return prob_loss(student, target, temperature)
    raise ValueError(f"unknown KD kind {kind!r}; use one of {', '.join(KD_KINDS)}")
