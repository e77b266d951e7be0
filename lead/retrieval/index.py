"""Exact inner-product search with faiss (on the GPU when faiss-gpu and a GPU are present)."""

from __future__ import annotations

import logging

import faiss
import numpy as np

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def build_index(embeddings: np.ndarray, use_gpu: bool | None = None) -> faiss.Index:
    """An exact inner-product index over ``embeddings`` [N, dim] (float32)."""
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    index = faiss.IndexFlatIP(embeddings.shape[1])
    if use_gpu is None:
        use_gpu = gpu_available()
    if use_gpu:
        if not gpu_available():
            raise RuntimeError("eval.use_gpu: true, but faiss here has no GPU support (faiss-cpu, or no visible GPU): "
                               "install faiss-gpu-cu12 on a GPU machine, or set eval.use_gpu: null (GPU when available) or false")
        index = faiss.index_cpu_to_all_gpus(index)
        log.info("faiss index on %d GPU(s)", faiss.get_num_gpus())
    index.add(embeddings)
    return index


def search(index: faiss.Index, queries: np.ndarray, k: int, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (capped at the index size) scores and row indices, [Q, k] each, best first."""
    k = min(k, index.ntotal)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    scores, indices = [], []
    for start in range(0, len(queries), batch_size):
        batch_scores, batch_indices = index.search(queries[start : start + batch_size], k)
        scores.append(batch_scores)
        indices.append(batch_indices)
    if not scores:
        return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
    return np.concatenate(scores), np.concatenate(indices)
