"""ColBERT without pairs: exhaustive MaxSim retrieval (small collections only) and re-ranking of candidate lists.

``exhaustive_maxsim`` keeps every passage's token vectors in memory as float16 (passages x tokens x dim), which
is fine for the embedded benchmark (about 170 MB at its default scale) and not meant for MS MARCO, where ColBERT
re-ranks a first-stage run instead. ``rerank_maxsim`` does that re-ranking with each distinct passage of a chunk
of queries encoded once (a passage's token vectors do not depend on the query), kept in float32 so that its
scores are the pair-by-pair path's.
"""

from __future__ import annotations

import itertools

import torch
from tqdm.auto import tqdm

from lead.data.examples import PassageStore
from lead.data.prepared import PreparedData
from lead.data.runs import query_chunks
from lead.models.colbert import ColBERT, maxsim
from lead.models.dual_encoder import passage_text
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


@torch.inference_mode()
def rerank_maxsim(model: ColBERT, queries: dict[str, str], candidates: dict[str, list[str]], store: PassageStore,
                  batch_size: int = 64, progress: bool = True, chunk_pairs: int = 10_000) -> Run:
    """Each query's candidates scored by MaxSim, the distinct passages of every chunk of queries (at most
    ``chunk_pairs`` candidates, whose token vectors wait on the CPU: a few GB at most on MS MARCO) encoded once."""
    was_training = model.training
    model.eval()
    run: Run = {}
    for chunk in query_chunks(candidates, chunk_pairs):
        # length-sorted, as lead/retrieval/encode does: padding is most of the cost on a CPU
        pids = sorted(dict.fromkeys(pid for qid in chunk for pid in candidates[qid]),
                      key=lambda pid: len(passage_text(store[pid])))
        vectors: dict[str, torch.Tensor] = {}  # pid -> its unpadded token vectors [L, D]
        for start in tqdm(range(0, len(pids), batch_size), desc="encode candidates (ColBERT)", disable=not progress):
            batch = pids[start : start + batch_size]
            encoded = model.encode_passages(model.tokenize_passages([store[pid] for pid in batch]))
            for pid, tokens, mask in zip(batch, encoded["tokens"], encoded["mask"].bool()):
                vectors[pid] = tokens[mask].float().cpu()
        for start in range(0, len(chunk), batch_size):
            qids = chunk[start : start + batch_size]
            q = model.encode_queries(model.tokenize_queries([queries[qid] for qid in qids]))
            for row, qid in enumerate(qids):
                listed = [vectors[pid] for pid in candidates[qid]]
                p = torch.nn.utils.rnn.pad_sequence(listed, batch_first=True).to(q["tokens"].device)
                lengths = torch.tensor([len(v) for v in listed], device=p.device)
                p_mask = torch.arange(p.shape[1], device=p.device)[None, :] < lengths[:, None]
                scores = maxsim(q["tokens"][row : row + 1].float(), q["mask"][row : row + 1], p, p_mask)[0]
                run[qid] = dict(zip(candidates[qid], scores.tolist()))
    model.train(was_training)
    return run

