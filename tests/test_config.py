from pathlib import Path

import pytest

from lead.config import DataConfig, Params, load_params, parse
from lead.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_params_load():
    params = load_params(ROOT / "params.yaml")
    assert params.data.source == "synthetic"
    assert params.models["zeroshot"].pooling == "mean"


def refused(path, text: str, message: str) -> None:
    """Params ``text`` written to ``path`` are refused with a ConfigError matching ``message``."""
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_params(path)

@pytest.mark.parametrize(
    "data, message",
    [
        ({"data": {"synthetic": {"scal": 2}}}, r"data\.synthetic\.scal: unknown key \(did you mean 'scale'\?\)"),
        ({"eval": {"depth": "many"}}, r"eval\.depth: expected int, got 'many'"),
        ({"eval": {"split": "valid"}}, r"eval\.split: 'valid' is not one of 'train', 'dev', 'test'"),
        ({"models": {"m": {"pooling": "max"}}}, r"models\.m\.pooling: 'max' is not one of 'cls', 'mean'"),
        ({"models": {"m": {"num_layers": 2.5}}}, r"models\.m\.num_layers: expected int"),
        ({"data": {"source": "beir"}}, r"data: data\.source=beir needs data\.path"),
        ({"eval": {"recall_depths": [10, "x"]}}, r"eval\.recall_depths\[1\]: expected int"),
        ({"bogus": 1}, r"bogus: unknown key"),
        ({"mine": {"depth": 50, "keep": 100}}, r"mine: mine\.keep must be between 1 and mine\.depth \(50\)"),
        ({"warmup": {"x": {"init": "models/init/nope", "train_file": "t"}}}, r"warmup\.x\.init: 'models/init/nope': 'nope' is not a key of models"),
        ({"models": {"de6": {}}, "warmup": {"x": {"init": "de6", "train_file": "t"}}},
         r"warmup\.x\.init: 'de6' is not a model folder: name models/init/de6 or a trained model's folder"),
        ({"warmup": {"x": {"init": "models/x", "train_file": "t"}}}, r"warmup\.x\.init: 'models/x' is this run's own output"),
        ({"models": {"de2": {}}, "warmup": {"x": {"init": "models/init/", "train_file": "t"}}}, r"warmup\.x\.init: 'models/init' holds every initial model"),
        # keys dvc.yaml reads, and run overrides, are checked when params.yaml is read, not when a stage runs
        ({"models": {"de2": {}}, "warmup": {"x": {"init": "models/init/de2"}}}, r"warmup\.x\.train_file: missing: this key has no default"),
        ({"models": {"de2": {}}, "warmup": {"x": {"init": "models/init/de2", "train_file": "t", "train": {"stesp": 4}}}},
         r"warmup\.x\.train\.stesp: unknown key \(did you mean 'steps'\?\)"),
        ({"distill_runs": {"r": {"student": "models/s", "teacher": "models/t", "train_file": "data/flash/f/train.jsonl"}}},
         r"distill_runs\.r\.defaults: missing: name the defaults the run starts from \(distill or prod\)"),
        ({"divide": {"d": {"student": "models/s"}}}, r"divide\.d\.teacher: missing: name the model folder"),
        ({"fuse": {"f": {"reranker": "models/ce", "train_file": "t"}}}, r"fuse\.f\.first_stage: missing: name the re-ranker's"),
        ({"fuse": {"f": {"reranker": "models/ce", "first_stage": "models/s", "train_file": "t", "negatives": 0}}},
         r"fuse\.f.*negatives must be >= 1"),
        ({"data": {"source": "msmarco", "path": "x", "collection_format": "documents", "train_negatives": "t.tsv"}},
         r"data\.train_negatives reads passage triples"),
        ({"launcher": "deepspeed"}, r"launcher: 'deepspeed': name python, or torchrun with its options"),
    ],
)
def test_bad_params_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse(Params, data)


