"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository: real collections for tests; skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not found: real-data tests need the shared test collections beside the repository")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Tiny test models run fastest on one thread (and two OpenMP threads crawl when a core is busy elsewhere)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
