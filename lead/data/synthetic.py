"""The embedded benchmark: a seeded generator of a passage-retrieval task that needs more than word overlap.

World. People have three attributes: an occupation, a city and a hobby, each a *concept* with three surface
forms (synonyms or paraphrases: "physician" / "doctor" / "medical practitioner", "Oslo" / "the Norwegian
capital" / "the capital of Norway"). A passage describes two or three people.

Queries. Each query names one target person's three concepts, mostly in *other* surface forms than the
passages use ("which medic in the capital of Norway is into stargazing?"). It must be answered by the person
who has all three attributes *at once*: the binding, not the bag of words.

Passages written for each target:

| kind      | what it holds                                                                 | grade |
|-----------|-------------------------------------------------------------------------------|-------|
| main      | the target described in one sentence, plus another person                     | 3     |
| split     | the target's occupation and city in one sentence, hobby in a later one, joined only by the name, among two other people | 2 |
| near-miss | a person with two of the three concepts; the third belongs to someone else     | 1     |
| scramble  | three people each holding exactly one of the three concepts                  | 0 (judged) |

Plus background passages of random people. Judgments are computed from the passages' people, not from how
they were written, over every passage that holds all three of the query's concepts (the passages a bag of
words cannot tell apart), so an accidental match elsewhere is judged too: grade 3 = a person with all three
concepts stated in one sentence, 2 = all three across sentences, 1 = a person with exactly two (a near miss:
the third concept is in the passage, bound to someone else), 0 = no person with two. A passage that lacks one
of the concepts altogether is not judged, even where a person in it has the other two (``judgments(...,
partial_matches=True)`` judges those as grade 1 too; BENCHMARKS.md shows what that does to graded NDCG).
The near-miss and scramble passages hold every query concept, often in the query's own words, so lexical
overlap ranks them high; training and dev judgments are binary (grade >= 2), the test split keeps the grades
(TREC DL style, binary threshold 2).

Files (MS MARCO layouts): ``collection.tsv`` (pid, text), ``queries.{train,dev,test}.tsv`` (qid, text),
``qrels.{train,dev,test}.tsv`` (``qid 0 pid grade``), and ``meta.json``.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from lead.config import SyntheticConfig
from lead.errors import ParamsValueError
from lead.io import atomic_open, write_json

GENERATOR_VERSION = 1

OCCUPATIONS = [
    ["physician", "doctor", "medical practitioner"],
    ["lawyer", "attorney", "legal counsel"],
    ["teacher", "schoolteacher", "educator"],
    ["chef", "cook", "head of a restaurant kitchen"],
    ["pilot", "aviator", "airline captain"],
    ["nurse", "hospital caregiver", "ward sister"],
    ["carpenter", "woodworker", "joiner"],
    ["plumber", "pipe fitter", "drain specialist"],
    ["journalist", "reporter", "news correspondent"],
    ["farmer", "agriculturist", "crop grower"],
    ["baker", "pastry cook", "bread maker"],
    ["dentist", "dental surgeon", "tooth specialist"],
    ["architect", "building designer", "structural planner"],
    ["electrician", "wiring technician", "electrical fitter"],
    ["librarian", "archivist", "keeper of books"],
    ["mechanic", "auto technician", "car repairer"],
    ["accountant", "bookkeeper", "auditor"],
    ["firefighter", "fireman", "fire brigade officer"],
    ["police officer", "cop", "constable"],
    ["pharmacist", "chemist", "druggist"],
    ["veterinarian", "vet", "animal surgeon"],
    ["software developer", "programmer", "coder"],
    ["biologist", "life scientist", "biology researcher"],
    ["translator", "interpreter", "language specialist"],
    ["barber", "hairdresser", "hair stylist"],
    ["tailor", "dressmaker", "seamstress"],
    ["fisherman", "trawlerman", "commercial fisher"],
    ["sailor", "seaman", "mariner"],
    ["banker", "financier", "investment manager"],
    ["judge", "magistrate", "justice of the court"],
    ["surgeon", "surgical specialist", "operating theatre doctor"],
    ["economist", "market analyst", "economic adviser"],
    ["florist", "flower seller", "bouquet arranger"],
    ["butcher", "meat cutter", "slaughterman"],
]

HOBBIES = [
    ["chess", "playing chess", "the royal game"],
    ["gardening", "growing vegetables", "tending flower beds"],
    ["hiking", "trekking", "mountain walks"],
    ["cycling", "bike riding", "riding bicycles"],
    ["swimming", "doing laps in the pool", "open-water swims"],
    ["painting", "watercolours", "oil canvases"],
    ["photography", "taking pictures", "shooting with a camera"],
    ["knitting", "needlework", "making woollen scarves"],
    ["fishing", "angling", "casting a line at the lake"],
    ["birdwatching", "birding", "spotting rare birds"],
    ["running", "jogging", "marathon training"],
    ["yoga", "meditative stretching", "sun salutations"],
    ["dancing", "salsa nights", "ballroom steps"],
    ["singing", "choir practice", "vocal performance"],
    ["playing guitar", "strumming a six-string", "guitar lessons"],
    ["playing piano", "the keyboard", "piano recitals"],
    ["pottery", "ceramics", "throwing clay on a wheel"],
    ["surfing", "riding waves", "board sports at the beach"],
    ["skiing", "downhill slopes", "winter alpine sports"],
    ["rock climbing", "bouldering", "scaling cliffs"],
    ["reading novels", "fiction", "literature"],
    ["writing poetry", "verse", "composing poems"],
    ["astronomy", "stargazing", "watching the night sky"],
    ["tennis", "racket sports", "matches on clay courts"],
    ["golf", "the links", "putting greens"],
    ["camping", "sleeping under canvas", "tent trips"],
    ["kayaking", "paddling", "canoe trips"],
    ["stamp collecting", "philately", "collecting postage stamps"],
    ["crossword puzzles", "word games", "solving puzzles"],
    ["calligraphy", "ornamental handwriting", "brush lettering"],
    ["beekeeping", "apiculture", "tending hives"],
    ["archery", "bow shooting", "target arrows"],
    ["horse riding", "equestrian sport", "riding ponies"],
    ["cooking curries", "spicy food", "making curry"],
]

# (city, adjective, country): forms are the name, "the <adjective> capital", "the capital of <country>".
_CAPITALS = [
    ("Lisbon", "Portuguese", "Portugal"), ("Oslo", "Norwegian", "Norway"), ("Paris", "French", "France"),
    ("Rome", "Italian", "Italy"), ("Tokyo", "Japanese", "Japan"), ("Cairo", "Egyptian", "Egypt"),
    ("Berlin", "German", "Germany"), ("Madrid", "Spanish", "Spain"), ("Dublin", "Irish", "Ireland"),
    ("Vienna", "Austrian", "Austria"), ("Athens", "Greek", "Greece"), ("Warsaw", "Polish", "Poland"),
    ("Prague", "Czech", "Czechia"), ("Budapest", "Hungarian", "Hungary"), ("Stockholm", "Swedish", "Sweden"),
    ("Helsinki", "Finnish", "Finland"), ("Copenhagen", "Danish", "Denmark"), ("Amsterdam", "Dutch", "the Netherlands"),
    ("Brussels", "Belgian", "Belgium"), ("Ottawa", "Canadian", "Canada"), ("Canberra", "Australian", "Australia"),
    ("Nairobi", "Kenyan", "Kenya"), ("Lima", "Peruvian", "Peru"), ("Santiago", "Chilean", "Chile"),
    ("Bogota", "Colombian", "Colombia"), ("Seoul", "South Korean", "South Korea"), ("Bangkok", "Thai", "Thailand"),
    ("Hanoi", "Vietnamese", "Vietnam"), ("Manila", "Philippine", "the Philippines"), ("Ankara", "Turkish", "Turkey"),
    ("Reykjavik", "Icelandic", "Iceland"), ("Wellington", "New Zealand", "New Zealand"),
    ("Buenos Aires", "Argentine", "Argentina"), ("Havana", "Cuban", "Cuba"),
]
CITIES = [[city, f"the {adjective} capital", f"the capital of {country}"] for city, adjective, country in _CAPITALS]

FIRST_NAMES = (
    "Maria Tom Aiko Lars Fatima Diego Elena Kwame Sofia Jonas Priya Mateo Ingrid Omar Chloe Viktor Amara Hugo "
    "Lena Rafael Yuki Nadia Felix Zara Emil Ines Tariq Greta Leon Mira Pablo Anya Kofi Clara Ravi Ida"
).split()
LAST_NAMES = (
    "Lopez Chen Tanaka Berg Haddad Romero Petrova Mensah Rossi Weber Sharma Silva Nilsson Farouk Martin Novak "
    "Okafor Dubois Keller Costa Sato Ivanova Brandt Ali Lund Moreau Rahman Fischer Meyer Kaur Ortiz Volkova "
    "Boateng Laurent Iyer Holm"
).split()

# A full description of one person in one sentence.
FULL_TEMPLATES = [
    "{name} is a {occ} who lives in {city} and enjoys {hobby}.",
    "{name}, a {occ} from {city}, spends most weekends on {hobby}.",
    "Based in {city}, {name} works as a {occ} and is passionate about {hobby}.",
    "{name} has worked as a {occ} in {city} for years and loves {hobby}.",
    "In {city}, the {occ} {name} is known for a fondness for {hobby}.",
    "{name} earns a living as a {occ} in {city}; free evenings go to {hobby}.",
]
# Occupation and city first; the hobby in a later sentence, joined to the person only by the name.
SPLIT_FIRST = [
    "{name} works as a {occ} in {city}.",
    "{name} is a {occ} living in {city}.",
    "Locals in {city} know {name} as a {occ}.",
]
SPLIT_SECOND = [
    "Outside work, {name} enjoys {hobby}.",
    "Friends say {name} never misses a chance for {hobby}.",
    "{name} has recently taken up {hobby}.",
]
QUERY_TEMPLATES = [
    "which {occ} in {city} enjoys {hobby}?",
    "{occ} living in {city} who is into {hobby}",
    "find the {occ} from {city} whose hobby is {hobby}",
    "who works as a {occ} in {city} and likes {hobby}?",
    "a {hobby} enthusiast employed as a {occ} in {city}",
    "{occ} based in {city} who spends free time on {hobby}",
]
CONCEPTS = {"occ": OCCUPATIONS, "city": CITIES, "hobby": HOBBIES}
ATTRIBUTES = ("occ", "city", "hobby")


def _articles(text: str) -> str:
    """'a attorney' -> 'an attorney'."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


