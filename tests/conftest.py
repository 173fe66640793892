"""Shared fixtures: every test runs with its own config and cache dirs, so no test reads or
writes the developer's real key files, and the grammar cache is exercised from scratch once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))
    monkeypatch.delenv("MORA_SECRETS_KEY", raising=False)


REPO = Path(__file__).resolve().parent.parent
