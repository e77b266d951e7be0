"""Cost of one training step: LEAD vs response-only KD vs warm-up, per precision, side by side in one run.

    python -m benchmarks.distill_step                                   # default models of params.yaml, CPU
    python -m benchmarks.distill_step --shape paper --device cuda --precision fp32 bf16 --tokenizer DIR

Every variant trains the same student from the same teacher on the same fixed batches, with the Trainer's
optimiser and autocast, so the only difference is the method:

| variant   | what                                                                                   |
|-----------|----------------------------------------------------------------------------------------|
| warmup    | the student alone, contrastive NLL (the floor)                                         |
| kd        | LEAD's path with layer_weight 0: response KL both ways, teacher trained jointly        |
| lead      | LEAD: the same plus k per-layer score matrices and their re-weighted KL                |

Variants are interleaved step by step (so drift and thermal effects hit all alike); the median of
``--steps`` timed steps is reported after ``--warmup-steps``. Peak memory: on CUDA the allocator's peak per
variant; on CPU the peak RSS of a child process running that variant alone. With ``--shape`` the models are
random-weight encoders of a named shape (no weights to download or carry): ``minilm`` = the packaged MiniLM
(6 x 384) teacher and its 2-block student; ``paper`` = a BERT-base teacher (12 x 768) and a 6-layer student
(LEAD's 12 -> 6 setting), passages of 144 tokens. On CUDA the model FLOP utilisation (MFU) of each step is
estimated from the padded token counts (6 x parameters x tokens + attention) against ``--peak-tflops``.
``--pretokenize`` tokenizes the batches before the timed step, as the Trainer's data loader does
(``train.loader_workers``); without it the step tokenizes (loader_workers 0). ``--compile`` applies
``torch.compile`` to every trained transformer (``train.compile``); ``--length-buckets N`` encodes each batch
in N length-sorted chunks (``train.length_buckets``); its MFU keeps the FLOPs of the unbucketed padding, so
that MFU with and without buckets compares speeds of the same work.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from lead.config import DistillConfig, ScorerConfig
from lead.models.factory import build_scorer
from lead.records import Passage, TextBatch
from lead.training.distill import Distill
from lead.training.loader import role_tokenizers
from lead.training.methods import Warmup

SHAPES = {  # teacher (layers, hidden), student layers, query / passage max length
    "minilm": dict(layers=6, hidden=384, student_layers=2, query_len=32, passage_len=96),
    "paper": dict(layers=12, hidden=768, student_layers=6, query_len=32, passage_len=144),
}
WORDS = ("retrieval dense passage teacher student layer distillation ranking query score model vector "
         "index corpus learning attention encoder token batch gradient").split()


def random_folder(out: Path, layers: int, hidden: int, tokenizer: str) -> str:
    """A random-weight BERT of the given shape with ``tokenizer`` (a local HF tokenizer folder)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = out / f"bert-{layers}x{hidden}"
    if not (folder / "config.json").exists():
        tok = AutoTokenizer.from_pretrained(tokenizer)
        config = BertConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                            num_attention_heads=hidden // 64, intermediate_size=4 * hidden)
        torch.manual_seed(0)
        BertModel(config).save_pretrained(folder)
        tok.save_pretrained(folder)
    return str(folder)


def synthetic_batches(n: int, queries: int, group: int, passage_words: int, seed: int = 0) -> list[TextBatch]:
    """Fixed batches of random English-like text long enough to fill the passage length."""
    import random

    rng = random.Random(seed)
    batches = []
    for b in range(n):
        qids = [f"q{b}-{i}" for i in range(queries)]
        texts = [" ".join(rng.choices(WORDS, k=12)) for _ in qids]
        pids = [f"p{b}-{j}" for j in range(queries * group)]
        passages = [Passage(pid, " ".join(rng.choices(WORDS, k=passage_words))) for pid in pids]
        batches.append(TextBatch(qids, texts, pids, passages, group))
    return batches


