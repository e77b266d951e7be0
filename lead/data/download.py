"""Fetch the official MS MARCO and TREC DL files: resumable downloads, checksums, unpacked where the presets look.

Nothing here runs unless asked: the ``fetch`` stage downloads the sources named in params ``fetch.sources``
(empty by default), into ``fetch.folder``. Each file is downloaded to ``<name>.part`` and resumed from its
size with an HTTP Range request after an interruption (a server that ignores the range restarts the file);
only a complete file whose checksum matches is renamed to its name, then unpacked (``.tar.gz`` members,
``.gz`` to the file without the suffix). A file already in the folder is verified, not downloaded again, so
files a user already has can be copied in; ``fetch.mirror`` (a base URL or ``file://`` folder) replaces the
official locations. MD5 where the publisher gives one; for the others the SHA-256 of the first download is
recorded in ``fetched.json`` and later runs verify against it. A SHA-256 in ``fetch.checksums`` is required
instead of both (a mirror's own bytes, e.g. a miniature for tests).
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from lead.errors import ConfigError, UserError
from lead.io import atomic_open, file_digests

log = logging.getLogger(__name__)

MSMARCO = "https://msmarco.z22.web.core.windows.net/msmarcoranking/"
TREC = "https://trec.nist.gov/data/deep/"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    base: str
    md5: str | None = None  # published checksum, when there is one


# The files each source needs, unpacked under the names conf/dataset/mspas.yaml and msdoc.yaml (and the
# README's TREC DL splits) read; the document files are read as they are (data.collection_format: documents).
# MD5 of collectionandqueries.tar.gz: as published with the Anserini MS MARCO guide.
SOURCES: dict[str, list[RemoteFile]] = {
    "msmarco-passage": [RemoteFile("collectionandqueries.tar.gz", MSMARCO, "31644046b18952c1386cd4564ba2ae69")],
    "msmarco-passage-triples": [RemoteFile("qidpidtriples.train.full.2.tsv.gz", MSMARCO)],  # data.train_negatives
    "trec-dl-2019-passage": [RemoteFile("msmarco-test2019-queries.tsv.gz", MSMARCO), RemoteFile("2019qrels-pass.txt", TREC)],
    "trec-dl-2020-passage": [RemoteFile("msmarco-test2020-queries.tsv.gz", MSMARCO), RemoteFile("2020qrels-pass.txt", TREC)],
    "msmarco-document": [RemoteFile(name, MSMARCO) for name in (
        "msmarco-docs.tsv.gz", "msmarco-doctrain-queries.tsv.gz", "msmarco-doctrain-qrels.tsv.gz",
        "msmarco-docdev-queries.tsv.gz", "msmarco-docdev-qrels.tsv.gz")],
    "trec-dl-2019-document": [RemoteFile("msmarco-test2019-queries.tsv.gz", MSMARCO), RemoteFile("2019qrels-docs.txt", TREC)],
    "trec-dl-2020-document": [RemoteFile("msmarco-test2020-queries.tsv.gz", MSMARCO), RemoteFile("2020qrels-docs.txt", TREC)],
}


class ChecksumError(UserError, RuntimeError):
    pass


class MissingFileError(UserError, FileNotFoundError):
    pass


def download(url: str, dest: Path, chunk: int = 1 << 20, progress: bool = True) -> Path:
    """``url`` to ``dest``, through ``dest.part``: an interrupted download resumes where it stopped. The
    ``.part`` becomes ``dest`` only when it holds as many bytes as the source announced."""
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = part.stat().st_size if part.exists() else 0
    if urllib.parse.urlparse(url).scheme == "file":
        local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        if not local.is_file():
            raise MissingFileError(f"{url}: no such file in the mirror (fetch.mirror); put {local.name} there or "
                                   "remove fetch.mirror to download it from its official location")
        source = open(local, "rb")
        total = Path(source.name).stat().st_size
        done = done if done <= total else 0  # a .part longer than the file is not a piece of it
        source.seek(done)
    else:
        request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
        try:
            source = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as error:
            if error.code != 416 or not done:
                raise
            # Nothing left from that offset: the .part is whole (a run stopped before renaming it) or longer
            # than the file. The server's Content-Range "bytes */SIZE" tells which.
            size = error.headers.get("Content-Range", "").rpartition("/")[2]
            if size.isdigit() and int(size) == done:
                part.replace(dest)
                return dest
            log.warning("%s: %s holds %d bytes, the server has %s: downloading it afresh", url, part.name, done, size or "?")
            part.unlink()
            return download(url, dest, chunk, progress)
        if done and source.status != 206:  # the server ignored the range: start the file over
            done = 0
        length = source.headers.get("Content-Length")
        total = done + int(length) if length is not None else None
    with source, open(part, "ab" if done else "wb") as out, \
            tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
        while data := source.read(chunk):
            out.write(data)
            bar.update(len(data))
    got = part.stat().st_size
    if total is not None and got != total:  # a connection that ended early without an error
        raise OSError(f"{url}: {got} of {total} bytes arrived; {part} is kept: run the stage again to resume")
    part.replace(dest)
    return dest


def verify(path: Path, md5: str | None, sha256: str | None) -> str:
    """The file's SHA-256, after checking it against the expected MD5 / SHA-256 (when given)."""
    got = file_digests(path, ("sha256", "md5") if md5 else ("sha256",))
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected and got[algorithm] != expected:
            bad = path.with_name(path.name + ".corrupt")
            path.replace(bad)
            raise ChecksumError(f"{path}: {algorithm} {got[algorithm]} but expected {expected}; moved to {bad.name} (a cut or changed "
                                "download): run the stage again to download it afresh, or fix fetch.checksums")
    return got["sha256"]


