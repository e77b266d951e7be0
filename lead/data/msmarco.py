"""Streaming readers for the MS MARCO (and DPR / RocketQA) tab-separated files.

Layouts read (one record a line, UTF-8, LF or CRLF line ends; blank lines are skipped):

- passages, ``read_collection``: ``collection.tsv`` ``pid<TAB>text``; DPR's ``psgs_w100.tsv``
  ``id<TAB>text<TAB>title`` whose first row is the header ``id text title`` and whose fields are
  CSV-quoted when they hold a ``"``; our prepared layout ``pid<TAB>text[<TAB>title]``. LEAD's own
  ``psgs_w100.tsv`` has no header and stores ``id = pid + 1``: read it with ``id_offset=-1`` (``data.id_offset``).
- queries, ``read_queries``: ``qid<TAB>text`` (``queries.train.tsv``, ``queries.dev.small.tsv``, ...).
- judgments, ``read_qrels``: TREC ``qid 0 pid rel`` (tab or space separated, graded ints; TREC DL 2019/2020,
  ``qrels.train.tsv``, ``msmarco-doctrain-qrels.tsv``, classic TREC qrels), RocketQA's ``qid<TAB>pid``
  (rel = 1), and BEIR's ``query-id corpus-id score`` after its header line.
- training triples by id, ``read_triples_negatives``: ``qidpidtriples.train.full.2.tsv`` ``qid<TAB>pos<TAB>neg``.
- documents, ``read_documents``: ``msmarco-docs.tsv`` ``docid<TAB>url<TAB>title<TAB>body``.

Every reader is a generator that reads line by line (``read_qrels`` builds the dict it returns), so an
8.8M-passage collection is iterated in bounded memory. Malformed input raises DataFormatError naming
``path:line``.
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Container
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from lead.errors import DataFormatError, require_file
from lead.records import Passage, Qrels, Query

logger = logging.getLogger(__name__)

BEIR_QRELS_HEADER = ("query-id", "corpus-id", "score")


class Document(NamedTuple):
    docid: str
    url: str
    title: str
    body: str


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_no, line)`` (1-based, line end removed) for each non-blank line, lazily.

    The file check (missing, empty) happens at the call, not at the first ``next``.
    """
    path = require_file(path)
    return _iter_lines(path)


def _iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    # Binary lines split on LF only (a stray CR inside a field does not cut the record), and decoding
    # line by line lets a bad byte be reported at its line.
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataFormatError(path, f"not valid UTF-8 ({exc.reason} at byte {exc.start})", line_no) from None
            if line.strip():
                yield line_no, line


