"""Atomic outputs: a stage killed half-way leaves the previous output or none, never half of one."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

import yaml


class _Yaml12Floats(yaml.SafeLoader):
    """PyYAML (YAML 1.1) reads ``5e-05`` as a string: how DVC writes a float set with ``dvc exp run -S
    train.lr=5e-5`` into params.yaml, and how it writes small floats into dvc.lock. YAML 1.2 and DVC read a float."""


_Yaml12Floats.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."))


def load_yaml(text: str | IO[str]):
    """YAML as DVC reads it (floats without a dot, ``5e-05``, are floats); otherwise ``yaml.safe_load``."""
    return yaml.load(text, Loader=_Yaml12Floats)


def _umask() -> int:
    """The process's umask, read from /proc where there is one (setting it to read it back would, for a moment,
    give any file another thread creates the mode 0666)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, directory: bool) -> None:
    """mkstemp / mkdtemp make owner-only entries; give the output the mode a plain open() or mkdir() would
    (a shared DVC cache or data folder must stay readable by the group)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success rename it over ``path``, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _usual_mode(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; on success it replaces ``path`` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _usual_mode(tmp, directory=True)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | Path, obj, indent: int = 2) -> None:
    """Write ``obj`` as JSON atomically."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False)
        handle.write("\n")


def file_digests(path: str | Path, algorithms: tuple[str, ...] = ("sha256",), chunk_size: int = 1 << 20) -> dict[str, str]:
    """Hex digests of a file's bytes, every algorithm in one read (a download archive is gigabytes)."""
    import hashlib

    hashes = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            for h in hashes.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashes.items()}


def fingerprint(*paths: str | Path, extra=None) -> str:
    """sha256 over the contents of ``paths`` (files, or every file below a folder) and ``extra`` as JSON.

    A run's checkpoints carry the fingerprint of its inputs, so a re-run with other params or data starts
    over instead of resuming someone else's state.
    """
    import hashlib

    digest = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode())
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
    return digest.hexdigest()


def step_folders(folder: str | Path) -> list[tuple[int, Path]]:
    """The ``step-<N>`` subfolders of ``folder`` (checkpoints or snapshots), by step; none if it is absent."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := re.fullmatch(r"step-(\d+)", p.name)))
