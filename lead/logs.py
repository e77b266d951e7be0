"""Logging set-up for stages, and metrics written through DVCLive."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import transformers


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    transformers.logging.set_verbosity_error()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def attach_file_log(path: str | Path) -> logging.Handler:
    """Also write every log record to ``path`` (appended: a resumed run continues its log)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    logging.getLogger().addHandler(handler)
    return handler


def detach_file_log(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()


def log_metrics(folder: str, metrics: dict[str, float]) -> None:
    """Write ``metrics`` to ``folder/metrics.json`` with DVCLive (read by ``dvc metrics show``)."""
    from dvclive import Live

    with Live(dir=folder, dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for name, value in metrics.items():
            live.log_metric(name, float(value), plot=False)
