"""KL divergence between two score distributions over the same candidates: the building block of every
distillation loss here (LEAD's response and layer-wise terms, PROD's KD_softmax and LwF).

| input        | shape       | meaning                                                          |
|--------------|-------------|------------------------------------------------------------------|
| target       | [..., Q, C] | scores whose softmax is the target distribution p                |
| inputs       | [..., Q, C] | scores whose log-softmax is the learned distribution q           |
| temperatures | floats      | each side's scores are divided by its own temperature            |

Returns mean over queries of KL(p || q) = sum_c p_c (log p_c - log q_c), one value per leading index
([] for [Q, C] inputs, [k] for [k, Q, C]): PyTorch's "batchmean" per leading index. Computed in float32
(bf16 autocast would round the log-probabilities).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kl_divergence(target: torch.Tensor, inputs: torch.Tensor, target_temperature: float = 1.0,
                  input_temperature: float = 1.0) -> torch.Tensor:
    if target.shape != inputs.shape:
        raise ValueError(f"target scores {tuple(target.shape)} and input scores {tuple(inputs.shape)} must cover the same candidates")
    dtype = torch.promote_types(torch.promote_types(target.dtype, inputs.dtype), torch.float32)  # float64 stays
    log_p = F.log_softmax(target.to(dtype) / target_temperature, dim=-1)
    log_q = F.log_softmax(inputs.to(dtype) / input_temperature, dim=-1)
    return F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(-1).mean(-1)
