"""Contrastive NLL (InfoNCE) over a candidate set: the warm-up loss of every scorer.

| input   | shape  | meaning                                                                     |
|---------|--------|-----------------------------------------------------------------------------|
| scores  | [Q, C] | scores of each query against its candidates (in-batch: all passages; own: its group) |
| targets | [Q]    | column of each query's positive (in-batch: i * group_size; own: 0)          |

loss = mean_i -log softmax(scores_i)[targets_i]. With own candidates this is the listwise softmax loss of a
cross-encoder; with in-batch candidates it is DPR's loss with hard and in-batch negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_nll(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(scores.to(torch.promote_types(scores.dtype, torch.float32)), targets)  # float64 stays
