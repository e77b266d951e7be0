"""Stage divide@<name>: PROD's data division (spec B.9; params divide.<name>).

    python -m stages.divide <name>

The student (divide.<name>.student) retrieves its top `depth` for every training query, the teacher re-ranks
those candidates, and the queries the rule keeps (by default: the student puts the first positive 2nd-15th,
the teacher 1st) are written to data/divided/<name>/train.jsonl with the student's top `keep` non-positives
in rank order; data/divided/<name>/division.json holds the counts.
"""

from __future__ import annotations

import logging

from lead.data.examples import read_training_file, write_training_file
from lead.data.prepared import PreparedData
from lead.errors import ConfigError, ParamsValueError, as_command
from lead.io import write_json
from lead.models.dual_encoder import DualEncoder
from lead.models.factory import inference_device, load_scorer
from lead.pipeline import PREPARED, family
from lead.retrieval.division import divide_training_set
from stages.common import pick, stage_args

log = logging.getLogger("stages.divide")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, "name", argv=argv)
    config = pick(params.divide, args.name, "divide", args.params)
    key = f"divide.{args.name}"  # its student and teacher are checked when params.yaml is read
    device = inference_device()
    student, teacher = load_scorer(config.student, device), load_scorer(config.teacher, device)
    if not isinstance(student, DualEncoder):
        raise ConfigError(f"{key}.student", f"{config.student} is a {student.kind} model; it must retrieve (a dual encoder)", args.params)
    examples = list(read_training_file(f"{PREPARED}/train.jsonl"))
    divided, stats = divide_training_set(student, teacher, PreparedData(PREPARED), examples, config, params.eval.batch_size,
                                          search=params.eval)
    if not divided:
        raise ParamsValueError(f"{key}: the rule kept no training query ({stats}); widen student_max or depth")
    stage = family("divide")
    write_training_file(stage.path("training_file", args.name), divided)
    write_json(stage.path("stats", args.name), stats)
    log.info("%s: kept %d of %d training queries (%s)", key, len(divided), len(examples), stats)


if __name__ == "__main__":
    as_command(main)
