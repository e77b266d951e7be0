"""A new WordPiece vocabulary for a model: LEAD's "liberal" claim made real (spec decision 1).

``train_wordpiece`` trains a WordPiece tokenizer (BERT's normaliser and pre-tokenizer, lower-cased,
``[CLS] a [SEP] b [SEP]``, word starts marked as SentencePiece does) with the ``tokenizers`` library on any texts, e.g. the prepared collection and training queries. ``adopt_vocabulary``
gives a pretrained encoder that tokenizer: its transformer blocks and position embeddings are kept, its word
embeddings are replaced by a freshly initialised matrix of the new size (no id means the same word as
before). A student built this way shares nothing with a MiniLM teacher's vocabulary; LEAD still distils
between them because the two meet only in score matrices aligned by passage id.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from lead.errors import ParamsValueError

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORD_START = "\u2581"  # marks the first piece of a word, as SentencePiece does


def train_wordpiece(texts: Iterable[str], vocab_size: int):
    """A fast BERT tokenizer with a WordPiece vocabulary of at most ``vocab_size`` entries learnt from ``texts``."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    smallest = len(SPECIALS) + 26  # the specials and one entry per letter
    if vocab_size < smallest:
        raise ParamsValueError(f"vocabulary_size={vocab_size} is too small for a WordPiece vocabulary (at least {smallest})")
    # Word starts are marked ("▁the"), not continuations ("##e"): the tokenizers trainer numbers "##" pieces
    # in hash-map order and breaks count ties by those numbers, so a "##" vocabulary differs from run to run
    # (huggingface/tokenizers#1794); every piece drawn from the sorted alphabet keeps training reproducible.
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix=""))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Metaspace(WORD_START, prepend_scheme="always", split=False)])
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, continuing_subword_prefix="")
    tok.train_from_iterator(texts, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.Metaspace(WORD_START, prepend_scheme="always", split=False)
    # The generic fast tokenizer keeps this pipeline when saved and loaded again; a BertTokenizerFast would be
    # rebuilt on loading from the vocabulary alone, with "##" continuations and no word-start marks.
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                   cls_token="[CLS]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def adopt_vocabulary(encoder: nn.Module, tokenizer) -> nn.Module:
    """``encoder`` with new word embeddings sized for ``tokenizer`` (normal init, as the architecture does)."""
    old = encoder.get_input_embeddings()
    std = getattr(encoder.config, "initializer_range", 0.02)
    new = nn.Embedding(len(tokenizer), old.embedding_dim, padding_idx=tokenizer.pad_token_id)
    with torch.no_grad():
        new.weight.normal_(0.0, std)
        new.weight[tokenizer.pad_token_id].zero_()
    encoder.set_input_embeddings(new)
    encoder.config.vocab_size = len(tokenizer)
    encoder.config.pad_token_id = tokenizer.pad_token_id
    return encoder
