"""The three scorers against hand computations from HF hidden states, their input views, and strict save/load.

Every expected value is computed here from the encoder's own ``hidden_states`` (or from a small hand-made
tensor), never by calling the code under test a second time.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from lead.config import ScorerConfig
from lead.models.colbert import maxsim
from lead.models.factory import ModelLoadError, build_scorer, load_scorer, save_scorer
from lead.records import Passage, TextBatch
from tests.helpers import tiny_bert_folder, wordpiece_bert_folder

LAYERS = 4






@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    return str(tiny_bert_folder(tmp_path_factory.mktemp("tiny") / "bert", layers=LAYERS, hidden=32))


@pytest.fixture(scope="module")
def wordpiece(tmp_path_factory) -> str:
    return str(wordpiece_bert_folder(tmp_path_factory.mktemp("wp") / "bert", hidden=32, layers=2))


_BUILT: dict = {}


def built(name: str, **config):
    """A fresh-from-folder scorer, built once per config (tests that change a model build their own)."""
    key = (name, tuple(sorted(config.items())))
    if key not in _BUILT:
        torch.manual_seed(0)
        _BUILT[key] = build_scorer(ScorerConfig(name=name, **config)).eval()
    return _BUILT[key]


def make_batch() -> TextBatch:
    """2 queries x group 2, passages of different lengths (padding), one with a title."""
    passages = [
        Passage("p1", "Maria Lopez is a doctor who lives in Oslo and enjoys stargazing."),
        Passage("p2", "Tom Chen, a lawyer from Rome, spends most weekends on chess and long mountain walks."),
        Passage("p3", "Aiko Tanaka works as a chef in Tokyo.", title="Chefs"),
        Passage("p4", "Lars Berg is a pilot."),
    ]
    return TextBatch(
        qids=["q1", "q2"],
        queries=["which physician in the capital of Norway likes astronomy?", "chef in Tokyo"],
        pids=[p.pid for p in passages],
        passages=passages,
        group_size=2,
    )


def hand_pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str, similarity: str) -> torch.Tensor:
    if pooling == "cls":
        vectors = hidden[:, 0]
    else:
        vectors = torch.stack([hidden[i][mask[i].bool()].mean(0) for i in range(len(hidden))])
    if similarity == "cosine":
        vectors = vectors / vectors.norm(dim=-1, keepdim=True)
    return vectors


def hand_maxsim(q: torch.Tensor, q_mask: torch.Tensor, p: torch.Tensor, p_mask: torch.Tensor) -> torch.Tensor:
    """Sum over the query's unmasked tokens of the max dot product over the passage's unmasked tokens."""
    out = torch.empty(len(q), len(p))
    for i in range(len(q)):
        for j in range(len(p)):
            sim = q[i][q_mask[i].bool()] @ p[j][p_mask[j].bool()].T
            out[i, j] = sim.max(1).values.sum()
    return out


# -- dual encoder --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling,similarity", [("cls", "dot"), ("mean", "dot"), ("mean", "cosine"), ("cls", "cosine")])
def test_dual_encoder_per_layer_scores_match_hand_computation(tiny, pooling, similarity):
    scorer = built(tiny, kind="de", pooling=pooling, similarity=similarity)
    batch = make_batch()
    tokens = scorer.tokenize(batch)
    assert (tokens["p_attention_mask"] == 0).any(), "the test needs padded passages"
    layers = [3, 1, LAYERS]  # returned in the requested order
    with torch.no_grad():
        scores = scorer.score(scorer(tokens, layers=layers), own=False)
        q_out = scorer.query_encoder(input_ids=tokens["q_input_ids"], attention_mask=tokens["q_attention_mask"], output_hidden_states=True)
        p_out = scorer.passage_encoder(input_ids=tokens["p_input_ids"], attention_mask=tokens["p_attention_mask"], output_hidden_states=True)
    assert scores.final.shape == (2, 4) and scores.layers.shape == (3, 2, 4)
    for i, layer in enumerate(layers):
        q = hand_pool(q_out.hidden_states[layer], tokens["q_attention_mask"], pooling, similarity)
        p = hand_pool(p_out.hidden_states[layer], tokens["p_attention_mask"], pooling, similarity)
        torch.testing.assert_close(scores.layers[i], q @ p.T, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scores.final, scores.layers[2], atol=1e-6, rtol=1e-6)  # final = layer L
    if similarity == "cosine":
        assert scores.final.abs().max() <= 1 + 1e-5 and scores.layers.abs().max() <= 1 + 1e-5
    else:
        assert scores.final.abs().max() > 1  # raw dot products of LayerNorm outputs (norm ~ sqrt(32))


def test_dual_encoder_own_mode_is_each_querys_group_of_the_in_batch_matrix(tiny):
    scorer = built(tiny, kind="de")
    batch = make_batch()
    with torch.no_grad():
        encoded = scorer(scorer.tokenize(batch), layers=[2, 4])
        full, own = scorer.score(encoded, own=False), scorer.score(encoded, own=True)
    g = batch.group_size
    assert own.final.shape == (2, g) and own.layers.shape == (2, 2, g)
    for i in range(2):
        assert torch.equal(own.final[i], full.final[i, i * g : (i + 1) * g])
        assert torch.equal(own.layers[:, i], full.layers[:, i, i * g : (i + 1) * g])
        assert own.final[i, 0] == full.final[i, i * g]  # the positive is column 0 in own mode
    assert own.targets(own=True, group_size=g).tolist() == [0, 0]
    assert full.targets(own=False, group_size=g).tolist() == [0, 2]
    big = type(full)(torch.zeros(3, 12))
    assert big.targets(own=False, group_size=4).tolist() == [0, 4, 8]


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_length_buckets_give_the_same_scores_and_gradients_with_fewer_token_positions(tiny, pooling):
    """train.length_buckets: the batch's passages in length-sorted chunks, each cut to its longest text."""
    batch = make_batch()
    results = {}
    for buckets in (1, 2, 4):
        torch.manual_seed(0)
        scorer = build_scorer(ScorerConfig(name=tiny, kind="de", pooling=pooling, similarity="cosine", scale=20.0)).train()
        scorer.length_buckets = buckets
        for module in scorer.modules():  # dropout off, gradients on: the comparison is of the arithmetic
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        lengths = []
        hook = scorer.passage_encoder.register_forward_pre_hook(
            lambda module, args, kwargs: lengths.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True)
        scores = scorer.score(scorer(scorer.tokenize(batch), layers=[1, 3]), own=False)
        hook.remove()
        targets = scores.targets(own=False, group_size=batch.group_size)  # the contrastive loss of training
        loss = F.cross_entropy(scores.final, targets) + sum(F.cross_entropy(layer, targets) for layer in scores.layers)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in scorer.named_parameters() if p.grad is not None}
        results[buckets] = scores, grads, lengths
    (full, full_grads, full_shapes), mask = results[1], scorer.tokenize(batch)["p_attention_mask"]
    true_lengths = sorted(mask.sum(1).tolist())
    assert full_shapes[-1] == (4, max(true_lengths))  # one padded call (queries go through the same tower first)
    for buckets in (2, 4):
        scores, grads, shapes = results[buckets]
        torch.testing.assert_close(scores.final, full.final, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(scores.layers, full.layers, atol=1e-5, rtol=1e-5)
        for name, grad in full_grads.items():
            torch.testing.assert_close(grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)
        passage_calls = shapes[-buckets:]  # shortest chunk first, each as long as its longest passage
        chunks = [list(c) for c in torch.tensor_split(torch.tensor(true_lengths), buckets)]
        assert passage_calls == [(len(c), max(c)) for c in chunks]
        assert sum(r * l for r, l in passage_calls) < 4 * max(true_lengths)


@pytest.mark.parametrize("kind", ["ce", "colbert"])
def test_length_buckets_give_the_cross_encoder_and_colbert_the_same_scores_and_gradients(tiny, kind):
    """The cross-encoder buckets its pairs; ColBERT its passages (queries are augmented to one length), each
    bucket's token vectors padded back to the batch's length and masked out of MaxSim."""
    batch = make_batch()
    own = kind == "ce"
    results = {}
    for buckets in (1, 3):
        torch.manual_seed(0)
        scorer = build_scorer(ScorerConfig(name=tiny, kind=kind, mask_punctuation=kind == "colbert")).train()
        scorer.length_buckets = buckets
        for module in scorer.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        shapes = []
        hook = scorer.encoder.register_forward_pre_hook(lambda m, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                                        with_kwargs=True)
        scores = scorer.score(scorer(scorer.tokenize(batch), layers=[2, 4]), own=own)
        hook.remove()
        targets = scores.targets(own=own, group_size=batch.group_size)
        (F.cross_entropy(scores.final, targets) + sum(F.cross_entropy(l, targets) for l in scores.layers)).backward()
        results[buckets] = scores, {n: p.grad.clone() for n, p in scorer.named_parameters() if p.grad is not None}, shapes
    (full, full_grads, full_shapes), (split, grads, shapes) = results[1], results[3]
    torch.testing.assert_close(split.final, full.final, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(split.layers, full.layers, atol=1e-5, rtol=1e-5)
    for name, grad in full_grads.items():
        torch.testing.assert_close(grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)
    if kind == "colbert":  # the queries' call (one length: augmented) and the passages' three calls
        full_shapes, shapes = full_shapes[1:], shapes[-3:]
    assert len(full_shapes) == 1 and len(shapes) == 3 and sum(r for r, _ in shapes) == full_shapes[0][0]
    assert sum(r * l for r, l in shapes) < full_shapes[0][0] * full_shapes[0][1]  # fewer token positions


# -- ColBERT -------------------------------------------------------------------------------------------


def test_maxsim_on_a_hand_made_example():
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [7.0, 7.0]]])  # third query position masked
    q_mask = torch.tensor([[1, 1, 0]])
    p = torch.tensor([
        [[2.0, 0.0], [0.0, 3.0], [9.0, 9.0]],  # last token is padding: would win every max
        [[-1.0, -2.0], [1.0, 1.0], [0.0, 0.0]],
        [[-1.0, -1.0], [-2.0, -3.0], [5.0, 5.0]],  # all real similarities negative; pad must not give 0 or 5
    ])
    p_mask = torch.tensor([[1, 1, 0], [1, 1, 1], [1, 1, 0]])
    # q0: max(2, 0) + max(0, 3) = 5;  q0.p1: max(-1, 1, 0) + max(-2, 1, 0) = 2;  q0.p2: max(-1, -2) + max(-1, -3) = -2
    expected = torch.tensor([[5.0, 2.0, -2.0]])
    assert torch.equal(maxsim(q, q_mask, p, p_mask), expected)
    assert torch.equal(hand_maxsim(q, q_mask, p, p_mask), expected)


