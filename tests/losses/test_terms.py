"""A method is a list of named terms: the loss is their weighted sum, weight-0 terms are not computed, and the
report's description is made of the same names."""

from __future__ import annotations

import pytest
import torch

from lead.config import DistillConfig
from lead.losses.contrastive import contrastive_nll
from lead.losses.kd import kd_softmax
from lead.losses.terms import Inputs, Term, describe, distill_terms, reads, weighted_sum


def inputs() -> Inputs:
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(3, 6, generator=generator), torch.randn(3, 6, generator=generator)
    return Inputs(student, torch.tensor([0, 2, 4]), teacher=teacher, entry_student=lambda: teacher * 0.5)


def test_the_loss_is_the_weighted_sum_of_the_terms_in_order_and_each_is_logged():
    x = inputs()
    terms = distill_terms(DistillConfig(kd="softmax", temperature=4.0, student_weight=0.1, response_weight=0.9,
                                        layer_weight=0.0, teacher_trainable=False, lwf_weight=2.0))
    assert [t.name for t in terms] == ["student_nll", "kd_softmax", "lwf"] and reads(terms) == {"teacher", "entry_student"}
    total, logged = weighted_sum(terms, x)
    nll, kd, lwf = contrastive_nll(x.student, x.targets), kd_softmax(x.student, x.teacher, 4.0), kd_softmax(x.student, x.teacher * 0.5, 4.0)
    assert torch.equal(total, (0.1 * nll + 0.9 * kd) + 2.0 * lwf)  # the same float as the written-out sum
    assert logged == pytest.approx({"student_nll": nll.item(), "kd_softmax": kd.item(), "lwf": lwf.item(), "loss": total.item()})


def test_weight_zero_terms_are_not_computed_and_a_new_term_is_a_list_entry():
    x = inputs()
    x.teacher = None  # an NLL-only run never runs its teacher: a term that read it would fail here
    terms = distill_terms(DistillConfig(layer_weight=0.0, response_weight=0.0, teacher_trainable=False))
    assert [t.name for t in terms] == ["student_nll"] and reads(terms) == frozenset()
    margin = Term("margin", 0.5, lambda i: ((i.student[:, 1] - i.student[:, 0]).clamp_min(0).mean(), {}))
    total, logged = weighted_sum([*terms, margin], x)
    assert torch.equal(total, 1.0 * contrastive_nll(x.student, x.targets) + 0.5 * logged["margin"] * torch.ones(()))
    with pytest.raises(ValueError, match="at least one term"):
        weighted_sum([], x)


def test_lead_logs_the_forward_and_reverse_response_kl_apart():
    x = inputs()
    terms = distill_terms(DistillConfig(layer_weight=0.0))  # LEAD's response KD with a jointly trained teacher
    assert [t.name for t in terms] == ["student_nll", "response_kl", "teacher_nll"]
    total, logged = weighted_sum(terms, x)
    assert {"response_kl", "response_kl_reverse", "teacher_nll"} <= set(logged)
    assert total.item() == pytest.approx(logged["student_nll"] + logged["response_kl"] + logged["response_kl_reverse"]
                                         + logged["teacher_nll"], rel=1e-6)


def test_the_description_names_the_terms_and_their_settings():
    assert describe(DistillConfig()) == ("student_nll + response_kl + teacher_nll + layer_loss (k=2, random layers, "
                                         "re-weighted; teacher trained)")
    assert describe(DistillConfig(kd="softmax", temperature=4.0, student_weight=0.1, response_weight=0.9, layer_weight=0.0,
                                  teacher_trainable=False, lwf_weight=1.0)) == \
        "0.1 student_nll + 0.9 kd_softmax + lwf (T=4; frozen teacher)"
    assert describe(DistillConfig(response_weight=0.0, layer_weight=0.0, teacher_trainable=False)) == "student_nll"
