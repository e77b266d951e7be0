"""PROD's KD variants against values worked out by hand (natural logs).

Scores [ln 3, 0] give softmax [3/4, 1/4]; [0, 0] gives [1/2, 1/2]; [ln 3, ln 2, 0] gives [1/2, 1/3, 1/6].
"""

from __future__ import annotations

import math

import pytest
import torch

from lead.losses.kd import dkd, kd_logit, kd_loss, kd_softmax, prob_loss

LN2, LN3 = math.log(2), math.log(3)
KL_34_TO_HALF = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # KL([3/4, 1/4] || [1/2, 1/2])
KL_HALF_TO_34 = 0.5 * math.log(4 / 3)  # KL([1/2, 1/2] || [3/4, 1/4])


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_kd_softmax_tempers_both_sides_and_scales_by_t_squared():
    # T = 4: teacher [4 ln 3, 0] -> [3/4, 1/4]; student [0, 0] -> [1/2, 1/2]
    assert kd_softmax(t([[0.0, 0.0]]), t([[4 * LN3, 0.0]]), 4.0).item() == pytest.approx(16 * KL_34_TO_HALF)
    # direction: the target (teacher) is the first argument of the KL
    assert kd_softmax(t([[4 * LN3, 0.0]]), t([[0.0, 0.0]]), 4.0).item() == pytest.approx(16 * KL_HALF_TO_34)
    # a student tempered too: [4 ln 3, 0] at T = 4 matches the teacher exactly
    assert kd_softmax(t([[4 * LN3, 0.0]]), t([[4 * LN3, 0.0]]), 4.0).item() == pytest.approx(0.0, abs=1e-12)


def test_kd_logit_is_half_the_mean_squared_error():
    assert kd_logit(t([[1.0, 2.0], [3.0, 4.0]]), t([[0.0, 0.0], [0.0, 0.0]])).item() == pytest.approx(0.5 * 7.5)


def test_dkd_worked_example():
    # teacher [ln 3, ln 2, 0] -> [1/2, 1/3, 1/6], student uniform [1/3]*3, positive column 0.
    # TCKD = KL([1/2, 1/2] || [1/3, 2/3]) = 1/2 ln(3/2) + 1/2 ln(3/4)
    # NCKD = KL([2/3, 1/3] || [1/2, 1/2]) over the two negatives
    tckd = 0.5 * math.log(1.5) + 0.5 * math.log(0.75)
    nckd = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    teacher, student, positive = t([[LN3, LN2, 0.0]]), t([[0.0, 0.0, 0.0]]), torch.tensor([0])
    assert dkd(student, teacher, positive, 1.0, alpha=1.0, beta=8.0).item() == pytest.approx(tckd + 8 * nckd, rel=1e-6)
    assert dkd(student, teacher, positive, 1.0, alpha=2.0, beta=0.0).item() == pytest.approx(2 * tckd, rel=1e-6)
    # T = 2 on doubled teacher scores: the same distributions, times T^2
    assert dkd(student, 2 * teacher, positive, 2.0, 1.0, 1.0).item() == pytest.approx(4 * (tckd + nckd), rel=1e-6)
    # and the student is tempered too: doubled student scores at T = 2 are the student of T = 1 (a student left
    # untempered would be [ln 9, ln 4, 0] here, another distribution)
    other = t([[0.4, -0.3, 0.2]])
    assert dkd(2 * other, 2 * teacher, positive, 2.0, 1.0, 1.0).item() == pytest.approx(
        4 * dkd(other, teacher, positive, 1.0, 1.0, 1.0).item(), rel=1e-6)
    # summed over queries then divided by Q: two identical queries give the one-query value
    two = dkd(student.repeat(2, 1), teacher.repeat(2, 1), torch.tensor([0, 0]), 1.0, 1.0, 1.0)
    assert two.item() == pytest.approx(tckd + nckd, rel=1e-6)


def test_dkd_follows_the_positive_column():
    # the positive moved to column 1 (scores permuted alike) gives the same value
    teacher, student = t([[LN3, LN2, 0.0]]), t([[0.3, -0.2, 0.1]])
    at0 = dkd(student, teacher, torch.tensor([0]), 1.0)
    at1 = dkd(student[:, [1, 0, 2]], teacher[:, [1, 0, 2]], torch.tensor([1]), 1.0)
    assert at0.item() == pytest.approx(at1.item(), rel=1e-6)


def test_prob_loss_tempers_the_teacher_only():
    # teacher [2 ln 3, 0] at T = 2 -> [3/4, 1/4]; student [2 ln 3, 0] untempered -> [9/10, 1/10]
    expected = -(0.75 * math.log(0.9 + 1e-7) + 0.25 * math.log(0.1 + 1e-7))
    assert prob_loss(t([[2 * LN3, 0.0]]), t([[2 * LN3, 0.0]]), 2.0).item() == pytest.approx(expected, rel=1e-6)


def test_kd_loss_dispatches_and_checks_shapes():
    student, teacher, positive = t([[0.2, 0.1]]), t([[LN3, 0.0]]), torch.tensor([0])
    assert kd_loss("softmax", student, teacher, positive, 2.0).item() == pytest.approx(kd_softmax(student, teacher, 2.0).item())
    assert kd_loss("logit", student, teacher, positive, 2.0).item() == pytest.approx(kd_logit(student, teacher).item())
    assert kd_loss("prob", student, teacher, positive, 2.0).item() == pytest.approx(prob_loss(student, teacher, 2.0).item())
    assert kd_loss("dkd", student, teacher, positive, 2.0, 3.0, 5.0).item() == pytest.approx(
        dkd(student, teacher, positive, 2.0, 3.0, 5.0).item())
    with pytest.raises(ValueError, match="same candidates"):
        kd_loss("softmax", student, t([[0.0, 0.0, 0.0]]), positive, 1.0)
    with pytest.raises(ValueError, match="unknown KD kind"):
        kd_loss("hinton", student, teacher, positive, 1.0)


def test_kd_gradient_moves_the_student_towards_the_target():
    student = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    kd_softmax(student, t([[4 * LN3, 0.0]]), 4.0).backward()
    assert student.grad[0, 0] < 0 < student.grad[0, 1]  # descent raises the teacher's favourite
