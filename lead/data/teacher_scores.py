"""A teacher that is a file: its scores of (query, passage) pairs, read once and looked up per batch.

Score once, distill many times (Tevatron's ``train_distil``, sentence-transformers' ``MarginMSELoss``,
FlagEmbedding's ``pos_scores`` / ``neg_scores``): a distillation run whose ``teacher`` is a file reads the
teacher's final scores from it instead of running a model. Layouts, by the file's suffix:

- ``.tsv``: ``qid<TAB>pid<TAB>score`` per line (a first line ``qid pid score`` is a header); what the
  ``score@<name>`` stage writes.
- ``.parquet``: columns ``qid``, ``pid``, ``score`` (ids as strings or integers), read in record batches.
- ``.jsonl``: FlagEmbedding's ``{"query", "pos": [text], "neg": [text], "pos_scores", "neg_scores"}``: texts,
  resolved to the prepared training queries and collection by their text (whitespace-normalised as
  ``prepare`` writes them; a text shared by several ids scores all of them).

Every file is streamed; errors name the file and line (or row): a missing score, one that is not a number or
is NaN / infinite, a pid or passage text not in the collection, a pair scored twice. Queries that are not the
run's training queries are skipped (a file may score the whole training set, a run train on a divided part),
and counted in the log; a file that scores none of them is an error. Scores are kept per query as sorted int32
collection rows and float32 scores, 8 bytes a pair, also while reading: MS MARCO's 0.5M training queries x 200
candidates take 0.8 GB, in every training process (each reads the file).
"""

from __future__ import annotations

import hashlib
import logging
import math
from array import array
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import numpy as np

from lead.data.beir import iter_jsonl, require_key
from lead.data.examples import PassageStore
from lead.data.msmarco import iter_lines
from lead.config import DistillConfig
from lead.errors import DataFormatError, ParamsValueError, require_file

SUFFIXES = (".tsv", ".parquet", ".jsonl")
log = logging.getLogger(__name__)


def is_score_file(path: str | Path) -> bool:
    """Whether a run's ``teacher`` names a score file (by suffix) rather than a model folder."""
    return Path(path).suffix in SUFFIXES


class TeacherScores:
    """Per query, the collection rows the teacher scored (sorted) and its scores."""

    kind = "scores"
    supports_in_batch = True  # other queries' candidates it does not score are left out of its distribution

    def __init__(self, by_query: dict[str, tuple[np.ndarray, np.ndarray]], store: PassageStore, source: str):
        self.by_query, self.row, self.source = by_query, store.row, source

    def __len__(self) -> int:
        return sum(len(rows) for rows, _ in self.by_query.values())

    def matrix(self, qids: list[str], pids: list[str], group_size: int, own: bool) -> np.ndarray:
        """Scores [Q, C] as float32, NaN where the file does not score the pair.

        ``own``: C = group_size, query i's candidates ``pids[i*g:(i+1)*g]``; else C = len(pids), every query
        against every passage (the global in-batch set, query-major). A query's own candidates must be scored:
        a file that misses one was made for other candidates, and guessing its score would teach noise.
        """
        rows = np.fromiter((self.row[pid] for pid in pids), dtype=np.int32, count=len(pids))
        out = np.full((len(qids), group_size if own else len(pids)), np.nan, dtype=np.float32)
        for i, qid in enumerate(qids):
            own_rows = rows[i * group_size:(i + 1) * group_size]
            scored, scores = self.by_query.get(qid, (_NO_ROWS, _NO_SCORES))
            columns = own_rows if own else rows
            at = np.searchsorted(scored, columns).clip(max=max(len(scored) - 1, 0))
            found = scored[at] == columns if len(scored) else np.zeros(len(columns), dtype=bool)
            out[i, found] = scores[at[found]]
            first = 0 if own else i * group_size
            missing = ~found[first:first + group_size]
            if missing.any():
                pid = pids[i * group_size + int(np.argmax(missing))]
                raise DataFormatError(self.source, f"has no score for query {qid!r} and its candidate {pid!r}: score "
                                      "the run's training file (the score@<name> stage does) or train from the file "
                                      "the scores were made for")
        return out


def check_score_file_run(config: DistillConfig, candidates: str, key: str) -> None:
    """Refuse, in one line, what a teacher read from a score file cannot give: layers, training, or a score for
    every in-batch candidate (kd: logit compares every entry)."""
    if config.layer_weight > 0 or config.virt_weight > 0:
        raise ParamsValueError(f"{key}: the teacher is a score file, which has no layers: set layer_weight and "
                               "virt_weight to 0 (response KD) or name a teacher model folder")
    if config.teacher_trainable:
        raise ParamsValueError(f"{key}: the teacher is a score file, which cannot be trained: set teacher_trainable: false")
    if config.kd == "logit" and candidates != "own":
        raise ParamsValueError(f"{key}: kd: logit needs a teacher score for every candidate, and a score file scores a "
                               "query's own candidates only: set train.candidates: own")


_NO_ROWS, _NO_SCORES = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)


