"""dvc.yaml, as DVC itself resolves it, against the pipeline's one description (lead/pipeline.py).

For params.yaml and for every preset combination (conf/, composed as `dvc exp run` does): the same stages, commands, outs (with their cache, persist and
metric flags), params and data inputs, and code deps that cover every module the stage's command imports
(found from the import graph by grimp, the library import-linter reads imports with). A dep or an out removed
from dvc.yaml, or an import added to a stage's code without its dep, fails here.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import grimp
import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from lead.pipeline import FAMILIES, covered, instances
from lead.presets import compose_text

ROOT = Path(__file__).resolve().parents[1]
CODE = ("lead", "stages")
PRESETS = [[], ["dataset=mspas", "preset=lead-12de-6de"], ["dataset=mspas", "preset=lead-12cb-6de"],
           ["dataset=msdoc", "preset=lead-12ce-6de"], ["dataset=msdoc", "preset=lead-24cb-12de"],
           ["dataset=mspas", "preset=prod-marco"], ["dataset=msdoc", "preset=prod-marco"]]


def resolved_stages(folder: Path, dvc_yaml: str, params: dict) -> dict[str, object]:
    """DVC's own reading of ``dvc_yaml`` (the text of a dvc.yaml) under ``params``: {stage name: stage}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dvc.yaml").write_text(dvc_yaml)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    Repo.init(str(folder), no_scm=True)
    with Repo(str(folder)) as repo:
        return {stage.name: stage for stage in repo.index.stages}


