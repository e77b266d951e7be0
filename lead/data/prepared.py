"""The prepared layout every later stage reads, and ``prepare`` that builds it from any source.

Layout (MS MARCO file formats, one folder)::

    collection.tsv            pid \\t text [\\t title]
    queries.{split}.tsv       qid \\t text             split in train, dev, test (those that exist)
    qrels.{split}.tsv         qid 0 pid grade          (TREC layout; graded where the source is)
    train.jsonl               training examples: judged train queries, their positives and (data.train_negatives)
                              the triples file's negatives; none otherwise (mining adds them)
    meta.json                 source, counts, binary relevance threshold

Sources: the embedded generator, a BEIR folder, or MS MARCO-layout files (MS MARCO passage, TREC DL).
Every file is streamed through the readers and validated (qrels ids must exist) on the way in, and the
folder is replaced atomically, so a failed or interrupted prepare leaves the old one untouched.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Iterator

from lead.config import DataConfig, SplitFiles
from lead.data import beir, msmarco
from lead.data.examples import (
    PassageStore,
    QueryExample,
    examples_from_qrels,
    write_training_file,
)
from lead.data.qa import read_qa_csv
from lead.data.synthetic import SyntheticBenchmark
from lead.data.training import read_dpr_json
from lead.errors import DataFormatError, require_file
from lead.io import atomic_dir, atomic_open, write_json
from lead.records import Passage, Qrels, Query

SPLITS = ("train", "dev", "test")


def _clean(text: str) -> str:
    """Tabs and newlines would break the TSV layout."""
    return " ".join(text.split())


def prepare(config: DataConfig, out: str | Path) -> dict:
    """Build the prepared folder ``out`` from ``config``; returns the meta data written to meta.json."""
    with atomic_dir(out) as folder:
        passage_ids: set[str] = set()
        if config.source == "synthetic":
            meta = SyntheticBenchmark(config.synthetic).build().write(folder)
            meta["rel_threshold"] = config.rel_threshold
        else:
            meta, passage_ids = _prepare_real(config, folder)
        meta["source"] = config.source
        if (folder / "queries.train.tsv").exists():
            train = PreparedData(folder)
            examples = examples_from_qrels(train.queries("train"), train.qrels("train"))
            if config.train_negatives:
                triples = require_file(Path(config.path) / config.train_negatives, "data.train_negatives file")
                meta["train_with_negatives"] = _add_triples_negatives(
                    examples, triples, config.train_negatives_per_query, passage_ids)
            meta["train_examples"] = write_training_file(folder / "train.jsonl", examples)
        write_json(folder / "meta.json", meta)
    return meta


def _prepare_real(config: DataConfig, folder: Path) -> tuple[dict, set[str]]:
    """Write the collection and the splits of a real source; returns the meta data and the passage ids."""
    root = Path(config.path)
    if not root.is_dir():
        raise DataFormatError(root, f"data.path folder not found (data.source={config.source})")
    if config.source == "beir":
        passages = beir.read_corpus(root)
    elif config.collection_format == "documents":  # MS MARCO documents, FirstP: one passage per document
        documents = msmarco.read_documents(require_file(root / config.collection, "collection"))
        passages = (Passage(d.docid, d.body[: config.document_chars], d.title) for d in documents)
    else:  # msmarco, dpr (psgs_w100.tsv: its header and quoting are read by the same reader)
        passages = msmarco.read_collection(require_file(root / config.collection, "collection"), config.id_offset)
    source = root / ("corpus.jsonl" if config.source == "beir" else config.collection)
    passage_ids: set[str] = set()  # ids only: the texts are streamed straight to the prepared file
    with atomic_open(folder / "collection.tsv") as out:
        for number, p in enumerate(passages, start=1):
            if p.pid in passage_ids:  # judgments and negatives name passages by id: two texts under one id is no collection
                raise DataFormatError(source, f"passage id {p.pid!r} appears twice (again as passage {number:,})")
            passage_ids.add(p.pid)
            out.write(f"{p.pid}\t{_clean(p.text)}" + (f"\t{_clean(p.title)}\n" if p.title else "\n"))
    if not passage_ids:
        raise DataFormatError(root, "the collection has no passage")

    if config.source == "dpr":
        stats = _prepare_dpr_splits(config, root, folder, passage_ids)
    else:
        stats = {}
        for split, queries, qrels_path in _real_splits(config, root):
            qrels = msmarco.read_qrels(qrels_path)
            msmarco.check_qrels_ids(qrels_path, {q.qid for q in queries}, passage_ids)
            stats[split] = _write_split(folder, split, queries, qrels)
    if not stats:
        raise DataFormatError(root, "no split found: check data.splits")
    return {"passages": len(passage_ids), "splits": stats, "rel_threshold": config.rel_threshold}, passage_ids


def _add_triples_negatives(examples: list[QueryExample], path: Path, per_query: int, collection: set[str]) -> int:
    """Give each training example the first ``per_query`` negatives of its query in a triples file, in file
    order, positives left out (LEAD's starting negatives for MS MARCO passage); returns how many got some."""
    by_qid = {example.qid: example for example in examples}
    for qid, negatives in msmarco.read_triples_negatives(path):  # uncut: positives go before the cut
        example = by_qid.get(qid)
        if example is None:
            continue  # not a judged training query
        unknown = next((pid for pid in negatives if pid not in collection), None)
        if unknown is not None:
            raise DataFormatError(path, f"negative passage id {unknown!r} (query {qid!r}) is not in the collection")
        kept = set(example.positives) | set(example.negatives)
        example.negatives += [pid for pid in negatives if pid not in kept][: per_query - len(example.negatives)]
    return sum(bool(example.negatives) for example in examples)


def _real_splits(config: DataConfig, root: Path) -> Iterator[tuple[str, list[Query], Path]]:
    """(split, its queries, its qrels file) for each split the source has."""
    if config.source == "beir":
        all_queries = list(beir.read_queries(root))  # BEIR keeps every split's queries in one file
        available = beir.available_splits(root)
        for split in SPLITS:
            name = config.splits.get(split, split)
            if name is None or (split not in config.splits and name not in available):
                continue
            if not isinstance(name, str) or name not in available:
                raise DataFormatError(root / "qrels", f"data.splits.{split}: no qrels/{name}.tsv (have {available})")
            yield split, all_queries, root / "qrels" / f"{name}.tsv"
        return
    for split in SPLITS:
        files = config.splits.get(split)
        if files is None:
            continue
        if not isinstance(files, SplitFiles):
            raise DataFormatError(root, f"data.splits.{split} must give the queries and qrels file names")
        yield split, list(msmarco.read_queries(require_file(root / files.queries, "queries"))), require_file(
            root / files.qrels, "qrels"
        )


def _prepare_dpr_splits(config: DataConfig, root: Path, folder: Path, passage_ids: set[str]) -> dict:
    """Each split from one DPR file: a training JSON (its positive contexts become grade-1 judgments, its
    answers ``answers.<split>.jsonl``) or a question-answer CSV (queries and answers, no judgments). A split
    with answers is evaluated by answer match, as DPR evaluates NQ."""
    stats = {}
    for split in SPLITS:
        name = config.splits.get(split)
        if name is None:
            continue
        if not isinstance(name, str):
            raise DataFormatError(root, f"data.splits.{split}: for data.source dpr give one file name (a DPR .json or a .qa.csv)")
        path = require_file(root / name, f"data.splits.{split}")
        if path.suffix == ".json":
            queries, qrels, answers = [], {}, {}
            for n, example in enumerate(read_dpr_json(path)):
                qid = example.qid or f"{split}-{n}"
                missing = [pid for pid in example.positives if pid not in passage_ids]
                if missing:
                    raise DataFormatError(path, f"question {n} ({example.query[:40]!r}): positive passage ids {missing[:3]} "
                                                f"are not in {config.collection}")
                queries.append(Query(qid, example.query))
                qrels[qid] = {pid: 1 for pid in example.positives}
                if example.answers:
                    answers[qid] = example.answers
            stats[split] = _write_split(folder, split, queries, qrels)
            if answers:  # DPR judges NQ by answer strings: evaluation and PROD's division read them
                _write_answers(folder, split, answers)
        else:
            rows = [(f"{split}-{qid}", question, answers) for qid, question, answers in read_qa_csv(path)]
            with atomic_open(folder / f"queries.{split}.tsv") as out:
                out.writelines(f"{qid}\t{_clean(question)}\n" for qid, question, _ in rows)
            _write_answers(folder, split, {qid: answers for qid, _, answers in rows})
            stats[split] = {"queries": len(rows), "answered": True}
    if not stats:
        raise DataFormatError(root, "no split found: check data.splits")
    return stats


def _write_answers(folder: Path, split: str, answers: dict[str, list[str]]) -> None:
    with atomic_open(folder / f"answers.{split}.jsonl") as out:
        out.writelines(json.dumps({"qid": qid, "answers": options}) + "\n" for qid, options in answers.items())


def _write_split(folder: Path, split: str, queries: list[Query], qrels: Qrels) -> dict:
    judged = [q for q in queries if q.qid in qrels]
    with atomic_open(folder / f"queries.{split}.tsv") as out:
        for q in judged:
            out.write(f"{q.qid}\t{_clean(q.text)}\n")
    n = 0
    with atomic_open(folder / f"qrels.{split}.tsv") as out:
        for qid, docs in qrels.items():
            for pid, grade in docs.items():
                out.write(f"{qid} 0 {pid} {grade}\n")
                n += 1
    return {"queries": len(judged), "judgments": n}


class PreparedData:
    """Read access to a prepared folder; the collection is streamed, never held whole."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        require_file(self.folder / "collection.tsv", "prepared collection (run the prepare stage)")
        self._graded_splits: dict[str, bool] = {}

    @cached_property
    def meta(self) -> dict:
        path = self.folder / "meta.json"
        return json.loads(path.read_text()) if path.exists() else {}

    @cached_property
    def num_passages(self) -> int:
        with open(self.folder / "collection.tsv", "rb") as handle:
            return sum(1 for _ in handle)

    def passages(self) -> Iterator[Passage]:
        return msmarco.read_collection(self.folder / "collection.tsv")

    @cached_property
    def store(self) -> PassageStore:
        """Random access to the collection by pid; its offset index (a pass over the file) is built once."""
        return PassageStore(self.folder / "collection.tsv")

    def splits(self) -> list[str]:
        return [s for s in SPLITS if (self.folder / f"queries.{s}.tsv").exists()]

    def queries(self, split: str) -> list[Query]:
        return list(msmarco.read_queries(self._split_file("queries", split)))

    def qrels(self, split: str) -> Qrels:
        return msmarco.read_qrels(self._split_file("qrels", split))

    def answers(self, split: str) -> dict[str, list[str]] | None:
        """The split's answer strings by qid (DPR question-answer splits), or None: judged by qrels."""
        path = self.folder / f"answers.{split}.jsonl"
        if not path.exists():
            return None
        with open(path, encoding="utf-8") as handle:
            return {r["qid"]: r["answers"] for r in map(json.loads, handle)}

    def _split_file(self, kind: str, split: str) -> Path:
        path = self.folder / f"{kind}.{split}.tsv"
        if not path.exists():
            raise DataFormatError(path, f"split {split!r} not prepared; available: {', '.join(self.splits()) or 'none'}")
        return path

    @property
    def rel_threshold(self) -> int:
        return int(self.meta.get("rel_threshold", 1))

    def threshold(self, split: str) -> int:
        """The binary relevance threshold a split is scored with: ``data.rel_threshold`` on test, and on any
        other split whose judgments are graded (TREC DL 2019 as dev: >= 2, as the test split it stands for);
        >= 1 on binary ones (the embedded benchmark writes train and dev as grade >= 2 -> 1; MS MARCO's)."""
        if split == "test":
            return self.rel_threshold
        return self.rel_threshold if self._graded(split) else 1

    def _graded(self, split: str) -> bool:
        """Whether a split's judgments go above 1; read once (a sweep scores the same split once per snapshot)."""
        if split not in self._graded_splits:
            judged = self.qrels(split).values()
            self._graded_splits[split] = max((grade for grades in judged for grade in grades.values()), default=1) > 1
        return self._graded_splits[split]
