"""The errors a user meets first say what to do (issue: results people can see and experiments they can steer)."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from lead.config import DataConfig
from lead.data.prepared import prepare
from lead.errors import DataFormatError, ParamsValueError
from lead.models.factory import ModelLoadError, load_scorer
from lead.retrieval.index import build_index
from lead.training.layers import LayerSelector


@pytest.mark.skipif(faiss.get_num_gpus() > 0, reason="faiss here has GPU support")
def test_gpu_search_without_a_gpu_names_the_param_and_the_fix():
    with pytest.raises(ParamsValueError, match=r"eval\.use_gpu: true, but faiss here has no GPU support .*install "
                       r"faiss-gpu-cu12 .*or set eval\.use_gpu: null"):
        build_index(np.zeros((3, 4), dtype=np.float32), use_gpu=True)


def test_a_missing_model_folder_says_how_to_make_it(tmp_path):
    with pytest.raises(ModelLoadError, match=r"models/teacher: model folder not found: run the stage that writes it"):
        load_scorer(tmp_path / "models" / "teacher")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no scorer.json: not a saved model folder"):
        load_scorer(tmp_path / "empty")


def test_a_dataset_folder_missing_or_in_another_layout(tmp_path):
    with pytest.raises(DataFormatError, match="data.path folder not found"):
        prepare(DataConfig(source="beir", path=str(tmp_path / "nowhere")), tmp_path / "out")
    msmarco_like = tmp_path / "msmarco"
    msmarco_like.mkdir()
    (msmarco_like / "collection.tsv").write_text("1\tsome text\n")
    with pytest.raises(DataFormatError, match=r"corpus\.jsonl: not found: .* is not a BEIR folder .*it holds "
                       r"collection\.tsv\); check data\.source and data\.path"):
        prepare(DataConfig(source="beir", path=str(msmarco_like)), tmp_path / "out")


def test_more_distilled_layers_than_a_model_has():
    with pytest.raises(ValueError, match=r"distill\.layers=4: the student has 2 layers and the teacher 6"):
        LayerSelector("random", 4, 2, 6)
