"""Re-ranking as the pipeline does it (lead/retrieval/mining.rerank: a dual encoder or ColBERT encodes each distinct
passage once, a cross-encoder scores pairs sorted by length across queries) against pair by pair, each query's
candidates in a batch of their own, on a pipeline checkout's test split. BENCHMARKS.md "The fused default from a
fresh clone", "The default's lengths" and "Re-ranking pairs sorted by length".

    python -m benchmarks.rerank_once --model models/ce_fused/first_stage --first-stage runs/student.test.trec
    python -m benchmarks.rerank_once --model models/cb_teacher --first-stage runs/student.test.trec
    python -m benchmarks.rerank_once --model models/ce_teacher --first-stage runs/student.test.trec
"""

from __future__ import annotations

import argparse
import time

import torch

from lead.data.prepared import PreparedData
from lead.data.runs import ranked, read_trec_run
from lead.models.factory import load_scorer
from lead.retrieval.mining import rerank, rerank_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--first-stage", required=True, help="a TREC run whose top --depth are re-ranked")
    parser.add_argument("--depth", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64, help="the pipeline's batch (eval.batch_size)")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    data = PreparedData(args.prepared)
    model = load_scorer(args.model).eval()
    candidates = {qid: [pid for pid, _ in ranked(s, args.depth)] for qid, s in read_trec_run(args.first_stage).items()}
    queries = {q.qid: q.text for q in data.queries(args.split)}

    start = time.perf_counter()
    pairwise = rerank_pairs(model, queries, candidates, data.store, batch_size=args.depth, progress=False, sort_window=0)
    pair_s = time.perf_counter() - start
    start = time.perf_counter()
    once = rerank(model, queries, candidates, data.store, batch_size=args.batch_size, progress=False)
    once_s = time.perf_counter() - start
    diff = max(abs(once[q][p] - pairwise[q][p]) for q in pairwise for p in pairwise[q])
    pairs = sum(map(len, candidates.values()))
    distinct = len({p for pids in candidates.values() for p in pids})
    print(f"{len(candidates)} queries, {pairs} pairs, {distinct} distinct passages, {torch.get_num_threads()} threads")
    print(f"pair by pair {pair_s:.1f} s; as the pipeline {once_s:.1f} s ({pair_s / once_s:.2f}x); "
          f"largest score difference {diff:.2e}")


if __name__ == "__main__":
    main()
