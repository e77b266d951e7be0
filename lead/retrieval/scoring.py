"""A teacher's scores of a training file's candidates, written once as a qid/pid/score table (score@<name>).

Every query of the training file is scored against its positives and its first ``negatives`` negatives (all of
them by default) by any scorer in own-candidate mode, the way ``rerank`` scores a candidate list. The work is
cut into shards of ``shard_queries`` queries, each written whole under ``<work>/shard-<i>.tsv`` (temporary name,
then renamed), so a killed run skips the finished shards when it runs again. Processes split the shards
round-robin (``rank``, ``world_size``); the first one joins them into the table once every shard's file is
there. The work folder's manifest names the scorer, file and settings (a fingerprint): shards made for
anything else are deleted, never joined.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Iterator

from tqdm.auto import tqdm

from lead.data.examples import PassageStore, QueryExample
from lead.io import atomic_open
from lead.models.base import Scorer
from lead.records import Run
from lead.retrieval.mining import rerank


def candidates_of(example: QueryExample, negatives: int | None) -> list[str]:
    """A query's scored candidates: its positives, then its negatives (the first ``negatives`` of them)."""
    chosen = example.negatives if negatives is None else example.negatives[:negatives]
    return list(dict.fromkeys([*example.positives, *chosen]))


def table_lines(run: Run) -> Iterator[str]:
    """A run's scores as the table's lines, ``qid<TAB>pid<TAB>score`` (the score's repr: no digits lost)."""
    return (f"{qid}\t{pid}\t{score!r}\n" for qid, scores in run.items() for pid, score in scores.items())


def shard_count(queries: int, shard_queries: int) -> int:
    return max(1, -(-queries // shard_queries))


def prepare_work(work: str | Path, fingerprint: str) -> Path:
    """The shards' folder, emptied first if its manifest names other inputs."""
    work = Path(work)
    manifest = work / "manifest.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("fingerprint") != fingerprint:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    with atomic_open(manifest) as out:
        out.write(json.dumps({"fingerprint": fingerprint}))
    return work


def score_shards(scorer: Scorer, examples: list[QueryExample], store: PassageStore, work: str | Path,
                 negatives: int | None = None, shard_queries: int = 10_000, batch_size: int = 64, rank: int = 0,
                 world_size: int = 1, progress: bool = True) -> int:
    """Write this process's missing shards; the number of shards written now (finished ones are skipped)."""
    work, written = Path(work), 0
    shards = range(rank, shard_count(len(examples), shard_queries), world_size)
    for shard in tqdm(shards, desc=f"score with {scorer.kind} (rank {rank})", disable=not progress):
        path = work / f"shard-{shard:05d}.tsv"
        if path.exists():
            continue
        chunk = examples[shard * shard_queries:(shard + 1) * shard_queries]
        queries = {example.qid: example.query for example in chunk}
        candidates = {example.qid: candidates_of(example, negatives) for example in chunk}
        run = rerank(scorer, queries, candidates, store, batch_size, progress=False)
        with atomic_open(path) as out:
            out.writelines(table_lines(run))  # the chunk's queries in file order, as rerank returns them
        written += 1
    return written


def shard_paths(work: str | Path, queries: int, shard_queries: int) -> list[Path]:
    return [Path(work) / f"shard-{i:05d}.tsv" for i in range(shard_count(queries, shard_queries))]


def wait_for_shards(work: str | Path, queries: int, shard_queries: int, poll_s: float = 5.0) -> None:
    """Until every shard exists (written by the other processes; torchrun stops this one if one of them fails)."""
    while not all(path.exists() for path in shard_paths(work, queries, shard_queries)):
        time.sleep(poll_s)


def join_shards(work: str | Path, queries: int, shard_queries: int, out: str | Path) -> int:
    """Join every shard into ``out`` (written whole, with a ``qid pid score`` header); the number of pairs."""
    work = Path(work)
    paths = shard_paths(work, queries, shard_queries)
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"{work}: shards {missing[:3]} are missing; run the stage again to finish them")
    pairs = 0
    with atomic_open(out) as handle:
        handle.write("qid\tpid\tscore\n")
        for path in paths:
            text = path.read_text(encoding="utf-8")
            pairs += text.count("\n")
            handle.write(text)
    return pairs