class Person(NamedTuple):
    name: str
    occ: int
    city: int
    hobby: int

    def concepts(self) -> tuple[int, int, int]:
        return (self.occ, self.city, self.hobby)


@dataclass
class Mention:
    """A person inside a passage, with the surface form used for each concept and how it was written."""

    person: Person
    forms: dict[str, int]
    split: bool = False


class SyntheticBenchmark:
    """Build the benchmark in memory; ``write(folder)`` saves it in MS MARCO layouts."""

    def __init__(self, config: SyntheticConfig):
        self.config = config
        self.rng = random.Random(config.seed)
        self.passages: list[list[Mention]] = []
        self.queries: dict[str, list[tuple[str, Person]]] = {}

    # -- people and sentences ---------------------------------------------------------------------------
    def _name(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def _random_person(self) -> Person:
        return Person(self._name(), *(self.rng.randrange(len(CONCEPTS[a])) for a in ATTRIBUTES))

    def _variant(self, target: Person, keep: set[str]) -> Person:
        """A person who shares exactly the concepts in ``keep`` with ``target``."""
        values = {}
        for attribute, value in zip(ATTRIBUTES, target.concepts()):
            if attribute in keep:
                values[attribute] = value
            else:
                values[attribute] = self.rng.choice([v for v in range(len(CONCEPTS[attribute])) if v != value])
        return Person(self._name(), values["occ"], values["city"], values["hobby"])

    def _mention(self, person: Person, split: bool = False) -> Mention:
        return Mention(person, {a: self.rng.randrange(3) for a in ATTRIBUTES}, split)

    def _render(self, mentions: list[Mention]) -> str:
        sentences, later = [], []
        for m in mentions:
            words = {a: CONCEPTS[a][getattr(m.person, a)][m.forms[a]] for a in ATTRIBUTES}
            if m.split:
                sentences.append(self.rng.choice(SPLIT_FIRST).format(name=m.person.name, **words))
                later.append(self.rng.choice(SPLIT_SECOND).format(name=m.person.name, **words))
            else:
                sentences.append(self.rng.choice(FULL_TEMPLATES).format(name=m.person.name, **words))
        text = _articles(" ".join(sentences + later))
        return text[0].upper() + text[1:]

    # -- the benchmark ----------------------------------------------------------------------------------
    def build(self) -> "SyntheticBenchmark":
        c = self.config
        n_targets = {"train": c.count(c.train_queries), "dev": c.count(c.dev_queries), "test": c.count(c.test_queries)}
        total = sum(n_targets.values())
        space = len(OCCUPATIONS) * len(CITIES) * len(HOBBIES)
        if total > space // 4:
            raise ParamsValueError(f"data.synthetic.scale={c.scale}: {total} queries for {space} attribute triples is too "
                                   f"many (at most {space // 4}); lower the scale or the query counts")
        triples: set[tuple[int, int, int]] = set()
        for split, count in n_targets.items():
            self.queries[split] = []
            while len(self.queries[split]) < count:
                target = self._random_person()
                if target.concepts() in triples:
                    continue
                triples.add(target.concepts())
                main = self._mention(target)
                self._add_target_passages(target, main)
                self.queries[split].append(self._query(target, main))
        for _ in range(c.count(c.background_passages)):
            self.passages.append([self._mention(self._random_person()) for _ in range(self.rng.choice((2, 3)))])
        self.rng.shuffle(self.passages)
        return self

    def _add_target_passages(self, target: Person, main: Mention) -> None:
        rng = self.rng
        self.passages.append(rng.sample([main, self._mention(self._random_person())], 2))
        split = [self._mention(self._random_person()) for _ in range(2)]
        split.insert(rng.randrange(1, 3), self._mention(target, split=True))
        self.passages.append(split)
        # Near miss: two concepts bound to one person, the third to another; every query concept is present.
        missing = rng.choice(ATTRIBUTES)
        near = self._variant(target, set(ATTRIBUTES) - {missing})
        holder = self._variant(target, {missing})
        self.passages.append(rng.sample([self._mention(near), self._mention(holder)], 2))
        # Scramble: each person holds exactly one query concept.
        self.passages.append([self._mention(self._variant(target, {a})) for a in rng.sample(ATTRIBUTES, 3)])

    def _query(self, target: Person, main: Mention) -> tuple[str, Person]:
        words = {}
        for attribute in ATTRIBUTES:
            form = main.forms[attribute]
            if self.rng.random() < self.config.paraphrase_prob:
                form = self.rng.choice([f for f in range(3) if f != form])
            words[attribute] = CONCEPTS[attribute][getattr(target, attribute)][form]
        return _articles(self.rng.choice(QUERY_TEMPLATES).format(**words)), target

    def judgments(self, target: Person, partial_matches: bool = False) -> dict[int, int]:
        """Passage index -> grade for one target, from the people in every passage that holds all three of its
        concepts (every such passage is judged); ``partial_matches``: also grade 1 for every other passage in
        which a person has two of them."""
        grades = {}
        holding_all = self._candidates(target)
        for index in self._candidates(target, 2) if partial_matches else holding_all:
            best = 0
            for m in self.passages[index]:
                shared = sum(a == b for a, b in zip(m.person.concepts(), target.concepts()))
                grade = (2 if m.split else 3) if shared == 3 else (1 if shared == 2 else 0)
                best = max(best, grade)
            if best or index in holding_all:  # a partial match is judged only where it is one (grade 1)
                grades[index] = best
        return grades

    def _candidates(self, target: Person, concepts: int = 3) -> set[int]:
        """Passages holding at least ``concepts`` of the three concepts of ``target`` (3: the traps and the
        relevant passages; a grade 1 needs two)."""
        if not hasattr(self, "_by_concept"):
            self._by_concept = defaultdict(set)
            for index, mentions in enumerate(self.passages):
                for m in mentions:
                    for attribute, value in zip(ATTRIBUTES, m.person.concepts()):
                        self._by_concept[attribute, value].add(index)
        sets = [self._by_concept[a, v] for a, v in zip(ATTRIBUTES, target.concepts())]
        if concepts == 3:
            return set.intersection(*sets)
        return (sets[0] & sets[1]) | (sets[0] & sets[2]) | (sets[1] & sets[2])

    # -- files ------------------------------------------------------------------------------------------
    def write(self, folder: str | Path) -> dict:
        folder = Path(folder)
        with atomic_open(folder / "collection.tsv") as out:
            for pid, mentions in enumerate(self.passages):
                out.write(f"{pid}\t{self._render(mentions)}\n")
        first_qid = {"train": 1, "dev": 100_001, "test": 200_001}
        stats = {}
        for split, queries in self.queries.items():
            graded = split == "test"
            n_judged = 0
            with atomic_open(folder / f"queries.{split}.tsv") as q_out, atomic_open(folder / f"qrels.{split}.tsv") as r_out:
                for offset, (text, target) in enumerate(queries):
                    qid = first_qid[split] + offset
                    q_out.write(f"{qid}\t{text}\n")
                    for pid, grade in sorted(self.judgments(target).items()):
                        if graded:
                            r_out.write(f"{qid} 0 {pid} {grade}\n")
                        elif grade >= 2:
                            r_out.write(f"{qid} 0 {pid} 1\n")
                        else:
                            continue
                        n_judged += 1
            stats[split] = {"queries": len(queries), "judgments": n_judged}
        meta = {
            "generator": "lead.data.synthetic",
            "version": GENERATOR_VERSION,
            "config": asdict(self.config),
            "passages": len(self.passages),
            "splits": stats,
            "rel_threshold": 2,
        }
        write_json(folder / "meta.json", meta)
        return meta


def generate(config: SyntheticConfig, folder: str | Path) -> dict:
    """Generate the benchmark described by ``config`` into ``folder``; returns its meta data."""
    return SyntheticBenchmark(config).build().write(folder)
