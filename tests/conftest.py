"""Shared fixtures: small real modules and notebooks built on disk."""

import pytest

from builders import make_toy_module
from handin.spec import load_module


@pytest.fixture
def toy_module(tmp_path):
    return load_module(make_toy_module(tmp_path / "course"))
