"""Layer selection: the reference's fixed baselines, random sorted draws that are a function of the step,
validation against both depths, and identical draws on every DDP rank (drawn on rank 0, broadcast)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lead.training.layers import LayerPairs, LayerSelector
from tests.training import torchrun_two

WORKER = Path(__file__).resolve().parent / "layers_worker.py"


def test_last_and_skip_reproduce_the_reference_for_12_to_6():
    assert LayerSelector("last", 5, 6, 12).pairs(0) == LayerPairs((2, 3, 4, 5, 6), (8, 9, 10, 11, 12))
    assert LayerSelector("skip", 5, 6, 12).pairs(0) == LayerPairs((2, 3, 4, 5, 6), (1, 3, 5, 7, 9))
    # and generalise to other depths: 2 -> 6 with k = 2
    assert LayerSelector("last", 2, 2, 6).pairs(7) == LayerPairs((1, 2), (5, 6))
    assert LayerSelector("skip", 2, 2, 6).pairs(7) == LayerPairs((1, 2), (1, 4))
    # the stride is teacher depth / student depth, whatever k: the last 3 of 6 student blocks, every other teacher block
    assert LayerSelector("skip", 3, 6, 12).pairs(0) == LayerPairs((4, 5, 6), (1, 3, 5))


def test_random_draws_are_sorted_subsets_fixed_within_an_interval():
    selector = LayerSelector("random", 3, 6, 12, resample_every=10, seed=5)
    draws = [selector.pairs(step) for step in range(200)]
    for pairs in draws:
        assert len(pairs.student) == len(pairs.teacher) == 3
        assert list(pairs.student) == sorted(set(pairs.student)) and all(1 <= u <= 6 for u in pairs.student)
        assert list(pairs.teacher) == sorted(set(pairs.teacher)) and all(1 <= t <= 12 for t in pairs.teacher)
    assert all(draws[s] == draws[s - s % 10] for s in range(200))  # constant within each block of 10 steps
    assert len({draws[s] for s in range(0, 200, 10)}) > 10  # and re-drawn between blocks
    # a pure function of (seed, step // resample_every): a resumed run (new selector at step 130) agrees
    assert LayerSelector("random", 3, 6, 12, resample_every=10, seed=5).pairs(137) == draws[137]
    assert LayerSelector("random", 3, 6, 12, resample_every=10, seed=6).pairs(137) != draws[137] or \
        LayerSelector("random", 3, 6, 12, resample_every=10, seed=6).pairs(0) != draws[0]
    # every layer is drawn over time (no index past the depth, none starved)
    assert {u for p in draws for u in p.student} == set(range(1, 7))
    assert {t for p in draws for t in p.teacher} == set(range(1, 13))
    # student and teacher layers are drawn independently (spec A.6): one student draw meets many teacher draws
    many = [LayerSelector("random", 3, 6, 12, resample_every=1, seed=5).pairs(step) for step in range(2000)]
    met = {}
    for pairs in many:
        met.setdefault(pairs.student, set()).add(pairs.teacher)
    assert min(len(teachers) for teachers in met.values()) > 10 and len(met) == 20  # C(6,3) student subsets


def test_random_last_always_pairs_the_last_blocks_and_draws_the_rest_below():
    selector = LayerSelector("random_last", 3, 6, 12, resample_every=1, seed=5)
    draws = [selector.pairs(step) for step in range(300)]
    for pairs in draws:
        assert pairs.student[-1] == 6 and pairs.teacher[-1] == 12  # last with last, every draw
        assert list(pairs.student) == sorted(set(pairs.student)) and len(pairs.student) == 3
        assert list(pairs.teacher) == sorted(set(pairs.teacher)) and len(pairs.teacher) == 3
    # the other k - 1 come from every block below the last, and nowhere else
    assert {u for p in draws for u in p.student[:-1]} == set(range(1, 6))
    assert {t for p in draws for t in p.teacher[:-1]} == set(range(1, 12))
    assert LayerSelector("random_last", 1, 6, 12).pairs(0) == LayerPairs((6,), (12,))
    assert LayerSelector("random_last", "all", 6, 6).pairs(3) == LayerPairs((1, 2, 3, 4, 5, 6), (1, 2, 3, 4, 5, 6))
    # plain random keeps its draws (the default's runs are unchanged): seed 13's first draw for 5 of 6 blocks
    assert LayerSelector("random", 5, 6, 6, seed=13).pairs(0) == LayerPairs((1, 2, 3, 4, 5), (1, 3, 4, 5, 6))


def test_k_all_and_fixed_lists():
    assert LayerSelector("random", "all", 2, 6).pairs(0).student == (1, 2)
    assert LayerSelector("fixed", 0, 2, 6, student_layers=[1, 2], teacher_layers=[3, 6]).pairs(9) == LayerPairs((1, 2), (3, 6))


@pytest.mark.parametrize("args, message", [
    (("random", 3, 2, 6), r"distill\.layers=3: the student has 2 layers and the teacher 6; choose 1\.\.2 or 'all'"),
    (("last", 0, 2, 6), r"distill\.layers=0"),
    (("random", 1, 2, 6, 0), r"resample_every must be >= 1"),
])
def test_bad_layer_counts_name_the_param(args, message):
    with pytest.raises(ValueError, match=message):
        LayerSelector(*args)


def test_bad_fixed_lists_name_the_param():
    with pytest.raises(ValueError, match=r"distill\.teacher_layers=\[3, 7\]: the teacher has layers 1\.\.6"):
        LayerSelector("fixed", 0, 2, 6, student_layers=[1, 2], teacher_layers=[3, 7])
    with pytest.raises(ValueError, match=r"distill\.student_layers=\[2, 1\]: must be strictly increasing"):
        LayerSelector("fixed", 0, 2, 6, student_layers=[2, 1], teacher_layers=[3, 4])
    with pytest.raises(ValueError, match=r"distill\.student_layers=\[1, 1\]: must be strictly increasing"):
        LayerSelector("fixed", 0, 2, 6, student_layers=[1, 1], teacher_layers=[3, 4])
    with pytest.raises(ValueError, match="same non-zero length"):
        LayerSelector("fixed", 0, 2, 6, student_layers=[1], teacher_layers=[3, 4])


def test_two_ddp_ranks_draw_the_same_layers(tmp_path):
    """Each rank seeds its selector differently; rank 0's draws must reach both (torchrun, gloo)."""
    torchrun_two(WORKER, "--out", str(tmp_path))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    single = LayerSelector("random", 2, 6, 12, resample_every=3, seed=100)  # rank 0's seed
    assert ranks[0] == [[list(p.student), list(p.teacher)] for p in map(single.pairs, range(30))]
    other = LayerSelector("random", 2, 6, 12, resample_every=3, seed=101)  # what rank 1 would draw alone
    assert ranks[1] != [[list(p.student), list(p.teacher)] for p in map(other.pairs, range(30))]


