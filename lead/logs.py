"""Logging set-up for stages, and metrics written through DVCLive."""

from __future__ import annotations

import logging
import os

import transformers


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    transformers.logging.set_verbosity_error()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def log_metrics(folder: str, metrics: dict[str, float]) -> None:
    """Write ``metrics`` to ``folder/metrics.json`` with DVCLive (read by ``dvc metrics show``)."""
    from dvclive import Live

    with Live(dir=folder, dvcyaml=None, save_dvc_exp=False, report=None) as live:
        for name, value in metrics.items():
            live.log_metric(name, float(value), plot=False)
