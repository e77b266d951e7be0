"""Encode queries or a corpus with a dual encoder: batched, length-sorted, with a progress bar.

Memory is bounded by one window of texts (``batch_size * sort_window``) plus the output matrix, which can be
a ``numpy.memmap`` for corpora larger than RAM. Sorting each window by length before batching cuts padding,
which is most of the cost on a CPU.
"""

from __future__ import annotations

import itertools
from typing import Iterable, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from lead.errors import is_out_of_memory, out_of_memory
from lead.models.dual_encoder import DualEncoder, passage_text
from lead.records import Passage


def encode(
    model: DualEncoder,
    items: Iterable[Passage] | Iterable[str],
    kind: Literal["queries", "passages"],
    total: int,
    batch_size: int = 64,
    sort_window: int = 16,
    out: np.ndarray | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Embed ``total`` items (passages or query strings) into a float32 [total, dim] matrix."""
    if out is None:
        out = np.empty((total, model.embedding_dim), dtype=np.float32)
    tokenize = model.tokenize_passages if kind == "passages" else model.tokenize_queries
    embed = model.embed_passages if kind == "passages" else model.embed_queries
    length = (lambda p: len(passage_text(p))) if kind == "passages" else len

    was_training = model.training
    model.eval()
    written = 0
    iterator = iter(items)
    with torch.inference_mode(), tqdm(total=total, desc=f"encode {kind}", unit=kind[:-1], disable=not progress) as bar:
        while window := list(itertools.islice(iterator, batch_size * sort_window)):
            order = sorted(range(len(window)), key=lambda i: length(window[i]))
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                try:
                    vectors = embed(tokenize([window[i] for i in rows])).float().cpu().numpy()
                except Exception as error:
                    if not is_out_of_memory(error):
                        raise
                    raise out_of_memory(f"encoding {kind}", error, f"lower eval.batch_size (now {batch_size}) or "
                                        "the model's passage_max_length / query_max_length") from error
                out[[written + i for i in rows]] = vectors
                bar.update(len(rows))
            written += len(window)
    model.train(was_training)
    if written != total:
        raise ValueError(f"expected {total} {kind} to encode, got {written}")
    return out