def test_colbert_markers_and_query_augmentation(tiny):
    scorer = built(tiny, kind="colbert", query_max_length=12)
    tok = scorer.tokenizer
    cls, sep, mask, pad = tok.cls_token_id, tok.sep_token_id, tok.mask_token_id, tok.pad_token_id
    q0, q1 = tok.convert_tokens_to_ids(["[unused0]", "[unused1]"])
    assert (scorer.query_marker, scorer.passage_marker) == (q0, q1)
    words = tok("chef in Tokyo", add_special_tokens=False)["input_ids"]
    long_query = "which physician in the capital of Norway likes astronomy and long mountain walks at night?"
    queries = scorer.tokenize_queries(["chef in Tokyo", long_query])
    expected = [cls, q0, *words, sep] + [mask] * (12 - len(words) - 3)
    assert queries["input_ids"][0].tolist() == expected
    assert queries["attention_mask"].tolist() == [[1] * 12, [1] * 12]  # [MASK] augmentation is attended
    assert queries["input_ids"][1, :2].tolist() == [cls, q0] and queries["input_ids"][1, -1] == sep  # truncated
    passages = scorer.tokenize_passages([Passage("a", "chef in Tokyo"), Passage("b", "Lars Berg is a pilot in Oslo.")])
    assert passages["input_ids"][0].tolist()[: len(words) + 3] == [cls, q1, *words, sep]
    assert passages["input_ids"][0, len(words) + 3 :].eq(pad).all()  # dynamic padding, not [MASK]
    assert passages["attention_mask"][0].tolist() == [1] * (len(words) + 3) + [0] * (passages["input_ids"].shape[1] - len(words) - 3)
    assert "score_mask" not in passages
    no_aug = built(tiny, kind="colbert", query_max_length=12, query_augmentation=False)
    plain = no_aug.tokenize_queries(["chef in Tokyo"])
    assert plain["input_ids"][0].tolist() == [cls, q0, *words, sep]


