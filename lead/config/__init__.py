"""Typed params: ``params.yaml`` is read into dataclasses, and a wrong key fails with its dotted name.

One module per group of sections (data, models, training, retrieval), the checker (``parse``) and the whole
file (``Params``); everything is importable from here. The bottom layer of the package above the records
(README "Layout"): it imports nothing from ``lead`` but errors and the pipeline description.
"""

from lead.config.data import DataConfig, FetchConfig, SplitFiles, SyntheticConfig
from lead.config.models import DEFAULT_MODEL, Kind, ScorerConfig
from lead.config.params import Params, as_dict, load_params
from lead.config.parse import parse
from lead.config.retrieval import DivideConfig, EvalConfig, FuseConfig, MineConfig, ScoreConfig, SweepConfig
from lead.config.training import DistillConfig, ProdDefaults, TrainConfig, WarmupConfig
from lead.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "ConfigError", "DataConfig", "DistillConfig", "DivideConfig", "EvalConfig", "FetchConfig", "FuseConfig", "Kind", "ScoreConfig",
           "MineConfig", "Params", "ProdDefaults", "ScorerConfig", "SplitFiles", "SweepConfig", "SyntheticConfig", "TrainConfig",
           "WarmupConfig", "as_dict", "load_params", "parse"]
