"""Hard-negative mining and re-ranking: the reusable retrieval steps of LEAD and PROD.

``mine_negatives``: retrieve the top ``depth`` passages of every training query with a dual encoder, drop
*every* judged positive (the reference compared a string id with an integer and kept positives in the
negative lists, spec A.9), and keep the first ``keep`` in rank order. Where the training split has answer
strings (Natural Questions in DPR's files), a passage holding an answer is no negative either, as in DPR.

``rerank``: score each query's candidate list with any scorer (a cross-encoder, ColBERT or a dual encoder)
over its own candidates; PROD re-ranks the student's top-200 with its teacher this way. A dual encoder and
ColBERT encode each distinct passage once (candidate lists overlap: the embedded test split's 400 lists of 30
hold 2,927 passages), and a fused model's run is its members' runs summed, so its dual-encoder member does the
same; a cross-encoder scores pairs, sorted by length across queries so that a batch pads little.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Iterable, Iterator

import torch
from tqdm.auto import tqdm

from lead.config import EvalConfig
from lead.data.answers import answer_matcher
from lead.data.examples import PassageStore, QueryExample
from lead.data.prepared import PreparedData
from lead.data.runs import query_chunks, ranked
from lead.models.base import Scorer
from lead.models.colbert import ColBERT
from lead.models.dual_encoder import DualEncoder, passage_text
from lead.models.fused import Fused
from lead.records import Query, Run, TextBatch
from lead.retrieval.encode import encode
from lead.retrieval.maxsim import rerank_maxsim
from lead.retrieval.search import search_collection


def remove_positives(ranking: Iterable[str], positives: Iterable[str], keep: int) -> list[str]:
    """The first ``keep`` ids of ``ranking`` that are not positives (ids compared as strings)."""
    positives = {str(p) for p in positives}
    negatives = []
    for pid in ranking:
        if len(negatives) >= keep:
            break
        if str(pid) not in positives:
            negatives.append(str(pid))
    return negatives


def mine_negatives(
    model: DualEncoder, data: PreparedData, examples: list[QueryExample], depth: int = 200, keep: int = 100,
    batch_size: int = 64, search: EvalConfig | None = None, skip: int = 0,
) -> list[QueryExample]:
    """``examples`` with ``negatives`` replaced by the model's top-ranked non-positives (rank order), after
    the first ``skip`` of them (RocketQA's remedy for unjudged relevant passages at the top).

    ``search``: the eval params' index and embedding storage (its depth and batch size are these).
    """
    queries = [Query(e.qid, e.query) for e in examples]
    hits, _ = search_collection(model, data, queries, dataclasses.replace(search or EvalConfig(), depth=depth, batch_size=batch_size))
    answers = data.answers("train") or {}
    mined = []
    for start, run in hits.runs():  # a slice of queries at a time: the whole run would not fit in RAM on MS MARCO
        mined += _negatives(examples[start : start + len(run)], run, data, answers, skip, keep)
    return mined


def _negatives(examples: list[QueryExample], run: Run, data: PreparedData, answers: dict, skip: int, keep: int) -> list[QueryExample]:
    """The mined examples of ``examples`` from their ``run``."""
    mined = []
    for example in examples:
        ranking = [pid for pid, _ in ranked(run.get(example.qid, {}))]
        if example.qid in answers:  # an unjudged passage that holds the answer would be a false negative
            holds = answer_matcher(answers[example.qid])
            ranking = [pid for pid in ranking if not holds(data.store[pid].text)]
        negatives = remove_positives(ranking, example.positives, skip + keep)[skip:]
        if negatives:  # a query whose every retrieved passage is positive cannot be trained contrastively
            mined.append(QueryExample(example.qid, example.query, example.positives, negatives))
    return mined


@torch.inference_mode()
def rerank(
    scorer: Scorer, queries: dict[str, str], candidates: dict[str, list[str]], store: PassageStore,
    batch_size: int = 32, progress: bool = True,
) -> Run:
    """Scores of each query's candidates by ``scorer`` (own-candidate mode), as a run."""
    if isinstance(scorer, Fused):  # s_reranker + w s_first_stage, each member scored its cheapest way
        reranked, first = (rerank(member, queries, candidates, store, batch_size, progress)
                           for member in (scorer.reranker, scorer.first_stage))
        return {qid: {pid: score + scorer.weight * first[qid][pid] for pid, score in scores.items()}
                for qid, scores in reranked.items()}
    if isinstance(scorer, DualEncoder):
        return _rerank_dense(scorer, queries, candidates, store, batch_size, progress)
    if isinstance(scorer, ColBERT):
        return rerank_maxsim(scorer, queries, candidates, store, batch_size, progress)
    return rerank_pairs(scorer, queries, candidates, store, batch_size, progress)


@torch.inference_mode()
def rerank_pairs(
    scorer: Scorer, queries: dict[str, str], candidates: dict[str, list[str]], store: PassageStore,
    batch_size: int = 32, progress: bool = True, sort_window: int = 256,
) -> Run:
    """``rerank`` for any scorer, pair by pair. The pairs of ``batch_size * sort_window`` candidates at a time
    (queries in order) are sorted by token length and scored ``batch_size`` at a time whatever query each is
    of: a batch pads to its longest pair, and one query's candidates vary most in length (the embedded test
    split's cross-encoder re-ranking, 1.26x faster on CPU-2: BENCHMARKS.md "Re-ranking pairs sorted by length").
    A pair's score does not depend on its batch beyond float rounding. ``sort_window=0``: each query with
    chunks of its own candidates, in order (the code before 2026-12-07's change)."""
    was_training = scorer.training
    scorer.eval()
    run: Run = {qid: dict.fromkeys(pids) for qid, pids in candidates.items()}  # each query's candidate order
    with tqdm(total=sum(map(len, candidates.values())), desc=f"rerank with {scorer.kind}", unit="pair",
              disable=not progress) as bar:
        for qids, pids in _pair_batches(scorer, queries, candidates, store, batch_size, sort_window):
            # one pair a group (a cross-encoder reads the same tokens either way): [pairs, 1] scores
            batch = TextBatch(qids, [queries[q] for q in qids], pids, [store[p] for p in pids], 1)
            scores = scorer.scores(batch, own=True).final.float().reshape(-1).tolist()
            for qid, pid, score in zip(qids, pids, scores):
                run[qid][pid] = score
            bar.update(len(pids))
    scorer.train(was_training)
    return run


def _pair_batches(scorer: Scorer, queries: dict[str, str], candidates: dict[str, list[str]], store: PassageStore,
                  batch_size: int, sort_window: int) -> Iterator[tuple[list[str], list[str]]]:
    """(query ids, passage ids) of each batch of pairs: token-length-sorted windows, or each query's own chunks."""
    if not sort_window:
        for qid, pids in candidates.items():
            for start in range(0, len(pids), batch_size):
                chunk = pids[start : start + batch_size]
                yield [qid] * len(chunk), chunk
        return
    pairs = ((qid, pid) for qid, pids in candidates.items() for pid in pids)
    while window := list(itertools.islice(pairs, batch_size * sort_window)):
        qids, pids = (list(dict.fromkeys(ids)) for ids in zip(*window))
        tokens = {**_token_counts(scorer, {q: queries[q] for q in qids}),
                  **_token_counts(scorer, {p: passage_text(store[p]) for p in pids})}
        window.sort(key=lambda pair: tokens[pair[0]] + tokens[pair[1]])
        for start in range(0, len(window), batch_size):
            batch_qids, batch_pids = zip(*window[start : start + batch_size])
            yield list(batch_qids), list(batch_pids)


def _token_counts(scorer: Scorer, texts: dict[str, str]) -> dict[str, int]:
    """Each text's length in the scorer's tokens (the sort key: characters sort tokens too loosely)."""
    ids = scorer.tokenizer(list(texts.values()), add_special_tokens=False, truncation=True)["input_ids"]  # <= model max
    return dict(zip(texts, map(len, ids)))


def _rerank_dense(model: DualEncoder, queries: dict[str, str], candidates: dict[str, list[str]],
                  store: PassageStore, batch_size: int, progress: bool, chunk_pairs: int = 200_000) -> Run:
    """A dual encoder's scores of each query's candidates, each distinct passage of a chunk of queries embedded
    once (chunks of at most ``chunk_pairs`` candidates bound the memory: PROD divides MS MARCO's training set)."""
    run: Run = {}
    for chunk in query_chunks(candidates, chunk_pairs):
        pids = list(dict.fromkeys(pid for qid in chunk for pid in candidates[qid]))
        row = {pid: i for i, pid in enumerate(pids)}
        query_vectors = encode(model, [queries[qid] for qid in chunk], "queries", len(chunk), batch_size,
                               progress=progress)
        passage_vectors = encode(model, [store[pid] for pid in pids], "passages", len(pids), batch_size,
                                 progress=progress)
        for query_vector, qid in zip(query_vectors, chunk):
            scores = model.config.scale * (passage_vectors[[row[pid] for pid in candidates[qid]]] @ query_vector)
            run[qid] = dict(zip(candidates[qid], scores.tolist()))
    return run
