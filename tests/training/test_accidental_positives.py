"""Accidental positives (``train.mask_accidental_positives``): a passage of the in-batch candidate set that is a
judged positive of a query, other than its own candidate 0, is left out of that query's row in the student's
and the teacher's scores: checked against the batch's ids, and the losses against the same losses computed by
hand without that column."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lead.data.examples import BatchSampler, PassageStore, QueryExample
from lead.losses.contrastive import contrastive_nll
from lead.losses.kl import kl_divergence
from lead.models.base import Scores


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "collection.tsv"
    path.write_text("".join(f"p{i}\tpassage number {i}\n" for i in range(6)))
    return PassageStore(path)


def examples() -> list[QueryExample]:
    # q1 and q2 share the positive p1; q2's negative p3 is q3's positive; q3 also judges p0, q1's negative, relevant.
    return [QueryExample("q1", "one", ["p1"], ["p0"]),
            QueryExample("q2", "two", ["p1", "p2"], ["p3"]),
            QueryExample("q3", "three", ["p3", "p0"], ["p4"])]


def test_the_mask_marks_every_other_candidate_a_query_judges_relevant(store):
    sampler = BatchSampler(examples(), store, 3, 1, seed=1, mask_accidental_positives=True)
    for step in range(4):
        batch = sampler.batch(step)
        judged = {e.qid: set(e.positives) for e in examples()}
        expected = torch.tensor([[pid in judged[qid] and j != i * 2 for j, pid in enumerate(batch.pids)]
                                 for i, qid in enumerate(batch.qids)])
        assert torch.equal(batch.accidental_positives, expected), step
    # at step 0 at least one accidental positive exists whatever the order: p3 is q2's negative and q3's positive
    assert batch.accidental_positives.any()


def test_masking_changes_no_batch_and_off_means_none(store):
    on = BatchSampler(examples(), store, 3, 1, seed=1, mask_accidental_positives=True)
    off = BatchSampler(examples(), store, 3, 1, seed=1)
    for step in range(4):
        a, b = on.batch(step), off.batch(step)
        assert (a.qids, a.pids) == (b.qids, b.pids)
        assert b.accidental_positives is None


def test_each_rank_gets_the_mask_of_the_global_candidate_set(store):
    """Under DDP the scores are of every rank's queries against every rank's passages (gathered): rank r's
    batch carries the global mask, and its groups are rank r's slice of the global batch."""
    one = BatchSampler(examples()[:2], store, 2, 1, seed=1, mask_accidental_positives=True).batch(0)
    ranks = [BatchSampler(examples()[:2], store, 1, 1, seed=1, world_size=2, mask_accidental_positives=True).batch(0, r)
             for r in range(2)]
    assert ranks[0].pids + ranks[1].pids == one.pids
    for batch in ranks:
        assert torch.equal(batch.accidental_positives, one.accidental_positives)


def test_masked_scores_are_the_losses_without_the_column():
    final = torch.tensor([[2.0, 1.0, 3.0, 0.5], [0.2, 1.5, 0.1, 2.5]])
    teacher = torch.tensor([[1.0, 0.0, 4.0, 1.0], [0.0, 2.0, 1.0, 1.0]])
    mask = torch.tensor([[False, False, True, False], [False, False, False, False]])  # row 0's column 2
    layers = torch.stack([final, final * 2])
    masked = Scores(final, layers).masked(mask)
    kept = [0, 1, 3]
    targets = torch.tensor([0, 2])
    # NLL: row 0 as if column 2 were not there; row 1 unchanged
    by_hand = (-F.log_softmax(final[0, kept], -1)[0] - F.log_softmax(final[1], -1)[2]) / 2
    assert torch.allclose(contrastive_nll(masked.final, targets), by_hand)
    assert torch.allclose(masked.layers[1, 0].softmax(-1)[kept], (final[0, kept] * 2).softmax(-1))
    assert masked.layers[1, 0].softmax(-1)[2] == 0
    # KL between two masked rows: finite, and the KL of the rows without the column
    t = Scores(teacher).masked(mask).final
    kl = kl_divergence(t[:1], masked.final[:1])
    p, q = teacher[0, kept].softmax(-1), final[0, kept].softmax(-1)
    assert math.isfinite(kl.item()) and torch.allclose(kl, (p * (p / q).log()).sum())


@pytest.mark.parametrize("kind", ["softmax", "logit", "dkd", "prob"])
def test_every_kd_kind_stays_finite_on_masked_rows(kind):
    from lead.losses.kd import kd_loss

    mask = torch.tensor([[False, True, False, False], [False, False, False, True]])
    student = torch.randn(2, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    teacher = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    loss = kd_loss(kind, Scores(student).masked(mask).final, Scores(teacher).masked(mask).final, torch.tensor([0, 2]), 4.0)
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(student.grad).all()
    assert (student.grad[mask] == 0).all()  # a masked candidate gets no gradient


def test_every_rank_carries_the_global_batchs_ids_in_rank_order(store):
    """What a score-file teacher is looked up by under DDP: the gathered (global) queries and candidates."""
    sampler = BatchSampler(examples(), store, 1, 1, seed=1, world_size=3)
    for step in range(3):
        ranks = [sampler.batch(step, rank) for rank in range(3)]
        for batch in ranks:
            assert batch.global_qids == [b.qids[0] for b in ranks]
            assert batch.global_pids == [pid for b in ranks for pid in b.pids]
    assert BatchSampler(examples(), store, 3, 1, seed=1).batch(0).global_pids is None  # one process: pids
