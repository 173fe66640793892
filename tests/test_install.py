"""What `scripts/install` leaves in `.venv` (the README's set-up commands run it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_venv_starts_without_setuptools_distutils_hook() -> None:
    """Every start of the venv's Python ran setuptools' distutils-precedence.pth (an import of
    `_distutils_hack`, ~0.5 ms of each `mora` run); mora needs no setuptools at run time."""
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("not running in the .venv scripts/install made")
    site = subprocess.run(
        [sys.executable, "-c", "import sys; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "_distutils_hack" not in site
    assert not list(Path(sys.prefix).glob("lib/python*/site-packages/distutils-precedence.pth"))
