"""Questions with answer strings: DPR's test/dev files for Natural Questions (``nq-test.qa.csv``).

Evaluated by answer-string match (lead.data.answers), not by relevance judgments.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

from lead.errors import DataFormatError, require_file


def read_qa_csv(path: str | Path) -> Iterator[tuple[str, str, list[str]]]:
    """(qid, question, answers) from DPR's test/dev file: ``question<TAB>['answer', ...]`` per line.

    The qid is the 0-based line number (DPR's files carry none); the answers are a Python list literal.
    """
    path = require_file(path, "question-answer file")
    with open(path, encoding="utf-8-sig") as handle:  # a BOM is no part of the first question
        count = 0
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            question, sep, literal = line.rstrip("\r\n").rpartition("\t")
            if not sep:
                raise DataFormatError(path, "expected question<TAB>[answers]", line_no)
            try:
                answers = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                raise DataFormatError(path, f"answers are not a list literal: {literal[:60]!r}", line_no) from None
            if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
                raise DataFormatError(path, f"answers must be a non-empty list of strings, got {literal[:60]!r}", line_no)
            count += 1
            yield str(line_no - 1), question.strip().strip('"'), answers
    if count == 0:
        raise DataFormatError(path, "no questions")
