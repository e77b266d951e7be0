"""One DDP step per scorer kind, run by ``tests/training/test_ddp.py`` as

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/training/ddp_worker.py \\
        --models MODELS --data PREPARED --step STEP --out RESULT.pt

Each rank loads the saved scorers ``MODELS/{de,colbert,ce}``, wraps each in DistributedDataParallel as
``Trainer`` does, takes its slice of the global batch of ``STEP`` (2 queries per rank, 1 negative), computes
``Warmup.loss`` and back-propagates once. Rank 0 saves every rank's loss and input lengths, its own
(all-reduced) gradients, and the results of ``broadcast_object`` and ``gather_with_grad``, for the test to
compare with a single process over the same global batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lead.data.examples import BatchSampler  # noqa: E402
from lead.models.factory import load_scorer  # noqa: E402
from lead.training.distributed import (  # noqa: E402
    broadcast_object,
    gather_with_grad,
    init_distributed,
)
from lead.training.methods import Warmup  # noqa: E402
from tests.helpers import TrainingData  # noqa: E402
from tests.training import dump_stacks_if_hung  # noqa: E402

KINDS = ("de", "colbert", "ce")
QUERIES_PER_RANK = 2
NEGATIVES = 1
SEED = 13


def main() -> None:
    dump_stacks_if_hung()
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--step", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    torch.set_num_threads(1)
    info = init_distributed()
    assert info.world_size == 2 and dist.is_initialized(), "run me with --nproc_per_node=2"
    rank = info.rank

    mine: dict = {"rank": rank}
    # broadcast_object: rank 0's value everywhere.
    mine["broadcast"] = broadcast_object({"from": rank, "values": [rank] * 3})
    # gather_with_grad: shapes differ per rank ([1, 2] and [2, 3]); padded, concatenated, local slice differentiable.
    local = torch.full((rank + 1, rank + 2), float(rank + 1), requires_grad=True)
    gathered = gather_with_grad(local)
    (gathered * torch.arange(gathered.numel(), dtype=torch.float32).view(gathered.shape)).sum().backward()
    mine["gathered"], mine["gathered_grad"] = gathered.detach(), local.grad

    data = TrainingData.read(args.data)
    sampler = BatchSampler(data.examples, data.store, QUERIES_PER_RANK, NEGATIVES, seed=SEED, world_size=info.world_size)
    batch = sampler.batch(args.step, rank)
    mine["qids"], mine["pids"] = batch.qids, batch.pids

    grads = {}
    for kind in KINDS:
        scorer = load_scorer(args.models / kind).eval()  # eval: no dropout, so one process can match exactly
        model = DistributedDataParallel(scorer)
        method = Warmup(scorer, "own" if kind == "ce" else "in_batch")
        tokens = scorer.tokenize(batch)
        length_key = "input_ids" if kind == "ce" else "p_input_ids"
        loss, terms = method.loss(batch, {"model": model}, args.step)
        loss.backward()
        grads[kind] = {n: p.grad.detach().clone() for n, p in scorer.named_parameters() if p.grad is not None}
        mine[kind] = {
            "loss": terms["loss"],
            "scaled_loss": loss.item(),
            "length": tokens[length_key].shape[1],
            "grad_sums": {n: float(g.abs().sum()) for n, g in grads[kind].items()},
        }

    everyone = [None] * info.world_size
    dist.all_gather_object(everyone, mine)
    if rank == 0:
        torch.save({"ranks": everyone, "grads": grads}, args.out)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
