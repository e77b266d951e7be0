"""The record types every reader yields. Ids are strings everywhere, as in TREC files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch

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


@dataclass
class TextBatch:
    """Queries and their candidate groups, query-major: query i owns passages [i*g, (i+1)*g), positive first."""

    qids: list[str]
    queries: list[str]
    pids: list[str]
    passages: list[Passage]
    group_size: int
    # Each model's tokenized view of the batch, by its role in the method ("model", "student", "teacher",
    # ...), filled ahead of the step by the data loader (lead.training.loader); empty: tokenize in the step.
    tokens: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)
    # [global queries, global passages], True where a passage of the global in-batch candidate set is a judged
    # positive of the query without being its own candidate 0 (an accidental positive): scored as never
    # relevant nor irrelevant, i.e. left out of the row. None: no masking.
    accidental_positives: torch.Tensor | None = field(default=None, repr=False)
    # The ids of the global batch, every rank's in rank order (query-major, as gathered in-batch scores run):
    # what a teacher read from a file is looked up by. None: the same as qids / pids (one process).
    global_qids: list[str] | None = field(default=None, repr=False)
    global_pids: list[str] | None = field(default=None, repr=False)

    def __post_init__(self):
        if len(self.passages) != len(self.queries) * self.group_size or len(self.pids) != len(self.passages):
            raise ValueError(
                f"{len(self.queries)} queries x group {self.group_size} != {len(self.passages)} passages"
            )

    def pin_memory(self) -> "TextBatch":
        """Page-locked token tensors (the DataLoader calls this with ``pin_memory=True``): faster, async copies."""
        self.tokens = {role: _pinned(view) for role, view in self.tokens.items()}
        return self


def _pinned(tokens: dict) -> dict:
    """Each tensor of a model's token view page-locked (a fused model's view holds one view per member)."""
    return {k: _pinned(v) if isinstance(v, dict) else v.pin_memory() for k, v in tokens.items()}
