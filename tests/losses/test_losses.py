"""Each loss term against values worked out by hand on 2-candidate rows (probabilities 1/2, 3/4, 1/4).

Worked values (natural logs):
  KL([1/2, 1/2] || [3/4, 1/4]) = 1/2 ln(4/3)                    = 0.143841
  KL([3/4, 1/4] || [1/2, 1/2]) = 3/4 ln(3/2) + 1/4 ln(1/2)      = 0.130812
Scores [ln 3, 0] give softmax [3/4, 1/4]; [0, 0] gives [1/2, 1/2].
"""

from __future__ import annotations

import math

import pytest
import torch

from lead.losses.contrastive import contrastive_nll
from lead.losses.kl import kl_divergence
from lead.losses.layerwise import layer_weights, layerwise_kl
from lead.losses.response import response_kl

LN3 = math.log(3)
KL_HALF_TO_34 = 0.5 * math.log(4 / 3)  # KL(uniform || [3/4, 1/4])
KL_34_TO_HALF = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # KL([3/4, 1/4] || uniform)
UNIFORM = [[0.0, 0.0]]
PEAKED = [[LN3, 0.0]]


def t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_worked_values():
    assert KL_HALF_TO_34 == pytest.approx(0.143841, abs=1e-6)
    assert KL_34_TO_HALF == pytest.approx(0.130812, abs=1e-6)


def test_kl_direction_target_first():
    assert kl_divergence(t(UNIFORM), t(PEAKED)).item() == pytest.approx(KL_HALF_TO_34)
    assert kl_divergence(t(PEAKED), t(UNIFORM)).item() == pytest.approx(KL_34_TO_HALF)
    assert kl_divergence(t(PEAKED), t(PEAKED)).item() == pytest.approx(0.0, abs=1e-12)


def test_kl_temperatures_divide_their_own_side():
    # target [2 ln 3, 0] at T=2 is [3/4, 1/4]; the input side is untouched
    assert kl_divergence(t([[2 * LN3, 0.0]]), t(UNIFORM), target_temperature=2).item() == pytest.approx(KL_34_TO_HALF)
    # input [2 ln 3, 0] at T=2 is [3/4, 1/4]
    assert kl_divergence(t(UNIFORM), t([[2 * LN3, 0.0]]), input_temperature=2).item() == pytest.approx(KL_HALF_TO_34)


def test_kl_is_a_mean_over_queries_and_keeps_leading_dims():
    rows = kl_divergence(t([[0.0, 0.0], [LN3, 0.0]]), t([[LN3, 0.0], [LN3, 0.0]]))
    assert rows.item() == pytest.approx((KL_HALF_TO_34 + 0.0) / 2)
    stacked = kl_divergence(t([UNIFORM, PEAKED]), t([PEAKED, UNIFORM]))  # [k=2, Q=1, C=2]
    assert stacked.shape == (2,) and stacked.tolist() == pytest.approx([KL_HALF_TO_34, KL_34_TO_HALF])
    with pytest.raises(ValueError, match="same candidates"):
        kl_divergence(t(UNIFORM), t([[0.0, 0.0, 0.0]]))


def test_contrastive_nll_worked_example():
    # positive at column 0 with probability 3/4, then at column 1 with 1/4
    assert contrastive_nll(t([[LN3, 0.0], [LN3, 0.0]]), torch.tensor([0, 1])).item() == pytest.approx(
        (-math.log(0.75) - math.log(0.25)) / 2)


def test_response_kl_both_directions_and_target_temperature():
    student, teacher = t(PEAKED), t(UNIFORM)
    forward, reverse = response_kl(student, teacher, temperature=1.0)
    assert forward.item() == pytest.approx(KL_HALF_TO_34)  # KL(P(teacher) || P(student))
    assert reverse.item() == pytest.approx(KL_34_TO_HALF)  # KL(P(student) || P(teacher))
    # tau divides the target side only: student [2 ln 3, 0] is [3/4, 1/4] as a target at tau=2, but as the
    # input of the forward term it stays [9/10, 1/10]
    forward, reverse = response_kl(t([[2 * LN3, 0.0]]), teacher, temperature=2.0)
    assert reverse.item() == pytest.approx(KL_34_TO_HALF)
    assert forward.item() == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
    _, none = response_kl(student, teacher, reverse=False)
    assert none.item() == 0.0
    # a peaked teacher as the target: tau tempers it in the forward term ([4 ln 3, 0] at tau = 2 is [9/10, 1/10])
    # and leaves it whole as the input of the reverse term (against a uniform student target)
    forward, reverse = response_kl(t([[0.0, 0.0]]), t([[4 * LN3, 0.0]]), temperature=2.0)
    assert forward.item() == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5))
    assert reverse.item() == pytest.approx(0.5 * math.log(0.5 / (81 / 82)) + 0.5 * math.log(0.5 / (1 / 82)))


