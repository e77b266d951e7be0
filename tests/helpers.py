"""Tiny random models for tests: built in the test, never downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertModel

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
