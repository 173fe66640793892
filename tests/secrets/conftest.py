"""Shared fixtures: every test gets its own config dir and no key in the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keys go to a private XDG_CONFIG_HOME; a developer's MORA_SECRETS_KEY never leaks in."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.delenv("MORA_SECRETS_KEY", raising=False)
    yield config
