"""Evaluate a model by full retrieval (dual encoder: corpus encoding + faiss search, exact by default; ColBERT:
exhaustive MaxSim) and score runs with pytrec_eval (or by answer match)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from lead.config import EvalConfig
from lead.data.answers import answer_accuracy
from lead.data.prepared import PreparedData
from lead.errors import ParamsValueError
from lead.evaluation.metrics import evaluate_run
from lead.models.colbert import ColBERT
from lead.models.dual_encoder import DualEncoder
from lead.records import Run
from lead.retrieval.maxsim import exhaustive_maxsim
from lead.retrieval.search import retrieve


@dataclass
class RetrievalResult:
    run: Run
    metrics: dict[str, float]
    timing: dict[str, float]

def evaluate_dual_encoder(model: DualEncoder, data: PreparedData, split: str, config: EvalConfig) -> RetrievalResult:
    run, timing = retrieve(model, data, data.queries(split), config)
    return RetrievalResult(run, score_run(data, split, run, config), timing)

def score_run(data: PreparedData, split: str, run: Run, config: EvalConfig) -> dict[str, float]:
    """pytrec_eval metrics of ``run`` on ``split`` (test: the data's graded threshold; train/dev: >= 1), or
    top-k answer accuracy (``Accuracy@k``) for a split judged by answer strings (DPR's Natural Questions)."""
    answers = data.answers(split)
    if answers is not None:
        return answer_accuracy(run, answers, lambda pid: data.store[pid].text)
    return evaluate_run(
        data.qrels(split), run, rel_threshold=data.threshold(split),
        recall_depths=config.recall_depths, hit_depths=config.hit_depths,
    )

def evaluate_scorer(model, data: PreparedData, split: str, config: EvalConfig) -> RetrievalResult:
    """Full retrieval: a dual encoder through faiss, a ColBERT model by exhaustive MaxSim."""
    if isinstance(model, DualEncoder):
        return evaluate_dual_encoder(model, data, split, config)
    if isinstance(model, ColBERT):
        started = time.perf_counter()
        run = exhaustive_maxsim(model, data, data.queries(split), config.depth, config.batch_size)
        return RetrievalResult(run, score_run(data, split, run, config), {"search_s": time.perf_counter() - started})
    raise ParamsValueError(f"a {model.kind} model cannot retrieve from the whole collection: evaluate it as a re-ranker (eval.rerank)")
