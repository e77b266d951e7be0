"""Two-process DDP (torchrun, gloo on CPU) gives the loss and gradients of one process over the global batch.

``ddp_worker.py`` runs one backward per scorer kind on 2 ranks x 2 queries; here one process computes the
same global batch of 4 queries (the world-size-1 sampler with twice the queries per rank) and the results
must agree: in-batch scorers (dual encoder, ColBERT) through the gathers that keep the local slice's
gradient, and the cross-encoder through DDP's averaging of its per-rank own-candidate losses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lead.config import ScorerConfig
from lead.data.examples import BatchSampler
from lead.models.factory import build_scorer, load_scorer, save_scorer
from lead.training.methods import Warmup
from tests.helpers import synthetic_training_data, tiny_bert_folder
from tests.training import ddp_worker, require_gloo, torchrun_two

WORKER = Path(ddp_worker.__file__).resolve()
CONFIGS = {
    "de": dict(kind="de", pooling="cls"),
    "colbert": dict(kind="colbert", dim=16),
    "ce": dict(kind="ce"),
}




@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    require_gloo()  # before the models are built
    root = tmp_path_factory.mktemp("ddp")
    training = synthetic_training_data(root / "data")
    tiny = str(tiny_bert_folder(root / "tiny", layers=2, hidden=32))
    models = root / "models"
    for kind, config in CONFIGS.items():
        torch.manual_seed(0)
        save_scorer(build_scorer(ScorerConfig(name=tiny, query_max_length=16, passage_max_length=128, **config)), models / kind)
    # A step whose two rank slices pad their passages to different lengths: the gathers must pad and mask.
    split = BatchSampler(training.examples, training.store, ddp_worker.QUERIES_PER_RANK, ddp_worker.NEGATIVES,
                         seed=ddp_worker.SEED, world_size=2)
    colbert = load_scorer(models / "colbert")
    lengths = lambda step, rank: colbert.tokenize(split.batch(step, rank))["p_input_ids"].shape[1]  # noqa: E731
    step = next(s for s in range(20) if lengths(s, 0) != lengths(s, 1))
    return dict(root=root, data=training.folder, models=models, examples=training.examples, store=training.store,
                step=step)


@pytest.fixture(scope="module")
def ddp_result(setup):
    out = setup["root"] / "result.pt"
    torchrun_two(WORKER, "--models", str(setup["models"]), "--data", str(setup["data"]), "--step", str(setup["step"]),
                 "--out", str(out))
    return torch.load(out, weights_only=False)


def single_process(setup, kind: str):
    """Loss terms and gradients of one process over the global batch of the worker's step."""
    scorer = load_scorer(setup["models"] / kind).eval()
    sampler = BatchSampler(setup["examples"], setup["store"], 2 * ddp_worker.QUERIES_PER_RANK, ddp_worker.NEGATIVES,
                           seed=ddp_worker.SEED, world_size=1)
    batch = sampler.batch(setup["step"])
    loss, terms = Warmup(scorer, "own" if kind == "ce" else "in_batch").loss(batch, {"model": scorer}, setup["step"])
    loss.backward()
    grads = {n: p.grad for n, p in scorer.named_parameters() if p.grad is not None}
    return batch, terms, loss.item(), grads


def test_ranks_took_complementary_slices_of_the_global_batch(setup, ddp_result):
    rank0, rank1 = ddp_result["ranks"]
    batch, *_ = single_process(setup, "de")
    assert rank0["qids"] + rank1["qids"] == batch.qids
    assert rank0["pids"] + rank1["pids"] == batch.pids


@pytest.mark.parametrize("kind", ["de", "colbert", "ce"])
def test_ddp_loss_and_gradients_equal_the_single_process_ones(setup, ddp_result, kind):
    rank0, rank1 = ddp_result["ranks"]
    _, terms, scaled, grads = single_process(setup, kind)
    if kind == "ce":  # own candidates: each rank's loss is over its 2 queries; DDP averages the gradients
        assert rank0[kind]["loss"] != pytest.approx(rank1[kind]["loss"])
        assert (rank0[kind]["loss"] + rank1[kind]["loss"]) / 2 == pytest.approx(terms["loss"], abs=1e-5)
        assert rank0[kind]["scaled_loss"] == pytest.approx(rank0[kind]["loss"], abs=1e-6)
    else:  # in-batch: both ranks see the global loss; it is scaled by the world size against DDP's average
        assert rank0[kind]["loss"] == pytest.approx(terms["loss"], abs=1e-5)
        assert rank1[kind]["loss"] == pytest.approx(terms["loss"], abs=1e-5)
        assert rank0[kind]["scaled_loss"] == pytest.approx(2 * terms["loss"], abs=2e-5)
        assert scaled == pytest.approx(terms["loss"], abs=1e-6)  # world size 1: no scaling
    distributed = ddp_result["grads"][kind]
    assert distributed.keys() == grads.keys() and len(grads) > 10
    assert sum(float(g.abs().sum()) for g in grads.values()) > 0
    for name, grad in grads.items():
        torch.testing.assert_close(distributed[name], grad, atol=1e-5, rtol=1e-4, msg=f"{kind}: gradient of {name}")
    # DDP all-reduced: rank 1 holds the same gradients as rank 0
    for name, total in rank0[kind]["grad_sums"].items():
        assert rank1[kind]["grad_sums"][name] == pytest.approx(total, rel=1e-5, abs=1e-6), name


def test_colbert_ranks_padded_their_passages_to_different_lengths(ddp_result):
    rank0, rank1 = ddp_result["ranks"]
    assert rank0["colbert"]["length"] != rank1["colbert"]["length"]


def test_broadcast_object_gives_rank_0s_value_on_every_rank(ddp_result):
    for rank in ddp_result["ranks"]:
        assert rank["broadcast"] == {"from": 0, "values": [0, 0, 0]}


def test_gather_with_grad_pads_concatenates_and_keeps_the_local_gradient(ddp_result):
    rank0, rank1 = ddp_result["ranks"]
    expected = torch.tensor([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])  # [1, 2] of ones padded to 3 columns
    assert torch.equal(rank0["gathered"], expected) and torch.equal(rank1["gathered"], expected)
    # d/d local of sum(gathered * arange(9).view(3, 3)): the weights of the local slice only
    assert torch.equal(rank0["gathered_grad"], torch.tensor([[0.0, 1.0]]))
    assert torch.equal(rank1["gathered_grad"], torch.tensor([[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]))


def test_ranks_meeting_a_checkpoint_of_another_run_start_over_together(setup):
    """A checkpoint of other params, then one written by one process: rank 0 removes it and every rank starts
    over (before, a rank that listed the folder after the removal skipped a barrier and the group hung)."""
    from tests.training import resume_worker

    root = setup["root"] / "resume"
    root.mkdir()
    (root / "data").symlink_to(setup["data"])
    tiny_bert_folder(root / "tiny", layers=2, hidden=32)
    done = torchrun_two(Path(resume_worker.__file__).resolve(), "--root", str(root), timeout=240)
    assert done.stderr.count("starting over") >= 2
    for rank in (0, 1):
        assert json.loads((root / f"rank{rank}.json").read_text()) == {"starts": [0, 0]}
