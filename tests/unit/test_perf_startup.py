"""Start-up and run-time settings of the `mora` command (measured in benchmarks/, not here)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from mora import main as entry

REPO = Path(__file__).resolve().parents[2]


def test_the_command_collects_garbage_rarely_and_restores_the_callers_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, ...]] = []

    def fake_check(projects: list[Path], fmt: str, cache: bool = True) -> int:
        seen.append(gc.get_threshold())
        return 0

    monkeypatch.setattr(entry, "run_check", fake_check)
    before = gc.get_threshold()
    with pytest.raises(SystemExit) as exit_:
        entry.main(["check", "."])
    assert exit_.value.code == 0
    assert seen == [entry.GC_THRESHOLDS]
    assert gc.get_threshold() == before


def test_check_imports_neither_click_pydantic_nor_cryptography() -> None:
    """`mora check` runs in pre-commit hooks: the heavy packages stay out of it."""
    code = (
        "import sys\n"
        "from mora.main import main\n"
        "try:\n"
        "    main(['check', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('click', 'pydantic', 'cryptography') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(REPO / "projects" / "media")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert proc.stdout.strip() == ""
