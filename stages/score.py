"""Stage score@<name>: a teacher scores a training file's candidates once (params score.<name>), for every
distillation run that names data/scores/<name>.tsv as its teacher.

    python -m stages.score <name>                          # one process
    torchrun --nproc_per_node=N -m stages.score <name>     # the shards split over N processes (GPUs)

Each query's positives and negatives (the first score.<name>.negatives, all by default) are scored by the model
in own-candidate mode, in shards of shard_queries queries kept in checkpoints/score-<name> (a killed run
resumes at the first missing shard), then joined into data/scores/<name>.tsv (qid, pid, score).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from lead.data.examples import PassageStore, read_training_file
from lead.errors import as_command
from lead.io import fingerprint
from lead.models.factory import load_scorer
from lead.pipeline import COLLECTION, family
from lead.retrieval.scoring import join_shards, prepare_work, score_shards, wait_for_shards
from lead.training.distributed import barrier, init_distributed
from stages.common import pick, stage_args

log = logging.getLogger("stages.score")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    config = pick(params.score, args.name, "score", args.params)
    dist = init_distributed()
    store = PassageStore(COLLECTION)
    examples = list(read_training_file(config.train_file, store))
    stage = family("score")
    work = stage.path("checkpoints", args.name)
    if dist.rank == 0:  # shards made for other inputs are deleted before any process looks for its own
        prepare_work(work, fingerprint(config.model, config.train_file, COLLECTION, extra=asdict(config)))
    barrier()
    scorer = load_scorer(config.model, dist.device).eval()
    written = score_shards(scorer, examples, store, work, config.negatives, config.shard_queries, config.batch_size,
                           dist.rank, dist.world_size, progress=dist.rank == 0)
    if dist.rank == 0:
        # Processes finish apart (round-robin shards, some resumed): rank 0 waits for the files, not at a
        # collective, whose timeout (NCCL: 10 minutes) a long shard would outlast.
        wait_for_shards(work, len(examples), config.shard_queries)
        pairs = join_shards(work, len(examples), config.shard_queries, stage.path("scores", args.name))
        log.info("score.%s: %s (%s) scored %d pairs of %d queries from %s (%d shards scored now, the rest resumed)",
                 args.name, config.model, scorer.kind, pairs, len(examples), config.train_file, written)


if __name__ == "__main__":
    as_command(main)
