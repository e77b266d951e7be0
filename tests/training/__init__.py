"""Training tests. The DDP ones run a worker script under ``torchrun`` with two CPU processes (gloo)."""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DUMP_STACKS_AFTER = "LEAD_TEST_DUMP_STACKS_AFTER"


def dump_stacks_if_hung() -> None:
    """Called first by each worker: if ``torchrun_two`` set a deadline, print every thread's stack and exit then,
    so a hung collective names itself in the test's failure instead of a bare timeout."""
    seconds = float(os.environ.get(DUMP_STACKS_AFTER, "0"))
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds, exit=True)


def torchrun_two(worker: Path, *args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """``worker`` under torchrun with 2 CPU processes (gloo); fails the test if it fails or hangs.

    The workers take seconds; they dump their stacks and exit a minute before ``timeout``. A timeout with no
    stacks is torchrun's own start or shutdown.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker), *args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           DUMP_STACKS_AFTER: str(timeout - 60)}
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:  # its stdout and stderr are bytes even with text=True
        out, err = (text.decode(errors="replace") if isinstance(text, bytes) else text for text in (exc.stdout, exc.stderr))
        pytest.fail(f"torchrun did not finish in {timeout} s (hung?):\n{out}\n{err[-12000:] if err else ''}")
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-4000:]}\n{done.stderr[-12000:]}"
    return done
