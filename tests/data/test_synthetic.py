import re
from collections import Counter

import pytest

from lead.data.synthetic import (
    ATTRIBUTES,
    CONCEPTS,
    SyntheticBenchmark,
    SyntheticConfig,
    generate,
)

SMALL = dict(train_queries=30, dev_queries=10, test_queries=20, background_passages=10)


def files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    generate(SyntheticConfig(**SMALL), tmp_path / "a")
    generate(SyntheticConfig(**SMALL), tmp_path / "b")
    generate(SyntheticConfig(**SMALL, seed=14), tmp_path / "c")
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a")["collection.tsv"] != files(tmp_path / "c")["collection.tsv"]


def test_scale_multiplies_every_count(tmp_path):
    meta = generate(SyntheticConfig(**SMALL, scale=2), tmp_path)
    assert {s: v["queries"] for s, v in meta["splits"].items()} == {"train": 60, "dev": 20, "test": 40}
    assert meta["passages"] == 4 * 120 + 20  # four written passages per query plus the background
    assert len((tmp_path / "collection.tsv").read_text().splitlines()) == meta["passages"]


def test_test_split_is_graded_and_train_split_binary(tmp_path):
    generate(SyntheticConfig(**SMALL), tmp_path)
    test = [line.split() for line in (tmp_path / "qrels.test.tsv").read_text().splitlines()]
    grades_per_query = {}
    for qid, zero, pid, grade in test:
        grades_per_query.setdefault(qid, set()).add(int(grade))
    # every test query has its main passage (3), its split mention (2), a near miss (1), a judged scramble (0)
    assert all({0, 1, 2, 3} <= grades for grades in grades_per_query.values())
    train = [line.split() for line in (tmp_path / "qrels.train.tsv").read_text().splitlines()]
    assert {grade for *_, grade in train} == {"1"}
    assert len({qid for qid, *_ in train}) == 30


def test_judgments_follow_the_binding_of_concepts_to_one_person():
    bench = SyntheticBenchmark(SyntheticConfig(**SMALL)).build()
    for text, target in bench.queries["test"]:
        for index, grade in bench.judgments(target).items():
            people = bench.passages[index]
            shared = [sum(a == b for a, b in zip(m.person.concepts(), target.concepts())) for m in people]
            # every judged passage names all three query concepts (the hard negatives share the terms)
            for attribute, value in zip(ATTRIBUTES, target.concepts()):
                assert any(getattr(m.person, attribute) == value for m in people)
            if grade >= 2:
                assert 3 in shared
            elif grade == 1:
                assert max(shared) == 2
            else:
                assert max(shared) <= 1


def test_every_passage_holding_the_query_concepts_is_judged_and_partial_matches_only_on_request():
    """The rule as stated: the people of every passage that holds all three concepts are graded, and no other
    passage; partial_matches=True adds, as grade 1, passages lacking a concept where a person has the other two."""
    bench = SyntheticBenchmark(SyntheticConfig(**SMALL)).build()
    added = 0
    for _, target in bench.queries["test"]:
        judged, partial = bench.judgments(target), bench.judgments(target, partial_matches=True)
        for index, people in enumerate(bench.passages):  # every passage, not the generator's candidate sets
            holds = [any(getattr(m.person, a) == v for m in people) for a, v in zip(ATTRIBUTES, target.concepts())]
            best = max(sum(a == b for a, b in zip(m.person.concepts(), target.concepts())) for m in people)
            assert (index in judged) == all(holds), index
            if index in partial and index not in judged:
                assert partial[index] == 1 and best == 2 and sum(holds) == 2
                added += 1
            else:
                assert (index in partial) == (index in judged) and partial.get(index) == judged.get(index)
            if best == 2 and sum(holds) == 2:
                assert index in partial
    assert added > 0


def main_mention(bench, target):
    """The one-sentence description of the query's own target person (in its grade-3 passage)."""
    return next(
        m for i, g in bench.judgments(target).items() if g == 3 for m in bench.passages[i] if m.person == target
    )


def test_queries_paraphrase_their_passages():
    """With paraphrase_prob 0.7 most queries name the occupation in another form than the main passage."""
    def verbatim_share(paraphrase_prob):
        bench = SyntheticBenchmark(SyntheticConfig(**SMALL, paraphrase_prob=paraphrase_prob)).build()
        hits = 0
        for text, target in bench.queries["train"]:
            form = CONCEPTS["occ"][target.occ][main_mention(bench, target).forms["occ"]]
            hits += re.search(rf"\b{re.escape(form)}\b", text, re.IGNORECASE) is not None
        return hits / len(bench.queries["train"])

    assert verbatim_share(0.7) < 0.6
    assert verbatim_share(0.0) == 1.0


def test_word_overlap_alone_does_not_find_the_answer(tmp_path):
    """Ranking by shared words puts a trap (grade <= 1) at the top for a large share of test queries."""
    generate(SyntheticConfig(**SMALL), tmp_path)
    passages = dict(line.split("\t", 1) for line in (tmp_path / "collection.tsv").read_text().splitlines())
    queries = dict(line.split("\t", 1) for line in (tmp_path / "queries.test.tsv").read_text().splitlines())
    grades = {}
    for qid, _, pid, grade in (line.split() for line in (tmp_path / "qrels.test.tsv").read_text().splitlines()):
        grades.setdefault(qid, {})[pid] = int(grade)
    words = lambda s: Counter(re.findall(r"\w+", s.lower()))
    trapped = 0
    for qid, text in queries.items():
        q = words(text)
        best = max(passages, key=lambda pid: sum(min(c, words(passages[pid])[w]) for w, c in q.items()))
        trapped += grades[qid].get(best, 0) < 2
    assert trapped >= 0.3 * len(queries)


def test_too_large_a_scale_is_refused():
    with pytest.raises(ValueError, match=r"data\.synthetic\.scale=1000: 420000 queries for .* lower the scale"):
        SyntheticBenchmark(SyntheticConfig(scale=1000)).build()
