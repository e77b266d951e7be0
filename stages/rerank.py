"""Stage rerank@<name>: the model at eval.rerank.<name> re-ranks the top eval.rerank_depth of a first stage.

    python -m stages.rerank <name>

The first stage is eval.first_stage's run (runs/<first_stage>.<split>.trec). Writes
runs/<name>.rerank.<split>.trec and metrics/<name>.rerank/ (DVCLive).
"""

from __future__ import annotations

import logging

from lead.config import as_dict
from lead.data.prepared import PreparedData
from lead.data.runs import ranked, read_trec_run, write_trec_run
from lead.errors import as_command
from lead.evaluation.dense import score_run
from lead.logs import log_metrics
from lead.models.factory import inference_device, load_scorer
from lead.pipeline import PREPARED, family
from lead.retrieval.mining import rerank
from lead.seeding import seed_everything
from stages.common import pick, stage_args

log = logging.getLogger("stages.rerank")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    folder = pick(params.eval.rerank, args.name, "eval.rerank", args.params)
    seed_everything(params.seed)
    split, depth = params.eval.split, params.eval.rerank_depth
    data = PreparedData(PREPARED)
    stage, raw = family("rerank"), as_dict(params)
    first = read_trec_run(family("evaluate").path("run", params.eval.first_stage, raw))
    candidates = {qid: [pid for pid, _ in ranked(scores, depth)] for qid, scores in first.items()}
    queries = {q.qid: q.text for q in data.queries(split)}
    run = rerank(load_scorer(folder, inference_device()), queries, candidates, data.store,
                 params.eval.batch_size)
    metrics = score_run(data, split, run, params.eval)
    write_trec_run(stage.path("run", args.name, raw), run, tag=f"{args.name}.rerank")
    log_metrics(stage.path("logs", args.name), {f"{split}/{k}": v for k, v in metrics.items()})
    log.info("%s re-ranking %s top-%d on %s: %s", args.name, params.eval.first_stage, depth, split,
             ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    as_command(main)