def test_colbert_adds_marker_tokens_when_the_vocabulary_lacks_them(wordpiece, tmp_path):
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(wordpiece))  # before the markers are added
    scorer = build_scorer(ScorerConfig(kind="colbert", name=wordpiece, query_max_length=12)).eval()
    assert "[unused0]" not in scorer.tokenizer.get_vocab()
    q_id, d_id = scorer.tokenizer.convert_tokens_to_ids(["[Q]", "[D]"])
    assert {q_id, d_id} == {vocab, vocab + 1} and (scorer.query_marker, scorer.passage_marker) == (q_id, d_id)
    assert len(scorer.tokenizer) == vocab + 2
    assert scorer.encoder.get_input_embeddings().num_embeddings == vocab + 2  # resized
    batch = make_batch()
    tokens = scorer.tokenize(batch)
    assert tokens["q_input_ids"][:, 1].eq(q_id).all() and tokens["p_input_ids"][:, 1].eq(d_id).all()
    assert scorer.tokenizer.tokenize("[Q] chef")[0] == "[Q]"  # a special token, never split
    with torch.no_grad():
        before = scorer.scores(batch, own=False, layers=[1])
    save_scorer(scorer, tmp_path / "cb")
    loaded = load_scorer(tmp_path / "cb").eval()
    assert (loaded.query_marker, loaded.passage_marker) == (q_id, d_id) and len(loaded.tokenizer) == vocab + 2
    with torch.no_grad():
        after = loaded.scores(batch, own=False, layers=[1])
    assert torch.equal(before.final, after.final) and torch.equal(before.layers, after.layers)