def test_a_warmup_starts_from_an_initial_model_or_continues_a_trained_one():
    params = parse(Params, {"models": {"de2": {}}, "warmup": {"student_random": {"init": "models/init/de2", "train_file": "t"},
                                                              "student": {"init": "models/student_random", "train_file": "t"}}})
    assert [run.init for run in params.warmup.values()] == ["models/init/de2", "models/student_random"]
    parse(Params, {"models": {"de2": {}}, "warmup": {"s": {"init": "models/init/de2/", "train_file": "t"}}})  # a trailing slash is fine


def test_ints_are_accepted_for_floats_but_bools_are_not_ints():
    assert parse(Params, {"data": {"synthetic": {"scale": 2}}}).data.synthetic.scale == 2.0
    with pytest.raises(ConfigError, match="expected int, got True"):
        parse(Params, {"seed": True})


def test_split_files_for_msmarco_layouts():
    config = parse(DataConfig, {"source": "msmarco", "path": "/x", "splits": {"test": {"queries": "q.tsv", "qrels": "r.txt"}}})
    assert config.splits["test"].qrels == "r.txt"


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_params(bad)


def test_distill_runs_are_checked_when_params_are_read(tmp_path):
    path = tmp_path / "params.yaml"
    run = "defaults: distill, train_file: data/mined/train.jsonl"
    path.write_text(f"distill_runs: {{lead: {{{run}, student: models/s, teacher: models/t, layres: 2}}}}\n")
    with pytest.raises(ConfigError, match=r"distill_runs\.lead\.layres: unknown key \(did you mean 'layers'\?\)"):
        load_params(path)
    path.write_text(f"distill_runs: {{lead: {{{run}, teacher: models/t}}}}\n")
    with pytest.raises(ConfigError, match=r"distill_runs\.lead\.student: missing: name it"):
        load_params(path)
    path.write_text(f"distill: {{layers: 3, train: {{steps: 7}}}}\ndistill_runs: {{lead: {{{run}, student: s, teacher: t, "
                    "selection: last, train: {lr: 0.1}}}\n")
    config, train = load_params(path).distill_run("lead")
    assert (config.layers, config.selection, train.steps, train.lr) == (3, "last", 7, 0.1)  # defaults, then the run
    path.write_text("distill: {layers: most}\n")
    with pytest.raises(ConfigError, match=r"distill\.layers"):
        load_params(path)


RUN = "student: models/s, teacher: models/t"


@pytest.mark.parametrize("text, message", [
    (f"distill_runs: {{tpd1: {{defaults: prod, {RUN}}}}}", r"distill_runs\.tpd1\.train_file: missing: name it"),
    (f"distill_runs: {{tpd1: {{{RUN}, train_file: d.jsonl}}}}", r"distill_runs\.tpd1\.defaults: missing: .*distill or prod"),
    (f"distill_runs: {{tpd1: {{defaults: lead, {RUN}, train_file: d.jsonl}}}}",
     r"distill_runs\.tpd1\.defaults: 'lead' is not one of distill, prod"),
    ("prod: {temperature: 4.0, train_file: d.jsonl}", r"prod\.train_file: set per run"),
    (f"models: {{x: {{kind: de}}}}\nwarmup: {{tpd1: {{init: models/init/x, train_file: d.jsonl}}}}\n"
     f"distill_runs: {{tpd1: {{defaults: prod, {RUN}, train_file: d.jsonl}}}}", r"distill_runs\.tpd1: warmup@tpd1 writes models/tpd1 too"),
])
def test_a_run_names_its_defaults_and_its_training_file(tmp_path, text, message):
    refused(tmp_path / "params.yaml", text, message)