def build_models(args) -> tuple[ScorerConfig, ScorerConfig]:
    if args.shape:
        shape = SHAPES[args.shape]
        out = Path(args.scratch)
        teacher = random_folder(out, shape["layers"], shape["hidden"], args.tokenizer)
        common = dict(query_max_length=shape["query_len"], passage_max_length=shape["passage_len"], pooling="cls")
        return (ScorerConfig(kind="de", name=teacher, num_layers=shape["student_layers"], **common),
                ScorerConfig(kind=args.teacher_kind, name=teacher, **common))
    from lead.config import load_params

    models = load_params().models
    teacher_key = {"de": "de6", "colbert": "cb6", "ce": "ce6"}[args.teacher_kind]
    return models["de2"], models[teacher_key]


def make_method(variant: str, student_config: ScorerConfig, teacher_config: ScorerConfig, k: int):
    torch.manual_seed(0)
    student = build_scorer(student_config)
    if variant == "warmup":
        return Warmup(student, "in_batch" if teacher_config.kind != "ce" else "own")
    teacher = build_scorer(teacher_config)
    config = DistillConfig(student="s", teacher="t", layers=k, layer_weight=1.0 if variant == "lead" else 0.0)
    return Distill(student, teacher, config)


class Stepper:
    """One method with its own AdamW, stepping like the Trainer (autocast, clipping, fused AdamW)."""

    def __init__(self, method, device: torch.device, bf16: bool, compile: bool = False, length_buckets: int = 1):
        self.method, self.device, self.bf16 = method, device, bf16
        for model in method.roles().values():  # as the Trainer sets train.length_buckets
            model.length_buckets = length_buckets
        for model in method.trainables.values():
            model.to(device).train()
            for encoder in model.encoders() if compile else ():
                encoder.compile(dynamic=True)
        for model in getattr(method, "frozen", {}).values():
            model.to(device).eval()
        params = [p for m in method.trainables.values() for p in m.parameters()]
        self.optimizer = torch.optim.AdamW(params, lr=1e-5, fused=True)

    def pretokenized(self, batch: TextBatch) -> TextBatch:
        """``batch`` with every model's tokens made ahead, pinned on CUDA (what the Trainer's loader hands over)."""
        ahead = dataclasses.replace(batch, tokens={role: tokenize(batch) for role, tokenize in role_tokenizers(self.method).items()})
        return ahead.pin_memory() if self.device.type == "cuda" else ahead

    def step(self, batch: TextBatch, step: int) -> float:
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        sync()
        started = time.perf_counter()
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            loss, _ = self.method.loss(batch, self.method.trainables, step)
        loss.backward()
        for model in self.method.trainables.values():
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - started


def step_flops(method, batch: TextBatch) -> float:
    """Model FLOPs of one training step: 3 x forward (fwd + bwd) of each trained model on its padded tokens."""
    total = 0.0
    models = list(method.trainables.values()) + list(getattr(method, "frozen", {}).values())
    for model in models:
        factor = 6.0 if any(model is m for m in method.trainables.values()) else 2.0
        tokens = model.tokenize(batch)
        encoder = getattr(model, "query_encoder", None) or model.encoder
        n_params = sum(p.numel() for name, p in encoder.named_parameters() if "embeddings" not in name)
        layers, hidden = encoder.config.num_hidden_layers, encoder.config.hidden_size
        for key, ids in tokens.items():
            if not key.endswith("input_ids"):
                continue
            rows, length = ids.shape
            # dense layers + attention scores and weighted values (4 * seq * hidden per token per layer)
            total += factor * rows * length * (n_params + 2 * layers * length * hidden)
    return total


