"""The wheel carries the grammar, stdlib and schema, and works outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and "No module named" in proc.stderr and "hatchling" in proc.stderr:
        pytest.skip("hatchling is not installed in this environment")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("mora-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mora/_data/grammar/mora.lark" in names
    assert "mora/_data/schemas/manifest.schema.json" in names
    unpacked = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(unpacked)
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "a.mora").write_text('service a { image = "docker.io/library/busybox:1.36" }\n')
    env = dict(os.environ, PYTHONPATH=str(unpacked), XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = (
        "import mora.resources as r, sys; "
        "assert '_data' in r.grammar_file(), r.grammar_file(); "
        "from mora.cli import main; main(['check', 'a.mora'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "no problems" in run.stderr
