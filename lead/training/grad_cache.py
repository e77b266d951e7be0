"""Gradient cache (GradCache, Gao et al. 2021) for a dual-encoder student: the step's loss over its whole candidate
set, in-batch and gathered across processes, at the activation memory of one chunk of queries.

A step of a wrapped method (``train.grad_cache_queries`` = N > 0):

1. the student encodes the batch in chunks of N queries and their candidate groups without gradient, each chunk's
   random state remembered, and the encodings become leaf tensors;
2. the wrapped method's loss runs unchanged over them (every term, gathers and teachers included) and one
   backward gives the loss's gradient with respect to the encodings: it passes through the score matrices only;
3. each chunk is encoded again with gradient under its remembered random state (the same dropout masks) and its
   encodings back-propagate their cached gradient; the parameter gradients add up to the uncached step's.

Every floating tensor a forward keeps is cached (final embeddings, and the per-layer ones LEAD's layer term and
deep supervision read), so any term of the student's encodings stays exact. Under DDP every chunk's backward but
the last runs in ``no_sync``; the last one all-reduces the accumulated gradients. Refused in one line where it
cannot hold: a student that is not a dual encoder (a cross-encoder scores pairs, ColBERT's token matrices are
not cached here) and a jointly trained teacher (its encodings would need their own cache).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lead.errors import ParamsValueError
from lead.models.base import Encoded
from lead.records import TextBatch
from lead.training.methods import Method, unwrap


def check_grad_cache(method: Method, key: str) -> str:
    """The role the cache encodes (the one trained model), or ParamsValueError naming what stops it."""
    if len(method.trainables) != 1:
        raise ParamsValueError(f"{key}.grad_cache_queries: a jointly trained teacher needs its own cache; use a frozen "
                               "teacher (teacher_trainable: false) or grad_cache_queries: 0")
    (role, scorer), = method.trainables.items()
    if scorer.kind != "de":
        raise ParamsValueError(f"{key}.grad_cache_queries: caches a dual-encoder student's embeddings; this {role} is a "
                               f"{scorer.kind} model: set grad_cache_queries: 0")
    return role


class GradCache(Method):
    """``method`` with its trained dual encoder's gradients computed chunk by chunk (see the module's docstring)."""

    def __init__(self, method: Method, chunk_queries: int, key: str = "train"):
        self.method, self.chunk_queries = method, chunk_queries
        self.role = check_grad_cache(method, key)
        self.trainables, self.frozen = method.trainables, method.frozen
        self.learning_rates, self.shares_tokens = method.learning_rates, method.shares_tokens

    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int):
        return self.method.loss(batch, models, step)  # uncached: what evaluation of a step's loss alone reads

    def backward(self, batch: TextBatch, models: dict[str, nn.Module], step: int, accumulation: int,
                 autocast: Callable[[], contextlib.AbstractContextManager]) -> dict[str, float]:
        model = models[self.role]
        cached = _CachedEncoder(unwrap(model), self.chunk_queries)
        with autocast():
            loss, terms = self.method.loss(batch, {**models, self.role: cached}, step)
        (loss / accumulation).backward()  # as far as the cached encodings: their .grad
        chunks = cached.chunks
        for i, (tokens, state) in enumerate(chunks):
            _set_rng_state(state)
            last = i == len(chunks) - 1
            sync = contextlib.nullcontext() if last or not isinstance(model, DistributedDataParallel) else model.no_sync()
            with sync:
                with autocast():
                    encoded = model(tokens, layers=cached.layers, token_states=cached.token_states)
                outputs, grads = [], []
                for mine, leaf in zip(_tensors(encoded), cached.leaves[i]):
                    if leaf.grad is not None:
                        outputs.append(mine)
                        grads.append(leaf.grad.to(mine.dtype))
                if not outputs:  # every loss term reads every query's encodings; a silent skip would desync DDP
                    raise RuntimeError(f"the loss gave no gradient to the student's encodings of chunk {i}")
                torch.autograd.backward(outputs, grads)
        return terms


class _CachedEncoder:
    """Stands in for the student in the wrapped loss: encodes in chunks without gradient and hands back leaves."""

    def __init__(self, scorer: nn.Module, chunk_queries: int):
        self.module, self.chunk_queries = scorer, chunk_queries  # ``module``: what methods.unwrap reads
        self.chunks: list[tuple[dict[str, torch.Tensor], tuple]] = []
        self.leaves: list[list[torch.Tensor]] = []
        self.layers: Sequence[int] = ()
        self.token_states = False

    def __call__(self, tokens: dict[str, torch.Tensor], layers: Sequence[int] = (), token_states: bool = False) -> Encoded:
        if self.chunks:
            raise RuntimeError("the gradient cache encodes the student once per step; this method asked twice")
        self.layers, self.token_states = layers, token_states
        parts = []
        for chunk in _split(tokens, self.chunk_queries):
            state = _rng_state()
            with torch.no_grad():
                encoded = self.module(chunk, layers=layers, token_states=token_states)
            self.chunks.append((chunk, state))
            leaves = [t.detach().requires_grad_(t.is_floating_point()) for t in _tensors(encoded)]
            self.leaves.append(leaves)
            parts.append(_with_tensors(encoded, leaves))
        return _concat(parts)


def _split(tokens: dict[str, torch.Tensor], chunk_queries: int) -> list[dict[str, torch.Tensor]]:
    """A dual encoder's tokens (``q_*`` rows: queries; ``p_*``: their groups, query-major) in chunks of queries."""
    queries = len(tokens["q_input_ids"])
    group = len(tokens["p_input_ids"]) // max(queries, 1)
    chunks = []
    for start in range(0, queries, chunk_queries):
        end = min(start + chunk_queries, queries)
        chunks.append({k: v[start:end] if k.startswith("q_") else v[start * group:end * group] for k, v in tokens.items()})
    return chunks


def _tensors(encoded: Encoded) -> list[torch.Tensor]:
    return [*encoded.queries.values(), *encoded.passages.values()]


def _with_tensors(encoded: Encoded, tensors: list[torch.Tensor]) -> Encoded:
    n = len(encoded.queries)
    return Encoded(dict(zip(encoded.queries, tensors[:n])), dict(zip(encoded.passages, tensors[n:])),
                   encoded.group_size, encoded.layers)


def _concat(parts: list[Encoded]) -> Encoded:
    first = parts[0]
    return Encoded({k: torch.cat([p.queries[k] for p in parts]) for k in first.queries},
                   {k: torch.cat([p.passages[k] for p in parts]) for k in first.passages}, first.group_size, first.layers)


def _rng_state() -> tuple:
    return torch.get_rng_state(), torch.cuda.get_rng_state() if torch.cuda.is_available() else None


def _set_rng_state(state: tuple) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda)
