"""A user's mistake, met through the command line, is one line naming the file and line or the params key and
what to do, and a non-zero exit: no Python traceback unless asked for (--debug or LEAD_DEBUG=1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "LEAD_DEBUG"} | {"PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=300)


def test_a_malformed_collection_line_is_one_line_naming_the_file_and_line(tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "fine"}\n{"_id": "d2", "text": \n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "a query"}\n')
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"data": {"source": "beir", "path": str(folder)}}))
    result = run(["stages.prepare"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {folder / 'corpus.jsonl'}:2: invalid JSON"), lines[0]
    assert not (tmp_path / "data" / "prepared").exists()  # nothing half-written

    debug = run(["stages.prepare", "--debug"], tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "DataFormatError" in debug.stderr
    assert "Traceback" in run(["stages.prepare"], tmp_path, LEAD_DEBUG="1").stderr


def test_a_wrong_params_key_is_one_line_naming_the_dotted_key(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["synthetic"]["scal"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(["stages.warmup", "student"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip() == ("error: params.yaml: data.synthetic.scal: unknown key (did you mean 'scale'?) "
                                     "(traceback: --debug or LEAD_DEBUG=1)")


def test_a_layer_count_beyond_a_models_depth_is_refused_before_any_model_is_loaded(tmp_path):
    """`dvc exp run -S distill.layers=7` on the default's 6-layer student and teachers: the run stops at once,
    naming itself, both depths and the valid values (no model folder exists here: loading one would fail
    otherwise)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["distill"]["layers"] = 7
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(["stages.distill", "lead_de"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: distill_runs.lead_de.layers=7: the student has 6 layers and the teacher 6; "
                                    "choose 1..6 or 'all'"), result.stderr
