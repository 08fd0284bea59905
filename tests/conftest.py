"""Shared fixtures: small configurations and structures that make tests fast."""

from __future__ import annotations

import copy
from pathlib import Path

import abtem
import pytest

from atomsight.config import load_config

REPO = Path(__file__).resolve().parents[1]

abtem.config.set({"diagnostics.progress_bar": False})


@pytest.fixture(scope="session")
def repo_config() -> dict:
    """The repository's validated config.yaml."""
    return load_config(REPO / "config.yaml")


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    """A validated configuration with tiny cells and few structures."""
    return load_config(REPO / "tests" / "data" / "tiny.yaml")


@pytest.fixture
def tiny_system(tiny_config) -> dict:
    """A fresh copy of the tiny graphene system's section."""
    return copy.deepcopy(tiny_config["systems"]["graphene"])
