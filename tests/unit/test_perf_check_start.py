"""What a `mora check` of projects/media loads when the checker runs (an edit, `--no-cache`):
each fresh process pays for every module it imports, so a pass a project does not need stays
unimported (docs/performance.md, fifteenth round). Reads module lists, never times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "projects" / "media"

# Runs `mora ARGS...` in this interpreter, then prints the loaded modules as JSON.
_PROBE = (
    "import json, sys\n"
    "from mora.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "print(json.dumps(sorted(sys.modules)))\n"
)


def _modules_of_a_check(cwd: Path) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(cwd / "cache"))
    env.pop("MORA_NO_CACHE", None)
    found: set[str] = set()
    for _ in range(2):  # the first run fills the parse cache; the second is an edit's check
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, "check", "--no-cache", str(MEDIA)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            check=True,
        )
        found = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert "mora.checker" in found or "mora.check.passes" in found
    return found


def test_a_check_without_amends_does_not_import_the_amend_pass(tmp_path: Path) -> None:
    """projects/media has no instance body and no `amend`: the merge pass is not imported
    (`has_amends` lives with the passes)."""
    modules = _modules_of_a_check(tmp_path)
    assert sorted(m for m in modules if m == "mora.amend" or m.startswith("mora.amend.")) == []