def test_colbert_mask_punctuation_removes_punctuation_from_the_passage_score_mask(tiny):
    scorer = built(tiny, kind="colbert", mask_punctuation=True)
    tok = scorer.tokenizer
    passages = scorer.tokenize_passages([Passage("a", "hello, world. ok!"), Passage("b", "a much longer passage without it")])
    ids = passages["input_ids"][0].tolist()
    punct = {tok.convert_tokens_to_ids(c) for c in ",.!"}
    n = len(tok("hello, world. ok!")["input_ids"]) + 1  # + the [D] marker
    expected = [0 if i in punct else 1 for i in ids[:n]] + [0] * (len(ids) - n)
    assert passages["score_mask"][0].tolist() == expected
    assert expected.count(0) - (len(ids) - n) == 3  # exactly the three punctuation tokens
    assert passages["attention_mask"][0, :n].eq(1).all()  # still attended by the encoder
    # The final score takes the max over the non-punctuation tokens only.
    batch = make_batch()
    batch.passages[0] = Passage("p1", "Maria, a doctor; lives in Oslo. Likes stars!")
    tokens = scorer.tokenize(batch)
    with torch.no_grad():
        scores = scorer.score(scorer(tokens), own=False)
        q = F.normalize(scorer.encoder(input_ids=tokens["q_input_ids"], attention_mask=tokens["q_attention_mask"]).last_hidden_state, dim=-1)
        p = F.normalize(scorer.encoder(input_ids=tokens["p_input_ids"], attention_mask=tokens["p_attention_mask"]).last_hidden_state, dim=-1)
    torch.testing.assert_close(scores.final, hand_maxsim(q, tokens["q_attention_mask"], p, tokens["p_score_mask"]), atol=1e-5, rtol=1e-5)
    unmasked = hand_maxsim(q, tokens["q_attention_mask"], p, tokens["p_attention_mask"])
    assert not torch.allclose(scores.final[:, 0], unmasked[:, 0])  # punctuation would have changed it


