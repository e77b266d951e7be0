"""Reading a named DVC experiment's outputs for the benchmark scripts: its git ref, its dvc.lock and params,
which of its stages it ran, and the files they wrote, from the local DVC cache (no checkout of the
experiment needed). Run from the repository root."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from pathlib import Path


from lead.data.msmarco import read_qrels
from lead.io import load_yaml
from lead.records import Qrels



def experiment_ref(name: str) -> str:
    refs = subprocess.run(["git", "for-each-ref", "refs/exps", "--format=%(refname)"], check=True,
                          capture_output=True, text=True).stdout.split()
    found = [r for r in refs if r.rsplit("/", 1)[-1] == name]
    if not found:
        raise SystemExit(f"no DVC experiment named {name} (git refs/exps); run from the repository root")
    if len(found) > 1:
        raise SystemExit(f"{len(found)} DVC experiments are named {name} (on different baselines): {', '.join(found)}")
    return found[0]


def _show(rev: str, path: str) -> dict:
    """A YAML file of a git revision (an experiment's ref, or ``<ref>^``: its baseline commit)."""
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True)
    return load_yaml(shown.stdout)


@functools.cache
def cache_folder() -> Path:
    """The local DVC cache's md5 objects: under ``dvc cache dir`` (.dvc/cache unless configured, e.g. one
    cache shared by several checkouts)."""
    shown = subprocess.run(["dvc", "cache", "dir"], capture_output=True, text=True)
    root = shown.stdout.strip() if shown.returncode == 0 and shown.stdout.strip() else ".dvc/cache"
    return Path(root) / "files" / "md5"


def cached(md5: str) -> Path:
    return cache_folder() / md5[:2] / md5[2:]


_MISSING = object()


def _param(params: dict, dotted: str):
    node = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _cached_listing(md5: str) -> dict[str, str] | None:
    """A folder's files (relpath -> md5) from its ``.dir`` entry in the local cache; None if it is not there."""
    path = cached(md5)
    return {e["relpath"]: e["md5"] for e in json.loads(path.read_text())} if path.exists() else None


