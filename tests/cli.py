"""Running the `mora` command line as a user does: a separate process, its own streams."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_mora(
    args: list[str],
    cwd: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`python -m mora.cli ARGS` with this checkout on the path; stdin closed unless given."""
    environment = dict(env if env is not None else os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "mora.cli", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
