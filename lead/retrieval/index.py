"""Inner-product search over corpus embeddings: faiss exact by default, approximate indexes by name, GPU paths.

``spec`` is a faiss index-factory string with the inner-product metric: ``Flat`` (exact, the default),
``HNSW32`` (graph, no training), ``IVF4096,Flat`` (inverted lists; ``nprobe`` lists searched), ``IVF4096,PQ64``
(compressed: 64 bytes a passage). Indexes that need training train on up to ``train_sample`` rows drawn
from the whole corpus (seeded). On a GPU: faiss-gpu when installed; else, for ``Flat``, exact search by torch matmul and
top-k over float16 blocks on the GPU (``TorchExactIndex``), which fits MS MARCO passage (8.8M x 768 in
float16: 13.5 GB) on one 80 GB card. On the CPU, ``Flat`` over float16 shards on disk is searched by the same
torch code where the shards lie (memory-mapped), so an exact search needs no RAM for the corpus: faiss's
``IndexFlatIP`` would hold it in float32 (MS MARCO passage at 768 dimensions: 27 GB).
"""

from __future__ import annotations

import logging
from typing import Iterable

import faiss
import numpy as np
import torch

from lead.errors import ParamsValueError

log = logging.getLogger(__name__)


def gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class TorchExactIndex:
    """Exact inner-product top-k with torch, corpus rows in float16 and scores in float32.

    On a GPU the rows are copied to it in float16 blocks; on the CPU the arrays added are kept as they are
    (memory-maps of shards stay on disk). Scores are computed in float32 slices of the corpus small enough that
    a slice's [queries, rows] scores and its [rows, dim] float32 vectors stay near ``score_budget`` floats each. The same
    ``search(queries, k) -> (scores, indices)`` and ``ntotal`` as a faiss index.
    """

    def __init__(self, dim: int, device: torch.device | str, block_rows: int = 1 << 20, score_budget: int = 1 << 27):
        self.dim, self.device, self.block_rows, self.score_budget = dim, torch.device(device), block_rows, score_budget
        self.blocks: list[torch.Tensor | np.ndarray] = []
        self.ntotal = 0

    def add(self, embeddings: np.ndarray) -> None:
        if self.device.type == "cpu":
            self.blocks.append(embeddings)
        else:
            for start in range(0, len(embeddings), self.block_rows):
                block = np.ascontiguousarray(embeddings[start : start + self.block_rows], dtype=np.float16)
                self.blocks.append(torch.from_numpy(block).to(self.device))
        self.ntotal += len(embeddings)

    @torch.inference_mode()
    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(self.device)
        best_scores = torch.full((len(q), 0), -torch.inf, device=self.device)
        best_rows = torch.zeros((len(q), 0), dtype=torch.long, device=self.device)
        rows = max(1, self.score_budget // max(len(q), self.dim))  # bounds the scores and the float32 slice alike
        offset = 0
        for block in self.blocks:
            for start in range(0, len(block), rows):  # merge each slice's top-k into the running top-k
                part = block[start : start + rows]
                # float32 products: float16 scores (spacing 0.125 at 200) would reorder close passages
                vectors = torch.from_numpy(np.asarray(part, dtype=np.float32)) if isinstance(part, np.ndarray) else part.float()
                top_scores, top_rows = (q @ vectors.T).topk(min(k, len(part)), dim=1)
                best_scores = torch.cat([best_scores, top_scores], 1)
                best_rows = torch.cat([best_rows, top_rows + offset + start], 1)
                best_scores, order = best_scores.topk(min(k, best_scores.shape[1]), dim=1)
                best_rows = best_rows.gather(1, order)
            offset += len(block)
        return best_scores.cpu().numpy(), best_rows.cpu().numpy()


def build_index(embeddings: np.ndarray | Iterable[np.ndarray], use_gpu: bool | None = None, spec: str = "Flat",
                nprobe: int = 32, train_sample: int = 262_144):
    """An inner-product index over ``embeddings``: one [N, dim] matrix (added to faiss in float32), or an
    iterable of row blocks (the float16 shards of ``lead.retrieval.shards``; exact search on the CPU leaves them
    on disk, see the module's docstring).

    ``use_gpu``: None = on the GPU when there is one (faiss-gpu, or torch for ``Flat``); True = required.
    """
    torch_gpu = spec == "Flat" and torch.cuda.is_available()
    if use_gpu and not (gpu_available() or torch_gpu):
        needs = "" if spec == "Flat" else f" (and eval.index {spec!r} needs faiss-gpu)"
        raise ParamsValueError(f"eval.use_gpu: true, but faiss here has no GPU support (faiss-cpu, or no visible GPU){needs}: "
                           "install faiss-gpu-cu12 on a GPU machine, or set eval.use_gpu: null (GPU when available) or false")
    if use_gpu is None:
        use_gpu = gpu_available() or torch_gpu
    all_blocks = [embeddings] if isinstance(embeddings, np.ndarray) else list(embeddings)  # shards: memory-maps
    blocks = iter(all_blocks)
    first = next(blocks, None)
    if first is None:
        raise ValueError("no embeddings to index")
    if use_gpu and not gpu_available():
        index = TorchExactIndex(first.shape[1], "cuda")
        log.info("exact search with torch on the GPU (faiss here has no GPU support)")
    elif spec == "Flat" and not use_gpu and not isinstance(embeddings, np.ndarray):
        index = TorchExactIndex(first.shape[1], "cpu")
        log.info("exact search with torch over the embedding shards where they lie (not loaded into RAM)")
    else:
        index = faiss.index_factory(first.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        if not index.is_trained:  # IVF / PQ: trained on a sample of rows from every block
            sample = _training_sample(all_blocks, train_sample)
            log.info("training index %s on %d vectors", spec, len(sample))
            index.train(sample)
        if hasattr(index, "nprobe"):
            index.nprobe = nprobe
        if use_gpu:
            index = faiss.index_cpu_to_all_gpus(index)
            log.info("faiss index on %d GPU(s)", faiss.get_num_gpus())
    _add(index, first)
    for block in blocks:
        _add(index, block)
    return index


def _training_sample(blocks: list[np.ndarray], size: int, seed: int = 0) -> np.ndarray:
    """``size`` rows drawn uniformly (seeded) from all ``blocks``, in float32: a collection's first rows are no
    sample of it (MS MARCO's order follows the queries its passages came from)."""
    total = sum(len(b) for b in blocks)
    if total <= size:
        return np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks])
    rows = np.sort(np.random.default_rng(seed).choice(total, size, replace=False))
    starts = np.cumsum([0] + [len(b) for b in blocks])
    parts = [np.asarray(block[rows[(rows >= lo) & (rows < hi)] - lo], dtype=np.float32)
             for block, lo, hi in zip(blocks, starts[:-1], starts[1:])]
    return np.ascontiguousarray(np.concatenate(parts))


def _add(index, block: np.ndarray) -> None:
    if isinstance(index, TorchExactIndex):
        index.add(block)
    else:
        index.add(np.ascontiguousarray(block, dtype=np.float32))


def search(index, queries: np.ndarray, k: int, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (capped at the index size) scores and row indices, [Q, k] each, best first."""
    k = min(k, index.ntotal)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    hnsw = getattr(faiss.downcast_index(index), "hnsw", None) if isinstance(index, faiss.Index) else None
    if hnsw is not None and hnsw.efSearch < k:  # a graph search explores efSearch candidates: fewer than k leaves holes
        hnsw.efSearch = k
    scores, indices = [], []
    for start in range(0, len(queries), batch_size):
        batch_scores, batch_indices = index.search(queries[start : start + batch_size], k)
        scores.append(batch_scores)
        indices.append(batch_indices)
    if not scores:
        return np.empty((0, k), np.float32), np.empty((0, k), np.int64)
    return np.concatenate(scores), np.concatenate(indices)