def measure(args, student_config, teacher_config, variants, device, bf16) -> dict:
    shape = SHAPES.get(args.shape, {})
    words = shape.get("passage_len", 96)
    batches = synthetic_batches(4, args.batch_queries, 1 + args.negatives, words)
    steppers = {v: Stepper(make_method(v, student_config, teacher_config, args.layers), device, bf16, args.compile,
                           args.length_buckets) for v in variants}
    feeds = {v: [s.pretokenized(b) for b in batches] if args.pretokenize else batches for v, s in steppers.items()}
    times = {v: [] for v in variants}
    for step in range(args.warmup_steps + args.steps):
        for variant, stepper in steppers.items():
            if device.type == "cuda" and step == args.warmup_steps:
                torch.cuda.reset_peak_memory_stats()
            elapsed = stepper.step(feeds[variant][step % len(batches)], step)
            if step >= args.warmup_steps:
                times[variant].append(elapsed)
    result = {}
    for variant in variants:
        median = statistics.median(times[variant])
        row = {"step_s_median": round(median, 4), "steps_per_s": round(1 / median, 2)}
        if device.type == "cuda":
            flops = step_flops(steppers[variant].method, batches[0])
            row["model_tflops_per_step"] = round(flops / 1e12, 3)
            row["mfu"] = round(flops / median / (args.peak_tflops * 1e12), 4)
        result[variant] = row
    if "lead" in result and "kd" in result:
        result["lead_over_kd"] = round(result["lead"]["step_s_median"] / result["kd"]["step_s_median"], 3)
    if device.type == "cuda":  # peak memory per variant: one variant at a time on a clean allocator
        del steppers
        for variant in variants:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            stepper = Stepper(make_method(variant, student_config, teacher_config, args.layers), device, bf16, args.compile,
                              args.length_buckets)
            for step in range(2):
                stepper.step(stepper.pretokenized(batches[step]) if args.pretokenize else batches[step], step)
            result[variant]["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
            del stepper
    return result


def peak_rss_kib() -> int:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child started by a large parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_peak_rss(variant: str, argv: list[str]) -> float:
    """Peak RSS (GiB) of a child process that builds and steps only ``variant``."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.distill_step", *argv, "--only", variant],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_rss_gib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default=None, help="random-weight models of this shape")
    parser.add_argument("--tokenizer", default="packaged:all-MiniLM-L6-v2", help="tokenizer folder for --shape")
    parser.add_argument("--scratch", default="/tmp/lead-bench-models")
    parser.add_argument("--teacher-kind", choices=["de", "colbert", "ce"], default="de")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32"])
    parser.add_argument("--variants", nargs="+", default=["warmup", "kd", "lead"])
    parser.add_argument("--batch-queries", type=int, default=8)
    parser.add_argument("--negatives", type=int, default=1)
    parser.add_argument("--layers", type=int, default=2, help="k, distilled layer pairs (lead)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM: 989)")
    parser.add_argument("--pretokenize", action="store_true", help="tokenize ahead of the timed step (the data loader's job)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the trained transformers")
    parser.add_argument("--length-buckets", type=int, default=1,
                        help="train.length_buckets (MFU's FLOPs stay those of the unbucketed padding: a ratio of speeds)")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)
    args, argv = parser.parse_args(), sys.argv[1:]
    if args.tokenizer.startswith("packaged:"):
        from lead.models.pretrained import resolve_model

        args.tokenizer = resolve_model(args.tokenizer)
    device = torch.device(args.device)
    student_config, teacher_config = build_models(args)
    if args.only:  # child process for the CPU peak-memory figure
        batches = synthetic_batches(2, args.batch_queries, 1 + args.negatives, SHAPES.get(args.shape, {}).get("passage_len", 96))
        stepper = Stepper(make_method(args.only, student_config, teacher_config, args.layers), device, False)
        for step in range(3):
            stepper.step(batches[step % 2], step)
        print(json.dumps({"peak_rss_gib": round(peak_rss_kib() / 2**20, 3)}))
        return
    report = {"machine": platform.machine(), "device": torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
              "torch": torch.__version__, "shape": args.shape or "params.yaml de2 <- " + teacher_config.kind,
              "teacher_kind": args.teacher_kind, "batch_queries": args.batch_queries, "negatives": args.negatives,
              "k": args.layers, "pretokenize": args.pretokenize, "compile": args.compile, "results": {}}
    for precision in args.precision:
        result = measure(args, student_config, teacher_config, args.variants, device, precision == "bf16")
        if device.type == "cpu":
            for variant in args.variants:
                result[variant]["peak_rss_gib"] = cpu_peak_rss(variant, argv)
        report["results"][precision] = result
        print(precision, json.dumps(result), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