def test_colbert_mask_punctuation_with_an_own_vocabulary_that_marks_word_starts(wordpiece):
    scorer = built(wordpiece, kind="colbert", mask_punctuation=True)
    passage = scorer.tokenize_passages([Passage("a", "hello, world; oslo? yes!")])
    pieces = scorer.tokenizer.convert_ids_to_tokens(passage["input_ids"][0])
    masked = [piece for piece, keep in zip(pieces, passage["score_mask"][0].tolist()) if not keep]
    assert [piece.removeprefix("\u2581") for piece in masked] == [",", ";", "?", "!"]


@pytest.mark.parametrize("normalize_layers", [False, True])
def test_colbert_per_layer_scores_match_hand_computation(tiny, normalize_layers):
    scorer = built(tiny, kind="colbert", query_max_length=16, normalize_layers=normalize_layers)
    batch = make_batch()
    tokens = scorer.tokenize(batch)
    layers = [1, 3]
    with torch.no_grad():
        scores = scorer.score(scorer(tokens, layers=layers), own=False)
        q_out = scorer.encoder(input_ids=tokens["q_input_ids"], attention_mask=tokens["q_attention_mask"], output_hidden_states=True)
        p_out = scorer.encoder(input_ids=tokens["p_input_ids"], attention_mask=tokens["p_attention_mask"], output_hidden_states=True)
    q_mask, p_mask = tokens["q_attention_mask"], tokens["p_attention_mask"]
    for i, layer in enumerate(layers):
        q, p = q_out.hidden_states[layer], p_out.hidden_states[layer]
        if normalize_layers:
            q, p = q / q.norm(dim=-1, keepdim=True), p / p.norm(dim=-1, keepdim=True)
        expected = hand_maxsim(q, q_mask, p, p_mask)
        torch.testing.assert_close(scores.layers[i], expected, atol=1e-4, rtol=1e-5)
        if normalize_layers:  # each query token contributes at most 1
            assert scores.layers[i].abs().max() <= 16 + 1e-4
        else:
            assert scores.layers[i].abs().max() > 16  # raw hidden states: large scores
    final = hand_maxsim(F.normalize(q_out.last_hidden_state, dim=-1), q_mask, F.normalize(p_out.last_hidden_state, dim=-1), p_mask)
    torch.testing.assert_close(scores.final, final, atol=1e-5, rtol=1e-5)


def test_colbert_dim_projects_the_token_vectors(tiny):
    batch = make_batch()
    plain = built(tiny, kind="colbert")
    projected = built(tiny, kind="colbert", dim=16)
    assert plain.head is None and tuple(projected.head.weight.shape) == (16, 32)
    with torch.no_grad():
        a, b = plain(plain.tokenize(batch)), projected(projected.tokenize(batch))
        scores = projected.score(b, own=False)
        tokens = projected.tokenize(batch)
        q = projected.encoder(input_ids=tokens["q_input_ids"], attention_mask=tokens["q_attention_mask"]).last_hidden_state
        p = projected.encoder(input_ids=tokens["p_input_ids"], attention_mask=tokens["p_attention_mask"]).last_hidden_state
    assert a.queries["tokens"].shape[-1] == 32 and b.queries["tokens"].shape[-1] == 16
    assert b.passages["tokens"].shape[-1] == 16
    torch.testing.assert_close(b.queries["tokens"].norm(dim=-1), torch.ones(b.queries["tokens"].shape[:2]))
    w = projected.head.weight
    expected = hand_maxsim(F.normalize(q @ w.T, dim=-1), tokens["q_attention_mask"], F.normalize(p @ w.T, dim=-1), tokens["p_attention_mask"])
    torch.testing.assert_close(scores.final, expected, atol=1e-5, rtol=1e-5)


