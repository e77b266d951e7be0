"""Answer-string evaluation, as DPR evaluates Natural Questions: top-k retrieval accuracy.

A retrieved passage is a *hit* for a question when one of the question's answers occurs in the passage text as
a whole sequence of tokens, both sides normalised the same way:

1. Unicode NFKD, combining marks dropped (``Beyoncé`` -> ``Beyonce``, full-width forms folded);
2. lower case;
3. punctuation dropped (``U.S.`` -> ``us``; ``rock-and-roll`` -> ``rockandroll``);
4. the articles ``a``, ``an``, ``the`` dropped, whitespace collapsed.

Steps 2-4 are the SQuAD answer normalisation; matching whole tokens (not substrings) keeps ``art`` from
matching ``party``. DPR's own matcher tokenizes without dropping punctuation or articles, so it is stricter on
answers like ``The Beatles`` against ``Beatles``; this module counts those as hits.

``Accuracy@k`` (k = 1, 5, 20, 100: ``DPR_DEPTHS``) is the share of questions with a hit among their top k passages
(the run ranked in trec_eval's order); a question missing from the run counts as a miss. The papers call it
"top-k accuracy"; it is reported under that name, never as recall.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Callable, Iterable, Sequence

from lead.data.runs import ranked
from lead.records import Run

DPR_DEPTHS = (1, 5, 20, 100)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation + "‘’“”–—…«»¿¡")


def normalize(text: str) -> str:
    """The SQuAD normalisation with Unicode folding (see the module docstring)."""
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def has_answer(passage_text: str, answers: Iterable[str]) -> bool:
    """Whether any answer occurs in the passage as a whole run of normalised tokens."""
    return answer_matcher(answers)(passage_text)


def answer_matcher(answers: Iterable[str]) -> Callable[[str], bool]:
    """``has_answer`` for one question's answers, normalised once for every passage it is asked about.
    Answers that normalise to nothing never match."""
    needles = [f" {answer} " for answer in map(normalize, answers) if answer]  # space-padded: whole tokens

    def holds(passage_text: str) -> bool:
        padded = f" {normalize(passage_text)} "
        return any(needle in padded for needle in needles)

    return holds


def first_hit_rank(ranking: Sequence[str], answers: Sequence[str], text_of: Callable[[str], str]) -> int | None:
    """0-based rank of the first passage of ``ranking`` that holds an answer, None when none does."""
    holds = answer_matcher(answers)
    return next((rank for rank, pid in enumerate(ranking) if holds(text_of(pid))), None)


def answer_accuracy(run: Run, answers: dict[str, list[str]], text_of: Callable[[str], str],
                    depths: Sequence[int] = DPR_DEPTHS) -> dict[str, float]:
    """``Accuracy@k`` for every k of ``depths`` over the questions of ``answers`` (plus ``n_queries``)."""
    if not answers:
        raise ValueError("no questions with answers to evaluate")
    deepest = max(depths)
    first = []
    for qid, options in answers.items():
        ranking = [pid for pid, _ in ranked(run.get(qid, {}))][:deepest]
        first.append(first_hit_rank(ranking, options, text_of))
    result = {f"Accuracy@{k}": sum(r is not None and r < k for r in first) / len(first) for k in depths}
    result["n_queries"] = float(len(first))
    return result
