"""LEAD's response term: KL between the final score distributions of teacher and student, both ways.

| input                  | shape  | meaning                                                                |
|------------------------|--------|------------------------------------------------------------------------|
| student                | [Q, C] | the student's final scores over the candidate set                      |
| teacher                | [Q, C] | the teacher's final scores over the same candidates (same column order) |
| temperature            | float  | tau: divides the *target* side only (the reference; no tau^2 factor)   |
| reverse                | bool   | add KL(P_tau(student) || P(teacher)): only when the teacher is trained  |
| detach_teacher_targets | bool   | stop the gradient through the teacher's target distribution             |

forward = mean_i KL(softmax(t_i / tau) || softmax(s_i))        (teaches the student)
reverse = mean_i KL(softmax(s_i / tau) || softmax(t_i))        (pulls a jointly trained teacher)

Nothing is detached by default: in LEAD the teacher also gets gradient through its targets (spec A.6).
Returns (forward, reverse); reverse is a zero tensor when not asked for.
"""

from __future__ import annotations

import torch

from lead.losses.kl import kl_divergence


def response_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0, reverse: bool = True,
                detach_teacher_targets: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    target = teacher.detach() if detach_teacher_targets else teacher
    forward = kl_divergence(target, student, target_temperature=temperature)
    backward = kl_divergence(student, teacher, target_temperature=temperature) if reverse else forward.new_zeros(())
    return forward, backward
