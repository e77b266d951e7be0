"""PyTorch DDP under ``torchrun``: process group set-up, and gathers that keep the local slice's gradient.

Global in-batch negatives: every rank gathers all ranks' query and passage encodings (and their masks) and
computes the loss over the global batch. Only the local slice of a gathered tensor carries gradient, so the
sum over ranks of the local gradients is the gradient of the global loss; DDP averages over ranks, which is
why the in-batch loss is multiplied by the world size (see ``lead.training.methods``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from lead.models.base import Encoded


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, NCCL on GPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        local_rank, device = int(os.environ.get("LOCAL_RANK", "0")), torch.device("cpu")
    if world_size == 1:
        return DistInfo(device=device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), world_size, local_rank, device)


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from every rank along dim 0; other dims are zero-padded to the largest rank's.

    The local slice is the input tensor itself, so gradients flow to it; the other slices are constants.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    world = dist.get_world_size()
    shape = torch.tensor(tensor.shape, device=tensor.device)
    shapes = [torch.zeros_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    target = torch.stack(shapes).max(0).values.tolist()
    padding = []
    for size, goal in zip(reversed(tensor.shape), reversed(target)):
        padding += [0, goal - size]
    padded = F.pad(tensor, padding) if any(padding) else tensor
    slices = [torch.zeros(target, dtype=padded.dtype, device=padded.device) for _ in range(world)]
    dist.all_gather(slices, padded.detach().contiguous())
    slices[dist.get_rank()] = padded
    return torch.cat([piece[: int(rows[0])] for piece, rows in zip(slices, shapes)], 0)


def gather_encoded(encoded: Encoded) -> Encoded:
    """Every tensor of ``encoded`` gathered across ranks (masks included: padded positions are masked out)."""
    return Encoded(
        {k: gather_with_grad(v) for k, v in encoded.queries.items()},
        {k: gather_with_grad(v) for k, v in encoded.passages.items()},
        group_size=encoded.group_size,
        layers=encoded.layers,
    )


def broadcast_object(obj, src: int = 0):
    """``obj`` from rank ``src`` on every rank (no-op without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
