"""Params presets for the papers' settings: ``presets/<name>.yaml`` merged over params.yaml.

    python -m lead.presets list
    python -m lead.presets apply data-mspas lead-12cb-6de      # rewrites params.yaml, then: dvc repro
    python -m lead.presets apply data-msdoc lead-24cb-12de --params other.yaml

A preset is a partial params file (``presets/<name>.yaml``); several are applied in order. Mappings merge key
by key, anything else (lists, values) replaces; a dotted key in a preset's ``replace:`` list (e.g.
``distill_runs``, ``eval.dense``) is replaced whole, so the embedded default's runs do not survive next to
the preset's. The result is validated like params.yaml before it is written (comments are not kept), and
refused when a stage would read a model folder or training file that no stage writes.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml

from lead.config import load_params
from lead.data.download import SOURCES
from lead.errors import UserError, as_command
from lead.io import atomic_open, load_yaml
from lead.training.layers import check_run_layers

PRESETS = Path(__file__).resolve().parents[1] / "presets"


def merge(base: dict[str, Any], override: dict[str, Any], replace: frozenset[str] = frozenset(), prefix: str = "") -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and dotted not in replace:
            merged[key] = merge(merged[key], value, replace, f"{dotted}.")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply(names: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the presets ``names`` merged over it, in order."""
    for name in names:
        path = PRESETS / f"{name}.yaml"
        if not path.is_file():
            have = ", ".join(sorted(p.stem for p in PRESETS.glob("*.yaml"))) or "none"
            raise UserError(f"no preset {name!r} in {PRESETS} (have: {have})")
        preset = load_yaml(path.read_text()) or {}
        replace = frozenset(preset.pop("replace", []) or [])
        params = merge(params, preset, replace)
    return params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "apply"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    if args.command == "list":
        for path in sorted(PRESETS.glob("*.yaml")):
            print(f"{path.stem:28s} {path.read_text().splitlines()[0].lstrip('# ')}")
        return
    if not args.names:
        parser.error("apply needs preset names (see: python -m lead.presets list)")
    merged = apply(args.names, load_yaml(Path(args.params).read_text()) or {})
    text = yaml.safe_dump(merged, sort_keys=False, width=110)
    check = Path(args.params).with_name(f".{Path(args.params).name}.preset-check.yaml")
    check.write_text(text)
    try:
        params = load_params(check)  # every key and value checked before params.yaml is touched
        dangling = params.dangling_inputs()
        for name in params.distill_runs:  # layer pairs that the models' depths cannot hold
            check_run_layers(params, name)
    finally:
        check.unlink()
    unknown = [s for s in merged.get("fetch", {}).get("sources", []) if s not in SOURCES]
    if unknown:
        raise UserError(f"{args.params} not changed: fetch.sources {unknown} are not known (known: {', '.join(sorted(SOURCES))})")
    if dangling:  # dvc repro would stop at the first stage that reads one of them
        raise UserError(f"{args.params} not changed: with presets {' '.join(args.names)} these inputs are written by "
                         "no stage:\n  " + "\n  ".join(dangling))
    with atomic_open(args.params) as out:
        names = " ".join(args.names)
        out.write(f"# presets applied over the previous params: python -m lead.presets apply {names}\n{text}")
    print(f"{args.params}: presets {names} applied; run dvc repro (or dvc exp run) next")


if __name__ == "__main__":
    as_command(main)
