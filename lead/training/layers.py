"""Which student layer learns from which teacher layer: LEAD's layer selection.

Layers are blocks 1..L (the embedding layer excluded). A selection pairs k sorted student layers
u_1 < ... < u_k with k sorted teacher layers t_1 < ... < t_k (the i-th with the i-th):

| strategy    | pairs                                                                                               |
|-------------|-----------------------------------------------------------------------------------------------------|
| random      | independent sorted random k-subsets of each model's blocks, re-drawn every ``resample_every`` steps |
| random_last | the last blocks always paired; the other k - 1 pairs drawn as ``random`` from the blocks below      |
| last        | the last k blocks of each (reference, 12 -> 6, k = 5: student 2..6 <-> teacher 8..12)               |
| skip        | student: its last k blocks; teacher: blocks 1, 1+s, 1+2s, ... with stride s = L_T // L_S            |
|             | (reference, 12 -> 6, k = 5: student 2..6 <-> teacher 1, 3, 5, 7, 9)                                 |
| fixed       | explicit ``student_layers`` and ``teacher_layers`` lists                                            |

Random draws are a pure function of (seed, step // resample_every), so a resumed run draws what an
uninterrupted one does, independent of the checkpoint interval (the reference re-drew at every checkpoint).
Under DDP the draw is made on rank 0 and broadcast, so every rank distils the same layers whatever its own
random state (the reference relied on identical Python RNG streams per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from lead.config import Params, as_dict
from lead.data.teacher_scores import check_score_file_run, is_score_file
from lead.errors import ParamsValueError
from lead.models.depth import planned_depth
from lead.models.fused import check_fused_teacher_run
from lead.pipeline import producer
from lead.training.distributed import broadcast_object

Strategy = Literal["random", "random_last", "last", "skip", "fixed"]


@dataclass(frozen=True)
class LayerPairs:
    student: tuple[int, ...]
    teacher: tuple[int, ...]


def resolve_k(k: int | str, student_depth: int, teacher_depth: int, key: str = "distill") -> int:
    """``k`` as a number: "all" is every student layer; more than either model's depth is an error."""
    if k == "all":
        k = min(student_depth, teacher_depth)
    if not isinstance(k, int) or not 1 <= k <= min(student_depth, teacher_depth):
        raise ParamsValueError(f"{key}.layers={k!r}: the student has {student_depth} layers and the teacher {teacher_depth}; "
                         f"choose 1..{min(student_depth, teacher_depth)} or 'all'")
    return k


class LayerSelector:
    def __init__(self, strategy: Strategy, k: int | str, student_depth: int, teacher_depth: int,
                 resample_every: int = 10, seed: int = 13, student_layers: Sequence[int] = (),
                 teacher_layers: Sequence[int] = (), key: str = "distill"):
        self.strategy, self.seed, self.key = strategy, seed, key  # key: the params key errors name
        self.student_depth, self.teacher_depth = student_depth, teacher_depth
        if resample_every < 1:
            raise ParamsValueError(f"{key}.resample_every must be >= 1, got {resample_every}")
        self.resample_every = resample_every
        if strategy == "fixed":
            self.fixed = self._check_fixed(student_layers, teacher_layers)
            self.k = len(self.fixed.student)
            return
        self.k = resolve_k(k, student_depth, teacher_depth, key)
        if strategy == "last":
            self.fixed = LayerPairs(_last(self.k, student_depth), _last(self.k, teacher_depth))
        elif strategy == "skip":
            stride = max(teacher_depth // student_depth, 1)  # 1 + (k-1) * stride <= teacher_depth since k <= L_S
            teacher = tuple(1 + i * stride for i in range(self.k))
            self.fixed = LayerPairs(_last(self.k, student_depth), teacher)
        elif strategy in ("random", "random_last"):
            self.fixed = None
        else:
            raise ParamsValueError(f"{key}.selection={strategy!r}: use random, random_last, last, skip or fixed")
        self._draw_index, self._drawn = None, None

    def _check_fixed(self, student: Sequence[int], teacher: Sequence[int]) -> LayerPairs:
        student, teacher = tuple(student), tuple(teacher)
        if not student or len(student) != len(teacher):
            raise ParamsValueError(f"{self.key}.selection=fixed needs student_layers and teacher_layers of the same non-zero "
                             f"length, got {list(student)} and {list(teacher)}")
        for name, layers, depth in (("student", student, self.student_depth), ("teacher", teacher, self.teacher_depth)):
            if any(not 1 <= layer <= depth for layer in layers):
                raise ParamsValueError(f"{self.key}.{name}_layers={list(layers)}: the {name} has layers 1..{depth}")
            if list(layers) != sorted(set(layers)):
                raise ParamsValueError(f"{self.key}.{name}_layers={list(layers)}: must be strictly increasing")
        return LayerPairs(student, teacher)

    def draw(self, index: int) -> LayerPairs:
        """The random selection of draw ``index`` (steps index*resample_every ...): sorted k-subsets; with
        ``random_last`` the last blocks are paired and k - 1 blocks are drawn from those below them."""
        rng = np.random.default_rng([self.seed, index])
        keep_last = self.strategy == "random_last"  # the last pair fixed, the rest drawn
        pairs = []
        for depth in (self.student_depth, self.teacher_depth):
            pool, count = (depth - 1, self.k - 1) if keep_last else (depth, self.k)
            blocks = sorted(int(x) + 1 for x in rng.choice(pool, count, replace=False))
            pairs.append(tuple(blocks + [depth] if keep_last else blocks))
        return LayerPairs(*pairs)

    def pairs(self, step: int) -> LayerPairs:
        if self.fixed is not None:
            return self.fixed
        index = step // self.resample_every
        if index != self._draw_index:  # one broadcast per draw, not per step
            self._drawn = broadcast_object(self.draw(index) if _rank() == 0 else None)
            self._draw_index = index
        return self._drawn


def _last(k: int, depth: int) -> tuple[int, ...]:
    return tuple(range(depth - k + 1, depth + 1))


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def check_run_layers(params: Params, name: str) -> None:
    """Refuse run ``name`` of distill_runs if its layer pairs cannot exist in its student and teacher, from params
    alone (lead.models.depth), before either model is loaded; a depth that cannot be told offline is left to the
    check when the models are loaded."""
    config, train = params.distill_run(name)
    if is_score_file(config.teacher):
        check_score_file_run(config, train.candidates, f"distill_runs.{name}")
    made = producer(as_dict(params), config.teacher)
    if made is not None and made[0].stage == "fuse":
        check_fused_teacher_run(config, f"distill_runs.{name}")
    if config.layer_weight <= 0 and config.virt_weight <= 0:  # no term pairs layers
        return
    student, teacher = planned_depth(params, config.student), planned_depth(params, config.teacher)
    if student is not None and teacher is not None:
        LayerSelector(config.selection, config.layers, student, teacher, config.resample_every, 0,
                      config.student_layers, config.teacher_layers, key=f"distill_runs.{name}")
