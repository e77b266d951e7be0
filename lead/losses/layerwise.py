"""LEAD's layer-wise term: KL from teacher layer t_i's score distribution to student layer u_i's, re-weighted.

| input                  | shape     | meaning                                                                      |
|------------------------|-----------|------------------------------------------------------------------------------|
| student_layers         | [k, Q, C] | student per-layer scores at its selected layers u_1 < ... < u_k              |
| teacher_layers         | [k, Q, C] | teacher per-layer scores at t_1 < ... < t_k, same candidates (pair i = i-th) |
| targets                | [Q]       | column of each query's positive                                              |
| temperature            | float     | tau: divides the teacher (target) side only                                  |
| layer_temperature      | float     | tau_L of the re-weighting (LEAD: 10)                                         |
| reweight               | bool      | lambda = softmax_i(-NLL_i / tau_L); off: uniform 1/k                         |
| detach_teacher_targets | bool      | stop the gradient through the teacher's layer targets                        |

KL_i    = mean_q KL(softmax(t^{(t_i)}_q / tau) || softmax(s^{(u_i)}_q))
NLL_i   = mean_q -log softmax(t^{(t_i)}_q)[target_q]     (how well teacher layer t_i ranks the positive)
lambda  = softmax_i(-NLL_i / tau_L), a constant (no gradient), as in the reference
loss    = sum_i lambda_i KL_i

So teacher layers that already rank the positive well teach more. Without re-weighting every pair gets
1/k (the reference gives each pair a fixed weight w and so also scales the term by k; a mean keeps the
ablation about the weighting alone). Returns (loss, lambda [k], KL [k]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lead.losses.kl import kl_divergence


def layer_weights(teacher_layers: torch.Tensor, targets: torch.Tensor, layer_temperature: float) -> torch.Tensor:
    """lambda [k] = softmax(-NLL_i / tau_L) of each teacher layer's own ranking of the positives (no gradient)."""
    with torch.no_grad():
        k = teacher_layers.shape[0]
        scores = teacher_layers.to(torch.promote_types(teacher_layers.dtype, torch.float32))  # float64 stays
        nll = F.cross_entropy(scores.flatten(0, 1), targets.repeat(k), reduction="none").view(k, -1).mean(1)
        return torch.softmax(-nll / layer_temperature, dim=0)


def layerwise_kl(student_layers: torch.Tensor, teacher_layers: torch.Tensor, targets: torch.Tensor,
                 temperature: float = 1.0, layer_temperature: float = 10.0, reweight: bool = True,
                 detach_teacher_targets: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if student_layers.shape[0] != teacher_layers.shape[0]:
        raise ValueError(f"{student_layers.shape[0]} student layers paired with {teacher_layers.shape[0]} teacher layers")
    target = teacher_layers.detach() if detach_teacher_targets else teacher_layers
    kls = kl_divergence(target, student_layers, target_temperature=temperature)  # [k]
    k = kls.shape[0]
    weights = layer_weights(teacher_layers, targets, layer_temperature) if reweight else kls.new_full((k,), 1.0 / k)
    return (weights * kls).sum(), weights, kls.detach()