def test_a_run_s_layer_count_is_checked_against_its_models_depths_before_they_are_loaded(tmp_path):
    """Depths come from params (lead.models.depth): the 6-layer student and teachers (the packaged MiniLM),
    a PROD step's and a sweep's models from the runs they come from."""
    from pathlib import Path

    from lead.config import load_params
    from lead.errors import ParamsValueError
    from lead.models.depth import planned_depth
    from lead.training.layers import check_run_layers

    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    depths = {folder: planned_depth(params, folder) for folder in (
        "models/student", "models/de_teacher", "models/tpd3/student", "models/sweep/lead_cb", "models/lead_cb/teacher",
        "models/init/zeroshot")}
    assert depths == {"models/student": 6, "models/de_teacher": 6, "models/tpd3/student": 6, "models/sweep/lead_cb": 6,
                      "models/lead_cb/teacher": 6, "models/init/zeroshot": 6}
    for name in params.distill_runs:
        check_run_layers(params, name)  # the default's runs all fit
    params.distill.layers = 6  # dvc exp run -S distill.layers=6: every layer of the 6-layer student
    check_run_layers(params, "lead_de")
    params.distill.layers = 7
    with pytest.raises(ParamsValueError, match=r"distill_runs\.lead_de\.layers=7: the student has 6 layers and the "
                                               r"teacher 6; choose 1\.\.6 or 'all'"):
        check_run_layers(params, "lead_de")
    params.models["student"].num_layers = 2  # a 2-block cut of MiniLM as the student: 6 no longer fits
    params.distill.layers = 6
    with pytest.raises(ParamsValueError, match=r"the student has 2 layers and the teacher 6; choose 1\.\.2"):
        check_run_layers(params, "lead_de")
    check_run_layers(params, "tpd1")  # a PROD step pairs no layers
    params.distill_runs["lead_de"]["teacher"] = "data/scores/ce_teacher.tsv"  # a score file has no layers
    with pytest.raises(ParamsValueError, match=r"distill_runs\.lead_de: the teacher is a score file, which has no layers"):
        check_run_layers(params, "lead_de")
    params.distill_runs["lead_de"]["teacher"] = "models/ce_fused"  # the default's fused teacher has no layers either
    with pytest.raises(ParamsValueError, match=r"distill_runs\.lead_de: the teacher is a fused model .* no layers"):
        check_run_layers(params, "lead_de")
    check_run_layers(params, "tpd3")  # PROD's steps read it with response KD only
