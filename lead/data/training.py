"""Readers for training examples: queries with positive and negative passages, by id or by text.

Layouts read:

- ``read_dpr_json``: the LEAD / DPR bi-encoder JSON, one JSON list of
  ``{"question", "answers", "positive_ctxs", "hard_negative_ctxs", "negative_ctxs"}``. Contexts are either
  ids (str or int; LEAD's MS MARCO files) or objects ``{"passage_id", "title", "text", ...}`` (DPR's NQ files).
- ``read_prod_json``: PROD's training JSON, one list of ``{"query_id", "query_string", "pos_id": [..],
  "neg_id": [..]}``.
- ``read_scored_jsonl``: JSON lines ``{"query", "pos": [text], "neg": [text], "pos_scores", "neg_scores"}``
  with a teacher's score for every text (other keys, e.g. ``prompt``, are ignored).
- ``read_ranked_candidates``: one JSON list of ``{"query", "hits": [{"qid", "docid", "rank", "score",
  "content"}]}``, a retriever's ranked candidates with their text (RankGPT-style).

The JSON-list files are parsed incrementally (``iter_json_list``, json.JSONDecoder.raw_decode over
chunks), not with json.load, so a GB file is never held whole; errors name the line where the record
starts. Records with no positive (or, for PROD, no negative) are skipped and counted in a log warning.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from lead.data.beir import iter_jsonl, require_key
from lead.errors import DataFormatError, require_file

logger = logging.getLogger(__name__)


@dataclass
class TrainingExample:
    """One training query. ``positives``/``negatives`` are passage ids, empty when the file carries
    texts only (``read_scored_jsonl``); ``*_texts``/``*_titles`` are set when the file carries text and
    are parallel to the ids (or stand alone); ``*_scores`` are teacher scores parallel to the texts."""

    qid: str | None
    query: str
    positives: list[str]
    negatives: list[str]
    positive_scores: list[float] | None = None
    negative_scores: list[float] | None = None
    positive_texts: list[str] | None = None
    negative_texts: list[str] | None = None
    positive_titles: list[str] | None = None
    negative_titles: list[str] | None = None
    answers: list[str] | None = None  # DPR's answer strings, when the file carries them


class Candidate(NamedTuple):
    pid: str
    rank: int
    score: float
    text: str


class RankedCandidates(NamedTuple):
    qid: str
    query: str
    candidates: list[Candidate]


_WS = re.compile(r"[ \t\r\n]*")
_CHUNK = 1 << 20


def iter_json_list(path: str | Path, chunk_chars: int = _CHUNK) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, record)`` for each object of a file holding one JSON list, incrementally."""
    path = require_file(path)
    return _iter_json_list(path, chunk_chars)


