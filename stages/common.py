"""What every stage does first: parse its arguments, set up logging, read and check params.yaml."""

from __future__ import annotations

import argparse

from lead.config import ConfigError, Params, load_params
from lead.logs import setup_logging


def stage_args(doc: str, *positional: str, argv: list[str] | None = None,
               optional: tuple[str, ...] = ()) -> tuple[argparse.Namespace, Params]:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in positional:
        parser.add_argument(name)
    for name in optional:
        parser.add_argument(name, nargs="?")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)
    setup_logging()
    return args, load_params(args.params)


def pick(section: dict, name: str, key: str, params_file: str):
    """``section[name]``, or a ConfigError naming the params key and the names that exist."""
    if name not in section:
        raise ConfigError(f"{key}.{name}", f"no such entry (have: {', '.join(section) or 'none'})", params_file)
    return section[name]
