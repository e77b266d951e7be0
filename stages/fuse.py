"""Stage fuse@<name>: a trained re-ranker interpolated with its first stage (params fuse.<name>), written to
models/<name> for re-ranking (rerank@, divide@) and as a frozen teacher of PROD's steps.

    python -m stages.fuse <name>

Both models score the first ``queries`` training queries' positives and first ``negatives`` negatives; the first
stage's weight is the ratio of their score spreads within a query (lead/models/fused.py). No judgment is read:
the weight is fixed before any evaluation.
"""

from __future__ import annotations

import logging

from lead.config import ScorerConfig
from lead.data.examples import PassageStore, read_training_file
from lead.errors import as_command
from lead.models.factory import inference_device, load_scorer, save_scorer
from lead.models.fused import Fused, spread_weight
from lead.pipeline import COLLECTION, family
from lead.retrieval.mining import rerank
from lead.retrieval.scoring import candidates_of
from stages.common import pick, stage_args

log = logging.getLogger("stages.fuse")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    config = pick(params.fuse, args.name, "fuse", args.params)
    device = inference_device()
    models = {"reranker": load_scorer(config.reranker, device), "first_stage": load_scorer(config.first_stage, device)}
    store = PassageStore(COLLECTION)
    examples = list(read_training_file(config.train_file, store))[: config.queries]
    queries = {e.qid: e.query for e in examples}
    candidates = {e.qid: candidates_of(e, config.negatives) for e in examples}
    runs = {role: rerank(model, queries, candidates, store, params.eval.batch_size) for role, model in models.items()}
    weight = spread_weight(runs["reranker"], runs["first_stage"])
    log.info("fuse %s: %s + %.4g x %s (spreads over %d queries, %d candidates)", args.name, config.reranker, weight,
             config.first_stage, len(queries), sum(map(len, candidates.values())))
    fused = Fused(ScorerConfig(kind="fused", first_stage_weight=weight), models["reranker"], models["first_stage"])
    save_scorer(fused, family("fuse").path("model", args.name))  # whole or not at all


if __name__ == "__main__":
    as_command(main)
