"""A miniature MS MARCO passage / document + TREC DL mirror, in the official files' names and layouts.

The text is the embedded synthetic benchmark's (lead/data/synthetic.py), laid out as the official files are:
``collectionandqueries.tar.gz`` (collection.tsv, queries.*.tsv, qrels.*.tsv), ``qidpidtriples.train.full.2.tsv.gz``,
the document files (``msmarco-docs.tsv.gz``: docid, url, title, body), and the TREC DL 2019/2020 queries and
graded qrels. Train queries -> the official train split; test queries -> dev.small / docdev and TREC DL.
A ``fetch.mirror`` folder (``file://``) for the fetch stage; ``checksums`` gives the SHA-256 of each file, as
``fetch.checksums`` takes them (the miniature's bytes are not the published ones).
"""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from pathlib import Path

from lead.config.data import SyntheticConfig
from lead.data.download import SOURCES
from lead.data.synthetic import generate
from lead.io import file_digests


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line]


def _qrels(path: Path) -> list[tuple[str, str, int]]:
    return [(q, p, int(r)) for q, _, p, r in (line.split() for line in path.read_text().splitlines() if line)]


def _gz(path: Path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def build_mirror(folder: Path, train_queries: int = 48, test_queries: int = 16, seed: int = 7) -> dict[str, str]:
    """Write the mirror into ``folder``; returns {file name: SHA-256} for every file of every source."""
    source = folder.parent / f"{folder.name}-synthetic"
    generate(SyntheticConfig(train_queries=train_queries, dev_queries=1, test_queries=test_queries,
                             background_passages=20, seed=seed), source)
    folder.mkdir(parents=True)
    passages = _rows(source / "collection.tsv")
    queries = {split: _rows(source / f"queries.{split}.tsv") for split in ("train", "test")}
    qrels = {split: _qrels(source / f"qrels.{split}.tsv") for split in ("train", "test")}
    binary = lambda rows: "".join(f"{q}\t0\t{p}\t1\n" for q, p, r in rows if r >= 1)  # noqa: E731 - official TSV qrels
    graded = lambda rows, prefix="": "".join(f"{q} Q0 {prefix}{p} {r}\n" for q, p, r in rows)  # noqa: E731 - TREC
    tsv = lambda rows: "".join("\t".join(row) + "\n" for row in rows)  # noqa: E731

    # MS MARCO passage: one archive, its members in a folder as the official one has them
    members = {"collection.tsv": tsv(passages), "queries.train.tsv": tsv(queries["train"]),
               "qrels.train.tsv": binary(qrels["train"]), "queries.dev.small.tsv": tsv(queries["test"]),
               "qrels.dev.small.tsv": binary([row for row in qrels["test"] if row[2] >= 2]),
               "queries.eval.small.tsv": tsv(queries["test"][:2])}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"collectionandqueries/{name}")
            info.size, info.mtime = len(data), 0
            archive.addfile(info, io.BytesIO(data))
    (folder / "collectionandqueries.tar.gz").write_bytes(buffer.getvalue())

    # the official BM25 triples: each train positive with non-positive passages, as qid, pos, neg
    rng = random.Random(seed)
    positives = {}
    for q, p, r in qrels["train"]:
        if r >= 1:
            positives.setdefault(q, []).append(p)
    pids = [row[0] for row in passages]
    triples = [f"{q}\t{pos}\t{neg}\n" for q, pos_list in positives.items() for pos in pos_list
               for neg in rng.sample([p for p in pids if p not in pos_list], 12)]
    _gz(folder / "qidpidtriples.train.full.2.tsv.gz", "".join(triples))

    # TREC DL 2019 / 2020: half the test queries each, graded judgments (passages and documents)
    half = len(queries["test"]) // 2
    for year, part in (("2019", queries["test"][:half]), ("2020", queries["test"][half:])):
        wanted = {row[0] for row in part}
        _gz(folder / f"msmarco-test{year}-queries.tsv.gz", tsv(part))
        rows = [row for row in qrels["test"] if row[0] in wanted]
        (folder / f"{year}qrels-pass.txt").write_text(graded(rows))
        (folder / f"{year}qrels-docs.txt").write_text(graded(rows, "D"))

    # MS MARCO document: each passage a document D<pid> with a URL and a title (its first words)
    _gz(folder / "msmarco-docs.tsv.gz", "".join(f"D{pid}\thttp://example.org/{pid}\t{' '.join(text.split()[:4])}\t{text}\n"
                                                for pid, text in passages))
    for name, split in (("doctrain", "train"), ("docdev", "test")):
        _gz(folder / f"msmarco-{name}-queries.tsv.gz", tsv(queries[split]))
        _gz(folder / f"msmarco-{name}-qrels.tsv.gz", "".join(f"{q} 0 D{p} 1\n" for q, p, r in qrels[split]
                                                              if r >= (1 if split == "train" else 2)))
    names = {remote.name for files in SOURCES.values() for remote in files}
    missing = sorted(n for n in names if not (folder / n).is_file())
    assert not missing, f"the miniature mirror lacks {missing}: add them (lead/data/download.py SOURCES grew)"
    return {name: file_digests(folder / name)["sha256"] for name in sorted(names)}
