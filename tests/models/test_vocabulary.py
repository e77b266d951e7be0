"""The own-vocabulary student's WordPiece training: reproducible across processes, BERT's input format."""

from __future__ import annotations

import json
import subprocess
import sys

from lead.models.vocabulary import WORD_START, train_wordpiece

# Trains on the synthetic benchmark's words (tests/helpers.py) in a fresh interpreter and prints the vocabulary:
# the tokenizers library seeds its hash maps per process, which is where run-to-run differences came from.
TRAIN_IN_A_FRESH_PROCESS = """
import json, sys
from tests.helpers import wordpiece_bert_folder
from transformers import AutoTokenizer
folder = wordpiece_bert_folder(__import__("pathlib").Path(sys.argv[1]), vocab_size=300)
print(json.dumps(AutoTokenizer.from_pretrained(folder).get_vocab(), sort_keys=True))
"""


def test_the_vocabulary_is_the_same_in_every_process(tmp_path):
    vocabularies = [
        json.loads(subprocess.run([sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, str(tmp_path / str(run))],
                                  check=True, capture_output=True, text=True).stdout)
        for run in range(4)
    ]
    assert len(vocabularies[0]) == 300
    assert all(vocabulary == vocabularies[0] for vocabulary in vocabularies[1:])


def test_word_starts_are_marked_and_pairs_have_bert_segments():
    tokenizer = train_wordpiece(["hello world, the worlds are big"] * 3, 60)
    encoded = tokenizer("Hello worlds", "the big")
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 2
    assert f"{WORD_START}hello" in tokens and f"{WORD_START}the" in tokens  # lower-cased, word start marked
    assert encoded["token_type_ids"] == [0] * (tokens.index("[SEP]") + 1) + [1] * (len(tokens) - tokens.index("[SEP]") - 1)
    assert tokenizer.decode(encoded["input_ids"], skip_special_tokens=True) == "hello worlds the big"
    # A word the vocabulary lacks is split into pieces, the first one marked: nothing is lost to [UNK].
    pieces = tokenizer.tokenize("bigworld")
    assert pieces[0].startswith(WORD_START) and not any(p.startswith(WORD_START) for p in pieces[1:])
    assert "".join(pieces).replace(WORD_START, "") == "bigworld"