# -- cross-encoder -------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_cross_encoder_per_layer_scores_are_the_head_on_each_layers_pooled_vector(tiny, pooling):
    scorer = built(tiny, kind="ce", pooling=pooling)
    batch = make_batch()
    tokens = scorer.tokenize(batch)
    assert int(tokens["group_size"]) == 2 and tokens["input_ids"].shape[0] == 4  # one row per (query, passage)
    tok = scorer.tokenizer
    assert tokens["input_ids"][1].tolist()[: len(tok(batch.queries[0])["input_ids"])] == tok(batch.queries[0])["input_ids"]
    layers = [2, 1, LAYERS]
    with torch.no_grad():
        scores = scorer.score(scorer(tokens, layers=layers), own=True)
        inputs = {k: v for k, v in tokens.items() if k != "group_size"}
        out = scorer.encoder(**inputs, output_hidden_states=True)
    head = scorer.classifier
    assert scores.final.shape == (2, 2) and scores.layers.shape == (3, 2, 2)
    mask = inputs["attention_mask"]
    assert (mask == 0).any()  # pairs of different lengths: the mean must skip the padding
    for i, layer in enumerate(layers):
        hidden = out.hidden_states[layer]  # [4, seq, H], rows query-major
        if pooling == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = torch.stack([hidden[r, mask[r].bool()].mean(0) for r in range(len(hidden))])
        expected = (pooled @ head.weight[0] + head.bias[0]).view(2, 2)
        torch.testing.assert_close(scores.layers[i], expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(scores.final, scores.layers[2], atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="own"):
        scorer.score(scorer(tokens), own=False)
    assert not scorer.supports_in_batch


# -- layer validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["de", "colbert", "ce"])
@pytest.mark.parametrize("layer", [0, LAYERS + 1, -1])
def test_layers_out_of_range_are_rejected(tiny, kind, layer):
    scorer = built(tiny, kind=kind)
    tokens = scorer.tokenize(make_batch())
    with pytest.raises(ValueError, match=rf"layers \[{layer}\] out of range .*\(use 1\.\.{LAYERS}"):
        scorer(tokens, layers=[1, layer])


# -- save / load ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        dict(kind="de", pooling="mean"),
        dict(kind="de", shared=False),
        dict(kind="colbert", dim=16, mask_punctuation=True),
        dict(kind="ce"),
        dict(kind="ce", pooling="mean"),
    ],
    ids=["de", "de-separate", "colbert", "ce", "ce-mean"],
)
def test_save_load_round_trip_gives_identical_scores(tiny, tmp_path, config):
    torch.manual_seed(0)
    scorer = build_scorer(ScorerConfig(name=tiny, **config))
    if config.get("shared") is False:  # make the towers differ, so a swap or a shared load would show
        with torch.no_grad():
            for p in scorer.passage_encoder.parameters():
                p.add_(0.01 * torch.randn_like(p))
    scorer.eval()
    batch = make_batch()
    own = config["kind"] == "ce"
    with torch.no_grad():
        before = scorer.scores(batch, own=own, layers=[1, 3])
    save_scorer(scorer, tmp_path / "saved")
    loaded = load_scorer(tmp_path / "saved").eval()
    assert loaded.config == scorer.config and type(loaded) is type(scorer)
    with torch.no_grad():
        after = loaded.scores(batch, own=own, layers=[1, 3])
    assert torch.equal(before.final, after.final) and torch.equal(before.layers, after.layers)
    original, reloaded = scorer.state_dict(), loaded.state_dict()
    assert original.keys() == reloaded.keys()
    for key in original:
        assert torch.equal(original[key], reloaded[key]), key
    if config.get("shared") is False:
        assert loaded.query_encoder is not loaded.passage_encoder
        assert not torch.equal(loaded.query_encoder.embeddings.word_embeddings.weight, loaded.passage_encoder.embeddings.word_embeddings.weight)


def test_head_of_the_wrong_shape_is_a_load_error(tiny, tmp_path):
    save_scorer(built(tiny, kind="colbert", dim=16), tmp_path / "cb")
    meta_path = tmp_path / "cb" / "scorer.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["dim"] = 8
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=r"head\.safetensors.*weight \(16, 32\) != \(8, 32\)"):
        load_scorer(tmp_path / "cb")


