"""Reading a named DVC experiment's outputs for the benchmark scripts: its git ref, its dvc.lock, and the
files its stages wrote, from the local DVC cache (no checkout of the experiment needed). Run from the
repository root."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from lead.data.msmarco import read_qrels
from lead.data.records import Qrels

CACHE = Path(".dvc/cache/files/md5")


def experiment_ref(name: str) -> str:
    refs = subprocess.run(["git", "for-each-ref", "refs/exps", "--format=%(refname)"], check=True,
                          capture_output=True, text=True).stdout.split()
    found = [r for r in refs if r.rsplit("/", 1)[-1] == name]
    if not found:
        raise SystemExit(f"no DVC experiment named {name} (git refs/exps); run from the repository root")
    if len(found) > 1:
        raise SystemExit(f"{len(found)} DVC experiments are named {name} (on different baselines): {', '.join(found)}")
    return found[0]


def experiment_lock(name: str) -> dict:
    shown = subprocess.run(["git", "show", f"{experiment_ref(name)}:dvc.lock"], check=True, capture_output=True, text=True)
    return yaml.safe_load(shown.stdout)


def cached(md5: str) -> Path:
    return CACHE / md5[:2] / md5[2:]


def run_file(lock: dict, model: str, split: str) -> Path:
    """The TREC run that evaluate@<model> wrote for ``split``."""
    outs = lock["stages"][f"evaluate@{model}"]["outs"]
    return cached(next(o["md5"] for o in outs if o["path"].endswith(f".{split}.trec")))


def prepared_file(lock: dict, name: str) -> Path:
    """A file of the experiment's data/prepared folder, found through the folder's .dir listing."""
    out = next(o for o in lock["stages"]["prepare"]["outs"] if o["path"] == "data/prepared")
    listing = json.loads(cached(out["md5"]).read_text())
    return cached(next(e["md5"] for e in listing if e["relpath"] == name))


def experiment_judgments(lock: dict, split: str) -> tuple[Qrels, int]:
    """The experiment's own judgments of ``split`` and its binary relevance threshold (meta.json, as
    PreparedData reads it): an experiment may have prepared other data than the workspace."""
    meta = json.loads(prepared_file(lock, "meta.json").read_text())
    return read_qrels(prepared_file(lock, f"qrels.{split}.tsv")), int(meta.get("rel_threshold", 1))
