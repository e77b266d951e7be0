"""The record types every reader yields. Ids are strings everywhere, as in TREC files."""

from __future__ import annotations

from typing import NamedTuple

# qid -> pid -> graded relevance; the layout pytrec_eval takes.
Qrels = dict[str, dict[str, int]]
# qid -> pid -> score; a retrieval run, also pytrec_eval's layout.
Run = dict[str, dict[str, float]]


class Passage(NamedTuple):
    pid: str
    text: str
    title: str = ""


class Query(NamedTuple):
    qid: str
    text: str
