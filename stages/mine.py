"""Stage mine, and flash@<name>: hard negatives for every training query from a trained dual encoder.

    python -m stages.mine              # mine: the model mine.model -> data/mined/train.jsonl
    python -m stages.mine <name>       # flash@<name> (PROD's negative refresh): the model flash.<name>
                                       #   -> data/flash/<name>/train.jsonl

Retrieves the top mine.depth passages, removes every positive, drops the first mine.skip of the rest and
keeps the next mine.keep in rank order.
"""

from __future__ import annotations

import logging

from lead.data.examples import read_training_file, write_training_file
from lead.data.prepared import PreparedData
from lead.errors import ConfigError, as_command
from lead.models.dual_encoder import DualEncoder
from lead.models.factory import inference_device, load_scorer
from lead.pipeline import PREPARED, family
from lead.retrieval.mining import mine_negatives
from stages.common import pick, stage_args

log = logging.getLogger("stages.mine")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv, optional=("name",))
    if args.name is None:
        folder, key, out = f"models/{params.mine.model}", "mine.model", family("mine").path("training_file")
    else:
        folder = pick(params.flash, args.name, "flash", args.params)
        key, out = f"flash.{args.name}", family("flash").path("training_file", args.name)
    model = load_scorer(folder, inference_device())
    if not isinstance(model, DualEncoder):
        raise ConfigError(key, f"{folder} is a {model.kind} model; mining needs a dual encoder", args.params)
    examples = list(read_training_file(f"{PREPARED}/train.jsonl"))
    mined = mine_negatives(model, PreparedData(PREPARED), examples, params.mine.depth, params.mine.keep,
                           params.eval.batch_size, search=params.eval, skip=params.mine.skip)
    write_training_file(out, mined)
    log.info("mined with %s: %d of %d training queries, %.1f negatives each -> %s", folder, len(mined), len(examples),
             sum(len(e.negatives) for e in mined) / max(len(mined), 1), out)


if __name__ == "__main__":
    as_command(main)
