"""Stage mine: hard negatives for every training query from a trained dual encoder (params mine).

    python -m stages.mine

Retrieves the top mine.depth passages, removes every positive, keeps the top mine.keep in rank order and
writes data/mined/train.jsonl.
"""

from __future__ import annotations

import logging

from lead.data.examples import read_training_file, write_training_file
from lead.data.prepared import PreparedData
from lead.models.dual_encoder import DualEncoder
from lead.models.factory import load_scorer
from lead.retrieval.mining import mine_negatives
from stages.common import stage_args

log = logging.getLogger("stages.mine")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv)
    model = load_scorer(f"models/{params.mine.model}")
    if not isinstance(model, DualEncoder):
        raise SystemExit(f"{args.params}: mine.model: {params.mine.model} is a {model.kind} model; mining needs a dual encoder")
    examples = list(read_training_file("data/prepared/train.jsonl"))
    mined = mine_negatives(model, PreparedData("data/prepared"), examples, params.mine.depth, params.mine.keep,
                           params.eval.batch_size)
    write_training_file("data/mined/train.jsonl", mined)
    log.info("mined %d of %d training queries, %.1f negatives each", len(mined), len(examples),
             sum(len(e.negatives) for e in mined) / max(len(mined), 1))


if __name__ == "__main__":
    main()
