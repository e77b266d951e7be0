"""Stage fetch: download the official files named in params fetch.sources (none by default) into fetch.folder.

    python -m stages.fetch

Resumable (``<file>.part``), checked (MD5 where published, else the SHA-256 pinned at first download) and
unpacked where the MS MARCO presets read them (lead/data/download.py). With no sources it only writes an empty
manifest, so the default pipeline downloads nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lead.data.download import fetch
from lead.errors import as_command
from lead.io import atomic_open
from stages.common import stage_args

log = logging.getLogger("stages.fetch")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv)
    config = params.fetch
    manifest = fetch(config.sources, config.folder, config.mirror, config.checksums)
    if not manifest:
        Path(config.folder).mkdir(parents=True, exist_ok=True)
        with atomic_open(Path(config.folder) / "fetched.json") as out:
            out.write("{}\n")
    log.info("fetched %d file(s) into %s: %s", len(manifest), config.folder, ", ".join(manifest) or "none asked")


if __name__ == "__main__":
    as_command(main)
