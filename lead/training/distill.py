"""LEAD and PROD as one training method: a student and a teacher score the same candidates; losses tie them.

Per batch (spec A.6 and B.7-B.8; every weight a ``distill`` param):

    loss = w_S NLL(student) + w_T NLL(teacher)                      # the teacher's only when it is trained
         + w_resp KD(student, teacher)
         + w_layer sum_i lambda_i KL(P_tau(teacher layer t_i) || P(student layer u_i))
         + w_lwf KD(student, the student as it entered the run)    # PROD's LwF, a frozen copy

KD is ``distill.kd``: ``lead`` = KL(P_tau(teacher) || P(student)) + KL(P_tau(student) || P(teacher)) (the
reverse term only when the teacher is trained); ``softmax`` / ``logit`` / ``dkd`` / ``prob`` = PROD's variants
(lead/losses/kd.py). LwF uses the same KD form, over the same candidates as the teacher's term.

Candidates: global in-batch (gathered across ranks) for dual-encoder and ColBERT teachers; each query's own
group for a cross-encoder teacher, and then the student's losses use the same restricted set. Teacher and
student tokenize the batch each their own way; they meet only in the [Q, C] score matrices, whose columns
are the batch's passages in one order, so their vocabularies and sizes may differ.

Baselines are the same method with other params: response-only KD (layer_weight 0: no per-layer scores are
computed), no re-weighting, last/skip selection, a frozen teacher, and VIRT (virt_weight > 0: token-interaction
maps of the selected layers, for a same-tokenizer DE or ColBERT teacher).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses

import torch
from torch import nn

from lead.config import DistillConfig
from lead.losses.contrastive import contrastive_nll
from lead.losses.kd import kd_loss
from lead.losses.kl import kl_divergence
from lead.losses.layerwise import layerwise_kl
from lead.losses.response import response_kl
from lead.losses.virt import virt_loss
from lead.models.base import Scorer, TextBatch
from lead.training.layers import LayerSelector
from lead.training.methods import candidate_scores, world_size


class Distill:
    def __init__(self, student: Scorer, teacher: Scorer, config: DistillConfig, candidates: str = "in_batch", seed: int = 13):
        if not student.supports_in_batch and candidates == "in_batch" and teacher.supports_in_batch:
            raise ValueError(f"a {student.kind} student needs train.candidates: own")
        # A cross-encoder teacher scores only each query's own candidates, so the student is restricted too.
        self.own = candidates == "own" or not teacher.supports_in_batch
        if config.normalize_teacher_layers is not None:
            if teacher.kind != "colbert":
                raise ValueError(f"distill.normalize_teacher_layers applies to ColBERT teachers; this one is a {teacher.kind}")
            teacher.config = dataclasses.replace(teacher.config, normalize_layers=config.normalize_teacher_layers)
        self.config, self.teacher = config, teacher
        self.selector = None
        self.virt = config.virt_weight > 0
        if self.virt:
            if self.own:
                raise ValueError("distill.virt_weight: VIRT here needs a dual-encoder or ColBERT teacher with in-batch candidates")
            if student.tokenizer.get_vocab() != teacher.tokenizer.get_vocab():
                raise ValueError("distill.virt_weight: VIRT compares token positions, so student and teacher need one "
                                 "tokenizer (LEAD's score-level terms do not)")
        if config.layer_weight > 0 or self.virt:
            self.selector = LayerSelector(config.selection, config.layers, student.num_layers, teacher.num_layers,
                                          config.resample_every, seed, config.student_layers, config.teacher_layers)
        self.trainables = {"student": student}
        self.frozen: dict[str, Scorer] = {}
        self.learning_rates: dict[str, float] = {}
        if config.teacher_trainable:
            self.trainables["teacher"] = teacher
            if config.teacher_lr is not None:
                self.learning_rates["teacher"] = config.teacher_lr
        else:
            self.frozen["teacher"] = teacher
        if config.lwf_weight > 0:
            # A copy made before the Trainer resumes anything: always the student this run started from.
            self.frozen["entry_student"] = copy.deepcopy(student).requires_grad_(False)
            self.shares_tokens = {"entry_student"}  # roles the loader need not tokenize for

    def _kd(self, student: torch.Tensor, target: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One direction of the response term: the student's scores pulled towards ``target``'s."""
        c = self.config
        if c.kd == "lead":
            return kl_divergence(target, student, target_temperature=c.temperature)
        return kd_loss(c.kd, student, target, targets, c.temperature, c.dkd_alpha, c.dkd_beta)

    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int):
        c = self.config
        pairs = self.selector.pairs(step) if self.selector is not None else None
        student, student_encoded = candidate_scores(models["student"], batch, self.own, pairs.student if pairs else (),
                                                    self.virt, role="student")
        teacher_model = models.get("teacher", self.teacher)
        with contextlib.nullcontext() if c.teacher_trainable else torch.no_grad():
            teacher, teacher_encoded = candidate_scores(teacher_model, batch, self.own, pairs.teacher if pairs else (),
                                                        self.virt, role="teacher")
        targets = student.targets(self.own, batch.group_size)

        student_nll = contrastive_nll(student.final, targets)
        if c.kd == "lead":  # both directions; the reverse is a zero tensor unless the teacher is trained
            forward, reverse = response_kl(student.final, teacher.final, c.temperature, reverse=c.teacher_trainable,
                                           detach_teacher_targets=c.detach_teacher_targets)
            total = c.student_weight * student_nll + c.response_weight * (forward + reverse)
            terms = {"student_nll": student_nll.item(), "response_kl": forward.item()}
        else:
            target = teacher.final.detach() if c.detach_teacher_targets else teacher.final
            kd = self._kd(student.final, target, targets)
            total = c.student_weight * student_nll + c.response_weight * kd
            terms = {"student_nll": student_nll.item(), f"kd_{c.kd}": kd.item()}
        if c.teacher_trainable:
            teacher_nll = contrastive_nll(teacher.final, targets)
            total = total + c.teacher_weight * teacher_nll
            terms["teacher_nll"] = teacher_nll.item()
            if c.kd == "lead":
                terms["response_kl_reverse"] = reverse.item()
        if c.lwf_weight > 0:
            with torch.no_grad():
                # The copy has the student's tokenizer and input view: it reads the student's tokens.
                entry, _ = candidate_scores(self.frozen["entry_student"], batch, self.own, role="student")
            lwf = self._kd(student.final, entry.final, targets)
            total = total + c.lwf_weight * lwf
            terms["lwf"] = lwf.item()
        if self.virt:
            s_enc, t_enc = student_encoded, teacher_encoded
            virt = virt_loss(s_enc.queries["token_layers"], s_enc.queries["token_mask"], s_enc.passages["token_layers"],
                             s_enc.passages["token_mask"], t_enc.queries["token_layers"], t_enc.queries["token_mask"],
                             t_enc.passages["token_layers"], t_enc.passages["token_mask"])
            total = total + c.virt_weight * virt
            terms["virt"] = virt.item()
        if pairs is not None and c.layer_weight > 0:
            layer_loss, weights, kls = layerwise_kl(student.layers, teacher.layers, targets, c.temperature,
                                                    c.layer_temperature, c.reweight, c.detach_teacher_targets)
            total = total + c.layer_weight * layer_loss
            terms["layer_loss"] = layer_loss.item()
            for t, weight, kl in zip(pairs.teacher, weights.tolist(), kls.tolist()):
                terms[f"lambda/teacher_layer{t}"] = weight
                terms[f"layer_kl/teacher_layer{t}"] = kl
        terms["loss"] = total.item()
        # In-batch: each rank computes the global loss with gradient only through its slice; DDP averages the
        # ranks' gradients, so the world size turns that average back into the global loss's gradient.
        return total * (1 if self.own else world_size()), terms
