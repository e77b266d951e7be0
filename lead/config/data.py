"""Params of the data stages: ``fetch`` (official files to download) and ``data`` (what ``prepare`` builds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class SplitFiles:
    """One split of a real collection: its queries file and its qrels file (paths inside ``data.path``)."""

    queries: str
    qrels: str


@dataclass
class SyntheticConfig:
    """Counts are base counts multiplied by ``scale`` (1 = the CPU default, 6 = the benchmark profile)."""

    scale: float = 1.0
    train_queries: int = 300
    dev_queries: int = 40
    test_queries: int = 80
    background_passages: int = 80
    paraphrase_prob: float = 0.7  # chance that a query names a concept in another form than its passage
    seed: int = 13

    def count(self, base: int) -> int:
        return max(1, round(base * self.scale))


@dataclass
class DataConfig:
    """Where the prepared benchmark comes from.

    ``synthetic``: the embedded generator. ``beir``: a BEIR folder (splits name ``qrels/<split>.tsv``).
    ``msmarco``: MS MARCO-layout files (``collection`` plus queries and qrels per split), also used for
    TREC DL test queries with graded qrels. ``dpr``: Natural Questions in DPR's files: ``collection``
    (psgs_w100.tsv) and per split one file name: a DPR training JSON (positives become the split's
    judgments) or a question-answer CSV (``nq-test.qa.csv``: the split is evaluated by answer match).
    """

    source: Literal["synthetic", "beir", "msmarco", "dpr"] = "synthetic"
    path: str | None = None
    collection: str = "collection.tsv"  # msmarco and dpr
    # msmarco: "documents" reads msmarco-docs.tsv (docid, url, title, body); each document is one passage
    # (FirstP, as LEAD and PROD): its title, and its body cut at document_chars (the models cut the tokens)
    collection_format: Literal["passages", "documents"] = "passages"
    document_chars: int = 10_000  # PROD's cut of the document text; the URL is dropped (LEAD)
    # msmarco passages: added to every collection id (LEAD's own headerless psgs_w100.tsv stores pid + 1: -1)
    id_offset: int = 0
    # msmarco: the training file's starting negatives, from a triples file in data.path (qid, positive pid,
    # negative pid: qidpidtriples.train.full.2.tsv), the first N per query in file order (LEAD's mspas: 100);
    # null: none, so warm-ups on data/prepared/train.jsonl see in-batch and random negatives
    train_negatives: str | None = None
    train_negatives_per_query: int = 100
    splits: dict[str, SplitFiles | str | None] = field(default_factory=dict)
    rel_threshold: int = 2  # binary relevance threshold for the test split (TREC DL passage: 2)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self):
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.source={self.source} needs data.path (the folder of the collection)")
        if self.collection_format == "documents" and self.source != "msmarco":
            raise ValueError(f"data.collection_format=documents reads MS MARCO's msmarco-docs.tsv: it needs "
                             f"data.source=msmarco, not {self.source}")
        if self.train_negatives and self.collection_format == "documents":
            raise ValueError("data.train_negatives reads passage triples (qidpidtriples): not with "
                             "data.collection_format=documents")
        if self.train_negatives and self.source != "msmarco":
            raise ValueError(f"data.train_negatives reads an MS MARCO triples file: it needs data.source=msmarco, "
                             f"not {self.source}")
        if self.id_offset and (self.source != "msmarco" or self.collection_format != "passages"):
            raise ValueError("data.id_offset shifts the integer ids of an MS MARCO-layout passage collection: it needs "
                             f"data.source=msmarco and collection_format=passages, not {self.source}/{self.collection_format}")
        if self.train_negatives_per_query < 1:
            raise ValueError(f"data.train_negatives_per_query must be >= 1, got {self.train_negatives_per_query}")
        if self.document_chars < 1:
            raise ValueError(f"data.document_chars must be >= 1, got {self.document_chars}")
        unknown = set(self.splits) - {"train", "dev", "test"}
        if unknown:
            raise ValueError(f"data.splits: unknown split(s) {sorted(unknown)}; use train, dev, test")


@dataclass
class FetchConfig:
    """The fetch stage: official files to download (lead.data.download.SOURCES, checked there); none by default."""

    sources: list[str] = field(default_factory=list)  # e.g. [msmarco-passage, trec-dl-2019-passage]
    folder: str = "data/fetched"
    mirror: str | None = None  # a base URL or file:// folder in place of the official locations
    checksums: dict[str, str] = field(default_factory=dict)  # file name -> SHA-256 to require
