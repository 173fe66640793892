"""How `mora check` and `mora compile` end: as the console script they leave with `os._exit`
after flushing the standard streams (the interpreter's shutdown would free every object one by
one, docs/performance.md), so what they print must be complete and their exit code exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mora.main import main

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "projects" / "media"

# The console script's call (`main()` with no arguments), with an atexit handler that a normal
# interpreter shutdown runs and a hard exit skips.
_SCRIPT = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('ATEXIT-RAN\\n'))\n"
    "from mora.main import main\n"
    "main()\n"
)


def _console(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ, PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_json_is_whole_through_a_pipe_and_skips_shutdown(tmp_path: Path) -> None:
    proc = _console(["check", "--format", "json", str(MEDIA)], tmp_path, MORA_NO_CACHE="1")
    assert proc.returncode == 0, proc.stderr
    assert "ATEXIT-RAN" not in proc.stderr  # left with os._exit, not the interpreter's shutdown
    report = json.loads(proc.stdout)  # the whole document arrived: flushed before the exit
    assert isinstance(report, dict)


def test_errors_keep_their_exit_code_and_full_text(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "main.mora").write_text('service web {\n  image = "nginx:1"\n  ports = [nope]\n}\n')
    proc = _console(["check", str(project)], tmp_path, MORA_NO_CACHE="1")
    assert proc.returncode == 1
    assert "ATEXIT-RAN" not in proc.stderr
    assert proc.stderr.rstrip().endswith("error") or proc.stderr.rstrip().endswith("errors")


def test_compile_output_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _console(
        ["compile", str(MEDIA), "--domain", "example.org", "--out", str(out)], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "ATEXIT-RAN" not in proc.stderr
    assert proc.stderr.rstrip().endswith(f"file(s) to {out}")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"]


def test_other_commands_end_as_usual(tmp_path: Path) -> None:
    """Commands served by click (here `--version`) keep the normal shutdown."""
    proc = _console(["--version"], tmp_path)
    assert proc.returncode == 0
    assert "ATEXIT-RAN" in proc.stderr


def test_in_process_calls_raise_systemexit() -> None:
    """`main(argv)` (tests, the manager) must not end the calling process."""
    with pytest.raises(SystemExit) as ended:
        main(["check", "--no-cache", str(MEDIA)])
    assert ended.value.code == 0
