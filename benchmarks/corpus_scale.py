"""Encode + index + search time and memory per 100k passages, and what that means for MS MARCO's 8.8M.

    python -m benchmarks.corpus_scale --model models/student --passages 100000
    python -m benchmarks.corpus_scale --model models/miner --passages 20000 --indexes Flat   # a 6-layer encoder

The corpus: ``--passages`` passages of ``--words`` words cut from the real texts in ../shared/data (SciFact
abstracts and Vaswani physics abstracts, windows of ``--words`` words with half-window stride, cycled when
more are asked than the texts give), written to a TSV and streamed from it as the pipeline streams its
collection. The queries: SciFact's 300 test claims. Steps, each timed, with the process's resident memory
after it and its peak so far (VmRSS / VmHWM):

1. encode the corpus into float16 shards on disk (``lead.retrieval.shards``, the path of ``eval.embeddings_dir``),
2. encode the queries,
3. per ``--indexes`` spec: build the index from the memory-mapped shards and search the top ``--depth``, as the
   pipeline does with ``eval.embeddings_dir`` (``Flat``: exact search with torch over the shards where they lie;
   the others: faiss indexes in RAM); ``Flat-ram`` is faiss's exact ``IndexFlatIP`` over the corpus in RAM in
   float32 (the pipeline without ``eval.embeddings_dir``). Approximate indexes report the overlap of their top
   100 with the exact top 100.

Prints JSON, including the linear extrapolation to ``--target`` passages (encoding time, shard bytes, index
bytes each index holds in RAM (as faiss serialises it; 0 for the shards searched on disk), exact-search time per
query).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import faiss
import numpy as np
import torch

from lead.data.beir import read_corpus, read_qrels, read_queries
from lead.models.factory import load_scorer
from lead.records import Passage
from lead.retrieval.encode import encode
from lead.retrieval.index import build_index, search
from lead.retrieval.shards import encode_corpus

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def memory() -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    gib = lambda name: round(int(fields[name].split()[0]) / 2**20, 3)  # noqa: E731
    # RssAnon: the process's own memory; the rest of RSS is file pages (the memory-mapped shards), which the
    # kernel can drop and read again
    return {"rss_gib": gib("VmRSS"), "anon_gib": gib("RssAnon"), "peak_gib": gib("VmHWM")}


def source_texts() -> Iterator[str]:
    for passage in read_corpus(SHARED / "scifact"):
        yield f"{passage.title} {passage.text}"
    vaswani = (SHARED / "vaswani" / "doc-text.trec").read_text(encoding="utf-8", errors="replace")
    for text in re.findall(r"</DOCNO>(.*?)</DOC>", vaswani, flags=re.S):
        yield " ".join(text.split())


def write_corpus(path: Path, n: int, words: int) -> None:
    windows = []
    for text in source_texts():
        tokens = text.split()
        for start in range(0, max(len(tokens) - words // 2, 1), words // 2):
            windows.append(" ".join(tokens[start : start + words]))
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            out.write(f"{i}\t{windows[i % len(windows)]}\n")


def stream(path: Path) -> Iterator[Passage]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            pid, text = line.rstrip("\n").split("\t", 1)
            yield Passage(pid, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/student", help="a saved dual encoder folder")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=60, help="words per passage (MS MARCO passages: ~56 on average)")
    parser.add_argument("--indexes", nargs="+", default=["Flat", "Flat-ram", "HNSW32", "IVF1024,Flat", "IVF1024,PQ48"])
    parser.add_argument("--nprobe", type=int, default=32)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--shard-size", type=int, default=100_000)
    parser.add_argument("--target", type=int, default=8_841_823, help="passages to extrapolate to (MS MARCO passage)")
    parser.add_argument("--scratch", default=None, help="folder for the corpus and shards (default: a temporary one; "
                        "shards already there for the same model and corpus are reused, and the encode figure is then void)")
    parser.add_argument("--search-repeats", type=int, default=1, help="search each index this many times: the median")
    args = parser.parse_args()
    if not (SHARED / "scifact").is_dir():
        raise SystemExit(f"{SHARED} is absent: this benchmark cuts its corpus from the shared real texts")

    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="corpus-scale-"))
    scratch.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.machine()} cpu, {torch.get_num_threads()} torch threads, faiss {faiss.__version__}",
              "model": args.model, "passages": args.passages, "words": args.words, "steps": {}}
    collection = scratch / "collection.tsv"
    write_corpus(collection, args.passages, args.words)
    judged = read_qrels(SHARED / "scifact", "test")
    queries = [q.text for q in read_queries(SHARED / "scifact") if q.qid in judged]
    model = load_scorer(args.model)
    report["model_layers"], report["dim"] = model.num_layers, model.embedding_dim
    report["steps"]["loaded"] = memory()

    started = time.perf_counter()
    shards = encode_corpus(model, stream(collection), args.passages, scratch / "emb", args.shard_size, args.batch_size)
    seconds = time.perf_counter() - started
    shard_bytes = sum(p.stat().st_size for p in (scratch / "emb").glob("shard-*.npy"))
    report["steps"]["encode_corpus"] = {"s": round(seconds, 1), "passages_per_s": round(args.passages / seconds, 1),
                                        "shard_bytes": shard_bytes, **memory()}
    started = time.perf_counter()
    query_vectors = encode(model, queries, "queries", len(queries), args.batch_size, progress=False)
    report["steps"]["encode_queries"] = {"queries": len(queries), "s": round(time.perf_counter() - started, 2), **memory()}

    exact_top = None
    for spec in args.indexes:
        started = time.perf_counter()
        if spec == "Flat-ram":
            index = build_index(np.concatenate([np.asarray(b, dtype=np.float32) for b in shards.blocks()]), use_gpu=False)
        else:
            index = build_index(shards.blocks(), use_gpu=False, spec=spec, nprobe=args.nprobe)
        built = time.perf_counter()
        times = []
        for _ in range(args.search_repeats):
            began = time.perf_counter()
            _, rows = search(index, query_vectors, args.depth)
            times.append(time.perf_counter() - began)
        searched = float(np.median(times))
        row = {"index": type(index).__name__, "build_s": round(built - started, 2), "search_s": round(searched, 2),
               "search_s_each": [round(t, 3) for t in times], "ms_per_query": round(1000 * searched / len(queries), 2),
               "index_bytes": int(faiss.serialize_index(index).size) if isinstance(index, faiss.Index) else 0, **memory()}
        if spec == "Flat":
            exact_top = rows[:, :100]
        elif exact_top is not None:
            row["top100_overlap_with_exact"] = round(float(np.mean([len(set(a[:100]) & set(e)) / 100 for a, e in zip(rows, exact_top)])), 4)
        report["steps"][f"index {spec}"] = row
        print(spec, row, flush=True)
        del index

    scale = args.target / args.passages
    report["extrapolated_to"] = {
        "passages": args.target,
        "encode_hours_this_machine": round(report["steps"]["encode_corpus"]["s"] * scale / 3600, 1),
        "shards_gib": round(shard_bytes * scale / 2**30, 2),
        **{f"{spec} index_gib": round(report["steps"][f"index {spec}"]["index_bytes"] * scale / 2**30, 2) for spec in args.indexes},
        # exact search scans every vector: its time grows linearly with the corpus (approximate ones do not)
        **{f"{spec} ms_per_query": round(report["steps"][f"index {spec}"]["ms_per_query"] * scale, 1)
           for spec in args.indexes if spec.startswith("Flat")},
    }
    if not args.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