def iter_tsv(
    path: str | Path, columns: int | Sequence[int], fixed: bool = True
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_no, fields)`` for a tab-separated file whose lines have ``columns`` fields.

    ``columns`` may list several allowed counts; with ``fixed`` the first line fixes the count for the file.
    """
    allowed = (columns,) if isinstance(columns, int) else tuple(columns)
    lines = iter_lines(path)
    return _check_columns(Path(path), lines, allowed, fixed)


def _check_columns(path: Path, lines, allowed: tuple[int, ...], fixed: bool) -> Iterator[tuple[int, list[str]]]:
    expected = None
    for line_no, line in lines:
        fields = line.split("\t")
        if (expected is None or not fixed) and len(fields) in allowed:
            expected = len(fields)
        if len(fields) != (expected or -1):
            want = expected if fixed and expected is not None else " or ".join(map(str, allowed))
            raise DataFormatError(path, f"expected {want} tab-separated columns, found {len(fields)}", line_no)
        yield line_no, fields


def _no_records(path: Path, what: str) -> DataFormatError:
    return DataFormatError(path, f"is empty: no {what} found")


def read_collection(path: str | Path, id_offset: int = 0) -> Iterator[Passage]:
    """Yield Passage(pid, text, title) from a 2- or 3-column passage TSV (see the module docstring).

    Lines may mix 2 and 3 columns (our prepared layout writes a title only where there is one).
    """
    rows = iter_tsv(path, (2, 3), fixed=False)
    return _read_collection(Path(path), rows, id_offset)


def _read_collection(path: Path, rows, id_offset: int) -> Iterator[Passage]:
    quoted = False
    count = 0
    for line_no, fields in rows:
        if line_no == 1 and fields[0] == "id":
            quoted = True  # DPR's psgs_w100.tsv: a header, and csv quoting of fields holding '"'
            continue
        if quoted and '"' in "\t".join(fields):
            fields = next(csv.reader(["\t".join(fields)], delimiter="\t"))
            if len(fields) not in (2, 3):
                raise DataFormatError(path, f"expected 2 or 3 columns after CSV unquoting, found {len(fields)}", line_no)
        pid = fields[0]
        if not pid:
            raise DataFormatError(path, "empty passage id", line_no)
        if id_offset:
            if not pid.lstrip("-").isdigit():
                raise DataFormatError(path, f"passage id {pid!r} is not an integer (id_offset={id_offset})", line_no)
            pid = str(int(pid) + id_offset)
        count += 1
        yield Passage(pid, fields[1], fields[2] if len(fields) == 3 else "")
    if count == 0:
        raise _no_records(path, "passages")


def read_queries(path: str | Path) -> Iterator[Query]:
    """Yield Query(qid, text) from ``qid<TAB>text``; a repeated qid is an error naming both lines."""
    rows = iter_tsv(path, 2)
    return _read_queries(Path(path), rows)


def _read_queries(path: Path, rows) -> Iterator[Query]:
    seen: dict[str, int] = {}
    for line_no, (qid, text) in rows:
        if not qid:
            raise DataFormatError(path, "empty query id", line_no)
        if qid in seen:
            raise DataFormatError(path, f"duplicate query id {qid!r} (first on line {seen[qid]})", line_no)
        seen[qid] = line_no
        yield Query(qid, text)
    if not seen:
        raise _no_records(path, "queries")


def iter_qrels_lines(path: str | Path) -> Iterator[tuple[int, str, str, int]]:
    """Yield ``(line_no, qid, pid, rel)`` for each judgment, in file order.

    Accepted layouts (fixed by the first line): 4 fields ``qid iter pid rel`` (tab or space separated);
    2 fields ``qid<TAB>pid`` (rel = 1); BEIR's header ``query-id corpus-id score`` then 3 fields.
    """
    lines = iter_lines(path)
    return _iter_qrels_lines(Path(path), lines)


def _iter_qrels_lines(path: Path, lines) -> Iterator[tuple[int, str, str, int]]:
    width = None
    for line_no, line in lines:
        fields = line.split()
        if width is None:
            if tuple(fields) == BEIR_QRELS_HEADER:
                width = 3
                continue
            width = len(fields) if len(fields) in (2, 4) else None
        if len(fields) != width:
            want = width or "4 (qid iter pid rel) or 2 (qid pid)"
            raise DataFormatError(path, f"expected {want} qrels fields, found {len(fields)}", line_no)
        if width == 2:
            yield line_no, fields[0], fields[1], 1
            continue
        qid, pid, grade = (fields[0], fields[2], fields[3]) if width == 4 else fields
        try:
            rel = int(grade)
        except ValueError:
            raise DataFormatError(path, f"relevance grade {grade!r} is not an integer", line_no) from None
        yield line_no, qid, pid, rel


def read_qrels(path: str | Path) -> Qrels:
    """Read judgments into ``{qid: {pid: rel}}``; grade-0 entries are kept (as 0).

    A pair judged twice with different grades is an error; a repeated identical judgment is not.
    """
    qrels: Qrels = {}
    for line_no, qid, pid, rel in iter_qrels_lines(path):
        judged = qrels.setdefault(qid, {})
        if judged.get(pid, rel) != rel:
            raise DataFormatError(path, f"query {qid!r} passage {pid!r} judged {judged[pid]} before, now {rel}", line_no)
        judged[pid] = rel
    if not qrels:
        raise _no_records(Path(path), "judgments")
    return qrels


def check_qrels_ids(qrels_path: str | Path, query_ids: Container[str], passage_ids: Container[str]) -> int:
    """Raise DataFormatError at the first qrels line whose query id or passage id is unknown.

    Returns the number of judgments checked.
    """
    count = 0
    for line_no, qid, pid, _ in iter_qrels_lines(qrels_path):
        if qid not in query_ids:
            raise DataFormatError(qrels_path, f"query id {qid!r} is not among the queries", line_no)
        if pid not in passage_ids:
            raise DataFormatError(qrels_path, f"passage id {pid!r} (query {qid!r}) is not in the collection", line_no)
        count += 1
    return count


def read_triples_negatives(path: str | Path, max_per_query: int | None = None) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(qid, negative pids)`` per run of consecutive lines with the same qid.

    Negatives keep file order, de-duplicated, at most ``max_per_query``. The positive column is checked
    for presence only (take positives from the qrels). A qid seen again after its run ended is yielded
    again and counted in a warning: the file is expected to be grouped by qid.
    """
    rows = iter_tsv(path, 3)
    return _read_triples_negatives(Path(path), rows, max_per_query)


