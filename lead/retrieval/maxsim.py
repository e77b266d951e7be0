"""Exhaustive ColBERT retrieval: MaxSim of every query against every passage (small collections only).

Passage token vectors are kept in memory as float16 (passages x tokens x dim), which is fine for the
embedded benchmark (about 170 MB at its default scale) and not meant for MS MARCO, where ColBERT re-ranks a
first-stage run instead.
"""

from __future__ import annotations

import itertools

import torch
from tqdm.auto import tqdm

from lead.data.prepared import PreparedData
from lead.models.colbert import ColBERT, maxsim
from lead.records import Query, Run


@torch.inference_mode()
def exhaustive_maxsim(model: ColBERT, data: PreparedData, queries: list[Query], depth: int = 1000,
                      batch_size: int = 64) -> Run:
    was_training = model.training
    model.eval()
    pids, tokens, masks = [], [], []
    passages = data.passages()
    with tqdm(total=data.num_passages, desc="encode passages (ColBERT)", unit="passage") as bar:
        while chunk := list(itertools.islice(passages, batch_size)):
            encoded = model.encode_passages(model.tokenize_passages(chunk))
            pids.extend(p.pid for p in chunk)
            tokens.append(encoded["tokens"].to(torch.float16).cpu())
            masks.append(encoded["mask"].cpu())
            bar.update(len(chunk))
    width = max(t.shape[1] for t in tokens)
    tokens = torch.cat([torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1])) for t in tokens])
    masks = torch.cat([torch.nn.functional.pad(m, (0, width - m.shape[1])) for m in masks])
    k = min(depth, len(pids))
    run: Run = {}
    for start in tqdm(range(0, len(queries), batch_size), desc="MaxSim search"):
        batch = queries[start : start + batch_size]
        q = model.encode_queries(model.tokenize_queries([x.text for x in batch]))
        device = q["tokens"].device  # the passages wait on the CPU in float16; each slice goes to the model's device
        scores = torch.cat(
            [maxsim(q["tokens"].float(), q["mask"], tokens[i : i + 256].to(device).float(), masks[i : i + 256].to(device))
             for i in range(0, len(pids), 256)], 1
        )
        top = scores.topk(k, dim=1)
        for row, query in enumerate(batch):
            run[query.qid] = {pids[i]: float(s) for s, i in zip(top.values[row].tolist(), top.indices[row].tolist())}
    model.train(was_training)
    return run
