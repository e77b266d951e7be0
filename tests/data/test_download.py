"""The fetch of official files, exercised with local files only (file:// mirrors and a local HTTP server):
resume, checksums, unpacking."""

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lead.data import download as dl


def make_mirror(folder):
    """A mirror holding a tiny collectionandqueries.tar.gz and the TREC DL 2019 passage files."""
    folder.mkdir()
    members = {"collectionandqueries/collection.tsv": "0\tfirst passage\n1\tsecond passage\n",
               "collectionandqueries/queries.train.tsv": "5\ta query\n"}
    with tarfile.open(folder / "collectionandqueries.tar.gz", "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (folder / "msmarco-test2019-queries.tsv.gz").write_bytes(gzip.compress(b"1037798\twho is robert gray\n"))
    (folder / "2019qrels-pass.txt").write_text("1037798 0 0 3\n")
    return folder


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    folder = make_mirror(tmp_path / "mirror")
    md5 = hashlib.md5((folder / "collectionandqueries.tar.gz").read_bytes()).hexdigest()
    files = [dl.RemoteFile("collectionandqueries.tar.gz", dl.MSMARCO, md5)]
    monkeypatch.setitem(dl.SOURCES, "msmarco-passage", files)
    return folder


def test_fetch_downloads_verifies_and_unpacks_into_the_names_the_presets_read(mirror, tmp_path):
    manifest = dl.fetch(["msmarco-passage", "trec-dl-2019-passage"], tmp_path / "out", mirror=mirror.as_uri(), progress=False)
    out = tmp_path / "out"
    assert (out / "collection.tsv").read_text().splitlines() == ["0\tfirst passage", "1\tsecond passage"]
    assert (out / "queries.train.tsv").exists() and (out / "msmarco-test2019-queries.tsv").read_text().startswith("1037798\t")
    assert manifest["collectionandqueries.tar.gz"]["unpacked"] == ["collection.tsv", "queries.train.tsv"]
    assert manifest["2019qrels-pass.txt"]["sha256"] == hashlib.sha256((mirror / "2019qrels-pass.txt").read_bytes()).hexdigest()
    assert json.loads((out / "fetched.json").read_text()) == manifest
    assert not list(out.glob("*.part"))


def test_an_interrupted_download_resumes_from_its_part_file(mirror, tmp_path):
    source = mirror / "collectionandqueries.tar.gz"
    out = tmp_path / "out"
    out.mkdir()
    data = source.read_bytes()
    (out / "collectionandqueries.tar.gz.part").write_bytes(data[: len(data) // 2])  # a cut download
    dl.download(source.as_uri(), out / "collectionandqueries.tar.gz", chunk=7, progress=False)
    assert (out / "collectionandqueries.tar.gz").read_bytes() == data


class _RangeServer(BaseHTTPRequestHandler):
    """Serves ``body`` with byte ranges as a CDN does: 206 for a satisfiable range, 416 with ``bytes */SIZE``
    for one starting at or past the end; ``cut`` bytes short (Content-Length still whole) when set."""

    body, cut, ignore_range = b"", 0, False

    def do_GET(self):  # noqa: N802 (http.server's name)
        start = 0 if self.ignore_range else int(self.headers.get("Range", "bytes=0-")[len("bytes="):].rstrip("-"))
        if start >= len(self.body):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(self.body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(self.body) - start))
        self.end_headers()
        self.wfile.write(self.body[start : len(self.body) - self.cut])

    def log_message(self, *args):
        pass


@pytest.fixture
def http_file():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RangeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, f"http://127.0.0.1:{server.server_port}/file.bin"
    server.shutdown()
    _RangeServer.cut = 0


@pytest.mark.parametrize("have", [0, 100, 999, 1000, 1500])
def test_an_http_download_resumes_with_a_range_and_renames_a_whole_part_file(http_file, tmp_path, have):
    """A .part of every size: none, a piece, all of it (the run stopped before the rename: the server answers
    416) and more than the file (not a piece of it: downloaded afresh)."""
    _, url = http_file
    _RangeServer.body = bytes(range(256)) * 3 + b"x" * 232  # 1,000 bytes
    part = tmp_path / "file.bin.part"
    if have:
        part.write_bytes((_RangeServer.body + b"y" * 500)[:have])
    dl.download(url, tmp_path / "file.bin", chunk=64, progress=False)
    assert (tmp_path / "file.bin").read_bytes() == _RangeServer.body and not part.exists()


def test_a_server_that_ignores_the_range_restarts_the_file(http_file, tmp_path, monkeypatch):
    _, url = http_file
    _RangeServer.body = bytes(range(256)) * 4
    (tmp_path / "file.bin.part").write_bytes(_RangeServer.body[:300])
    monkeypatch.setattr(_RangeServer, "ignore_range", True)  # answers 200 with the whole file
    dl.download(url, tmp_path / "file.bin", chunk=64, progress=False)
    assert (tmp_path / "file.bin").read_bytes() == _RangeServer.body  # not the 300 bytes + the whole body


def test_a_connection_that_ends_early_keeps_the_part_file_and_says_so(http_file, tmp_path):
    _, url = http_file
    _RangeServer.body, _RangeServer.cut = b"z" * 1000, 400
    with pytest.raises(OSError, match="600 of 1000 bytes arrived"):  # urllib itself raises nothing here
        dl.download(url, tmp_path / "file.bin", chunk=64, progress=False)
    assert not (tmp_path / "file.bin").exists() and (tmp_path / "file.bin.part").exists()
    _RangeServer.cut = 0  # the connection holds this time: the download resumes from the 600 bytes kept
    assert (tmp_path / "file.bin.part").stat().st_size == 600
    dl.download(url, tmp_path / "file.bin", chunk=64, progress=False)
    assert (tmp_path / "file.bin").read_bytes() == b"z" * 1000


def test_a_corrupt_file_is_moved_aside_with_the_checksums_in_the_message(mirror, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "collectionandqueries.tar.gz").write_bytes(b"not the archive")  # a user's broken copy
    with pytest.raises(dl.ChecksumError, match=r"collectionandqueries\.tar\.gz: md5 \w+ but expected \w+; moved to "
                                               r"collectionandqueries\.tar\.gz\.corrupt"):
        dl.fetch(["msmarco-passage"], out, mirror=mirror.as_uri(), progress=False)
    dl.fetch(["msmarco-passage"], out, mirror=mirror.as_uri(), progress=False)  # the next run downloads afresh
    assert (out / "collection.tsv").exists()


def test_a_file_without_published_checksum_is_pinned_at_first_download(mirror, tmp_path):
    out = tmp_path / "out"
    dl.fetch(["trec-dl-2019-passage"], out, mirror=mirror.as_uri(), progress=False)
    (out / "2019qrels-pass.txt").write_text("changed\n")  # later, the file differs from the one first fetched
    with pytest.raises(dl.ChecksumError, match="2019qrels-pass.txt: sha256"):
        dl.fetch(["trec-dl-2019-passage"], out, mirror=mirror.as_uri(), progress=False)
    # a checksum param beats the recorded one: the user vouches for the file as it is now
    (out / "2019qrels-pass.txt").write_text("changed\n")  # the failed check above moved it aside
    dl.fetch(["trec-dl-2019-passage"], out, mirror=mirror.as_uri(), progress=False,
             checksums={"2019qrels-pass.txt": hashlib.sha256(b"changed\n").hexdigest()})
    with pytest.raises(dl.ChecksumError, match="sha256 .* but expected 00"):  # or against a pinned param
        dl.fetch(["trec-dl-2019-passage"], tmp_path / "pinned", mirror=mirror.as_uri(),
                 checksums={"2019qrels-pass.txt": "00"}, progress=False)


def test_a_mirror_of_other_bytes_passes_with_its_checksum_param_instead_of_the_published_md5(tmp_path):
    """The official MD5 of collectionandqueries.tar.gz (not monkeypatched here): a miniature mirror's archive is
    refused by it, and accepted when fetch.checksums vouches for its own bytes."""
    mirror = make_mirror(tmp_path / "mirror")
    sha256 = hashlib.sha256((mirror / "collectionandqueries.tar.gz").read_bytes()).hexdigest()
    with pytest.raises(dl.ChecksumError, match="md5 .* but expected 31644046b18952c1386cd4564ba2ae69"):
        dl.fetch(["msmarco-passage"], tmp_path / "official", mirror=mirror.as_uri(), progress=False)
    manifest = dl.fetch(["msmarco-passage"], tmp_path / "out", mirror=mirror.as_uri(), progress=False,
                        checksums={"collectionandqueries.tar.gz": sha256})
    assert manifest["collectionandqueries.tar.gz"]["sha256"] == sha256 and manifest["collectionandqueries.tar.gz"]["md5"] is None


def test_a_file_missing_from_the_mirror_is_named_in_one_line_and_nothing_is_left(tmp_path):
    mirror = make_mirror(tmp_path / "mirror")
    (mirror / "2019qrels-pass.txt").unlink()
    out = tmp_path / "out"
    with pytest.raises(dl.MissingFileError) as error:
        dl.fetch(["trec-dl-2019-passage"], out, mirror=mirror.as_uri(), progress=False)
    assert "2019qrels-pass.txt: no such file in the mirror (fetch.mirror)" in str(error.value) and "\n" not in str(error.value)
    # the file fetched before it is verified and recorded; no part file, no entry for the missing one
    assert sorted(p.name for p in out.iterdir()) == ["fetched.json", "msmarco-test2019-queries.tsv", "msmarco-test2019-queries.tsv.gz"]
    assert list(json.loads((out / "fetched.json").read_text())) == ["msmarco-test2019-queries.tsv.gz"]


def test_unknown_sources_are_named_with_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"fetch\.sources: unknown \['msmarco'\]; known: \['msmarco-document'"):
        dl.fetch(["msmarco"], tmp_path)


def test_the_fetch_stage_reads_its_params_and_downloads_nothing_by_default(mirror, tmp_path):
    import yaml

    from lead.config import ConfigError, load_params
    from stages import fetch as stage

    params = yaml.safe_load(open("params.yaml"))
    assert params["fetch"]["sources"] == []  # the default pipeline stays offline
    params["fetch"] = {"sources": [], "folder": str(tmp_path / "none")}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    stage.main(["--params", str(tmp_path / "p.yaml")])
    assert (tmp_path / "none" / "fetched.json").read_text() == "{}\n"

    params["fetch"] = {"sources": ["trec-dl-2019-passage"], "folder": str(tmp_path / "dl"), "mirror": mirror.as_uri()}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    stage.main(["--params", str(tmp_path / "p.yaml")])
    assert (tmp_path / "dl" / "msmarco-test2019-queries.tsv").exists()

    params["fetch"] = {"sources": ["msmarco-pasage"]}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    load_params(tmp_path / "p.yaml")  # a source's name is checked where the sources are known: the fetch stage
    with pytest.raises(ConfigError, match=r"fetch\.sources: unknown \['msmarco-pasage'\]"):
        stage.main(["--params", str(tmp_path / "p.yaml")])