def test_each_run_starts_from_its_own_defaults(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(f"prod: {{temperature: 4.0, lwf_weight: 1.0}}\ndistill: {{temperature: 2.0}}\ndistill_runs: {{"
                    f"tpd1: {{defaults: prod, {RUN}, train_file: data/x.jsonl}}, "
                    f"lead: {{defaults: distill, {RUN}, train_file: data/y.jsonl}}}}\n")
    params = load_params(path)
    (tpd1, _), (lead, _) = params.distill_run("tpd1"), params.distill_run("lead")
    assert (tpd1.temperature, tpd1.lwf_weight, tpd1.train_file) == (4.0, 1.0, "data/x.jsonl")
    assert (lead.temperature, lead.lwf_weight, lead.train_file) == (2.0, 0.0, "data/y.jsonl")


@pytest.mark.parametrize("run, message", [
    ("layer_weight: -1.0", r"layer_weight must be >= 0"),
    ("student_weight: 0.0, response_weight: 0.0, layer_weight: 0.0", r"every student term has weight 0"),
    ("response_weight: 0.0, layer_weight: 0.0, teacher_weight: 0.0", r"teacher_trainable is true but no term reads the teacher"),
    ("train: 5", r"distill_runs\.r\.train: expected a mapping of train keys, got 5"),
])
def test_a_run_whose_terms_cannot_train_is_refused_when_params_are_read(tmp_path, run, message):
    refused(tmp_path / "other.yaml", f"distill_runs: {{r: {{defaults: distill, {RUN}, train_file: d.jsonl, {run}}}}}", message)


def test_a_check_across_sections_names_the_file_it_read(tmp_path):
    refused(tmp_path / "other.yaml", "distill_runs: {r: {defaults: distill, student: s, teacher: t}}",
            r"^.*other\.yaml: distill_runs\.r\.train_file: missing")


def test_prod_defaults_are_prods_values_without_a_prod_section(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(f"distill_runs: {{s: {{defaults: prod, {RUN}, train_file: d.jsonl}}}}\n")
    config, _ = load_params(path).distill_run("s")
    assert (config.kd, config.temperature, config.student_weight, config.response_weight, config.layer_weight,
            config.teacher_trainable, config.lwf_weight) == ("softmax", 4.0, 0.1, 0.9, 0.0, False, 1.0)


@pytest.mark.parametrize("text, message", [
    ("divide: {d: {student: models/s, teacher: models/t, student_min: 5, student_max: 3}}",
     r"divide\.d: ranks must satisfy 0 <= student_min \(5\) <= student_max \(3\)"),
    ("eval: {recall_depths: [0, 100]}", r"eval: recall_depths must be distinct depths >= 1, got \[0, 100\]"),
    ("eval: {hit_depths: [5, 5]}", r"eval: hit_depths must be distinct depths >= 1"),
    ("eval: {shard_size: 0}", r"eval: shard_size must be >= 1"),
])
def test_impossible_search_and_division_values_are_refused_when_params_are_read(tmp_path, text, message):
    refused(tmp_path / "params.yaml", text, message)


def test_a_float_as_dvc_writes_it_is_a_float(tmp_path):
    """`dvc exp run -S warmup.de_teacher.train.lr=5e-5` writes `lr: 5e-05` into params.yaml, which PyYAML's
    YAML 1.1 reads as a string; params are read as DVC reads them (YAML 1.2 floats)."""
    import shutil

    from dvc.utils.hydra import apply_overrides

    from lead.config import load_params

    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(str(tmp_path / "params.yaml"), ["train.lr=5e-5", "++warmup.student.train={steps: 10, lr: 3e-5}"])
    assert "lr: 5e-05" in (tmp_path / "params.yaml").read_text()
    params = load_params(tmp_path / "params.yaml")
    assert params.train.lr == 5e-5 and params.train.steps == 60
    assert params.warmup["student"].train == {"steps": 10, "lr": 3e-5}


def test_model_paths_point_a_hub_name_at_a_local_folder():
    params = parse(Params, {"models": {"teacher": {"kind": "colbert", "name": "Luyu/co-condenser-marco"},
                                       "student": {"kind": "de", "name": "distilbert-base-uncased"}},
                            "model_paths": {"Luyu/co-condenser-marco": "/models/cocondenser"}})
    assert params.models["teacher"].name == "/models/cocondenser"  # what init loads, and depths are read from
    assert params.models["student"].name == "distilbert-base-uncased"  # a name not listed stays a hub name
