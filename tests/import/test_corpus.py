"""Every compose file of the corpus (tests/corpus/compose/, see its README) imports into a project
that `mora check` accepts, and no secret value of a compose file reaches the written project.

The figures (per file and in all) are kept in tests/corpus/compose/FIGURES.md: a change in what
the importer maps or reports shows up as a diff there (MORA_UPDATE_GOLDEN=1 rewrites it).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

from mora.fmt import format_source
from mora.importer import import_compose
from mora.importer.secrets import plain_value, secret_name

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "compose"
FIGURES = CORPUS / "FIGURES.md"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if re.fullmatch(r"(docker-)?compose\.ya?ml", p.name))


def _secret_literals(path: Path) -> set[tuple[str, str]]:
    """(name, value) written literally under a secret-looking name (`KEY: value`, `KEY=value`)."""
    found = set()
    for m in re.finditer(
        r"^\s*-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?\s*[:=]\s*['\"]?([^\s'\"#$]{4,})",
        path.read_text(),
        re.M,
    ):
        if secret_name(m.group(1)) and not plain_value(m.group(2)):
            found.add((m.group(1), m.group(2)))
    return found


def _plain_words(text: str) -> str:
    """The text outside environment lines of secret-looking names: where a value like `gitea`
    (a password that is also the database's name) may legitimately stand."""
    return "\n".join(
        line
        for line in text.splitlines()
        if not (
            re.match(r"\s+([A-Za-z_][A-Za-z0-9_]*) = ", line)
            and secret_name(line.split("=")[0].strip())
        )
    )


def test_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    rows = []
    totals: Counter[str] = Counter()
    stable = 0
    for path in corpus_files():
        rel = path.relative_to(CORPUS)
        out = tmp_path / str(rel.parent).replace("/", "_")
        result = import_compose([rel], out, project_directory=Path("/srv") / rel.parent.name)
        assert result.text is not None and result.written is not None, rel
        errors = [d for d in result.diagnostics if d.is_error]
        assert not errors, f"{rel}: {[(d.code, d.message) for d in errors]}"
        # the import writes `mora fmt`'s layout: formatting its output changes nothing
        assert format_source(result.text).text == result.text, f"{rel}: not fmt-stable"
        stable += 1
        for name, value in _secret_literals(path):
            for line in result.text.splitlines():
                if re.search(rf"\b{name} = \".*{re.escape(value)}", line):
                    pytest.fail(f"{rel}: a secret value is written: {line.strip()}")
            assert value not in result.text or value in _plain_words(result.text), (rel, name)
        codes = Counter(d.code for d in result.diagnostics if d.code.startswith(("W09", "E09")))
        services = len(re.findall(r"^service ", result.text, re.M))
        templates = len(re.findall(r"^service \w+ = ", result.text, re.M))
        params = len(re.findall(r"^param ", result.text, re.M))
        secrets = len(re.findall(r"^secret ", result.text, re.M))
        totals.update(codes)
        totals.update(
            files=1, services=services, templates=templates, params=params, secrets=secrets
        )
        diagnosed = ", ".join(f"{c} x{n}" for c, n in sorted(codes.items())) or "-"
        rows.append(f"| `{rel}` | {services} | {templates} | {params} | {secrets} | {diagnosed} |")
    keys = sum(n for c, n in totals.items() if c in ("W0902", "W0903", "W0904"))
    text = "\n".join(
        [
            "# Compose corpus: import figures",
            "",
            "Written by tests/import/test_corpus.py (`MORA_UPDATE_GOLDEN=1` rewrites it).",
            "",
            f"- files imported: {totals['files']}",
            f"- results that `mora check` accepts without errors: {totals['files']}",
            f"- services: {totals['services']}, of them stdlib templates: {totals['templates']}",
            f"- params: {totals['params']}, generated secrets: {totals['secrets']}",
            f"- keys and values diagnosed (W0902 not expressible, W0903 changed or left out, "
            f"W0904 a secret where none may go): {keys}",
            "",
            "| file | services | templates | params | secrets | import diagnostics |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )
    if UPDATE:
        FIGURES.write_text(text)
    assert FIGURES.read_text() == text, "FIGURES.md differs (MORA_UPDATE_GOLDEN=1 rewrites it)"
    assert totals["files"] >= 40
    assert stable == totals["files"]
