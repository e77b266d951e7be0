"""VIRT's attention-map term (spec A.7), a LEAD baseline: match query-passage token-interaction maps.

| input          | shape          | meaning                                                                 |
|----------------|----------------|-------------------------------------------------------------------------|
| student_q / _p | [Q/P, k, L, H] | student token states at its selected layers, plain view [CLS] text [SEP] |
| teacher_q / _p | [Q/P, k, L, H] | teacher token states at the paired layers, the same view                |
| *_mask         | [Q/P, L]       | 1 on real tokens                                                        |

For every query i, passage j and layer pair: A[i, j, a, b] = softmax_b(h(q_i)_a . h(p_j)_b) over the
passage's real tokens. loss = sum over pairs, queries, passages, real query rows a and columns b of
(A_S - A_T)^2, divided by k * Q * P (the reference's normaliser for DE and ColBERT teachers).

The maps compare token positions, so student and teacher must use one tokenizer (VIRT is not liberal; LEAD's
score-level terms are). Positions are aligned in the plain view: ColBERT's marker token is dropped by the
scorer, which fixes the reference's one-position shift. Where the two truncate differently, the common
prefix of each sequence is compared.
"""

from __future__ import annotations

import torch


def interaction_maps(q: torch.Tensor, p: torch.Tensor, p_mask: torch.Tensor) -> torch.Tensor:
    """[Q, Lq, H] x [P, Lp, H] -> [Q, P, Lq, Lp]: each query token's softmax over a passage's real tokens."""
    sim = torch.einsum("qah,pbh->qpab", q.float(), p.float())
    sim = sim.masked_fill(~p_mask.bool()[None, :, None, :], torch.finfo(sim.dtype).min)
    return torch.softmax(sim, dim=-1)


def virt_loss(student_q: torch.Tensor, student_q_mask: torch.Tensor, student_p: torch.Tensor, student_p_mask: torch.Tensor,
              teacher_q: torch.Tensor, teacher_q_mask: torch.Tensor, teacher_p: torch.Tensor, teacher_p_mask: torch.Tensor,
              ) -> torch.Tensor:
    lq = min(student_q.shape[2], teacher_q.shape[2])
    lp = min(student_p.shape[2], teacher_p.shape[2])
    q_mask = (student_q_mask[:, :lq] * teacher_q_mask[:, :lq]).bool()
    p_mask = (student_p_mask[:, :lp] * teacher_p_mask[:, :lp]).bool()
    k, n_q, n_p = student_q.shape[1], student_q.shape[0], student_p.shape[0]
    total = student_q.new_zeros((), dtype=torch.float32)
    for layer in range(k):
        student = interaction_maps(student_q[:, layer, :lq], student_p[:, layer, :lp], p_mask)
        teacher = interaction_maps(teacher_q[:, layer, :lq], teacher_p[:, layer, :lp], p_mask)
        squared = (student - teacher).pow(2) * q_mask[:, None, :, None]
        total = total + squared.sum()
    return total / (k * n_q * n_p)
