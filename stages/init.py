"""Stage init: build every model of params `models` from its pretrained weights into models/init/<key>.

    python -m stages.init

Cutting to num_layers, adding ColBERT markers and initialising heads happen here, once, so every later
stage starts from a saved folder. A model with ``vocabulary_size`` gets a WordPiece vocabulary trained on the
prepared collection and training queries (data/prepared).
"""

from __future__ import annotations

import itertools
import logging

import torch

from lead.data.prepared import PreparedData
from lead.errors import as_command
from lead.models.dual_encoder import passage_text
from lead.models.factory import build_scorer, parameter_count, save_scorer
from lead.pipeline import PREPARED, family
from stages.common import stage_args

log = logging.getLogger("stages.init")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv)
    for key, config in params.models.items():
        torch.manual_seed(params.seed)  # new heads are drawn from the seed
        texts = None
        if config.vocabulary_size:
            data = PreparedData(PREPARED)
            queries = [q.text for q in data.queries("train")] if "train" in data.splits() else []
            texts = itertools.chain(queries, map(passage_text, data.passages()))
        scorer = build_scorer(config, texts)
        folder = f"{family('init').path('model')}/{key}"
        save_scorer(scorer, folder)
        log.info("%s: %s, %d layers, %.1fM parameters", folder, config.kind, scorer.num_layers,
                 parameter_count(scorer) / 1e6)


if __name__ == "__main__":
    as_command(main)
