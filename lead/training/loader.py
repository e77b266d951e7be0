"""Batches tokenized ahead of the step, in data-loader workers.

Tokenizing inside the step leaves the GPU idle while the CPU builds each model's input view; here a
``torch.utils.data.DataLoader`` builds the micro-batches of the coming steps in ``train.loader_workers``
processes (0: in the training process, as before) and hands them over with every model's tokens already in
``TextBatch.tokens`` (pinned on CUDA, so the copy to the GPU is asynchronous). Micro-batch ``i`` is the
sampler's pure function of ``i``, so the batches, and a resumed run, are the same whatever the worker count.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from lead.data.examples import BatchSampler
from lead.records import TextBatch

Tokenize = Callable[[TextBatch], dict[str, torch.Tensor]]


class TokenizedBatches(Dataset):
    """Micro-batches ``first, first + 1, ...`` (up to ``end``) of this rank, tokenized for every role."""

    def __init__(self, sampler: BatchSampler, tokenizers: dict[str, Tokenize], first: int, end: int, rank: int = 0):
        self.sampler, self.tokenizers, self.first, self.end, self.rank = sampler, tokenizers, first, end, rank

    def __len__(self) -> int:
        return max(self.end - self.first, 0)

    def __getitem__(self, index: int) -> TextBatch:
        batch = self.sampler.batch(self.first + index, self.rank)
        batch.tokens = {role: tokenize(batch) for role, tokenize in self.tokenizers.items()}
        return batch


def role_tokenizers(method) -> dict[str, Tokenize]:
    """The tokenize of every model a training method reads (trained and frozen), by its role; a role in the
    method's ``shares_tokens`` reads another role's tokens (PROD's LwF copy of the student) and gets none."""
    return {role: model.tokenize for role, model in method.roles().items() if role not in method.shares_tokens}


def tokenized_batches(sampler: BatchSampler, tokenizers: dict[str, Tokenize], first: int, end: int, rank: int = 0,
                      workers: int = 0, pin_memory: bool = False) -> Iterator[TextBatch]:
    """The micro-batches ``first..end-1`` in order, ``workers`` processes tokenizing ahead of the consumer."""
    dataset = TokenizedBatches(sampler, tokenizers, first, end, rank)
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, pin_memory=pin_memory,
                        prefetch_factor=4 if workers else None, collate_fn=_as_is)
    return iter(loader)


def _as_is(batch: TextBatch) -> TextBatch:
    return batch
