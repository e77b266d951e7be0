"""Ours vs sentence-transformers, side by side in one run: warm-up training and corpus encoding throughput.

    python -m benchmarks.vs_st                                        # CPU, the packaged MiniLM, 3 repeats
    python -m benchmarks.vs_st --device cuda --precision fp32 bf16 --batch-queries 64 --model DIR --loader-workers 4

Both sides train the same dual encoder (the same HF folder: a BERT with mean pooling, cosine similarity x 20)
with the same loss on the same kind of batches: each query with its positive and one mined negative, every
other passage of the batch an in-batch negative. Ours is ``lead.training.loop.Trainer`` with the ``Warmup``
method (the warm-up stage); theirs is ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss`` on
(anchor, positive, negative) triples made from the same training file. Both truncate queries and passages to
``--max-length`` tokens and pad to the longest text of a batch; both use AdamW, a linear schedule, gradient
clipping, and bf16 autocast when ``--precision bf16``.

A training figure is the median wall time between the ends of consecutive optimiser steps (data, tokenizing,
forward, backward, optimiser, logging: everything a trainer does per step) after ``--warmup-steps``; an
encoding figure is the wall time of encoding ``--encode-passages`` passages of the prepared collection (ours:
``lead.retrieval.encode``; theirs: ``SentenceTransformer.encode``) at the same batch size. Every
measurement runs in its own child process (so peak memory is that variant's alone: VmHWM on CPU, the CUDA
allocator's peak on GPU), ours and theirs alternate, and the median over ``--repeats`` is reported with the
ratio ours / theirs (> 1: ours faster). Without ``datasets`` / ``accelerate`` (the Trainer's dependencies)
theirs falls back to a plain loop over their model, tokenizer and loss, and says so. On CUDA the model FLOP
utilisation of the training step is estimated as in ``benchmarks.distill_step``.

Needs ``dvc repro mine`` (data/prepared and the mined training file) first.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from lead.config import ScorerConfig, TrainConfig
from lead.data.examples import BatchSampler, PassageStore, read_training_file
from lead.data.prepared import PreparedData
from lead.models.dual_encoder import passage_text
from lead.models.factory import build_scorer

VARIANTS = ("ours_train", "st_train", "ours_encode", "st_encode")


def our_config(args) -> ScorerConfig:
    return ScorerConfig(kind="de", name=args.model, pooling="mean", similarity="cosine", scale=20.0,
                        query_max_length=args.max_length, passage_max_length=args.max_length)


def sampler(args) -> BatchSampler:
    examples = list(read_training_file(args.train_file))
    store = PassageStore(Path(args.data) / "collection.tsv")
    return BatchSampler(examples, store, args.batch_queries, 1, seed=args.seed)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_times_to_result(ends: list[float], warmup: int) -> float:
    """Median seconds between consecutive step ends, the first ``warmup`` steps left out."""
    gaps = [b - a for a, b in zip(ends, ends[1:])][warmup:]
    return statistics.median(gaps)


# -- ours ------------------------------------------------------------------------------------------------
def ours_train(args, device: torch.device) -> float:
    from lead.training.loop import Trainer
    from lead.training.methods import Warmup

    steps = args.warmup_steps + args.steps + 1
    config = TrainConfig(steps=steps, batch_queries=args.batch_queries, negatives=1, lr=5e-5, warmup_ratio=0.1,
                         checkpoint_every=10**9, log_every=5, seed=args.seed, precision=args.precision,
                         loader_workers=args.loader_workers, compile=args.compile)
    ends: list[float] = []

    class Timed(Trainer):
        def _live(self, start):  # no experiment tracker, as theirs runs with report_to="none"
            return None

        def _step(self, step, batches):
            terms = super()._step(step, batches)
            sync(device)
            ends.append(time.perf_counter())
            return terms

    from lead.training.distributed import DistInfo

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        method = Warmup(build_scorer(our_config(args)), "in_batch")
        Timed(method, sampler(args), config, Path(tmp) / "out", Path(tmp) / "ckpt", Path(tmp) / "logs",
              dist=DistInfo(device=device)).train()
    return step_times_to_result(ends, args.warmup_steps)


def ours_encode(args, device: torch.device) -> float:
    from lead.retrieval.encode import encode

    model = build_scorer(our_config(args)).to(device)
    passages = corpus(args)
    with torch.autocast(device.type, torch.bfloat16, enabled=args.precision == "bf16"):
        first = passages[: args.encode_batch]  # one batch to warm up (fewer when the corpus is smaller)
        encode(model, first, "passages", len(first), args.encode_batch, progress=False)
        sync(device)
        started = time.perf_counter()
        encode(model, passages, "passages", len(passages), args.encode_batch, progress=False)
        sync(device)
    return time.perf_counter() - started


# -- sentence-transformers -------------------------------------------------------------------------------
def st_model(args, device: torch.device):
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(args.model, max_seq_length=args.max_length)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device=str(device))


def triples(args, n_steps: int) -> dict[str, list[str]]:
    """(anchor, positive, negative) columns: the same sampler's batches, flattened in step order."""
    columns = {"anchor": [], "positive": [], "negative": []}
    source = sampler(args)
    for step in range(n_steps):
        batch = source.batch(step)
        for i, query in enumerate(batch.queries):
            columns["anchor"].append(query)
            columns["positive"].append(passage_text(batch.passages[2 * i]))
            columns["negative"].append(passage_text(batch.passages[2 * i + 1]))
    return columns


