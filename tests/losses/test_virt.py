"""VIRT's token-interaction maps on worked examples, position alignment of ColBERT's plain view, and the
method's guards (one tokenizer; no cross-encoder teacher)."""

from __future__ import annotations

import math

import pytest
import torch

from lead.losses.virt import interaction_maps, virt_loss

LN3 = math.log(3)


def test_interaction_map_is_a_softmax_over_real_passage_tokens():
    q = torch.tensor([[[1.0, 0.0]]])  # one query token
    p = torch.tensor([[[LN3, 0.0], [0.0, 0.0], [50.0, 0.0]]])  # the third passage token is padding
    maps = interaction_maps(q, p, torch.tensor([[1, 1, 0]]))
    assert maps.shape == (1, 1, 1, 3)
    assert maps[0, 0, 0].tolist() == pytest.approx([0.75, 0.25, 0.0])


def test_virt_loss_worked_example_ignores_padded_query_rows_and_crops_to_the_common_length():
    p = torch.tensor([[[[LN3, 0.0], [0.0, 0.0]]]])  # [P=1, k=1, L=2, H=2]
    p_mask = torch.tensor([[1, 1]])
    student_q = torch.tensor([[[[1.0, 0.0], [9.0, 9.0]]]])  # row 2 is padding: it must not count
    teacher_q = torch.tensor([[[[0.0, 0.0], [-9.0, 3.0]]]])
    q_mask = torch.tensor([[1, 0]])
    # student row [3/4, 1/4] vs teacher row [1/2, 1/2]: (1/4)^2 + (1/4)^2 = 1/8, over k * Q * P = 1
    assert virt_loss(student_q, q_mask, p, p_mask, teacher_q, q_mask, p, p_mask).item() == pytest.approx(0.125)
    # a teacher with a longer passage (an extra real token) is compared on the common prefix only
    longer = torch.cat([p, torch.full((1, 1, 1, 2), 7.0)], 2)
    value = virt_loss(student_q, q_mask, p, p_mask, teacher_q, q_mask, longer, torch.tensor([[1, 1, 1]]))
    assert value.item() == pytest.approx(0.125)


def test_colbert_plain_view_drops_the_marker_and_aligns_with_the_dual_encoder(tmp_path):
    from lead.config import ScorerConfig
    from lead.models.factory import build_scorer
    from tests.helpers import tiny_bert_folder

    folder = str(tiny_bert_folder(tmp_path / "tiny", layers=2, hidden=32))
    colbert = build_scorer(ScorerConfig(kind="colbert", name=folder, query_max_length=12)).eval()
    de = build_scorer(ScorerConfig(kind="de", name=folder, query_max_length=12)).eval()
    c_tokens = colbert.tokenize_queries(["which medic lives in oslo"])
    d_tokens = de.tokenize_queries(["which medic lives in oslo"])
    with torch.no_grad():
        encoded = colbert._encode(dict(c_tokens), layers=[2], token_states=True)
        hidden = colbert.encoder(**c_tokens, output_hidden_states=True).hidden_states[2]
    n = d_tokens["input_ids"].shape[1]
    plain_ids = torch.cat([c_tokens["input_ids"][:, :1], c_tokens["input_ids"][:, 2:]], 1)
    assert torch.equal(plain_ids[:, :n], d_tokens["input_ids"])  # same tokens at the same positions
    assert encoded["token_layers"].shape == (1, 1, c_tokens["input_ids"].shape[1] - 1, 32)
    assert torch.equal(encoded["token_layers"][:, 0, 1:], hidden[:, 2:])  # position 1 (the marker) is gone


def test_the_method_needs_one_tokenizer_and_an_in_batch_teacher(tmp_path):
    from lead.config import DistillConfig, ScorerConfig
    from lead.models.factory import build_scorer
    from lead.training.distill import Distill
    from tests.helpers import tiny_bert_folder, wordpiece_bert_folder

    folder = str(tiny_bert_folder(tmp_path / "tiny", layers=2, hidden=32))
    other = str(wordpiece_bert_folder(tmp_path / "wp", hidden=32, layers=2, vocab_size=300))
    de = lambda name: build_scorer(ScorerConfig(kind="de", name=name))  # noqa: E731
    config = DistillConfig(student="s", teacher="t", layer_weight=0.0, virt_weight=1.0, layers=1)
    with pytest.raises(ValueError, match="need one tokenizer"):
        Distill(de(other), de(folder), config)
    with pytest.raises(ValueError, match="dual-encoder or ColBERT teacher"):
        Distill(de(folder), build_scorer(ScorerConfig(kind="ce", name=folder)), config)
    method = Distill(de(folder), build_scorer(ScorerConfig(kind="colbert", name=folder)), config)
    assert method.selector is not None  # VIRT uses the selected layer pairs even without the layer term
