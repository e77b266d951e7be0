"""Streaming readers for classic TREC SGML-style documents and topics (e.g. Vaswani/NPL, TREC disks).

Documents, ``read_trec_documents``::

    <DOC>
    <DOCNO>1</DOCNO>
    compact memories have flexible capacities  a digital data storage
    system with capacity up to bits ...
    </DOC>

Text may span lines and sit in sub-elements (``<TEXT>...</TEXT>``); ``<TITLE>``/``<HEADLINE>``/``<HEAD>``
content becomes the passage title, all other text the passage text (whitespace collapsed).

Topics, ``read_trec_topics``, both the closed Vaswani layout and the classic unclosed one::

    <top>                                   <top>
    <num>1</num><title>                     <num> Number: 301
    MEASUREMENT OF DIELECTRIC CONSTANT ...  <title> International Organized Crime
    </title>                                <desc> Description: ...
    </top>                                  </top>

A field runs until the next tag. TREC qrels (``qid 0 docno rel``) are read by ``msmarco.read_qrels``,
re-exported here as ``read_trec_qrels``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from lead.data import msmarco
from lead.errors import DataFormatError, require_file
from lead.records import Passage, Query

read_trec_qrels = msmarco.read_qrels

_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")
_TITLE_TAGS = {"TITLE", "HEADLINE", "HEAD"}
_LABELS = {"NUM": "Number:", "TITLE": "Topic:", "DESC": "Description:", "NARR": "Narrative:"}


def _tokens(path: Path) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line_no, kind, value)`` with kind "open"/"close" (value = upper-case tag) or "text"."""
    for line_no, line in msmarco.iter_lines(path):
        pos = 0
        for match in _TAG.finditer(line):
            if match.start() > pos:
                yield line_no, "text", line[pos : match.start()]
            yield line_no, "close" if match.group(1) else "open", match.group(2).upper()
            pos = match.end()
        if pos < len(line):
            yield line_no, "text", line[pos:]


def _clean(parts: list[str], label: str = "") -> str:
    text = " ".join(" ".join(parts).split())
    if label and text.lower().startswith(label.lower()):
        text = text[len(label) :].strip()
    return text


def read_trec_documents(path: str | Path) -> Iterator[Passage]:
    """Yield Passage(docno, text, title) for each ``<DOC>`` element."""
    return _read_trec_documents(require_file(path))  # the file check happens at the call


def _read_trec_documents(path: Path) -> Iterator[Passage]:
    start = None  # line of the open <DOC>, None outside a document
    field, fields = "", {}
    count = 0
    for line_no, kind, value in _tokens(path):
        if kind == "open" and value == "DOC":
            if start is not None:
                raise DataFormatError(path, f"<DOC> inside the <DOC> opened on line {start}", line_no)
            start, field, fields = line_no, "TEXT", {"DOCNO": [], "TITLE": [], "TEXT": []}
        elif start is None:
            if kind != "text" or value.strip():
                raise DataFormatError(path, f"{_show(kind, value)} outside a <DOC> element", line_no)
        elif kind == "close" and value == "DOC":
            docno = _clean(fields["DOCNO"])
            if not docno:
                raise DataFormatError(path, f"the <DOC> opened on line {start} has no <DOCNO>", line_no)
            count += 1
            yield Passage(docno, _clean(fields["TEXT"]), _clean(fields["TITLE"]))
            start = None
        elif kind == "open":
            field = "DOCNO" if value == "DOCNO" else "TITLE" if value in _TITLE_TAGS else "TEXT"
        elif kind == "close":
            field = "TEXT"
        else:
            fields[field].append(value)
    if start is not None:
        raise DataFormatError(path, f"the <DOC> opened on line {start} is never closed", line_no)
    if count == 0:
        raise DataFormatError(path, "is empty: no <DOC> elements found")


def read_trec_topics(path: str | Path, field: str = "title") -> Iterator[Query]:
    """Yield Query(num, text) for each ``<top>``; ``field`` picks "title", "desc" or "title+desc".

    A repeated topic number is an error naming both lines.
    """
    wanted = {"title": ["TITLE"], "desc": ["DESC"], "title+desc": ["TITLE", "DESC"]}.get(field)
    if wanted is None:
        raise ValueError(f"field must be 'title', 'desc' or 'title+desc', got {field!r}")
    return _read_trec_topics(require_file(path), wanted)


def _read_trec_topics(path: Path, wanted: list[str]) -> Iterator[Query]:
    start, field, fields = None, None, {}
    seen: dict[str, int] = {}
    for line_no, kind, value in _tokens(path):
        if kind == "open" and value == "TOP":
            if start is not None:
                raise DataFormatError(path, f"<top> inside the <top> opened on line {start}", line_no)
            start, field, fields = line_no, None, {}
        elif start is None:
            if kind != "text" or value.strip():
                raise DataFormatError(path, f"{_show(kind, value)} outside a <top> element", line_no)
        elif kind == "close" and value == "TOP":
            qid = _clean(fields.get("NUM", []), _LABELS["NUM"])
            if not qid:
                raise DataFormatError(path, f"the <top> opened on line {start} has no <num>", line_no)
            if qid in seen:
                raise DataFormatError(path, f"duplicate topic number {qid!r} (first on line {seen[qid]})", start)
            seen[qid] = start
            text = " ".join(t for t in (_clean(fields.get(f, []), _LABELS[f]) for f in wanted) if t)
            if not text:
                raise DataFormatError(path, f"topic {qid!r} has no {'/'.join(wanted).lower()} text", start)
            yield Query(qid, text)
            start = None
        elif kind == "open":
            field = value
        elif kind == "close":
            field = None
        elif field is not None:
            fields.setdefault(field, []).append(value)
    if start is not None:
        raise DataFormatError(path, f"the <top> opened on line {start} is never closed", line_no)
    if not seen:
        raise DataFormatError(path, "is empty: no <top> elements found")


def _show(kind: str, value: str) -> str:
    if kind == "text":
        return f"text {value.strip()[:40]!r}"
    return f"<{'/' if kind == 'close' else ''}{value}>"
