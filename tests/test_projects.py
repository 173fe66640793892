"""The example projects as a site would use them: golden manifest and plan, and once every input
is answered, every target compiles with no warning (notes are allowed: they are information).

Expected files live in tests/projects/<project>/; MORA_UPDATE_GOLDEN=1 rewrites them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from mora.api import compile_project
from mora.backends import TARGETS, Options, write_target
from mora.diagnostics import Severity, render_text
from mora.model import manifest_json
from mora.plan import build_plan
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "projects"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"
PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if p.is_dir())
SITE = "domain: example.org\npodman: { acme_email: admin@example.org }\n"


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing (MORA_UPDATE_GOLDEN=1 writes it)"
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs"


def _compile(project: str, tmp_path: Path, answers: dict[str, str]):  # type: ignore[no-untyped-def]
    site = tmp_path / "site.yaml"
    site.write_text(SITE)
    provider = MemoryProvider(seed=b"projects", values=answers)
    return compile_project(REPO / "projects" / project, site_file=site, provider=provider)


@pytest.mark.parametrize("project", PROJECTS)
def test_manifest_and_plan(project: str, tmp_path: Path) -> None:
    result = _compile(project, tmp_path, {})
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics.sorted()]
    manifest = manifest_json(result.compiled.manifest)
    schema = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    jsonschema.validate(json.loads(manifest), schema)
    _compare(GOLDEN / project / "expected.manifest.json", manifest)
    plan = build_plan(result.compiled.manifest)
    _compare(
        GOLDEN / project / "expected.plan.json",
        json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n",
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_every_target_without_warnings_once_inputs_are_answered(
    project: str, tmp_path: Path
) -> None:
    pending = _compile(project, tmp_path, {}).compiled.manifest.inputs  # type: ignore[union-attr]
    answers = {f"input.{name}": f"answer-for-{name}" for name in pending}
    result = _compile(project, tmp_path, answers)
    assert result.compiled is not None
    assert build_plan(result.compiled.manifest).pending_inputs == []
    diags = result.diagnostics
    for target in TARGETS:
        write_target(target, result.compiled, tmp_path / "out", Options(), diags)
    problems = [render_text(d) for d in diags.sorted() if d.severity is not Severity.NOTE]
    assert problems == []
