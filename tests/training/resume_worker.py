"""Run by ``torchrun --nproc_per_node=2`` from test_ddp.py: two ranks meet a checkpoint they must not resume.

A checkpoint left by a run of other params (another fingerprint), then one left by the same run on one process
(its state.json, as written before the number of processes was recorded, has no world_size). Rank 0 removes
the folder; rank 1, made slower, would list it after that: both must start over together and finish.

    python -m torch.distributed.run --standalone --nproc_per_node=2 resume_worker.py --root DIR
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import torch
import torch.distributed as dist

from lead.config import ScorerConfig, TrainConfig
from lead.data.examples import BatchSampler, PassageStore, examples_from_qrels
from lead.data.prepared import PreparedData
from lead.models.factory import build_scorer
from lead.training.distributed import init_distributed
from lead.training.loop import Trainer
from lead.training.methods import Warmup
from tests.training import dump_stacks_if_hung


def main() -> None:
    dump_stacks_if_hung()
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    root = parser.parse_args().root
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    info = init_distributed()
    torch.set_num_threads(1)
    data = PreparedData(root / "data")
    sampler = BatchSampler(examples_from_qrels(data.queries("train"), data.qrels("train")),
                           PassageStore(root / "data" / "collection.tsv"), 2, 1, seed=13, world_size=2)
    starts = []
    for left in ({"step": 2, "fingerprint": "old-params"}, {"step": 2, "fingerprint": "these-params"}):
        checkpoints = root / "checkpoints"
        if info.is_main:
            (checkpoints / "step-0000002").mkdir(parents=True, exist_ok=True)
            (checkpoints / "step-0000002" / "state.json").write_text(json.dumps(left))
        dist.barrier()
        torch.manual_seed(0)
        model = build_scorer(ScorerConfig(kind="de", name=str(root / "tiny"), query_max_length=16, passage_max_length=48))
        trainer = Trainer(Warmup(model, "in_batch"), sampler, TrainConfig(steps=2, batch_queries=2, checkpoint_every=100,
                          log_every=100), root / "out", checkpoints, root / "logs", dist=info, fingerprint="these-params")
        if info.rank == 1:
            time.sleep(1.0)  # slower rank: it looks at the checkpoints after rank 0 removed them
        starts.append(trainer.resume())
        trainer.train()
    (root / f"rank{info.rank}.json").write_text(json.dumps({"starts": starts}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