def _read_triples_negatives(path: Path, rows, max_per_query: int | None) -> Iterator[tuple[str, list[str]]]:
    current, negatives, seen = None, {}, set()
    regrouped = 0
    for line_no, (qid, _pos, neg) in rows:
        if not qid or not neg:
            raise DataFormatError(path, "empty query or negative passage id", line_no)
        if qid != current:
            if current is not None:
                yield current, list(negatives)
            regrouped += qid in seen
            seen.add(qid)
            current, negatives = qid, {}
        if max_per_query is None or len(negatives) < max_per_query:
            negatives[neg] = None  # a dict keeps insertion order and drops repeats
    if current is None:
        raise _no_records(path, "triples")
    yield current, list(negatives)
    if regrouped:
        logger.warning("%s: %d query ids reappear after their group ended (file not grouped by qid)", path, regrouped)


def read_documents(path: str | Path) -> Iterator[Document]:
    """Yield Document(docid, url, title, body) from ``msmarco-docs.tsv``."""
    rows = iter_tsv(path, 4)
    return _read_documents(Path(path), rows)


def _read_documents(path: Path, rows) -> Iterator[Document]:
    count = 0
    for line_no, fields in rows:
        if not fields[0]:
            raise DataFormatError(path, "empty document id", line_no)
        count += 1
        yield Document(*fields)
    if count == 0:
        raise _no_records(path, "documents")


def split_document(doc: Document, mode: str, passage_words: int = 150, stride: int = 75) -> list[Passage]:
    """Cut a document into passages for a passage retriever (title kept as the passage title).

    ``"firstp"``: one passage, pid = docid, the first ``passage_words`` words of the body.
    ``"maxp"``: windows of ``passage_words`` words every ``stride`` words (the last one reaches the end),
    pids ``f"{docid}#{i}"``; score a document by its best passage (see ``passage_to_doc_id``).
    An empty body gives one passage with empty text. Defaults follow MaxP (Dai & Callan, 2019).
    """
    if passage_words <= 0 or stride <= 0:
        raise ValueError(f"passage_words and stride must be positive, got {passage_words}, {stride}")
    words = doc.body.split()
    if mode == "firstp":
        return [Passage(doc.docid, " ".join(words[:passage_words]), doc.title)]
    if mode != "maxp":
        raise ValueError(f"mode must be 'firstp' or 'maxp', got {mode!r}")
    passages = []
    for i, start in enumerate(range(0, max(len(words), 1), stride)):
        passages.append(Passage(f"{doc.docid}#{i}", " ".join(words[start : start + passage_words]), doc.title))
        if start + passage_words >= len(words):
            break
    return passages


def passage_to_doc_id(pid: str) -> str:
    """Undo split_document's ``#i`` suffix: ``"D123#4" -> "D123"``; other ids are returned unchanged."""
    doc, sep, index = pid.rpartition("#")
    return doc if sep and index.isdigit() else pid