@lru_cache(maxsize=None)
def imported_files(module: str) -> frozenset[str]:
    """The files of every lead / stages module that ``python -m module`` imports, directly or not."""
    graph = _graph()
    modules = {module, *graph.find_upstream_modules(module)}
    files = set()
    for name in modules:
        path = ROOT.joinpath(*name.split("."))
        files.add((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(ROOT).as_posix())
    return frozenset(files)


@lru_cache(maxsize=1)
def _graph():
    return grimp.build_graph(*CODE, include_external_packages=False)


def split_deps(stage) -> tuple[list[str], list[str], list[str] | None]:
    """(code deps, data deps, params keys) of a resolved stage; params None = the whole file."""
    code, data, params = [], [], []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            params = None if not dep.params else params + list(dep.params)
        elif dep.def_path.split("/")[0] in CODE:
            code.append(dep.def_path)
        else:
            data.append(dep.def_path)
    return code, data, params


def check(dvc_yaml: str, params: dict, folder: Path) -> None:
    """Assert that ``dvc_yaml``, resolved by DVC under ``params``, is the pipeline lead/pipeline.py describes."""
    stages = resolved_stages(folder, dvc_yaml, params)
    expected = {fam.name(key): (fam, key) for fam, key in instances(params)}
    assert set(stages) == set(expected)
    for name, (fam, key) in expected.items():
        stage = stages[name]
        launcher = params.get("launcher", "python") if fam.launcher else "python"
        assert stage.cmd.split() == fam.command(key).replace("${launcher}", launcher).split(), name
        outs = {(out.def_path, out.use_cache, out.persist, bool(out.metric)) for out in stage.outs}
        assert outs == {(path, out.cache, out.persist, out.metric) for path, out in fam.resolved_outs(params, key)}, name
        code, data, keys = split_deps(stage)
        assert sorted(data) == sorted(path for _, path in fam.resolved_inputs(params, key)), name
        assert (keys is None and fam.params == ("*",)) or sorted(keys) == sorted(fam.resolved_params(params, key)), name
        missing = sorted(f for f in imported_files(fam.module) if not covered(f, code))
        assert not missing, f"{name}: dvc.yaml's deps miss modules its command imports: {missing}"
        assert all((ROOT / path).exists() for path in code), f"{name}: a code dep that does not exist: {code}"


@pytest.mark.parametrize("overrides", PRESETS, ids=lambda names: "+".join(names) or "params.yaml")
def test_dvc_yaml_is_the_pipeline_description(tmp_path, overrides):
    params = yaml.safe_load(compose_text(overrides) if overrides else (ROOT / "params.yaml").read_text())
    check((ROOT / "dvc.yaml").read_text(), params, tmp_path)


def test_a_teacher_score_file_stage_and_the_run_that_reads_it_are_the_description(tmp_path):
    """score@<name> (no preset uses it yet): its block resolved under params that name it, with a PROD step
    that reads the table as its teacher."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["score"] = {"ce_teacher": {"model": "models/ce_teacher", "train_file": "data/mined/train.jsonl"}}
    params["distill_runs"]["ce_only_file"] = {**params["distill_runs"]["ce_only"], "teacher": "data/scores/ce_teacher.tsv"}
    check((ROOT / "dvc.yaml").read_text(), params, tmp_path)
    assert {fam.stage for fam, _ in instances(params)} == {fam.stage for fam in FAMILIES}  # every family checked


def test_every_family_runs_a_module_that_exists():
    for fam in FAMILIES:
        assert (ROOT / (fam.module.replace(".", "/") + ".py")).is_file(), fam.stage


@pytest.mark.parametrize("removed", ["        - lead/pipeline.py\n", "        - logs/${key}:\n            cache: false\n"
                                     "            persist: true\n", "        - ${item.train_file}\n"],
                         ids=["a code dep", "an out", "a data dep"])
def test_a_dep_or_an_out_removed_from_dvc_yaml_fails_the_check(tmp_path, removed):
    text = (ROOT / "dvc.yaml").read_text()
    assert removed in text
    with pytest.raises(AssertionError):
        check(text.replace(removed, "", 1), yaml.safe_load((ROOT / "params.yaml").read_text()), tmp_path)


def test_every_ablation_is_a_valid_experiment_of_the_default_pipeline(tmp_path):
    """benchmarks.ablations: each ablation's -S overrides, composed by DVC's own Hydra code as dvc exp run does,
    give params that load (every key checked) and a dvc.yaml with an evaluate stage for every model it compares."""
    from benchmarks.ablations import ABLATIONS, queue_commands
    from lead.config import load_params

    for ablation in ABLATIONS:
        folder = tmp_path / ablation.name
        folder.mkdir()
        (folder / "params.yaml").write_text(compose_text(list(ablation.overrides)))
        load_params(folder / "params.yaml")
        params = yaml.safe_load((folder / "params.yaml").read_text())
        assert params != yaml.safe_load((ROOT / "params.yaml").read_text()), ablation.name
        stages = resolved_stages(folder / "dvc", (ROOT / "dvc.yaml").read_text(), params)
        assert {f"evaluate@{model}" for model in ablation.models} <= set(stages), ablation.name
    seeded = queue_commands(["uniform"], 14)
    assert [c[5] for c in seeded] == ["abl-main-s14", "abl-uniform-s14"] and "++distill.train.seed=14" in seeded[1]


def test_every_plot_reads_files_a_stage_of_the_default_pipeline_writes():
    """dvc.yaml's plots: each file lies under an out of a stage that params.yaml defines (a plot of a run the
    default no longer has would be drawn empty)."""
    from lead.pipeline import instances

    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    outs = [path for fam, key in instances(params) for path, _ in fam.resolved_outs(params, key)]
    files = [path for plot in dvc_yaml["plots"] for definition in plot.values() for path in definition["y"]]
    orphans = [path for path in files if not any(path == out or path.startswith(out.rstrip("/") + "/") for out in outs)]
    assert files and not orphans, orphans


def test_the_scifact_benchmark_targets_stages_of_the_default_pipeline():
    """benchmarks/scifact.sh runs only its default targets: each must be a stage of params.yaml's pipeline (a
    renamed or removed stage would stop the benchmark after its first hour)."""
    import re

    text = (ROOT / "benchmarks" / "scifact.sh").read_text()
    targets = re.search(r'default_targets="([^"]*)"', text).group(1).split()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    stages = {fam.name(key) for fam, key in instances(params)}
    assert "rerank@ce_fused" in targets and set(targets) <= stages, set(targets) - stages


def test_the_scifact_benchmark_leaves_out_what_needs_a_dev_split(tmp_path):
    """SciFact has train and test only: with the script's overrides (composed as dvc exp run -S composes them) no
    stage reads a dev split, so SCIFACT_TARGETS=all runs; without them sweep@lead_cb stops on 'split dev'."""
    import re

    from lead.config import load_params

    text = (ROOT / "benchmarks" / "scifact.sh").read_text()
    overrides = re.findall(r'-S "([^"$]*)"', re.search(r"no_dev=\(([^)]*)\)", text).group(1))
    (tmp_path / "params.yaml").write_text(compose_text(overrides))
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    stages = {fam.name(key) for fam, key in instances(params)}
    assert not any(stage.startswith("sweep@") for stage in stages) and "evaluate@lead_cb_best" not in stages
    assert {"distill@lead_cb", "evaluate@lead_cb", "report"} <= stages
    assert not load_params(str(tmp_path / "params.yaml")).dangling_inputs()
