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