def unpack(path: Path) -> list[str]:
    """Unpack ``.tar.gz`` members / a ``.gz`` file next to ``path``; the names written (existing ones skipped)."""
    written = []
    if path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                target = path.parent / Path(member.name).name  # flat: the presets read the files by name
                if not member.isfile() or target.exists():
                    continue
                with archive.extractfile(member) as source, atomic_open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                written.append(target.name)
    elif path.suffix == ".gz":
        target = path.with_suffix("")
        if not target.exists():
            with gzip.open(path, "rb") as source, atomic_open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            written.append(target.name)
    return written


def fetch(sources: list[str], folder: str | Path, mirror: str | None = None, checksums: dict[str, str] | None = None,
          progress: bool = True) -> dict[str, dict]:
    """Download (or verify what is there), check and unpack every file of ``sources``; returns the manifest."""
    folder = Path(folder)
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ConfigError("fetch.sources", f"unknown {unknown}; known: {sorted(SOURCES)}")
    manifest_path = folder / "fetched.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    checksums = checksums or {}
    files = {f.name: f for source in sources for f in SOURCES[source]}  # a file shared by two sources once
    for name, remote in files.items():
        path = folder / name
        url = (mirror.rstrip("/") + "/" if mirror else remote.base) + name
        if not path.exists():
            log.info("downloading %s", url)
            download(url, path, progress=progress)
        recorded = manifest.get(name, {}).get("sha256")
        # A checksum given in fetch.checksums replaces the published MD5: the bytes are the user's (a mirror)
        md5 = None if name in checksums else remote.md5
        sha256 = verify(path, md5, checksums.get(name) or recorded)
        manifest[name] = {"url": url, "bytes": path.stat().st_size, "sha256": sha256, "md5": md5,
                          "unpacked": sorted(set(manifest.get(name, {}).get("unpacked", [])) | set(unpack(path)))}
        with atomic_open(manifest_path) as out:  # after every file: an interrupted fetch keeps what it verified
            out.write(json.dumps(manifest, indent=2) + "\n")
    return manifest
