"""One cached and one uncached DDP step per method, run by ``tests/training/test_grad_cache_ddp.py`` as

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/training/grad_cache_worker.py \\
        --model DE_FOLDER --data PREPARED --scores SCORES.tsv --scores-own OWN.tsv --out RESULT.pt

Each rank loads the saved dual encoder in float64, wraps it in DistributedDataParallel as ``Trainer`` does and
takes its slice of the global batch (3 queries per rank, 2 negatives). For a warm-up with in-batch negatives, KD
from a score file of every pair (in-batch, gathered) and KD from one that scores each query's own group only (the
other gathered candidates left out of the teacher's rows), it back-propagates the step uncached, then cached in
chunks of one query. Rank 0 saves both all-reduced gradients and the logged terms for the test to compare with one process.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lead.config import DistillConfig  # noqa: E402
from lead.data.examples import BatchSampler  # noqa: E402
from lead.data.teacher_scores import read_teacher_scores  # noqa: E402
from lead.models.factory import load_scorer  # noqa: E402
from lead.training.distill import Distill  # noqa: E402
from lead.training.distributed import init_distributed  # noqa: E402
from lead.training.grad_cache import GradCache  # noqa: E402
from lead.training.methods import Warmup  # noqa: E402
from tests.helpers import TrainingData  # noqa: E402
from tests.training import dump_stacks_if_hung  # noqa: E402

QUERIES_PER_RANK, NEGATIVES, SEED, STEP = 3, 2, 3, 0
KD = DistillConfig(student="s", teacher="t", kd="softmax", temperature=4.0, student_weight=0.1, response_weight=0.9,
                   layer_weight=0.0, teacher_trainable=False)


def methods(model_folder: Path, scores, scores_own) -> dict:
    """The methods the worker steps, each with a fresh float64 student (the test builds the same ones)."""
    return {"warmup": Warmup(load_scorer(model_folder).double().eval(), "in_batch"),
            "kd_file": Distill(load_scorer(model_folder).double().eval(), scores, KD, "in_batch"),
            "kd_own_only": Distill(load_scorer(model_folder).double().eval(), scores_own, KD, "in_batch")}


def main() -> None:
    dump_stacks_if_hung()
    parser = argparse.ArgumentParser()
    for name in ("--model", "--data", "--scores", "--scores-own", "--out"):
        parser.add_argument(name, type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    info = init_distributed()
    data = TrainingData.read(args.data)
    scores, scores_own = (read_teacher_scores(path, data.store, data.queries) for path in (args.scores, args.scores_own))
    batch = BatchSampler(data.examples, data.store, QUERIES_PER_RANK, NEGATIVES, seed=SEED, world_size=info.world_size).batch(STEP, info.rank)
    result = {}
    for name, method in methods(args.model, scores, scores_own).items():
        (role, scorer), = method.trainables.items()
        models = {role: DistributedDataParallel(scorer)}
        for label, step in (("uncached", method), ("cached", GradCache(method, 1))):
            scorer.zero_grad(set_to_none=True)
            terms = step.backward(batch, models, STEP, 1, contextlib.nullcontext)
            grads = {n: p.grad.detach().clone() for n, p in scorer.named_parameters() if p.grad is not None}
            result[f"{name}/{label}"] = {"terms": terms, "grads": grads}
    if info.rank == 0:
        torch.save(result, args.out)


if __name__ == "__main__":
    main()
