"""Fixtures of the agents' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_yaml(tmp_path):
    """A small TD3 config file for ``slicesim train td3`` (``--config``)."""
    path = tmp_path / "tiny.yaml"
    path.write_text("net_arch: [32, 32]\nbatch_size: 64\nlearning_starts: 60\ngradient_steps: 1\n")
    return str(path)
