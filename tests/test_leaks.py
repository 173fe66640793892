"""End to end: after compiling every example project for every target through the CLI, no
secret value appears anywhere but in the 0600 files made to carry it, nor on stdout/stderr."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from mora.api import site_secrets
from tests.cli import run_mora

REPO = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if p.is_dir())


def _mora(
    args: list[str], cwd: Path, env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return run_mora(args, cwd, env=env, stdin=stdin)


@pytest.mark.parametrize("project", PROJECTS)
def test_no_secret_value_outside_its_secret_files(
    project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(tmp_path / "config"))
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text("domain: example.org\npodman: { acme_email: me@example.org }\n")
    args = [str(REPO / "projects" / project), "--site", "site.yaml"]
    # Answer every input with a recognisable value, so inputs are searched for too.
    plan = _mora(["plan", *args, "--format", "json"], site, env)
    assert plan.returncode == 0, plan.stderr
    answers = "".join(f"answer-{i}-a7Qz9w\n" for i in range(50))
    outputs = [plan, _mora(["setup", *args, "--out", "build"], site, env, stdin=answers)]
    outputs.append(_mora(["compile", *args, "--out", "build"], site, env))
    outputs.append(_mora(["secrets", "list", *args], site, env))
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]

    # Open the same store the CLI used: same working directory, same key location.
    monkeypatch.chdir(site)
    monkeypatch.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
    result = site_secrets(REPO / "projects" / project, site_file=Path("site.yaml"))
    store = result.store
    assert store is not None, [d.message for d in result.diagnostics]
    values = {
        part
        for name in store.names()  # type: ignore[attr-defined]
        for part in store.get(name).parts.values()  # type: ignore[attr-defined]
        if len(part) >= 8
    }
    public = {
        store.get(n).parts[p]  # type: ignore[attr-defined]
        for n, s in result.program.secrets.items()  # type: ignore[union-attr]
        for p in s.public_parts
        if store.get(n) is not None  # type: ignore[attr-defined]
    }
    values -= public
    assert values, "the project generated no secrets: nothing was searched"

    texts = {f"<{i}>": o.stdout + o.stderr for i, o in enumerate(outputs)}
    secret_files = 0
    for path in sorted((site / "build").rglob("*")):
        if not path.is_file():
            continue
        if stat.S_IMODE(path.stat().st_mode) == 0o600:
            secret_files += 1
            continue
        texts[str(path.relative_to(site))] = path.read_text(errors="replace")
    assert secret_files > 0
    leaks = [
        (where, value[:4] + "...")
        for where, text in texts.items()
        for value in values
        if value in text
    ]
    assert leaks == []