def _grads(detach: bool, reverse: bool = True):
    student = t([[LN3, 0.0], [0.2, -0.4]]).requires_grad_()
    teacher = t([[0.1, 0.5], [1.0, 0.0]]).requires_grad_()
    forward, backward = response_kl(student, teacher, reverse=reverse, detach_teacher_targets=detach)
    (forward + backward).backward()
    return student.grad.clone(), torch.zeros_like(teacher) if teacher.grad is None else teacher.grad.clone()


def test_detaching_changes_exactly_the_teacher_gradient():
    s_plain, t_plain = _grads(detach=False)
    s_detached, t_detached = _grads(detach=True)
    assert torch.allclose(s_plain, s_detached)  # the student learns the same
    assert not torch.allclose(t_plain, t_detached)  # the teacher loses the forward term's gradient
    # what is left for the teacher is exactly the reverse term's gradient
    teacher = t([[0.1, 0.5], [1.0, 0.0]]).requires_grad_()
    response_kl(t([[LN3, 0.0], [0.2, -0.4]]), teacher)[1].backward()
    assert torch.allclose(t_detached, teacher.grad)
    # and with the teacher frozen (no reverse term) and detached targets it gets nothing at all
    assert torch.count_nonzero(_grads(detach=True, reverse=False)[1]) == 0


def _layers():
    # teacher layer a ranks both positives at 1/2 (NLL ln 2), layer b at 3/4 (NLL ln 4/3); targets [0, 1]
    teacher = t([[[0.0, 0.0], [0.0, 0.0]], [[LN3, 0.0], [0.0, LN3]]])
    # student layer a is [3/4, 1/4] on both rows, layer b uniform
    student = t([[[LN3, 0.0], [LN3, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    return student, teacher, torch.tensor([0, 1])


def test_layer_weights_favour_teacher_layers_that_rank_the_positive_well():
    _, teacher, targets = _layers()
    # tau_L = 1: softmax(-ln 2, -ln 4/3) is proportional to (1/2, 3/4) = (0.4, 0.6)
    assert layer_weights(teacher, targets, 1.0).tolist() == pytest.approx([0.4, 0.6])
    # tau_L = 10 flattens it: proportional to (2^-0.1, (4/3)^-0.1)
    a, b = 2 ** -0.1, (4 / 3) ** -0.1
    assert layer_weights(teacher, targets, 10.0).tolist() == pytest.approx([a / (a + b), b / (a + b)])


def test_layerwise_kl_worked_example():
    student, teacher, targets = _layers()
    loss, weights, kls = layerwise_kl(student, teacher, targets, temperature=1.0, layer_temperature=1.0)
    assert kls.tolist() == pytest.approx([KL_HALF_TO_34, KL_34_TO_HALF])  # per pair, mean over queries
    assert loss.item() == pytest.approx(0.4 * KL_HALF_TO_34 + 0.6 * KL_34_TO_HALF)
    uniform, weights, _ = layerwise_kl(student, teacher, targets, reweight=False)
    assert weights.tolist() == [0.5, 0.5] and uniform.item() == pytest.approx((KL_HALF_TO_34 + KL_34_TO_HALF) / 2)
    with pytest.raises(ValueError, match="2 student layers paired with 1 teacher layers"):
        layerwise_kl(student, teacher[:1], targets)


def test_layer_weights_are_constants_and_the_temperature_is_on_the_target():
    student, teacher, targets = _layers()
    teacher.requires_grad_()
    loss, weights, _ = layerwise_kl(student, teacher, targets, layer_temperature=1.0, detach_teacher_targets=True)
    assert not weights.requires_grad and not loss.requires_grad  # lambda carries no gradient to the teacher
    # tau = 2 on teacher layer b = [2 ln 3, 0]... is [3/4, 1/4]; the student side is not tempered
    tempered = t([[[0.0, 0.0]], [[2 * LN3, 0.0]]])
    _, _, kls = layerwise_kl(t([[[0.0, 0.0]], [[0.0, 0.0]]]), tempered, torch.tensor([0]), temperature=2.0)
    assert kls.tolist() == pytest.approx([0.0, KL_34_TO_HALF])
    # a peaked student: [ln 3, 0] stays [3/4, 1/4] as the input at tau = 2 (tempered it would be [0.634, 0.366])
    _, _, kls = layerwise_kl(t([[[LN3, 0.0]]]), t([[[0.0, 0.0]]]), torch.tensor([0]), temperature=2.0)
    assert kls.tolist() == pytest.approx([KL_HALF_TO_34])


def test_float64_scores_are_computed_in_float64():
    """Losses upcast bf16/float16 to float32 but keep float64 (gradcheck needs it)."""
    scores = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 1, 2])
    assert contrastive_nll(scores, targets).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda s: contrastive_nll(s, targets), (scores,))
    assert kl_divergence(torch.randn(3, 5), scores).dtype == torch.float64  # either side float64: float64
