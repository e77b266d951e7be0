"""Tiny random models for tests: built in the test, never downloaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from lead.config import DataConfig
from lead.data.examples import PassageStore, QueryExample, examples_from_qrels
from lead.data.prepared import PreparedData, prepare
from lead.data.synthetic import (
    CITIES,
    FIRST_NAMES,
    FULL_TEMPLATES,
    HOBBIES,
    LAST_NAMES,
    OCCUPATIONS,
    QUERY_TEMPLATES,
    SyntheticConfig,
)
from lead.models.pretrained import load_tokenizer


def tiny_bert_folder(folder: Path, layers: int = 4, hidden: int = 32, seed: int = 0) -> Path:
    """Save a random BERT with the packaged MiniLM's tokenizer (offline) into ``folder``."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    load_tokenizer("packaged:all-MiniLM-L6-v2").save_pretrained(folder)
    return folder


def wordpiece_bert_folder(folder: Path, hidden: int = 48, layers: int = 2, vocab_size: int = 400, seed: int = 0) -> Path:
    """A tiny random BERT with its own WordPiece vocabulary (trained here on the synthetic benchmark's words).

    Its vocabulary has no ``[unused0]``/``[unused1]`` and its ids mean other words than MiniLM's.
    """
    from lead.models.vocabulary import train_wordpiece

    words = [" ".join(forms) for forms in OCCUPATIONS + HOBBIES + CITIES]
    texts = words + FULL_TEMPLATES + QUERY_TEMPLATES + [" ".join(FIRST_NAMES), " ".join(LAST_NAMES)]
    texts += ["? , . ; ! which who find"]
    tokenizer = train_wordpiece(texts, vocab_size)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass(frozen=True)
class TrainingData:
    """A prepared benchmark's training side, as a training run reads it."""

    folder: Path
    prepared: PreparedData
    examples: list[QueryExample]
    store: PassageStore
    queries: dict[str, str]  # training qid -> text

    @classmethod
    def read(cls, folder: str | Path) -> TrainingData:
        folder = Path(folder)
        prepared = PreparedData(folder)
        train = prepared.queries("train")
        return cls(folder, prepared, examples_from_qrels(train, prepared.qrels("train")),
                   PassageStore(folder / "collection.tsv"), {q.qid: q.text for q in train})


def synthetic_training_data(folder: Path, train_queries: int = 20, held_out: int = 5) -> TrainingData:
    """Prepare a small synthetic benchmark into ``folder`` (``held_out`` dev and as many test queries)."""
    synthetic = SyntheticConfig(train_queries=train_queries, dev_queries=held_out, test_queries=held_out,
                                background_passages=5)
    prepare(DataConfig(synthetic=synthetic), folder)
    return TrainingData.read(folder)


@dataclass(frozen=True)
class TinySetup:
    """A test module's shared fixture: its training data and its tiny model folders by role."""

    data: TrainingData
    folders: dict[str, str] = field(default_factory=dict)
