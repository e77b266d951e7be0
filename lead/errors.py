"""Errors that name what the user has to fix: the file and line, or the params key."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable


class UserError(Exception):
    """An error the user fixes: a bad file, a wrong param, an impossible value. Its message names the file and line
    or the dotted params key, what is wrong and what to do; ``as_command`` prints it as one line, no traceback."""


class DataFormatError(UserError, ValueError):
    """A data file is missing, empty or malformed. The message starts with ``path:line:``."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(UserError, ValueError):
    """A params key is unknown, missing or of the wrong type. The message names the dotted key."""

    def __init__(self, key: str, message: str, source: str = "params.yaml"):
        self.key, self.message, self.source = key, message, source
        super().__init__(f"{source}: {key}: {message}")


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise DataFormatError if it does not exist or is empty."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, f"{what} not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DataFormatError(path, f"{what} is empty")
    return path



class ParamsValueError(UserError, ValueError):
    """A params value that cannot work with these models or data, found when a stage meets them (a layer count
    above a model's depth, VIRT with a cross-encoder, ...). The message names the params key to change."""


class OutOfMemory(UserError, RuntimeError):
    """Training or encoding ran out of (GPU or CPU) memory; the message names the params that shrink the work."""


def is_out_of_memory(error: BaseException) -> bool:
    """torch's GPU OOM, Python's MemoryError, or the CPU allocator's failure (a RuntimeError)."""
    import torch  # here, so the data readers that raise the errors above need no torch

    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error))


def out_of_memory(what: str, error: BaseException, hints: str) -> OutOfMemory:
    """An OutOfMemory for ``what`` that keeps the first line of torch's message and says what to change."""
    import torch

    device = "GPU" if isinstance(error, torch.OutOfMemoryError) else "CPU"
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return OutOfMemory(f"{what}: out of {device} memory ({detail}). To fit: {hints}")


DEBUG = "LEAD_DEBUG"  # set to 1 (or pass --debug) for the Python traceback of a user error


def as_command(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run ``main`` (a stage's or tool's entry point) as a command: a ``UserError`` prints as one line on stderr
    and exits with status 2; with ``--debug`` among the arguments or ``LEAD_DEBUG=1`` it raises as usual."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG, "") not in ("", "0")
    try:
        main([a for a in argv if a != "--debug"])
    except UserError as error:
        if debug:
            raise
        print(f"error: {error} (traceback: --debug or {DEBUG}=1)", file=sys.stderr)
        raise SystemExit(2) from None
