"""The warm-up method's deep supervision (``warmup.<name>.layer_weight``): the NLL of every inner block's
scores, averaged and weighted, added to the final NLL; checked against a hand computation from the encoder's
hidden states, and shown to train the inner blocks."""

from __future__ import annotations

import logging

import pytest
import torch

from lead.config import ScorerConfig, WarmupConfig
from lead.data.examples import BatchSampler
from lead.models.factory import build_scorer
from lead.training.methods import Warmup
from tests.helpers import synthetic_training_data, tiny_bert_folder


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prepared") / "data"
    data = synthetic_training_data(folder)
    return BatchSampler(data.examples, data.store, 4, 1, seed=5).batch(0)  # 4 x 8 candidates


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(tiny_bert_folder(tmp_path_factory.mktemp("tiny") / "bert", layers=3, hidden=32))


def mean_pooled(encoder, tokens: dict, prefix: str) -> list[torch.Tensor]:
    """Every block's mean-pooled hidden states (index 0 = embeddings), computed without the scorer."""
    inputs = {k[len(prefix):]: v for k, v in tokens.items() if k.startswith(prefix)}
    hidden = encoder(**inputs, output_hidden_states=True).hidden_states
    mask = inputs["attention_mask"].unsqueeze(-1).float()
    return [(h * mask).sum(1) / mask.sum(1) for h in hidden]


def test_the_loss_adds_the_weighted_mean_nll_of_the_inner_blocks(tiny, batch):
    scorer = build_scorer(ScorerConfig(kind="de", name=tiny, pooling="mean", similarity="dot",
                                       query_max_length=16, passage_max_length=48)).eval()
    tokens = scorer.tokenize(batch)
    with torch.no_grad():
        queries = mean_pooled(scorer.query_encoder, tokens, "q_")
        passages = mean_pooled(scorer.passage_encoder, tokens, "p_")
        targets = torch.arange(len(batch.queries)) * batch.group_size  # each query's positive among all passages

        def nll(block: int) -> torch.Tensor:
            scores = queries[block] @ passages[block].T
            return -scores.log_softmax(-1).gather(1, targets[:, None]).mean()

        expected = nll(3) + 0.5 * (nll(1) + nll(2)) / 2
        loss, terms = Warmup(scorer, "in_batch", layer_weight=0.5).loss(batch, {"model": scorer}, 0)
        plain, plain_terms = Warmup(scorer, "in_batch").loss(batch, {"model": scorer}, 0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert terms["final_nll"] == pytest.approx(nll(3).item(), rel=1e-5)
    assert terms["layer_nll"] == pytest.approx(((nll(1) + nll(2)) / 2).item(), rel=1e-5)
    assert plain.item() == pytest.approx(nll(3).item(), rel=1e-5)  # weight 0: the final NLL alone
    assert set(plain_terms) == {"loss"}


def test_deep_supervision_gives_the_first_block_a_gradient_of_its_own(tiny, batch):
    """Without the layer term block 1's gradient comes only through the blocks above it; with it, a term
    scoring block 1's own output reaches it, so the gradient changes."""
    grads = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        scorer = build_scorer(ScorerConfig(kind="de", name=tiny, pooling="mean", query_max_length=16,
                                           passage_max_length=48)).eval()
        loss, _ = Warmup(scorer, "in_batch", layer_weight=weight).loss(batch, {"model": scorer}, 0)
        loss.backward()
        grads[weight] = scorer.query_encoder.encoder.layer[0].output.dense.weight.grad.clone()
        top = scorer.query_encoder.encoder.layer[2].output.dense.weight.grad
        assert top is not None and top.abs().sum() > 0
    assert not torch.allclose(grads[0.0], grads[1.0])


@pytest.mark.parametrize("kind, candidates", [("colbert", "in_batch"), ("ce", "own")])
def test_every_scorer_kind_takes_the_layer_term(tiny, batch, kind, candidates):
    scorer = build_scorer(ScorerConfig(kind=kind, name=tiny, query_max_length=16, passage_max_length=48)).eval()
    with torch.no_grad():
        loss, terms = Warmup(scorer, candidates, layer_weight=2.0).loss(batch, {"model": scorer}, 0)
    assert loss.item() == pytest.approx(terms["final_nll"] + 2.0 * terms["layer_nll"], rel=1e-5)
    assert terms["layer_nll"] > 0


@pytest.mark.parametrize("normalize", [False, True])
def test_raw_colbert_layers_under_deep_supervision_are_warned_about(tiny, caplog, normalize):
    scorer = build_scorer(ScorerConfig(kind="colbert", name=tiny, normalize_layers=normalize))
    with caplog.at_level(logging.WARNING, logger="lead.training.methods"):
        Warmup(scorer, "in_batch", layer_weight=1.0)
    assert ("normalize_layers: true" in caplog.text) is not normalize


def test_a_negative_layer_weight_is_refused():
    with pytest.raises(ValueError, match="layer_weight must be >= 0"):
        WarmupConfig(init="de6", train_file="t", layer_weight=-1.0)
