"""What a `mora` command loads: the command runs in a fresh interpreter (the real entry point,
this checkout on the path) and reports the modules in `sys.modules` at its end. The start-up
tests (`tests/test_startup.py`, the perf unit tests) read module lists, never times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs `mora ARGS...` in-process (so SystemExit is caught, not os._exit), then prints its exit
# code and the names of the loaded modules as JSON on stdout's last line.
_PROBE = (
    "import json, sys\n"
    "from mora.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exit_:\n"
    "    code = exit_.code\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}))\n"
)


def loaded(
    args: list[str], cwd: Path, no_cache: bool = False, env: dict[str, str] | None = None
) -> tuple[int, set[str]]:
    """(exit code, loaded modules) of `mora ARGS` run from `cwd`; the caches on unless
    `no_cache` (MORA_NO_CACHE=1); `env` adds to the environment (e.g. XDG_CACHE_HOME)."""
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    environment.pop("MORA_NO_CACHE", None)
    if no_cache:
        environment["MORA_NO_CACHE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        check=True,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


def bare_modules(cwd: Path) -> set[str]:
    """What this interpreter has loaded before running any mora code (site, .pth files)."""
    code = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=True
    )
    return set(json.loads(proc.stdout))


def loaded_by(code: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """(what `code` printed, loaded modules) of `code` run in a fresh interpreter (this checkout
    on the path): what one library call loads, where `loaded` runs a whole command."""
    report = "\nimport json as _j, sys as _s\nprint(_j.dumps(sorted(_s.modules)))\n"
    environment = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        check=True,
    )
    *printed, modules = proc.stdout.strip().splitlines()
    return "\n".join(printed), set(json.loads(modules))


MEDIA = REPO / "projects" / "media"


def checked_media_copy(tmp_path: Path) -> Path:
    """A copy of the media project under `tmp_path`, checked once from there so that the parse
    and check caches hold it: what a probe of a check after an edit starts from."""
    import shutil

    project = tmp_path / "media"
    shutil.copytree(MEDIA, project)
    code, _ = loaded(["check", str(project)], tmp_path)
    assert code == 0
    return project