def st_train(args, device: torch.device) -> tuple[float, str]:
    steps = args.warmup_steps + args.steps + 1
    try:
        import accelerate  # noqa: F401  (the HF Trainer's dependencies)
        import datasets
    except ImportError:
        return st_train_loop(args, device, steps), "plain loop (no datasets/accelerate here)"
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from transformers import TrainerCallback

    ends: list[float] = []

    class Timer(TrainerCallback):
        def on_step_end(self, *_, **__):
            sync(device)
            ends.append(time.perf_counter())

    torch.manual_seed(0)
    model = st_model(args, device)
    with tempfile.TemporaryDirectory() as tmp:
        training_args = SentenceTransformerTrainingArguments(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=args.batch_queries, learning_rate=5e-5,
            warmup_ratio=0.1, max_grad_norm=2.0, bf16=args.precision == "bf16", use_cpu=device.type == "cpu",
            report_to="none", save_strategy="no", logging_steps=5, dataloader_drop_last=True, seed=args.seed,
            dataloader_num_workers=args.loader_workers, disable_tqdm=True, torch_compile=args.compile)
        trainer = SentenceTransformerTrainer(model=model, args=training_args,
                                             train_dataset=datasets.Dataset.from_dict(triples(args, steps)),
                                             loss=losses.MultipleNegativesRankingLoss(model), callbacks=[Timer()])
        trainer.train()
    return step_times_to_result(ends, args.warmup_steps), "SentenceTransformerTrainer"


def st_train_loop(args, device: torch.device, steps: int) -> float:
    """Their model, tokenizer and loss in a plain loop: the floor of what their Trainer costs."""
    from sentence_transformers import losses

    torch.manual_seed(0)
    model = st_model(args, device)
    loss_fn = losses.MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, fused=device.type == "cuda")
    columns = triples(args, steps)
    ends = []
    for step in range(steps):
        rows = slice(step * args.batch_queries, (step + 1) * args.batch_queries)
        features = [{k: v.to(device) if torch.is_tensor(v) else v for k, v in model.tokenize(columns[c][rows]).items()}
                    for c in ("anchor", "positive", "negative")]
        with torch.autocast(device.type, torch.bfloat16, enabled=args.precision == "bf16"):
            loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync(device)
        ends.append(time.perf_counter())
    return step_times_to_result(ends, args.warmup_steps)


def st_encode(args, device: torch.device) -> float:
    model = st_model(args, device)
    texts = [passage_text(p) for p in corpus(args)]
    with torch.autocast(device.type, torch.bfloat16, enabled=args.precision == "bf16"):
        model.encode(texts[: args.encode_batch], batch_size=args.encode_batch, show_progress_bar=False)
        sync(device)
        started = time.perf_counter()
        model.encode(texts, batch_size=args.encode_batch, show_progress_bar=False, convert_to_numpy=True)
        sync(device)
    return time.perf_counter() - started


# -- shared figures --------------------------------------------------------------------------------------
def corpus(args):
    """The first ``--encode-passages`` passages of the collection, cycled when it is smaller."""
    passages = list(PreparedData(args.data).passages())
    return [passages[i % len(passages)] for i in range(args.encode_passages)]


