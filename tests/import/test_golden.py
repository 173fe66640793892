"""Golden cases of `mora import`, run as a user runs it: the real command in its own process.

Each folder of tests/import/golden/ holds compose files (`compose.yaml`, then
`compose.override.yaml` when present: merged in that order), what they refer to (`.env`, env
files, configs), optionally `args` (more command-line arguments, one per line), and the expected
results: `expected.mora` (the project written), `expected.stderr` (diagnostics as printed) and
`expected.exit`. Relative host paths are resolved against `--project-directory /srv/<case>`, so
the output does not depend on where the tests run. MORA_UPDATE_GOLDEN=1 rewrites the expected
files (read the diff before committing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mora.fmt import format_source

GOLDEN = Path(__file__).resolve().parent / "golden"
REPO = Path(__file__).resolve().parent.parent.parent
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


def run_import(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), MORA_NO_CACHE="1")
    return subprocess.run(
        [sys.executable, "-m", "mora", "import", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, f"{path.name} differs (MORA_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("case", sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()))
def test_golden(case: str, tmp_path: Path) -> None:
    source = GOLDEN / case
    work = tmp_path / case
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("expected.*", "args"))
    files = [n for n in ("compose.yaml", "compose.override.yaml") if (work / n).exists()]
    extra = (source / "args").read_text().split("\n") if (source / "args").exists() else []
    args = [*files, "--out", "out", "--project-directory", f"/srv/{case}", *filter(None, extra)]
    done = run_import(args, work)
    assert "Traceback" not in done.stderr
    written = sorted((work / "out").glob("*.mora")) if (work / "out").is_dir() else []
    _compare(source / "expected.mora", written[0].read_text() if written else "")
    _compare(source / "expected.stderr", done.stderr)
    _compare(source / "expected.exit", f"{done.returncode}\n")
    if written:  # the project is written in `mora fmt`'s layout
        text = written[0].read_text()
        assert format_source(text).text in (text, None), f"{case}: not fmt-stable"