def dir_md5(files: dict[str, str]) -> str:
    """DVC's hash of a folder from its files (relpath -> md5): the md5 of its sorted JSON listing, + ".dir"."""
    entries = sorted(({"md5": m, "relpath": rel} for rel, m in files.items()), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def stale_stages(lock: dict, params: dict, baseline: dict, listing=_cached_listing) -> set[str]:
    """The stages an experiment did not run although their inputs changed: their outputs in the experiment's
    lock (metrics and runs included) are still its baseline's. ``dvc exp run <targets>`` runs only what the
    targets need; the other stages keep the baseline's entries, right for some and stale for others.

    A stage is fresh when every param it records has that value in the experiment's params.yaml and every
    dependency it records is what the experiment holds: a path another stage writes, that stage's output hash
    (and that stage fresh); a path inside a folder another stage writes, the same files in that folder's
    listing (``listing``: md5 of a cached ``.dir`` -> relpath -> md5;
    a sub-folder compared by its DVC hash, ``dir_md5``); a folder holding other stages' outputs, unchanged
    unless the stage recorded the change; a path no stage writes (code), the hash that the stages the experiment
    did re-run record for it. ``baseline`` is the baseline commit's lock.
    """
    stages, before = lock["stages"], baseline.get("stages", {})

    def writers(entries: dict) -> dict[str, tuple[str, str | None]]:
        return {out["path"]: (name, out.get("md5")) for name, stage in entries.items() for out in stage.get("outs", [])}

    written, written_before = writers(stages), writers(before)
    # The experiment's hash of a path no stage writes (code, outside data), as recorded by the stages it re-ran.
    current = {dep["path"]: dep.get("md5") for name, stage in stages.items() if stage != before.get(name)
               for dep in stage.get("deps", [])
               if dep["path"] not in written and not any(_inside(dep["path"], out) for out in written)}
    memo: dict[str, bool] = {}

    def fresh(name: str) -> bool:
        if name not in memo:
            memo[name] = True  # a DVC graph has no cycles; this only guards the recursion
            memo[name] = _fresh(name)
        return memo[name]

    def same_part(path: str, md5: str | None, folder: str, folder_md5: str | None) -> bool:
        """Does the dependency ``path`` (recorded as ``md5``) hold what the folder ``folder_md5`` holds there?"""
        files = listing(folder_md5) if folder_md5 else None
        part = path[len(folder.rstrip("/")) + 1:].rstrip("/")
        if files is None or md5 is None:
            return False
        if not md5.endswith(".dir"):
            return files.get(part) == md5
        return dir_md5({rel[len(part) + 1:]: m for rel, m in files.items() if rel.startswith(part + "/")}) == md5

    def _fresh(name: str) -> bool:
        stage = stages[name]
        if any(_param(params, key) != value for key, value in stage.get("params", {}).get("params.yaml", {}).items()):
            return False
        recorded_before = {dep["path"]: dep.get("md5") for dep in before.get(name, {}).get("deps", [])}
        for dep in stage.get("deps", []):
            path, md5 = dep["path"], dep.get("md5")
            # the deepest output holding it: a lock can keep an old stage's entry for a parent folder
            folder = max((out for out in written if _inside(path, out)), key=len, default=None)
            inner = [out for out in written if _inside(out, path)]
            if path in written:
                source, out_md5 = written[path]
                if not fresh(source) or md5 != out_md5:
                    return False
            elif folder is not None:
                source, out_md5 = written[folder]
                unchanged = out_md5 == written_before.get(folder, (None, None))[1] and md5 == recorded_before.get(path)
                if not fresh(source) or not (unchanged or same_part(path, md5, folder, out_md5)):
                    return False
            elif inner:
                if not all(fresh(written[out][0]) for out in inner):
                    return False
                moved = any(written[out][1] != written_before.get(out, (None, None))[1] for out in inner)
                if moved and md5 == recorded_before.get(path):
                    return False  # outputs under this folder changed after the stage recorded it
            elif path in current and current[path] != md5:
                return False
        return True

    return {name for name in stages if not fresh(name)}


class Experiment:
    """A named DVC experiment: its dvc.lock and params, and the outputs of the stages it ran."""

    def __init__(self, name: str):
        self.name = name
        ref = experiment_ref(name)
        self.lock, self.params = _show(ref, "dvc.lock"), _show(ref, "params.yaml")
        self.stale = stale_stages(self.lock, self.params, _show(f"{ref}^", "dvc.lock"))

    def producer(self, path: str) -> str | None:
        """The stage whose output is ``path`` or a folder holding it; None when no stage writes it."""
        for name, stage in self.lock["stages"].items():
            if any(path == o["path"] or _inside(path, o["path"]) for o in stage.get("outs", [])):
                return name
        return None

    def ran(self, stage: str) -> bool:
        return stage in self.lock["stages"] and stage not in self.stale

    def run_file(self, model: str, split: str) -> Path:
        """The TREC run that evaluate@<model> (``<key>.rerank``: rerank@<key>) wrote for ``split`` here."""
        key, reranked = model.removesuffix(".rerank"), model.endswith(".rerank")
        stage = f"rerank@{key}" if reranked else f"evaluate@{model}"
        if stage not in self.lock["stages"]:
            where = "eval.rerank" if reranked else "eval.dense"
            raise SystemExit(f"experiment {self.name} has no stage {stage} (no such model in its params {where})")
        if not self.ran(stage):
            raise SystemExit(f"experiment {self.name} did not run {stage}: its run file is the baseline's "
                             f"(add {stage} to the experiment's targets)")
        outs = self.lock["stages"][stage]["outs"]
        return cached(next(o["md5"] for o in outs if o["path"].endswith(f".{split}.trec")))

    def prepared_file(self, name: str) -> Path:
        """A file of the experiment's data/prepared folder, found through the folder's .dir listing."""
        out = next(o for o in self.lock["stages"]["prepare"]["outs"] if o["path"] == "data/prepared")
        listing = _cached_listing(out["md5"])
        if listing is None:
            raise SystemExit(f"experiment {self.name}: its data/prepared ({out['md5']}) is not in the local DVC cache "
                             f"({cache_folder()}): run where the experiment ran, or dvc pull it")
        return cached(listing[name])

    def judgments(self, split: str) -> tuple[Qrels, int]:
        """The experiment's own judgments of ``split`` and its binary relevance threshold (meta.json, as
        PreparedData reads it): an experiment may have prepared other data than the workspace."""
        meta = json.loads(self.prepared_file("meta.json").read_text())
        return read_qrels(self.prepared_file(f"qrels.{split}.tsv")), int(meta.get("rel_threshold", 1))


def shown_metrics(names: set[str]) -> dict[str, dict]:
    """The metrics of the workspace (key "workspace") and of the named experiments, from ``dvc exp show --json
    -A``: name -> {metrics file: {"data": ...}}. A queued, running or failed experiment is left out: it lists its
    baseline's metrics (and has no git ref yet)."""
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json", "-A"], check=True, capture_output=True,
                                      text=True).stdout)
    found: dict[str, dict] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            if (node.get("executor") or {}).get("state", "success") != "success":
                return
            name = "workspace" if node.get("rev") == "workspace" else node.get("name") or node.get("rev")
            data = node.get("data")
            if isinstance(data, dict) and name in names | {"workspace"}:
                found.setdefault(name, data.get("metrics", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown)
    return found
