"""Training tests. The DDP ones run a worker script under ``torchrun`` with two CPU processes (gloo)."""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DUMP_STACKS_AFTER = "LEAD_TEST_DUMP_STACKS_AFTER"


def dump_stacks_if_hung() -> None:
    """Called first by each worker: if ``torchrun_two`` set a deadline, print every thread's stack and exit then,
    so a hung collective names itself in the test's failure instead of a bare timeout."""
    seconds = float(os.environ.get(DUMP_STACKS_AFTER, "0"))
    if seconds > 0:
        faulthandler.dump_traceback_later(seconds, exit=True)


def require_gloo() -> None:
    """Skips the calling test (or fixture) where this torch build cannot run two CPU processes."""
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        pytest.skip("this torch build has no torch.distributed with the gloo backend")


def torchrun_two(*args: str | Path, cwd: Path = REPO, timeout: int = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 *args`` (a worker script and its options, or ``-m``, a module and
    its options) with 2 CPU processes (gloo), in ``cwd``; fails the test if it fails or hangs.

    The workers take seconds; those that call ``dump_stacks_if_hung`` print their stacks and exit a minute before
    ``timeout``. A timeout with no stacks is torchrun's own start or shutdown, which its INFO log (in the
    failure's stderr) then shows.
    """
    require_gloo()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "LOGLEVEL": "INFO", DUMP_STACKS_AFTER: str(timeout - 60)}
    # A session of its own, so that a timeout kills the workers too (a killed torchrun leaves them running).
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s (hung?):\n{out[-4000:]}\n{err[-12000:]}")
    done = subprocess.CompletedProcess(command, process.returncode, out, err)
    assert done.returncode == 0, f"torchrun failed:\n{out[-4000:]}\n{err[-12000:]}"
    return done
