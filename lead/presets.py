"""The papers' settings as Hydra config groups (``conf/``), composed into ``params.yaml`` as DVC does.

    dvc exp run -S dataset=mspas -S preset=lead-12cb-6de       # a paper setting as a DVC experiment
    python -m lead.presets list                                 # the groups and their options
    python -m lead.presets check dataset=mspas preset=prod-marco   # validate a composition; writes nothing
    python -m lead.presets compose                              # params.yaml from conf/, as dvc exp run writes it

DVC's Hydra composition (``hydra.enabled`` in ``.dvc/config``) writes ``params.yaml`` from ``conf/config.yaml``
and one option of each group (``conf/dataset/``, ``conf/preset/``) on every ``dvc exp run``; ``-S`` overrides
use Hydra's grammar. An option is a partial params file packaged at the root: mappings merge key by key, so the
keys a setting owns whole (models, runs, evaluated models) live only in the ``preset`` options, and
``conf/config.yaml`` keeps an empty mapping in their place. ``compose`` calls DVC's own composition, so the
committed ``params.yaml`` is byte-equal to what ``dvc exp run`` writes (``tests/test_presets.py`` holds it).
``check`` adds what a stage would only find later: inputs that no stage writes, layer pairs the depths cannot
hold, unknown fetch sources.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lead.config import Params, parse
from lead.data.download import SOURCES
from lead.errors import UserError, as_command
from lead.io import atomic_open, load_yaml
from lead.training.layers import check_run_layers

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
GROUPS = ("dataset", "preset")


def options(group: str, conf: Path = CONF) -> list[str]:
    return sorted(path.stem for path in (conf / group).glob("*.yaml"))


def compose_text(overrides: list[str], conf: Path = CONF) -> str:
    """``params.yaml``'s text for ``overrides`` (Hydra syntax: ``preset=prod-marco``, ``distill.layers=6``),
    composed by the function ``dvc exp run`` calls. A group option that does not exist is refused by name."""
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "params.yaml"
        try:
            compose_and_dump(out, str(conf.resolve()), None, "config", str(conf.parent.resolve()), list(overrides))
        except (HydraException, OmegaConfBaseException) as error:
            message = str(error).strip().splitlines()[0]
            if "Could not find" in message:  # a group option: name the ones there are
                message += " (have " + "; ".join(f"{group}: {', '.join(options(group, conf))}" for group in GROUPS) + ")"
            raise UserError(f"conf/ with {' '.join(overrides) or 'no overrides'}: {message}") from None
        return out.read_text()


def check(params: Params, overrides: list[str]) -> None:
    """What no stage would say before the GPUs are rented: every input written by a stage, layer pairs that fit."""
    dangling = params.dangling_inputs()
    if dangling:  # dvc repro would stop at the first stage that reads one of them
        raise UserError(f"with {' '.join(overrides)} these inputs are written by no stage: " + "; ".join(dangling))
    for name in params.distill_runs:
        check_run_layers(params, name)
    unknown = [source for source in params.fetch.sources if source not in SOURCES]
    if unknown:
        raise UserError(f"with {' '.join(overrides)}: fetch.sources {unknown} are not known (known: {', '.join(sorted(SOURCES))})")


def composed(overrides: list[str], conf: Path = CONF) -> tuple[str, Params]:
    """The composed text and its typed, checked params (errors name params.yaml, the file it becomes)."""
    text = compose_text(overrides, conf)
    params = parse(Params, load_yaml(text))
    check(params, overrides)
    return text, params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "check", "compose"])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides: dataset=mspas preset=lead-12cb-6de distill.layers=6")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"), help="where compose writes")
    args = parser.parse_args(argv)
    if args.command == "list":
        for group in GROUPS:
            print(f"{group}:")
            for name in options(group):
                about = next((line for line in (CONF / group / f"{name}.yaml").read_text().splitlines()
                              if line.startswith("#") and "@package" not in line), "")
                print(f"  {name:20s} {about.lstrip('# ')}")
        return
    text, params = composed(args.overrides)
    if args.command == "check":
        print(f"{' '.join(args.overrides) or 'conf/'}: valid; {len(params.models)} models, "
              f"{len(params.warmup)} warm-ups, {len(params.distill_runs)} distill runs, {len(params.eval.dense)} evaluated")
        return
    with atomic_open(args.params) as out:
        out.write(text)
    print(f"{args.params}: composed from conf/ with {' '.join(args.overrides) or 'the default options'}")


if __name__ == "__main__":
    as_command(main)
