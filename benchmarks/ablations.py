"""The papers' ablations as DVC experiments of the default pipeline, and their table.

    python -m benchmarks.ablations queue                 # one queued DVC experiment per ablation (abl-<name>)
    OMP_NUM_THREADS=1 dvc queue start -j 2               # runs them two at a time, a thread each (-j 1: one at a time)
    dvc exp show                                         # lists them beside the workspace
    python -m benchmarks.ablations table                 # the ablation table, each changed model beside the default's

An ablation is a list of DVC ``-S`` overrides (Hydra syntax) of ``params.yaml`` and the models it changes;
``dvc exp run`` is given their evaluations as targets, so an experiment re-runs only what the changed params
reach (the changed run, its evaluation), never the teachers it reads unless the ablation changes them.
``--only`` picks ablations, ``--seed N`` queues them with distillation seed N (``abl-<name>-s<N>``) and the
default's runs at that seed (``abl-main-s<N>``) to compare with; ``queue --dry-run`` prints the commands.
Seed 13 compares with the workspace (``dvc repro``).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
from dataclasses import dataclass

import numpy as np

from benchmarks.experiments import Experiment, shown_metrics
from benchmarks.paired import open_experiment, per_query, shown_p, sign_flip_p

DEFAULT_SEED = 13
LEAD = "lead_de"  # the run the method ablations change: the papers' 12DE -> 6DE setting, in miniature


@dataclass(frozen=True)
class Ablation:
    name: str
    what: str  # the table's row
    overrides: tuple[str, ...]
    models: tuple[str, ...]  # metric names (evaluate@<model>) compared with the default's
    expensive: bool = False  # re-trains teachers or the whole pipeline (queued only when named in --only)


def _lead(key: str, value: str) -> str:
    return f"++distill_runs.{LEAD}.{key}={value}"


ABLATIONS = [
    Ablation("uniform", "no layer re-weighting (lambda = 1/k)", (_lead("reweight", "false"),), (LEAD,)),
    Ablation("last", "the last k layers of each model, fixed", (_lead("selection", "last"),), (LEAD,)),
    Ablation("skip", "student's last k <-> teacher layers at a stride", (_lead("selection", "skip"),), (LEAD,)),
    Ablation("frozen", "frozen teacher (KD with the layer term)", (_lead("teacher_trainable", "false"),), (LEAD,)),
    Ablation("random_last", "random draws with the last blocks always paired", (_lead("selection", "random_last"),), (LEAD,)),
    Ablation("k1", "k = 1 layer pair per step", (_lead("layers", "1"),), (LEAD,)),
    Ablation("k3", "k = 3 layer pairs per step", (_lead("layers", "3"),), (LEAD,)),
    Ablation("kall", "k = all layers (dvc exp run -S distill.layers=6 does this for every run)", (_lead("layers", "all"),), (LEAD,)),
    # The knobs the papers' ordering may hang on: the layer term's weight, the re-weighting's temperature tau_L,
    # how often the layer pairs are re-drawn.
    Ablation("layer_half", "the layer term at half weight (0.5)", (_lead("layer_weight", "0.5"),), (LEAD,)),
    Ablation("layer_double", "the layer term at twice the weight (2.0)", (_lead("layer_weight", "2.0"),), (LEAD,)),
    Ablation("tau_l1", "layer re-weighting temperature tau_L = 1 (10: the default)", (_lead("layer_temperature", "1.0"),), (LEAD,)),
    Ablation("resample1", "layer pairs re-drawn every step (10: the default)", (_lead("resample_every", "1"),), (LEAD,)),
    Ablation("virt", "VIRT's token-interaction maps instead of layer scores", (_lead("layer_weight", "0.0"), _lead("virt_weight", "1.0")), (LEAD,)),
    Ablation("raw_colbert", "ColBERT teacher's raw per-layer vectors (the reference) in lead_cb",
             ("++distill_runs.lead_cb.normalize_teacher_layers=false",), ("lead_cb",)),
    Ablation("own_vocabulary", "a student with its own 1,000-piece vocabulary (liberal), LEAD from the DE teacher", (
        "++models.student_wp={kind: de, vocabulary_size: 1000, pooling: mean, similarity: cosine, scale: 20.0, passage_max_length: 96}",
        "++warmup.student_wp={init: models/init/student_wp, train_file: data/mined/train.jsonl}",
        "++distill_runs.lead_wp={defaults: distill, train_file: data/mined/train.jsonl, student: models/student_wp, teacher: models/de_teacher}",
        "++eval.dense.student_wp=models/student_wp",
        "++eval.dense.lead_wp=models/lead_wp/student"), ("student_wp", "lead_wp")),
    Ablation("random_negatives", "the student warmed up on random negatives (no mining)", (
        "++warmup.student_random={init: models/init/student, train_file: data/prepared/train.jsonl}",
        "++eval.dense.student_random=models/student_random"), ("student_random",)),
    Ablation("no_deep_supervision", "teachers warmed up on their last layer only (layer_weight 0)", (
        "++warmup.de_teacher.layer_weight=0.0", "++warmup.cb_teacher.layer_weight=0.0"),
        ("de_teacher", "cb_teacher", "lead_de", "kd_de", "lead_cb", "kd_cb"), expensive=True),
    Ablation("steps100", "every LEAD-table run at 100 steps (the default's 50; the default before 2026-12-07)",
             ("distill.train.steps=100",), ("lead_de", "kd_de", "lead_cb", "lead_cb_best", "kd_cb", "lead_ce", "kd_ce", "no_kd"),
             expensive=True),
    Ablation("no_mask", "accidental positives not masked (the whole pipeline)", ("train.mask_accidental_positives=false",),
             ("student", "de_teacher", "cb_teacher", "lead_de", "kd_de", "lead_cb", "kd_cb", "prod_tpd3"), expensive=True),
    Ablation("no_mask_distill", "accidental positives not masked in LEAD's table only (the default's teachers and student)",
             ("++distill.train.mask_accidental_positives=false",),
             ("lead_de", "kd_de", "lead_cb", "kd_cb", "lead_ce", "kd_ce", "no_kd")),
]


def experiment_name(ablation: str, seed: int) -> str:
    return f"abl-{ablation}" if seed == DEFAULT_SEED else f"abl-{ablation}-s{seed}"


def queue_commands(names: list[str] | None, seed: int) -> list[list[str]]:
    chosen = [a for a in ABLATIONS if (a.name in names if names else not a.expensive)]
    seeded = [] if seed == DEFAULT_SEED else [f"++distill.train.seed={seed}", f"++prod.train.seed={seed}"]
    commands = []
    if seed != DEFAULT_SEED:  # the default's models at this seed, to compare with
        models = sorted({m for a in chosen for m in a.models})
        commands.append(["dvc", "exp", "run", "--queue", "-n", experiment_name("main", seed),
                         *(x for o in seeded for x in ("-S", o)), *(f"evaluate@{m}" for m in models)])
    for ablation in chosen:
        commands.append(["dvc", "exp", "run", "--queue", "-n", experiment_name(ablation.name, seed),
                         *(x for o in (*ablation.overrides, *seeded) for x in ("-S", o)),
                         *(f"evaluate@{m}" for m in ablation.models)])
    return commands


def _value(metrics: dict, model: str, metric: str, split: str = "test") -> float | None:
    return metrics.get(f"metrics/{model}/metrics.json", {}).get("data", {}).get(split, {}).get(metric)


def _p(ablated: dict, default: dict, metric: str) -> str:
    """Two-sided sign-flip p over the test queries (qid -> metric -> value) of an ablated model and the default's."""
    if sorted(ablated) != sorted(default):
        return "other queries"
    return shown_p(sign_flip_p(np.array([ablated[q][metric] - default[q][metric] for q in sorted(ablated)])))