def token_counts(args) -> dict[str, float]:
    """Real and padded tokens of a training step (queries + passages), mean over the timed steps' batches."""
    model = build_scorer(our_config(args))
    source = sampler(args)
    real, padded, flops = [], [], []
    encoder = model.query_encoder
    n_params = sum(p.numel() for name, p in encoder.named_parameters() if "embeddings" not in name)
    layers, hidden = encoder.config.num_hidden_layers, encoder.config.hidden_size
    for step in range(args.warmup_steps, args.warmup_steps + args.steps):
        tokens = model.tokenize(source.batch(step))
        masks = [tokens["q_attention_mask"], tokens["p_attention_mask"]]
        real.append(sum(int(m.sum()) for m in masks))
        padded.append(sum(m.numel() for m in masks))
        # 6 x params per token (forward + backward) plus attention (4 x seq x hidden per token and layer, x3)
        flops.append(sum(6.0 * m.shape[0] * m.shape[1] * (n_params + 2 * layers * m.shape[1] * hidden) for m in masks))
    return {"real": statistics.mean(real), "padded": statistics.mean(padded), "flops": statistics.mean(flops)}


def peak_memory_gib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def child(args) -> None:
    device = torch.device(args.device)
    run = {"ours_train": ours_train, "st_train": st_train, "ours_encode": ours_encode, "st_encode": st_encode}[args.only]
    value = run(args, device)
    seconds, how = value if isinstance(value, tuple) else (value, "")
    print(json.dumps({"seconds": seconds, "how": how, "peak_gib": round(peak_memory_gib(device), 3)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="packaged:all-MiniLM-L6-v2", help="an HF folder both sides load")
    parser.add_argument("--data", default="data/prepared")
    parser.add_argument("--train-file", default="data/mined/train.jsonl")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--batch-queries", type=int, default=8, help="queries per step (x 2 passages each)")
    parser.add_argument("--max-length", type=int, default=96, help="token limit of queries and passages, both sides")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--encode-passages", type=int, default=1760)
    parser.add_argument("--encode-batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loader-workers", type=int, default=0, help="data-loader workers, both trainers")
    parser.add_argument("--compile", action="store_true", help="torch.compile, both trainers")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--only", choices=VARIANTS, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model.startswith("packaged:"):
        from lead.models.pretrained import resolve_model

        args.model = str(resolve_model(args.model))
    if args.only:
        args.precision = args.precision[0]
        child(args)
        return

    device = torch.device(args.device)
    counts = token_counts(args)
    passages_per_step = 2 * args.batch_queries
    report = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"{platform.machine()} cpu, {torch.get_num_threads()} threads",
              "torch": torch.__version__, "model": args.model, "batch_queries": args.batch_queries,
              "max_length": args.max_length, "steps": args.steps, "repeats": args.repeats,
              "loader_workers": args.loader_workers, "compile": args.compile,
              "tokens_per_step": {"real": round(counts["real"]), "padded": round(counts["padded"])}, "results": {}}
    for precision in args.precision:
        runs: dict[str, list[dict]] = {v: [] for v in args.variants}
        for repeat in range(args.repeats):
            for variant in args.variants:  # ours and theirs alternate, so drift hits both alike
                done = subprocess.run([sys.executable, "-m", "benchmarks.vs_st", *sys.argv[1:], "--only", variant,
                                       "--precision", precision], capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"{variant} failed:\n{done.stderr[-3000:]}")
                runs[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(precision, repeat, variant, runs[variant][-1], flush=True)
        result = {}
        for variant, measured in runs.items():
            seconds = statistics.median(m["seconds"] for m in measured)
            row = {"seconds_median": round(seconds, 4), "seconds_all": [round(m["seconds"], 4) for m in measured],
                   "peak_gib": max(m["peak_gib"] for m in measured)}
            if measured[0]["how"]:
                row["how"] = measured[0]["how"]
            if variant.endswith("train"):
                row.update(steps_per_s=round(1 / seconds, 2), passages_per_s=round(passages_per_step / seconds, 1),
                           tokens_per_s=round(counts["real"] / seconds))
                if device.type == "cuda":
                    row["mfu"] = round(counts["flops"] / seconds / (args.peak_tflops * 1e12), 4)
            else:
                row["passages_per_s"] = round(args.encode_passages / seconds, 1)
            result[variant] = row
        for kind in ("train", "encode"):
            if f"ours_{kind}" in result and f"st_{kind}" in result:
                result[f"{kind}_ours_over_st"] = round(result[f"st_{kind}"]["seconds_median"] / result[f"ours_{kind}"]["seconds_median"], 3)
        report["results"][precision] = result
        print(precision, json.dumps(result), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
