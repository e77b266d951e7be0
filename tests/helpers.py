"""Tiny random models for tests: built in the test, never downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from lead.data.synthetic import (
    CITIES,
    FIRST_NAMES,
    FULL_TEMPLATES,
    HOBBIES,
    LAST_NAMES,
    OCCUPATIONS,
    QUERY_TEMPLATES,
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
