"""Helpers shared by the secrets tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def subprocess_env(config: Path, **extra: str) -> dict[str, str]:
    """Environment for helper processes: this checkout importable, same private config dir."""
    env = {k: v for k, v in os.environ.items() if k != "MORA_SECRETS_KEY"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CONFIG_HOME"] = str(config)
    env.update(extra)
    return env
