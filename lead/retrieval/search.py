"""Search a whole prepared collection with a dual encoder: encode it (in RAM, or into float16 shards on disk),
index it (lead.retrieval.index) and return every query's top hits as arrays (``Hits``), a slice of queries at
a time when a caller turns them into runs. Evaluation, mining and PROD's division all search through here."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from lead.config import EvalConfig
from lead.data.prepared import PreparedData
from lead.data.runs import run_from_arrays
from lead.models.dual_encoder import DualEncoder
from lead.records import Passage, Query, Run
from lead.retrieval.encode import encode
from lead.retrieval.index import build_index, search
from lead.retrieval.shards import encode_corpus

log = logging.getLogger(__name__)


def _recording_ids(passages: Iterable[Passage], pids: np.ndarray) -> Iterator[Passage]:
    """Pass passages through while noting each one's id at its row (the row is its faiss index)."""
    for row, passage in enumerate(passages):
        pids[row] = passage.pid
        yield passage


QUERIES_PER_RUN = 10_000  # Hits.runs: ~1M hits (100 MB of run dict) at depth 100


@dataclass
class Hits:
    """Search output as arrays: ``indices[i]`` / ``scores[i]`` are query ``qids[i]``'s hits (rows of ``pids``)
    best first. A run of dicts costs ~100 bytes a hit (MS MARCO's 500k training queries x 200: 10 GB), so
    callers that read every training query's list take it a slice of queries at a time (``runs``)."""

    qids: list[str]
    pids: np.ndarray
    indices: np.ndarray
    scores: np.ndarray

    def run(self, start: int = 0, stop: int | None = None) -> Run:
        rows = slice(start, stop)
        return run_from_arrays(self.qids[rows], self.pids, self.indices[rows], self.scores[rows])

    def runs(self, queries_per_run: int | None = None) -> Iterator[tuple[int, Run]]:
        """(first query's position, run of the next ``queries_per_run`` queries), in query order."""
        size = queries_per_run or QUERIES_PER_RUN
        for start in range(0, len(self.qids), size):
            yield start, self.run(start, start + size)


def search_collection(model: DualEncoder, data: PreparedData, queries: list[Query], config: EvalConfig) -> tuple[Hits, dict[str, float]]:
    """Top-``config.depth`` hits of ``queries`` over the whole prepared collection, and the timing."""
    started = time.perf_counter()
    if config.embeddings_dir is None:  # in memory, float32
        pids = np.empty(data.num_passages, dtype=object)
        corpus = encode(model, _recording_ids(data.passages(), pids), "passages", data.num_passages, config.batch_size)
        blocks, folder = corpus, None
    else:  # float16 shards on disk, streamed in and out; a killed run resumes at its first missing shard
        folder = Path(config.embeddings_dir) / model_fingerprint(model, data)
        _note_leftovers(folder)
        shards = encode_corpus(model, data.passages(), data.num_passages, folder, config.shard_size, config.batch_size,
                               fingerprint=folder.name)
        pids, blocks = shards.pids(), shards.blocks()
    encoded = time.perf_counter()
    query_vectors = encode(model, [q.text for q in queries], "queries", len(queries), config.batch_size)
    index = build_index(blocks, use_gpu=config.use_gpu, spec=config.index, nprobe=config.nprobe)
    scores, indices = search(index, query_vectors, config.depth)
    finished = time.perf_counter()
    del index
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)  # searched: the embeddings are not kept
    timing = {
        "passages": data.num_passages,
        "encode_passages_s": encoded - started,
        "passages_per_s": data.num_passages / max(encoded - started, 1e-9),
        "queries_and_search_s": finished - encoded,
    }
    return Hits([q.qid for q in queries], pids, indices, scores), timing


def _note_leftovers(folder: Path) -> None:
    """Warn about other models' shards beside ``folder``: interrupted runs' (a finished search removes its own),
    kept so that re-running them resumes, but gigabytes each at MS MARCO scale."""
    others = [f for f in folder.parent.glob("*") if f.is_dir() and f != folder] if folder.parent.is_dir() else []
    if others:
        size = sum(p.stat().st_size for f in others for p in f.glob("*") if p.is_file())
        log.warning("%s holds the embeddings of %d interrupted run(s) of other models (%.1f GB): %s; delete them "
                    "unless those runs are to resume", folder.parent, len(others), size / 1e9, ", ".join(f.name for f in others))


def retrieve(model: DualEncoder, data: PreparedData, queries: list[Query], config: EvalConfig) -> tuple[Run, dict[str, float]]:
    """Top-``config.depth`` run of ``queries`` over the whole prepared collection, and its timing."""
    hits, timing = search_collection(model, data, queries, config)
    return hits.run(), timing


def model_fingerprint(model: DualEncoder, data: PreparedData) -> str:
    """A short hash of the model's weights and input view and of the collection file: the shards' folder."""
    digest = hashlib.sha256(repr(model.config).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    collection = data.folder / "collection.tsv"
    digest.update(f"{collection.resolve()}:{collection.stat().st_size}:{collection.stat().st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
