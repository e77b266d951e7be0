"""Errors that name what the user has to fix: the file and line, or the params key."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file is missing, empty or malformed. The message starts with ``path:line:``."""

    def __init__(self, path: str | Path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(ValueError):
    """A params key is unknown, missing or of the wrong type. The message names the dotted key."""

    def __init__(self, key: str, message: str, source: str = "params.yaml"):
        self.key = key
        super().__init__(f"{source}: {key}: {message}")


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise DataFormatError if it does not exist or is empty."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(path, f"{what} not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DataFormatError(path, f"{what} is empty")
    return path



class OutOfMemory(RuntimeError):
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