def table(seed: int, metrics: list[str]) -> str:
    baseline = "workspace" if seed == DEFAULT_SEED else experiment_name("main", seed)
    names = {a.name: experiment_name(a.name, seed) for a in ABLATIONS}
    found = shown_metrics({baseline, *names.values()})
    if baseline not in found:
        raise SystemExit(f"{baseline} not found in dvc exp show: run the default pipeline (dvc repro) or queue --seed {seed}")
    header = " | ".join(f"{m} | change" for m in metrics)
    lines = [f"Ablations, seed {seed} (baseline: {baseline})", "",
             f"| ablation | model | {header} | p ({metrics[0]}) |", "|---|---|" + "---|---|" * len(metrics) + "---|"]
    unfinished, default_queries = [], {}
    for ablation in ABLATIONS:
        name = names[ablation.name]
        if name not in found:
            unfinished.append(ablation.name)
            continue
        experiment = Experiment(name)
        for model in ablation.models:
            if not experiment.ran(f"evaluate@{model}"):
                continue  # still the baseline's figures: the experiment did not re-run this model
            cells = []
            for metric in metrics:
                value, default = _value(found[name], model, metric), _value(found[baseline], model, metric)
                change = "new" if default is None else f"{100 * (value - default):+.1f}"
                cells.append(f"{value:.4f} | {change}")
            if _value(found[baseline], model, metrics[0]) is None:
                p = "-"
            else:  # the default's per-query figures once per model: most ablations change lead_de
                if model not in default_queries:
                    default_queries[model] = per_query(open_experiment(baseline), model, "test")
                p = _p(per_query(experiment, model, "test"), default_queries[model], metrics[0])
            lines.append(f"| {ablation.what} | {model} | " + " | ".join(cells) + f" | {p} |")
    lines.append("")
    lines.append("change: points (x100) against the same model in the baseline; new: a model the default has not; "
                 "p: paired sign flip over the test queries")
    if unfinished:
        lines.append(f"not run or not finished (dvc queue status): {', '.join(unfinished)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    queue = sub.add_parser("queue", help="queue the ablations as DVC experiments")
    queue.add_argument("--only", nargs="+", choices=[a.name for a in ABLATIONS],
                       help="these ablations (default: every one not marked expensive)")
    queue.add_argument("--seed", type=int, default=DEFAULT_SEED)
    queue.add_argument("--dry-run", action="store_true", help="print the commands, queue nothing")
    shown = sub.add_parser("table", help="the ablation table from the finished experiments")
    shown.add_argument("--seed", type=int, default=DEFAULT_SEED)
    shown.add_argument("--metric", nargs="+", default=["NDCG@10", "MRR@10"])
    sub.add_parser("list", help="the ablations and what each changes")
    args = parser.parse_args()
    if args.command == "list":
        for a in ABLATIONS:
            print(f"{a.name:20} {a.what}{' (expensive)' if a.expensive else ''}\n{'':20} {' '.join(a.overrides)}")
    elif args.command == "queue":
        for command in queue_commands(args.only, args.seed):
            print(shlex.join(command))
            if not args.dry_run:
                subprocess.run(command, check=True)
        if not args.dry_run:
            print("queued; run them with: OMP_NUM_THREADS=1 dvc queue start -j 2   (two at a time; -j 1 for one)")
    else:
        print(table(args.seed, args.metric))


if __name__ == "__main__":
    main()
