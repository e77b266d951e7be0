"""TREC run files (``qid Q0 pid rank score tag``) and runs built from faiss search output.

Ranking order everywhere is trec_eval's: score descending, ties broken by pid descending
(``strcmp``), with scores compared as 32-bit floats because trec_eval stores them as C
``float``. ``ranked`` implements that order, so a written file's rank column is exactly the
ranking trec_eval / pytrec_eval will evaluate.
"""

from __future__ import annotations

import heapq
import math
from pathlib import Path

import numpy as np

from lead.errors import DataFormatError, require_file
from lead.io import atomic_open
from lead.records import Run


def ranked(scores: dict[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    """Return ``(pid, score)`` pairs in trec_eval's order, cut to ``depth`` if given.

    trec_eval sorts by score as a C float (float32) descending, then by docno descending (byte order,
    which for str is code-point order). Scores equal as float32 are ties.
    """
    pids = list(scores)
    values = [float(scores[pid]) for pid in pids]
    as_float32 = np.asarray(values, dtype=np.float64).astype(np.float32).tolist()
    keyed = zip(as_float32, pids, values)  # pids are unique, so values are never compared
    order = sorted(keyed, reverse=True) if depth is None else heapq.nlargest(depth, keyed)
    return [(pid, value) for _, pid, value in order]


def write_trec_run(path: str | Path, run: Run, tag: str, depth: int | None = None) -> None:
    """Write ``run`` as a 6-column TREC run file atomically.

    Queries in sorted order; within a query the ``ranked`` order, ranks from 1, at most
    ``depth`` lines per query. Scores are written with ``repr`` so they read back exactly.
    """
    if not tag or any(ch.isspace() for ch in tag):
        raise ValueError(f"run tag must be a non-empty word without whitespace, got {tag!r}")
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1 or None, got {depth}")
    with atomic_open(path) as handle:
        for qid in sorted(run):
            for rank, (pid, score) in enumerate(ranked(run[qid], depth), start=1):
                handle.write(f"{qid} Q0 {pid} {rank} {float(score)!r} {tag}\n")


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run file into ``qid -> pid -> score``; the rank column is ignored.

    Raises DataFormatError (``path:line: ...``) for a missing or empty file, a line without
    exactly 6 columns, a non-numeric or non-finite score, or a pid repeated within a query.
    """
    path = require_file(path, "run file")
    run: Run = {}
    with open(path, encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not part of the first qid
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise DataFormatError(
                    path, f"expected 6 columns 'qid Q0 pid rank score tag', got {len(fields)}", line_no
                )
            qid, _, pid, _, score_text, _ = fields
            try:
                score = float(score_text)
            except ValueError:
                raise DataFormatError(path, f"score {score_text!r} is not a number", line_no) from None
            if not math.isfinite(score):
                raise DataFormatError(path, f"score {score_text!r} is not finite", line_no)
            scores = run.setdefault(qid, {})
            if pid in scores:
                raise DataFormatError(path, f"pid {pid!r} appears twice for query {qid!r}", line_no)
            scores[pid] = score
    if not run:
        raise DataFormatError(path, "run file is empty")
    return run


def run_from_arrays(
    qids: list[str], pids: list[str] | np.ndarray, indices: np.ndarray, scores: np.ndarray
) -> Run:
    """Build a run from faiss search output.

    ``indices[i, j]`` is a row of ``pids`` (the j-th hit of query ``qids[i]``) and
    ``scores[i, j]`` its score; ``-1`` is faiss's "no result" and is skipped. Every query
    gets an entry, possibly empty. A pid hit twice keeps its highest score.
    """
    indices = np.asarray(indices)
    scores = np.asarray(scores)
    if indices.ndim != 2 or indices.shape != scores.shape:
        raise ValueError(f"indices {indices.shape} and scores {scores.shape} must be equal [Q, k] shapes")
    if len(qids) != indices.shape[0]:
        raise ValueError(f"{len(qids)} qids but {indices.shape[0]} rows of search results")
    if len(set(qids)) != len(qids):
        raise ValueError("qids contain duplicates")
    if indices.size and (indices.min() < -1 or indices.max() >= len(pids)):
        raise ValueError(f"indices must lie in [-1, {len(pids)}), got [{indices.min()}, {indices.max()}]")
    run: Run = {}
    for qid, rows, row_scores in zip(qids, indices.tolist(), scores.tolist()):
        hits: dict[str, float] = {}
        for row, score in zip(rows, row_scores):
            if row == -1:
                continue
            pid = str(pids[row])
            if pid not in hits or score > hits[pid]:
                hits[pid] = float(score)
        run[str(qid)] = hits
    return run


def query_chunks(candidates: dict[str, list[str]], chunk_pairs: int) -> list[list[str]]:
    """The queries of ``candidates`` (each query's candidate passages, as re-ranking reads a run) in order, cut
    into chunks of at most ``chunk_pairs`` candidates (a query with more stays whole)."""
    chunks: list[list[str]] = [[]]
    pairs = 0
    for qid in candidates:
        if chunks[-1] and pairs + len(candidates[qid]) > chunk_pairs:
            chunks.append([])
            pairs = 0
        chunks[-1].append(qid)
        pairs += len(candidates[qid])
    return [chunk for chunk in chunks if chunk]
