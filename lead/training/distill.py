"""LEAD and PROD as one training method: a student and a teacher score the same candidates; named loss terms
tie them (lead/losses/terms.py: student_nll, response_kl or kd_<kind>, teacher_nll, lwf, virt, layer_loss, each
weighted by a ``distill`` param; the loss is their weighted sum).

Candidates: global in-batch (gathered across ranks) for dual-encoder and ColBERT teachers; each query's own
group for a cross-encoder teacher, and then the student's terms use the same restricted set. Teacher and
student tokenize the batch each their own way; they meet only in the [Q, C] score matrices, whose columns
are the batch's passages in one order, so their vocabularies and sizes may differ.

Baselines are the same method with other weights: response-only KD (layer_weight 0: no per-layer scores are
computed), no re-weighting, last/skip selection, a frozen teacher, NLL only (no teacher term: the teacher is
not run), and VIRT (virt_weight > 0: token-interaction maps of the selected layers, for a same-tokenizer DE or
ColBERT teacher).

A teacher may also be a score file (lead/data/teacher_scores.py): its final scores are looked up for the
batch's candidates instead of computed. In-batch candidates the file does not score are left out of the
teacher's distribution (zero probability; the student's row keeps them); a query's own candidates must be
scored. A file has no layers and cannot train: LEAD's layer term, VIRT and a jointly trained teacher refuse it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses

import torch
from torch import nn

from lead.config import DistillConfig
from lead.data.teacher_scores import TeacherScores, check_score_file_run
from lead.errors import ParamsValueError
from lead.losses.terms import Inputs, distill_terms, reads, weighted_sum
from lead.models.base import MASKED_SCORE, Scorer, Scores
from lead.models.fused import check_fused_teacher_run
from lead.records import TextBatch
from lead.training.layers import LayerSelector
from lead.training.methods import Method, candidate_scores, world_size


class Distill(Method):
    def __init__(self, student: Scorer, teacher: Scorer | TeacherScores, config: DistillConfig, candidates: str = "in_batch",
                 seed: int = 13, key: str = "distill"):
        """``key``: the params key of the run (distill_runs.<name>), which errors name."""
        self.score_file = teacher if isinstance(teacher, TeacherScores) else None
        if self.score_file is not None:
            check_score_file_run(config, candidates, key)
        if teacher.kind == "fused":
            check_fused_teacher_run(config, key)
        if not student.supports_in_batch and candidates == "in_batch" and teacher.supports_in_batch:
            raise ParamsValueError(f"{key}.train.candidates: a {student.kind} student needs own candidates")
        # A cross-encoder teacher scores only each query's own candidates, so the student is restricted too.
        self.own = candidates == "own" or not teacher.supports_in_batch
        if config.normalize_teacher_layers is not None:
            if teacher.kind != "colbert":
                raise ParamsValueError(f"{key}.normalize_teacher_layers applies to ColBERT teachers; this one is a {teacher.kind}")
            teacher.config = dataclasses.replace(teacher.config, normalize_layers=config.normalize_teacher_layers)
        self.config, self.teacher = config, teacher
        self.terms = distill_terms(config)
        self.reads = reads(self.terms)
        if "tokens" in self.reads:  # VIRT
            if self.own:
                raise ParamsValueError(f"{key}.virt_weight: VIRT here needs a dual-encoder or ColBERT teacher with in-batch candidates")
            if student.tokenizer.get_vocab() != teacher.tokenizer.get_vocab():
                raise ParamsValueError(f"{key}.virt_weight: VIRT compares token positions, so student and teacher need one "
                                 "tokenizer (LEAD's score-level terms do not)")
        self.selector = None
        if "layers" in self.reads:
            self.selector = LayerSelector(config.selection, config.layers, student.num_layers, teacher.num_layers,
                                          config.resample_every, seed, config.student_layers, config.teacher_layers, key)
        self.trainables = {"student": student}
        self.frozen, self.learning_rates = {}, {}
        if config.teacher_trainable:
            self.trainables["teacher"] = teacher
            if config.teacher_lr is not None:
                self.learning_rates["teacher"] = config.teacher_lr
        elif "teacher" in self.reads and self.score_file is None:  # NLL only: no teacher is run nor tokenized for
            self.frozen["teacher"] = teacher
        if "entry_student" in self.reads:
            # A copy made before the Trainer resumes anything: always the student this run started from.
            self.frozen["entry_student"] = copy.deepcopy(student).requires_grad_(False)
            self.shares_tokens = frozenset({"entry_student"})  # it reads the student's tokens

    def loss(self, batch: TextBatch, models: dict[str, nn.Module], step: int):
        pairs = self.selector.pairs(step) if self.selector is not None else None
        tokens = "tokens" in self.reads
        student, student_encoded = candidate_scores(models["student"], batch, self.own, pairs.student if pairs else (),
                                                    tokens, role="student")
        inputs = Inputs(student.final, student.targets(self.own, batch.group_size), student_layers=student.layers)
        if "teacher" in self.reads and self.score_file is not None:
            inputs.teacher = self._file_scores(batch, student.final)
        elif "teacher" in self.reads:
            with contextlib.nullcontext() if self.config.teacher_trainable else torch.no_grad():
                teacher, teacher_encoded = candidate_scores(models.get("teacher", self.teacher), batch, self.own,
                                                            pairs.teacher if pairs else (), tokens, role="teacher")
            inputs.teacher, inputs.teacher_layers = teacher.final, teacher.layers
            if tokens:
                inputs.student_tokens = {"queries": student_encoded.queries, "passages": student_encoded.passages}
                inputs.teacher_tokens = {"queries": teacher_encoded.queries, "passages": teacher_encoded.passages}
        if pairs is not None:
            inputs.layer_pairs = (pairs.student, pairs.teacher)
        if "entry_student" in self.reads:
            inputs.entry_student = lambda: self._entry_scores(batch)
        total, logged = weighted_sum(self.terms, inputs)
        # In-batch: each rank computes the global loss with gradient only through its slice; DDP averages the
        # ranks' gradients, so the world size turns that average back into the global loss's gradient.
        return total * (1 if self.own else world_size()), logged

    def _file_scores(self, batch: TextBatch, like: torch.Tensor) -> torch.Tensor:
        """The score file's [Q, C] over the student's candidate set; unscored pairs at MASKED_SCORE."""
        qids = batch.qids if self.own or batch.global_qids is None else batch.global_qids
        pids = batch.pids if self.own or batch.global_pids is None else batch.global_pids
        matrix = torch.from_numpy(self.score_file.matrix(qids, pids, batch.group_size, self.own))
        scores = Scores(matrix.to(device=like.device, dtype=like.dtype))
        scores = scores.masked(scores.final.isnan())
        if not self.own and batch.accidental_positives is not None:
            scores = scores.masked(batch.accidental_positives)
        return scores.final

    @torch.no_grad()
    def _entry_scores(self, batch: TextBatch) -> torch.Tensor:
        # The copy has the student's tokenizer and input view: it reads the student's tokens.
        entry, _ = candidate_scores(self.frozen["entry_student"], batch, self.own, role="student")
        return entry.final
