"""Dependencies are fetched from local Git repositories made by each test (no network here).

Every test gets its own module cache and `MORA_GET_ALLOW_FILE=1`, the switch that lets `git`
read a local repository (off for users: `mora get` refuses local paths without it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _module_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "module-cache"
    monkeypatch.setenv("MORA_MODULE_CACHE", str(cache))
    monkeypatch.setenv("MORA_GET_ALLOW_FILE", "1")
    monkeypatch.setenv("MORA_NO_CACHE", "1")
    return cache


class Remote:
    """A Git repository standing in for a published one: write files, commit, tag."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=self.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def release(self, tag: str) -> str:
        """Commit everything and tag it; the commit id."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", tag)
        self.git("tag", tag)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "remote")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The requiring project: a Git work tree of its own."""
    path = tmp_path / "home"
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path
