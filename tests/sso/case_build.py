"""A case folder compiled once per test module, and its golden files (sso-fwd, sso-arr)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from tests.cli import run_mora

CASES = Path(__file__).resolve().parent.parent / "cases"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


@functools.cache
def compiled_case(case: str, root: Path) -> Path:
    """`mora compile` of `tests/cases/CASE/input` for example.org into ROOT/build."""
    out = root / "build"
    args = ["compile", str(CASES / case / "input"), "--domain", "example.org", "--out", str(out)]
    proc = run_mora(args, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return out


def check_golden(case: str, name: str, actual: str) -> None:
    """`actual` equals the case's file `name` (rewritten with MORA_UPDATE_GOLDEN=1)."""
    path = CASES / case / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs (MORA_UPDATE_GOLDEN=1)"