class _Buffer:
    """A sliding window over a text file: ``buf[pos:]`` is unread; ``line`` is the line at ``buf[mark]``."""

    def __init__(self, handle, chunk_chars: int):
        self.handle, self.chunk = handle, chunk_chars
        self.buf, self.pos, self.line, self.mark, self.eof = "", 0, 1, 0, False

    def more(self, at_least: int) -> bool:
        """Drop what was read, append at least ``at_least`` characters; False at end of file."""
        if self.eof:
            return False
        self.line, self.mark = self.line_at(self.pos), 0
        data = self.handle.read(max(at_least, self.chunk))
        self.buf, self.pos, self.eof = self.buf[self.pos :] + data, 0, not data
        return bool(data)

    def peek(self) -> str:
        """Skip whitespace; the next character, or "" at end of file."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf) or not self.more(self.chunk):
                return self.buf[self.pos : self.pos + 1]

    def line_at(self, pos: int) -> int:
        """The line number at ``buf[pos]``, counting newlines only since the last call (no rescans)."""
        if pos < self.mark:
            return self.line - self.buf.count("\n", pos, self.mark)
        self.line += self.buf.count("\n", self.mark, pos)
        self.mark = pos
        return self.line


def _iter_json_list(path: Path, chunk_chars: int) -> Iterator[tuple[int, dict[str, Any]]]:
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig") as handle:
        b = _Buffer(handle, chunk_chars)
        if b.peek() != "[":
            raise DataFormatError(path, "expected a JSON list starting with '['", b.line_at(b.pos))
        b.pos += 1
        count = 0
        while True:
            char = b.peek()
            if char == "]":
                b.pos += 1
                break
            if count:
                if char != ",":
                    raise DataFormatError(path, f"expected ',' or ']' after a record, found {char!r}", b.line_at(b.pos))
                b.pos += 1
                char = b.peek()
            if not char:
                raise DataFormatError(path, "unexpected end of file: the JSON list is not closed", b.line_at(b.pos))
            line = b.line_at(b.pos)
            while True:
                try:
                    record, end = decoder.raw_decode(b.buf, b.pos)
                except json.JSONDecodeError as exc:
                    # A record cut by the chunk boundary fails near the end of the buffer (or as an
                    # unterminated string); anything else is a real error, reported without reading on.
                    error_line = b.line_at(exc.pos)
                    truncated = exc.pos >= len(b.buf) - 16 or exc.msg.startswith("Unterminated string")
                    if truncated and b.more(len(b.buf)):
                        continue
                    raise DataFormatError(path, f"invalid JSON: {exc.msg}", error_line) from None
                if end == len(b.buf) and b.more(len(b.buf)):
                    continue  # a value ending exactly at the chunk boundary might go on (a number)
                break
            b.pos = end
            if not isinstance(record, dict):
                raise DataFormatError(path, f"expected a JSON object, found {type(record).__name__}", line)
            count += 1
            yield line, record
        if b.peek():
            raise DataFormatError(path, "unexpected content after the JSON list", b.line_at(b.pos))
    if count == 0:
        raise DataFormatError(path, "is empty: the JSON list has no records")


def _list(record: dict[str, Any], key: str, path: Path, line: int, default: list | None = None) -> list:
    value = require_key(record, key, path, line) if default is None else record.get(key, default)
    if value is None and default is not None:
        value = default
    if not isinstance(value, list):
        raise DataFormatError(path, f"{key!r} must be a list, found {type(value).__name__}", line)
    return value


def _id(value: Any, key: str, path: Path, line: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise DataFormatError(path, f"{key!r} holds {value!r}, not a passage id", line)
    return str(value)


def _contexts(record: dict, key: str, path: Path, line: int, default: list | None = None):
    """Ids, and (texts, titles) when the contexts are DPR objects, else None."""
    items = _list(record, key, path, line, default)
    objects = [isinstance(item, dict) for item in items]
    if not any(objects):
        return [_id(item, key, path, line) for item in items], None, None
    if not all(objects):
        raise DataFormatError(path, f"{key!r} mixes passage ids and context objects", line)
    ids = [_id(require_key(item, "passage_id", path, line), key, path, line) for item in items]
    texts = [str(require_key(item, "text", path, line)) for item in items]
    return ids, texts, [str(item.get("title") or "") for item in items]


def read_dpr_json(path: str | Path, include_negative_ctxs: bool = False) -> Iterator[TrainingExample]:
    """Yield a TrainingExample per record with a positive; negatives are ``hard_negative_ctxs``
    (optional key), followed by ``negative_ctxs`` when ``include_negative_ctxs``. DPR's per-context
    ``score`` is a retriever score, not a teacher's, and is not read. ``qid`` is the record's
    ``qid``/``query_id`` when present, else None."""
    records = iter_json_list(path)
    return _read_dpr_json(Path(path), records, include_negative_ctxs)


def _read_dpr_json(path: Path, records, include_negative_ctxs: bool) -> Iterator[TrainingExample]:
    skipped = 0
    for line, record in records:
        query = require_key(record, "question", path, line)
        pos, pos_texts, pos_titles = _contexts(record, "positive_ctxs", path, line)
        neg, neg_texts, neg_titles = _contexts(record, "hard_negative_ctxs", path, line, default=[])
        if include_negative_ctxs:
            more, more_texts, more_titles = _contexts(record, "negative_ctxs", path, line, default=[])
            if (neg_texts is None) != (more_texts is None) and neg and more:
                raise DataFormatError(path, "hard_negative_ctxs and negative_ctxs mix ids and objects", line)
            neg = neg + more
            if more_texts is not None or neg_texts is not None:
                neg_texts = (neg_texts or []) + (more_texts or [])
                neg_titles = (neg_titles or []) + (more_titles or [])
        if not pos:
            skipped += 1
            continue
        qid = record.get("qid", record.get("query_id"))
        answers = record.get("answers")
        # Kept from DPR's NQ files (contexts with text); LEAD's id-only MS MARCO files put passage ids there.
        if pos_texts is None or not (isinstance(answers, list) and all(isinstance(a, str) for a in answers)):
            answers = None
        yield TrainingExample(
            qid=None if qid is None else str(qid), query=str(query), positives=pos, negatives=neg,
            positive_texts=pos_texts, negative_texts=neg_texts, positive_titles=pos_titles, negative_titles=neg_titles,
            answers=answers or None,
        )
    if skipped:
        logger.warning("%s: skipped %d records with no positive_ctxs", path, skipped)


def read_prod_json(path: str | Path) -> Iterator[TrainingExample]:
    """Yield a TrainingExample per PROD record; records with an empty pos_id or neg_id are dropped."""
    records = iter_json_list(path)
    return _read_prod_json(Path(path), records)


def _read_prod_json(path: Path, records) -> Iterator[TrainingExample]:
    skipped = 0
    for line, record in records:
        qid = _id(require_key(record, "query_id", path, line), "query_id", path, line)
        query = require_key(record, "query_string", path, line)
        pos = [_id(p, "pos_id", path, line) for p in _list(record, "pos_id", path, line)]
        neg = [_id(n, "neg_id", path, line) for n in _list(record, "neg_id", path, line)]
        if not pos or not neg:
            skipped += 1
            continue
        yield TrainingExample(qid=qid, query=str(query), positives=pos, negatives=neg)
    if skipped:
        logger.warning("%s: dropped %d records with an empty pos_id or neg_id", path, skipped)


def _scores(record: dict, key: str, texts: list, texts_key: str, path: Path, line: int) -> list[float]:
    scores = _list(record, key, path, line)
    if len(scores) != len(texts):
        raise DataFormatError(path, f"{key!r} has {len(scores)} scores but {texts_key!r} has {len(texts)} texts", line)
    if not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        raise DataFormatError(path, f"{key!r} holds a value that is not a number", line)
    return [float(s) for s in scores]


def read_scored_jsonl(path: str | Path) -> Iterator[TrainingExample]:
    """Yield a TrainingExample (texts and teacher scores, no ids) per line with a positive."""
    records = iter_jsonl(path)
    return _read_scored_jsonl(Path(path), records)


def _read_scored_jsonl(path: Path, records) -> Iterator[TrainingExample]:
    count = skipped = 0
    for line, record in records:
        query = require_key(record, "query", path, line)
        pos = [str(t) for t in _list(record, "pos", path, line)]
        neg = [str(t) for t in _list(record, "neg", path, line)]
        pos_scores = _scores(record, "pos_scores", pos, "pos", path, line)
        neg_scores = _scores(record, "neg_scores", neg, "neg", path, line)
        count += 1
        if not pos:
            skipped += 1
            continue
        yield TrainingExample(
            qid=None, query=str(query), positives=[], negatives=[], positive_scores=pos_scores,
            negative_scores=neg_scores, positive_texts=pos, negative_texts=neg,
        )
    if count == 0:
        raise DataFormatError(path, "is empty: no records found")
    if skipped:
        logger.warning("%s: skipped %d records with no positive", path, skipped)


def read_ranked_candidates(path: str | Path) -> Iterator[RankedCandidates]:
    """Yield RankedCandidates(qid, query, candidates in file order) per query; the qid is the hits'
    ``qid``, which must be the same for all of a query's hits."""
    records = iter_json_list(path)
    return _read_ranked_candidates(Path(path), records)


def _read_ranked_candidates(path: Path, records) -> Iterator[RankedCandidates]:
    for line, record in records:
        query = require_key(record, "query", path, line)
        hits = _list(record, "hits", path, line)
        if not hits:
            raise DataFormatError(path, "'hits' is empty", line)
        qids, candidates = set(), []
        for i, hit in enumerate(hits, start=1):
            if not isinstance(hit, dict):
                raise DataFormatError(path, f"hit {i} is not a JSON object", line)
            qids.add(_id(require_key(hit, "qid", path, line), "qid", path, line))
            rank, score = require_key(hit, "rank", path, line), require_key(hit, "score", path, line)
            if not isinstance(rank, int) or not isinstance(score, (int, float)):
                raise DataFormatError(path, f"hit {i}: rank must be an integer and score a number", line)
            pid = _id(require_key(hit, "docid", path, line), "docid", path, line)
            candidates.append(Candidate(pid, rank, float(score), str(require_key(hit, "content", path, line))))
        if len(qids) != 1:
            raise DataFormatError(path, f"the hits of one query carry different qids: {sorted(qids)}", line)
        yield RankedCandidates(qids.pop(), str(query), candidates)