def test_missing_head_file_is_a_load_error(tiny, tmp_path):
    save_scorer(built(tiny, kind="ce"), tmp_path / "ce")
    (tmp_path / "ce" / "head.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="missing head file"):
        load_scorer(tmp_path / "ce")


@pytest.mark.parametrize("edit", ["drop", "add"])
def test_encoder_weights_that_do_not_match_are_a_load_error(tiny, tmp_path, edit):
    save_scorer(built(tiny, kind="de"), tmp_path / "de")
    weights = tmp_path / "de" / "encoder" / "model.safetensors"
    state = load_file(str(weights))
    key = "encoder.layer.1.attention.self.query.bias"
    assert key in state
    if edit == "drop":
        del state[key]
        expected = rf"missing_keys: {key}"
    else:
        state["encoder.layer.1.extra.weight"] = torch.zeros(3)
        expected = r"unexpected_keys: encoder\.layer\.1\.extra\.weight"
    save_file(state, str(weights), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=expected):
        load_scorer(tmp_path / "de")


def test_folder_without_scorer_json_is_a_load_error(tiny, tmp_path):
    with pytest.raises(ModelLoadError, match="no scorer.json"):
        load_scorer(tiny)  # a plain HF folder is not a saved scorer
    with pytest.raises(ModelLoadError, match="model folder not found"):
        load_scorer(tmp_path / "nothing")


def test_dual_encoder_scale_multiplies_final_and_per_layer_scores(tmp_path):

    from lead.models.factory import build_scorer

    folder = str(tiny_bert_folder(tmp_path / "scale"))
    batch = TextBatch(["q1"], ["a query"], ["p1", "p2"], [Passage("p1", "one passage"), Passage("p2", "another")], 2)
    plain = build_scorer(ScorerConfig(kind="de", name=folder, similarity="cosine")).eval()
    scaled = build_scorer(dataclasses.replace(plain.config, scale=20.0)).eval()
    with torch.inference_mode():
        a, b = plain.scores(batch, own=False, layers=[1]), scaled.scores(batch, own=False, layers=[1])
    torch.testing.assert_close(b.final, 20.0 * a.final)
    torch.testing.assert_close(b.layers, 20.0 * a.layers)


def test_a_model_with_its_own_trained_vocabulary(tmp_path):
    """vocabulary_size: a WordPiece vocabulary learnt from the given texts, new word embeddings, the
    pretrained blocks kept; saved and loaded like any model."""
    from lead.models.factory import build_scorer, load_scorer, save_scorer
    from tests.helpers import tiny_bert_folder

    folder = str(tiny_bert_folder(tmp_path / "tiny", layers=2, hidden=32))
    texts = ["the physician from oslo enjoys stargazing", "a violinist in lima likes chess"] * 20
    config = ScorerConfig(kind="de", name=folder, vocabulary_size=120, pooling="mean")
    with pytest.raises(ValueError, match="needs the texts"):
        build_scorer(config)
    scorer = build_scorer(config, iter(texts))
    vocab = scorer.tokenizer.get_vocab()
    assert len(vocab) <= 120 and "\u2581physician" in vocab and "[unused0]" not in vocab  # word starts marked
    assert scorer.query_encoder.get_input_embeddings().num_embeddings == len(scorer.tokenizer)
    reference = build_scorer(ScorerConfig(kind="de", name=folder))
    kept = dict(reference.query_encoder.named_parameters())
    for name, parameter in scorer.query_encoder.named_parameters():
        if "word_embeddings" not in name:  # blocks and position embeddings are the pretrained ones
            assert torch.equal(parameter, kept[name]), name
    ids = scorer.tokenize_queries(["physician from oslo"])["input_ids"][0].tolist()
    assert scorer.tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "\u2581physician", "\u2581from", "\u2581oslo", "[SEP]"]
    save_scorer(scorer, tmp_path / "saved")
    loaded = load_scorer(tmp_path / "saved")
    assert loaded.tokenizer.get_vocab() == vocab
    # The loaded tokenizer is the trained one, word-start marks included (not rebuilt from the vocabulary).
    assert loaded.tokenizer.tokenize("The physician, from Oslo") == scorer.tokenizer.tokenize("The physician, from Oslo")
    tokens, loaded_tokens = scorer.tokenize_queries(["a violinist"]), loaded.tokenize_queries(["a violinist"])
    assert torch.equal(loaded_tokens["input_ids"], tokens["input_ids"])
    assert torch.allclose(loaded.eval().embed_queries(loaded_tokens), scorer.eval().embed_queries(tokens))


