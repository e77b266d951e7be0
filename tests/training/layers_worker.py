"""Run by tests/training/test_layers.py under torchrun with 2 processes: each rank builds a LayerSelector
with its own seed (100 + rank) and writes the pairs it gets for steps 0..29 to OUT/rank<r>.json."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lead.training.distributed import init_distributed  # noqa: E402
from lead.training.layers import LayerSelector  # noqa: E402
from tests.training import dump_stacks_if_hung  # noqa: E402


def main() -> None:
    dump_stacks_if_hung()
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    info = init_distributed()
    assert info.world_size == 2, "run me with --nproc_per_node=2"
    selector = LayerSelector("random", 2, 6, 12, resample_every=3, seed=100 + info.rank)
    pairs = [[list(p.student), list(p.teacher)] for p in map(selector.pairs, range(30))]
    (args.out / f"rank{info.rank}.json").write_text(json.dumps(pairs))
    dist.barrier()  # no rank leaves while another may still be reading the last broadcast
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
