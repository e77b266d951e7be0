"""Training examples: queries with positives and ranked negatives, and the deterministic batches built from them.

Training file (``mine`` writes it, warm-up and distillation read it), JSON lines::

    {"qid": "17", "query": "which medic ...", "positives": ["804"], "negatives": ["12", "977", ...]}

``negatives`` are in retriever rank order (best first). Without a training file every example has no
negatives and the batch draws random passages instead (the "random negatives" baseline).

Batches are a pure function of (seed, step): the epoch's query order comes from ``seed + epoch`` and each
query's positive and negatives from ``seed + step``, so a resumed run sees exactly the batches an
uninterrupted run would, and under DDP rank r takes its slice of the same global batch.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Container, Iterable, Iterator, Literal

import numpy as np
import torch

from lead.errors import DataFormatError, ParamsValueError, require_file
from lead.io import atomic_open
from lead.records import Passage, Qrels, Query, TextBatch


@dataclass
class QueryExample:
    qid: str
    query: str
    positives: list[str]
    negatives: list[str] = field(default_factory=list)


def write_training_file(path: str | Path, examples: Iterable[QueryExample]) -> int:
    n = 0
    with atomic_open(path) as out:
        for example in examples:
            out.write(json.dumps(asdict(example)) + "\n")
            n += 1
    return n


def read_training_file(path: str | Path, collection: Container[str] | None = None) -> Iterator[QueryExample]:
    """The examples of a training file (JSON lines: qid, query, positives, optional negatives). With
    ``collection`` (a PassageStore, or a set of ids) every id must be in it, and no negative may be one of the
    query's positives: a bad file fails here, naming its line, not as a KeyError mid-training."""
    path = require_file(path, "training file")
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise DataFormatError(path, f"expected a JSON object, got {type(record).__name__}", line_no)
                qid, query, positives = record["qid"], record["query"], record["positives"]
                negatives = record.get("negatives", [])
                for key, value in (("positives", positives), ("negatives", negatives)):
                    if not isinstance(value, list):  # a bare string would be read as a list of characters
                        raise DataFormatError(path, f"{key} must be a list of passage ids, got {value!r}", line_no)
                example = QueryExample(str(qid), query, [str(p) for p in positives], [str(p) for p in negatives])
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, f"invalid JSON: {exc.msg}", line_no) from None
            except KeyError as exc:
                raise DataFormatError(path, f"missing key {exc.args[0]!r}", line_no) from None
            if not example.positives:  # a query without a positive cannot be trained on
                raise DataFormatError(path, f"query {example.qid}: empty positives", line_no)
            if collection is not None:
                unknown = next((pid for pid in example.positives + example.negatives if pid not in collection), None)
                if unknown is not None:
                    raise DataFormatError(path, f"query {example.qid}: passage {unknown!r} is not in the collection", line_no)
                both = set(example.positives) & set(example.negatives)
                if both:  # the LEAD reference's miner wrote such lists (spec A.9): re-mine with the mine stage
                    raise DataFormatError(path, f"query {example.qid}: negatives {sorted(both)} are its positives", line_no)
            yield example


def examples_from_qrels(queries: list[Query], qrels: Qrels, min_grade: int = 1) -> list[QueryExample]:
    """One example per query with at least one passage of grade >= ``min_grade`` (no negatives yet)."""
    examples = []
    for query in queries:
        positives = sorted(pid for pid, grade in qrels.get(query.qid, {}).items() if grade >= min_grade)
        if positives:
            examples.append(QueryExample(query.qid, query.text, positives))
    return examples


class PassageStore:
    """Random access to a prepared ``collection.tsv`` by pid, through byte offsets (the texts stay on disk).

    Reads are positional (``os.pread``): data-loader workers forked from a process that already read share its
    file descriptor, and a shared seek position would let one worker's seek land in another's read.
    """

    def __init__(self, path: str | Path):
        self.path = require_file(path, "collection")
        offsets, self.row = [], {}
        with open(self.path, "rb") as handle:
            position = 0
            for line in handle:
                pid = line.split(b"\t", 1)[0].decode("utf-8")
                self.row[pid] = len(offsets)
                offsets.append(position)
                position += len(line)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.lengths = np.diff(np.append(self.offsets, position))
        self.pids = list(self.row)
        self._fd = None

    def __len__(self) -> int:
        return len(self.offsets)

    def __contains__(self, pid: str) -> bool:
        return pid in self.row

    def __getitem__(self, pid: str) -> Passage:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        row = self.row[pid]
        line = os.pread(self._fd, int(self.lengths[row]), int(self.offsets[row]))
        fields = line.decode("utf-8").rstrip("\r\n").split("\t")  # the prepared layout
        return Passage(fields[0], fields[1], fields[2] if len(fields) > 2 else "")

    def __getstate__(self):  # picklable for worker processes: reopen the file there
        return {**self.__dict__, "_fd": None}

    def __del__(self):
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)


