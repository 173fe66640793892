"""The deploy layer reads the model and the plan, never syntax (shared/design: "Beyond the
compiler"): importing its engine must not load the parser, the checker or the loader."""

from __future__ import annotations

import subprocess
import sys

from tests.cli import REPO


def test_deploy_engine_does_not_import_the_language() -> None:
    code = (
        "import sys\n"
        "import mora.deploy.engine, mora.deploy.changes, mora.deploy.state\n"
        "import mora.deploy.targets.base\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('mora.'))))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    loaded = set(proc.stdout.split())
    assert "mora.deploy.engine" in loaded
    assert not loaded & {"mora.parser", "mora.checker", "mora.loader", "mora.evaluator"}, loaded