@pytest.mark.parametrize("kind", ["de", "colbert", "ce"])
def test_a_distilbert_encoder_works_for_every_scorer_kind(tmp_path, kind):
    """The LEAD presets' 6-layer student is DistilBERT: its scorers give final and per-layer scores, save and
    load, and can be cut to fewer blocks (a tiny random DistilBERT stands in for distilbert-base-uncased)."""
    from transformers import DistilBertConfig, DistilBertModel

    from lead.models.pretrained import load_tokenizer

    folder = tmp_path / "distilbert"
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, n_layers=3, n_heads=2, hidden_dim=64,
                                     max_position_embeddings=128)).save_pretrained(folder)
    load_tokenizer("packaged:all-MiniLM-L6-v2").save_pretrained(folder)
    config = ScorerConfig(kind=kind, name=str(folder), pooling="cls", query_max_length=16, passage_max_length=32)
    scorer = build_scorer(config).eval()
    passages = [Passage(f"p{i}", text) for i, text in enumerate(["a cat is an animal", "x", "dogs eat food", "y"])]
    batch = TextBatch(["q1", "q2"], ["what is a cat", "dog food"], [p.pid for p in passages], passages, 2)
    own = kind == "ce"
    with torch.no_grad():
        scores = scorer.scores(batch, own=own, layers=[1, 3])
    assert scorer.num_layers == 3 and scores.layers.shape == (2, *scores.final.shape)
    save_scorer(scorer, tmp_path / "saved")
    with torch.no_grad():
        again = load_scorer(tmp_path / "saved").eval().scores(batch, own=own).final
    assert torch.allclose(again, scores.final, atol=1e-5)
    assert build_scorer(dataclasses.replace(config, num_layers=2)).num_layers == 2


@pytest.mark.parametrize("config", [dict(kind="de", pooling="cls", similarity="dot"), dict(kind="de", pooling="mean"),
                                    dict(kind="colbert", dim=16), dict(kind="ce")])
def test_scores_are_float32_products_under_bf16_autocast(tiny, config):
    """bf16 autocast (the GPU default) encodes in bf16, but the scores are float32 products of the encodings:
    rounded to bf16 they would move by up to half a logit at dot-product scores near 200."""
    scorer = built(tiny, **config)
    batch = make_batch()
    own = config["kind"] == "ce"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        encoded = scorer(scorer.tokenize(batch), layers=[2, 4])
        scores = scorer.float_scores(encoded, own=own)
    assert scores.final.dtype == torch.float32 and scores.layers.dtype == torch.float32
    if config["kind"] == "de":  # exactly the float64 products of the (float32) embeddings, up to float32 rounding
        q, p = encoded.queries["emb"].double(), encoded.passages["emb"].double()
        assert encoded.queries["emb"].dtype == torch.float32  # pooled in float32
        torch.testing.assert_close(scores.final.double(), scorer.config.scale * q @ p.T, rtol=1e-6, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = scorer.score(encoded, own=own)  # what the loss got before: bf16-rounded unless float32 already
    if config["kind"] == "colbert":
        assert plain.final.dtype == torch.bfloat16
    if config["kind"] == "ce":  # the head itself in float32: its outputs equal a float32 head on the same CLS
        tokens = scorer.tokenize(batch)
        tokens.pop("group_size")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cls = scorer.encoder(**tokens).last_hidden_state[:, 0]
            rounded = scorer.classifier(cls).squeeze(-1)  # a head left to autocast
        exact = scorer.classifier(cls.float()).squeeze(-1).view(2, 2)
        torch.testing.assert_close(scores.final, exact, rtol=1e-6, atol=1e-6)
        assert rounded.dtype == torch.bfloat16


def test_mean_pooling_of_bf16_states_sums_in_float32():
    from lead.models.dual_encoder import pool

    hidden = (torch.randn(2, 200, 8) * 30).bfloat16()  # 200 tokens: a bf16 running sum would round
    mask = torch.ones(2, 200, dtype=torch.long)
    pooled = pool(hidden, mask, "mean")
    assert pooled.dtype == torch.float32
    torch.testing.assert_close(pooled.double(), hidden.double().mean(1), rtol=1e-6, atol=1e-5)
    assert pool(hidden, mask, "cls").dtype == torch.float32