def queries_per_rank_for_passes(queries: int, batch_queries: int, world_size: int, grad_accum: int = 1) -> int:
    """Queries per process and micro-batch for a run that makes passes over its file (``epochs``):
    ``batch_queries``, or, where the file holds fewer queries than an optimiser step takes (a small divided set),
    as many as the file fills on every process and micro-batch: one pass is then one step over all of it, as a
    data loader's last partial batch would be."""
    micro_batches = world_size * grad_accum
    if queries >= batch_queries * micro_batches:
        return batch_queries
    if queries < micro_batches:
        raise ParamsValueError(f"only {queries} training queries for {world_size} processes x {grad_accum} accumulated "
                               "micro-batches: lower train.grad_accum or the number of processes (a divided set can be small)")
    return queries // micro_batches


class BatchSampler:
    """The global batch of a step, deterministic in (seed, step); ``rank`` takes its contiguous slice."""

    def __init__(
        self,
        examples: list[QueryExample],
        store: PassageStore,
        queries_per_rank: int,
        negatives: int,
        sampling: Literal["random", "descend"] = "random",
        seed: int = 13,
        world_size: int = 1,
        mask_accidental_positives: bool = False,
    ):
        if not examples:
            raise ParamsValueError("no training examples: the training file has no query with a positive (check the "
                                   "training split's judgments, or the run's train_file)")
        self.examples, self.store = examples, store
        self.per_rank, self.world_size = queries_per_rank, world_size
        self.global_size = queries_per_rank * world_size
        if self.global_size > len(examples):
            raise ParamsValueError(f"a global batch of {self.global_size} queries ({queries_per_rank} per process x {world_size}) "
                             f"but only {len(examples)} training queries: lower train.batch_queries or the number of "
                             "processes (a divided set can be small)")
        self.negatives, self.sampling, self.seed = negatives, sampling, seed
        self.mask_accidental_positives = mask_accidental_positives
        self.steps_per_epoch = len(examples) // self.global_size  # the last partial batch is dropped

    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.examples))

    def batch(self, step: int, rank: int = 0) -> TextBatch:
        epoch, index = divmod(step, self.steps_per_epoch)
        rows = self._order(epoch)[index * self.global_size : (index + 1) * self.global_size]
        mine = range(rank * self.per_rank, (rank + 1) * self.per_rank)
        # Every rank's groups, ids only (cheap): the mask and a score-file teacher read the global candidate set
        groups = [self._group(int(row), step) for row in rows]
        qids = [self.examples[rows[i]].qid for i in mine]
        queries = [self.examples[rows[i]].query for i in mine]
        pids = [pid for i in mine for pid in groups[i]]
        batch = TextBatch(qids, queries, pids, [self.store[pid] for pid in pids], 1 + self.negatives)
        if self.world_size > 1:
            batch.global_qids = [self.examples[row].qid for row in rows]
            batch.global_pids = [pid for group in groups for pid in group]
        if self.mask_accidental_positives:
            batch.accidental_positives = self._accidental_positives([self.examples[row] for row in rows], groups)
        return batch

    def _group(self, row: int, step: int) -> list[str]:
        """A query's candidate group at ``step``: one of its positives, then its negatives."""
        example = self.examples[row]
        rng = np.random.default_rng([self.seed, step, row])
        return [example.positives[rng.integers(len(example.positives))], *self._negatives(example, rng)]

    @staticmethod
    def _accidental_positives(examples: list[QueryExample], groups: list[list[str]]) -> torch.Tensor:
        """[Q, Q x g]: True where a candidate of the global batch is a positive of the query other than its own
        candidate 0 (another query's positive or negative that this query's judgments call relevant)."""
        pids = [pid for group in groups for pid in group]
        columns: dict[str, list[int]] = {}  # pid -> its columns: a query's few positives are looked up, not every column
        for j, pid in enumerate(pids):
            columns.setdefault(pid, []).append(j)
        mask = torch.zeros(len(examples), len(pids), dtype=torch.bool)
        for i, example in enumerate(examples):
            for pid in set(example.positives):
                mask[i, columns.get(pid, [])] = True
            mask[i, i * len(groups[i])] = False  # its own positive: the target
        return mask

    def _negatives(self, example: QueryExample, rng: np.random.Generator) -> list[str]:
        pool = example.negatives
        if not pool:  # random negatives from the whole collection, never a positive
            available = len(self.store) - sum(pid in self.store for pid in set(example.positives))
            if available < self.negatives:  # the draw below would never end
                raise ParamsValueError(f"query {example.qid}: {self.negatives} random negatives wanted but the collection has "
                                 f"only {available} passages that are not its positives")
            chosen = []
            while len(chosen) < self.negatives:
                pid = self.store.pids[rng.integers(len(self.store))]
                if pid not in example.positives and pid not in chosen:
                    chosen.append(pid)
            return chosen
        if self.sampling == "descend":  # the top of the list in rank order; a short list repeated (the reference)
            return (pool * (self.negatives // len(pool) + 1))[: self.negatives]
        if len(pool) < self.negatives:  # the reference repeats a short shuffled list: every entry appears
            return [pool[i] for i in np.resize(rng.permutation(len(pool)), self.negatives)]
        return [pool[i] for i in rng.choice(len(pool), size=self.negatives, replace=False)]
