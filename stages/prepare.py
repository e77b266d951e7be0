"""Stage prepare: build data/prepared (the embedded benchmark, or a real collection) from params.data.

    python -m stages.prepare
"""

from __future__ import annotations

import argparse
import logging

from lead.config import load_params
from lead.data.prepared import prepare
from lead.errors import as_command
from lead.logs import setup_logging
from lead.pipeline import PREPARED

log = logging.getLogger("stages.prepare")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default=PREPARED)
    args = parser.parse_args(argv)

    setup_logging()
    params = load_params(args.params)
    meta = prepare(params.data, args.out)
    log.info("prepared %s: %d passages, splits %s", params.data.source, meta["passages"], meta["splits"])


if __name__ == "__main__":
    as_command(main)
