"""Streaming readers for a BEIR dataset folder.

Layout::

    corpus.jsonl        {"_id": "4983", "title": "...", "text": "...", "metadata": {...}}   one a line
    queries.jsonl       {"_id": "0", "text": "...", "metadata": {...}}
    qrels/{split}.tsv   header ``query-id<TAB>corpus-id<TAB>score``, then one judgment a line

Real BEIR qrels files have CRLF line ends; ids are strings (an integer ``_id`` is turned into one).
``metadata`` is ignored; a missing ``title`` reads as "". Malformed input raises DataFormatError
naming ``path:line``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from lead.data import msmarco
from lead.errors import DataFormatError, require_file
from lead.records import Passage, Qrels, Query


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, object)`` for each non-blank line of a JSON-lines file, lazily."""
    lines = msmarco.iter_lines(path)
    return _iter_jsonl(Path(path), lines)


def _iter_jsonl(path: Path, lines) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line_no) from None
        if not isinstance(record, dict):
            raise DataFormatError(path, f"expected a JSON object, found {type(record).__name__}", line_no)
        yield line_no, record


def require_key(record: dict[str, Any], key: str, path: str | Path, line: int | None) -> Any:
    """``record[key]``, or DataFormatError naming the missing key."""
    if key not in record:
        raise DataFormatError(path, f"record is missing the required key {key!r}", line)
    return record[key]


def _id(record: dict[str, Any], path: Path, line: int) -> str:
    value = require_key(record, "_id", path, line)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
        raise DataFormatError(path, f"'_id' must be a non-empty string, found {value!r}", line)
    return str(value)


def _file(folder: str | Path, name: str) -> Path:
    folder = Path(folder)
    if folder.is_dir() and not (folder / name).exists():
        present = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
        raise DataFormatError(folder / name, f"not found: {folder} is not a BEIR folder (expected corpus.jsonl, "
                              f"queries.jsonl and qrels/<split>.tsv; it holds {present}); check data.source and data.path")
    return require_file(folder if folder.is_file() else folder / name)


def read_corpus(folder: str | Path) -> Iterator[Passage]:
    """Yield Passage(_id, text, title) from ``folder/corpus.jsonl`` (or the .jsonl file given)."""
    path = _file(folder, "corpus.jsonl")
    return _read_corpus(path, iter_jsonl(path))


def _read_corpus(path: Path, records) -> Iterator[Passage]:
    count = 0
    for line_no, record in records:
        pid = _id(record, path, line_no)
        text = require_key(record, "text", path, line_no)
        count += 1
        yield Passage(pid, str(text), str(record.get("title") or ""))
    if count == 0:
        raise DataFormatError(path, "is empty: no documents found")


def read_queries(folder: str | Path) -> Iterator[Query]:
    """Yield Query(_id, text) from ``folder/queries.jsonl``; a repeated ``_id`` names both lines."""
    path = _file(folder, "queries.jsonl")
    return _read_queries(path, iter_jsonl(path))


def _read_queries(path: Path, records) -> Iterator[Query]:
    seen: dict[str, int] = {}
    for line_no, record in records:
        qid = _id(record, path, line_no)
        text = require_key(record, "text", path, line_no)
        if qid in seen:
            raise DataFormatError(path, f"duplicate query id {qid!r} (first on line {seen[qid]})", line_no)
        seen[qid] = line_no
        yield Query(qid, str(text))
    if not seen:
        raise DataFormatError(path, "is empty: no queries found")


def available_splits(folder: str | Path) -> list[str]:
    """The qrels splits present, e.g. ``["test", "train"]`` (sorted)."""
    qrels = Path(folder) / "qrels"
    return sorted(p.stem for p in qrels.glob("*.tsv")) if qrels.is_dir() else []


def qrels_path(folder: str | Path, split: str) -> Path:
    """``folder/qrels/{split}.tsv``, or DataFormatError listing the splits that exist."""
    path = Path(folder) / "qrels" / f"{split}.tsv"
    if not path.exists():
        splits = ", ".join(available_splits(folder)) or "none"
        raise DataFormatError(path, f"qrels split {split!r} not found (available: {splits})")
    return require_file(path)


def read_qrels(folder: str | Path, split: str) -> Qrels:
    """Read ``folder/qrels/{split}.tsv`` into ``{qid: {doc_id: score}}`` (score-0 entries kept).

    Parsed by ``msmarco.read_qrels``, which knows the BEIR header; use ``msmarco.check_qrels_ids``
    with ``qrels_path(folder, split)`` to check the ids against the corpus and queries.
    """
    return msmarco.read_qrels(qrels_path(folder, split))