def read_teacher_scores(path: str | Path, store: PassageStore, queries: dict[str, str]) -> TeacherScores:
    """The scores of ``path`` (layout by suffix) for ``queries``, the run's training queries (qid -> text);
    ``.jsonl`` files are resolved to them and to ``store`` by text."""
    path = require_file(path, "teacher score file")
    if path.suffix not in SUFFIXES:
        raise DataFormatError(path, f"is not a teacher score file: use one of {', '.join(SUFFIXES)}")
    pairs = {".tsv": _tsv, ".parquet": _parquet, ".jsonl": _jsonl}[path.suffix]
    collected: dict[str, tuple[array, array]] = defaultdict(lambda: (array("i"), array("f")))  # 4 + 4 bytes a pair
    skipped = 0
    for where, qids, rows, score in pairs(path, store, queries):
        if not math.isfinite(score):
            raise DataFormatError(path, f"score {score} is not a finite number", where)
        skipped += not qids
        for qid in qids:
            collected[qid][0].extend(rows)
            collected[qid][1].extend([score] * len(rows))
    if not collected:
        raise DataFormatError(path, f"scores none of the {len(queries)} training queries: is it the teacher's file for "
                              "this training file (its query ids or texts)?")
    if skipped:
        log.info("%s: skipped %d scored pairs of queries outside the training file", path, skipped)
    by_query = {}
    for qid, (rows, scores) in collected.items():
        rows, scores = np.frombuffer(rows, dtype=np.int32), np.frombuffer(scores, dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        rows, scores = rows[order], scores[order]
        twice = np.flatnonzero(np.diff(rows) == 0)
        if len(twice):
            raise DataFormatError(path, f"scores query {qid!r} and passage {store.pids[rows[twice[0]]]!r} twice")
        by_query[qid] = (rows, scores)
    return TeacherScores(by_query, store, str(path))


Pair = tuple[int | str, list[str], list[int], float]  # where (line or "row N"), qids, collection rows, score


def _resolve(path: Path, where, qid: str, pid: str, store: PassageStore, queries: dict[str, str]) -> tuple[list[str], list[int]]:
    if pid not in store.row:
        raise DataFormatError(path, f"passage id {pid!r} is not in the collection {store.path}", where)
    return [qid] if qid in queries else [], [store.row[pid]]


def _number(value, path: Path, where) -> float:
    if isinstance(value, bool):
        raise DataFormatError(path, f"score {value!r} is not a number", where)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataFormatError(path, f"score {value!r} is not a number", where) from None


def _tsv(path: Path, store: PassageStore, queries: dict[str, str]) -> Iterator[Pair]:
    for line_no, line in iter_lines(path):
        fields = line.split("\t")
        if line_no == 1 and [f.strip().lower() for f in fields] == ["qid", "pid", "score"]:
            continue
        if len(fields) != 3:
            raise DataFormatError(path, f"expected qid<TAB>pid<TAB>score, found {len(fields)} field(s)", line_no)
        if not fields[2].strip():
            raise DataFormatError(path, f"no score for query {fields[0]!r} and passage {fields[1]!r}", line_no)
        qids, rows = _resolve(path, line_no, fields[0], fields[1], store, queries)
        yield line_no, qids, rows, _number(fields[2], path, line_no)


def _parquet(path: Path, store: PassageStore, queries: dict[str, str]) -> Iterator[Pair]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    missing = {"qid", "pid", "score"} - set(table.schema_arrow.names)
    if missing:
        raise DataFormatError(path, f"has no column(s) {sorted(missing)}: a score table needs qid, pid, score")
    row = 0
    for batch in table.iter_batches(columns=["qid", "pid", "score"]):
        for qid, pid, score in zip(*(batch.column(name).to_pylist() for name in ("qid", "pid", "score"))):
            row += 1
            where = f"row {row}"
            if score is None:
                raise DataFormatError(path, "has no score (null)", where)
            qids, rows = _resolve(path, where, str(qid), str(pid), store, queries)
            yield where, qids, rows, _number(score, path, where)


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(" ".join(str(text).split()).encode("utf-8"), digest_size=16).digest()


def _jsonl(path: Path, store: PassageStore, queries: dict[str, str]) -> Iterator[Pair]:
    by_query_text: dict[bytes, list[str]] = defaultdict(list)
    for qid, text in queries.items():
        by_query_text[_text_key(text)].append(qid)
    by_passage_text: dict[bytes, list[int]] = defaultdict(list)  # the collection's texts, by digest (16 bytes each)
    for line_no, line in iter_lines(store.path):
        fields = line.split("\t")
        if len(fields) > 1:
            by_passage_text[_text_key(fields[1])].append(store.row[fields[0]])
    for line_no, record in iter_jsonl(path):
        qids = by_query_text.get(_text_key(require_key(record, "query", path, line_no)), [])
        for texts_key, scores_key in (("pos", "pos_scores"), ("neg", "neg_scores")):
            texts, scores = require_key(record, texts_key, path, line_no), require_key(record, scores_key, path, line_no)
            if not isinstance(texts, list) or not isinstance(scores, list):
                raise DataFormatError(path, f"{texts_key!r} and {scores_key!r} must be lists", line_no)
            if len(scores) != len(texts):
                raise DataFormatError(path, f"{scores_key!r} has {len(scores)} scores for {len(texts)} texts in "
                                      f"{texts_key!r}: a score is missing", line_no)
            for number, (text, score) in enumerate(zip(texts, scores), start=1):
                rows = by_passage_text.get(_text_key(text))
                if not rows:
                    raise DataFormatError(path, f"{texts_key} text {number} is not in the collection {store.path}", line_no)
                yield line_no, qids, rows, _number(score, path, line_no)
