"""Stage divide: PROD's data division (spec B.9; params divide).

    python -m stages.divide

The student (divide.student) retrieves its top divide.depth for every training query, the teacher
(divide.teacher) re-ranks those candidates, and the queries the rule keeps (by default: the student puts the
first positive 2nd-15th, the teacher 1st) are written to data/divided/train.jsonl with the student's top
divide.keep non-positives in rank order; data/divided/division.json holds the counts.
"""

from __future__ import annotations

import logging

from lead.data.examples import read_training_file, write_training_file
from lead.data.prepared import PreparedData
from lead.io import write_json
from lead.models.dual_encoder import DualEncoder
from lead.models.factory import load_scorer
from lead.retrieval.division import divide_training_set
from stages.common import stage_args

log = logging.getLogger("stages.divide")


def main(argv: list[str] | None = None) -> None:
    args, params = stage_args(__doc__, argv=argv)
    config = params.divide
    for role in ("student", "teacher"):
        if not getattr(config, role):
            raise SystemExit(f"{args.params}: divide.{role}: missing (name the model folder)")
    student, teacher = load_scorer(config.student), load_scorer(config.teacher)
    if not isinstance(student, DualEncoder):
        raise SystemExit(f"{args.params}: divide.student: {config.student} is a {student.kind} model; it must retrieve (a dual encoder)")
    examples = list(read_training_file("data/prepared/train.jsonl"))
    divided, stats = divide_training_set(student, teacher, PreparedData("data/prepared"), examples, config, params.eval.batch_size)
    if not divided:
        raise SystemExit(f"divide: the rule kept no training query ({stats}); widen divide.student_max or divide.depth")
    write_training_file("data/divided/train.jsonl", divided)
    write_json("data/divided/division.json", stats)
    log.info("divided: kept %d of %d training queries (%s)", len(divided), len(examples), stats)


if __name__ == "__main__":
    main()
