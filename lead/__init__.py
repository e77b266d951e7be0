"""LEAD and PROD distillation for dense retrieval, as a DVC experiment repository."""

__version__ = "0.1.0"
