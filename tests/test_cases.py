"""Golden cases: one folder per case under tests/cases/<name>/.

A case holds its project in `input/` (a directory of .mora files), optionally `site.yaml` (then
the project is compiled against it, else only checked), and the expected results:
`expected.diagnostics.txt` (every diagnostic, rendered as users see them; absent = none) and, for
compiled cases, `expected.manifest.json`. Run with MORA_UPDATE_GOLDEN=1 to rewrite the expected
files from the current output (then read the diff before committing).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import jsonschema
import pytest

from mora.api import check_project, compile_project
from mora.diagnostics import render_text
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

CASES = Path(__file__).parent / "cases"
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "manifest.schema.json"


@functools.cache
def _schema() -> dict[str, object]:
    """The published schema: every compiled case's manifest must validate against it."""
    loaded: dict[str, object] = json.loads(SCHEMA.read_text())
    return loaded


UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "input").is_dir())


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        if actual:
            path.write_text(actual, encoding="utf-8")
        elif path.exists():
            path.unlink()
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, f"{path.name} differs (MORA_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("name", _cases())
def test_case(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES / name
    monkeypatch.chdir(case)  # diagnostics show paths relative to the case: input/main.mora
    site = Path("site.yaml")
    if site.exists():
        answers = case / "answers.yaml"
        values = {}
        if answers.exists():
            import yaml

            values = yaml.safe_load(answers.read_text()) or {}
        result = compile_project(
            Path("input"), site_file=site, provider=MemoryProvider(seed=b"golden", values=values)
        )
        diags = result.diagnostics
        manifest = (
            manifest_json(result.compiled.manifest)  # type: ignore[union-attr]
            if result.compiled is not None
            else ""
        )
        _compare(case / "expected.manifest.json", manifest)
        if manifest:
            jsonschema.validate(json.loads(manifest), _schema())
    else:
        diags = check_project(Path("input")).diagnostics
    text = "\n\n".join(render_text(d) for d in diags.sorted())
    _compare(case / "expected.diagnostics.txt", text + "\n" if text else "")
