"""The diagnostic code registry (mora/codes.py) against the code and the docs.

- every code written in mora/ is registered, and every registered code is written somewhere;
- every registered code is one row, exactly once, of its page's Diagnostics table, and every code
  the docs mention exists;
- no code has two meanings: the registry refuses a second entry, and every call that reports a
  code (`diags.error/warning/note(CODE, ...)`, `note(diags, CODE, ...)`) uses the severity its
  entry says, found by reading the calls in the source (constants and imports resolved).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from mora import codes
from mora.codes import CODES

ROOT = Path(__file__).resolve().parents[2]
MORA = ROOT / "mora"
CODE = re.compile(r"\b[EW]\d{4}\b")
LITERAL = re.compile(r"""["']([EW]\d{4})["']""")


def _sources() -> dict[str, str]:
    """Module name -> source text, for every module of the package."""
    out = {}
    for path in sorted(MORA.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out[name] = path.read_text(encoding="utf-8")
    return out


def test_every_code_written_in_mora_is_registered_and_used() -> None:
    written = {
        m
        for name, text in _sources().items()
        if name != "mora.codes"
        for m in LITERAL.findall(text)
    }
    assert written - CODES.keys() == set(), "codes used but not in mora/codes.py"
    assert CODES.keys() - written == set(), "codes registered but never reported"


def _table_rows(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    section = text[text.index("\n## Diagnostics") :]
    return re.findall(r"^\| ([EW]\d{4}) \|", section, re.M)


def test_every_code_is_one_row_of_its_page() -> None:
    pages = {c.doc.split("#")[0] for c in CODES.values()}
    rows = {page: _table_rows(ROOT / page) for page in pages}
    for c in CODES.values():
        page = c.doc.split("#")[0]
        assert rows[page].count(c.id) == 1, f"{c.id}: {rows[page].count(c.id)} rows in {page}"
    for page, found in rows.items():
        stray = [r for r in found if r not in CODES or CODES[r].doc.split("#")[0] != page]
        assert stray == [], f"{page} lists codes registered elsewhere or not at all: {stray}"


def test_every_code_the_docs_mention_exists() -> None:
    for page in sorted((ROOT / "docs").rglob("*.md")):
        # ranges ("E0601-E0699") name a block of codes, not each of its ends
        text = re.sub(r"[EW]\d{4}-[EW]\d{4}", "", page.read_text(encoding="utf-8"))
        unknown = sorted({m for m in CODE.findall(text) if m not in CODES} - {"E0005"})
        assert unknown == [], f"{page.relative_to(ROOT)} mentions unknown codes {unknown}"


def test_a_code_cannot_be_declared_twice() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        codes.code("E0201", "error", "another meaning")
    with pytest.raises(ValueError, match="E codes are errors"):
        codes.code("E9999", "warning", "an error that warns")
    assert "E9999" not in CODES


# --- severities, from the calls ------------------------------------------------------------------


def _constants(sources: dict[str, str]) -> dict[str, dict[str, str]]:
    """Module -> {NAME: code} of its module-level `NAME = "E0000"` assignments and imports."""
    trees = {name: ast.parse(text) for name, text in sources.items()}
    consts: dict[str, dict[str, str]] = defaultdict(dict)
    for name, tree in trees.items():
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and CODE.fullmatch(node.value.value)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        consts[name][target.id] = node.value.value
    for _ in range(3):  # imports of imports
        for name, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    module = node.module
                    if node.level:  # relative: from .workload import X
                        base = name.split(".")[: -node.level]
                        module = ".".join([*base, node.module])
                    for alias in node.names:
                        value = consts.get(module, {}).get(alias.name)
                        if value is not None:
                            consts[name][alias.asname or alias.name] = value
    return consts


def _reported() -> list[tuple[str, str, str]]:
    """(module, code, severity) of every call that reports a code it names."""
    sources = _sources()
    consts = _constants(sources)
    found = []
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            method = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if method not in ("error", "warning", "note") or not node.args:
                continue
            arg = node.args[0]
            if method == "note" and isinstance(func, ast.Name) and len(node.args) > 1:
                arg = node.args[1]  # note(diags, CODE, message): the backends' helper
            value = None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                value = arg.value
            elif isinstance(arg, ast.Name):
                value = consts[name].get(arg.id)
            elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
                value = next(
                    (c.get(arg.attr) for m, c in consts.items() if m.endswith(arg.value.id)),
                    None,
                )
            if value is not None and CODE.fullmatch(value):
                found.append((name, value, method))
    return found


def test_each_code_is_reported_with_its_severity() -> None:
    reported = _reported()
    assert len(reported) > 150  # the reading of the calls works (it can fail)
    wrong = []
    for module, code_id, severity in reported:
        allowed = CODES[code_id].severity.split("/")
        if severity not in allowed:
            wrong.append(f"{module}: {code_id} reported as a {severity}, registered {allowed}")
    assert wrong == []
    assert len({c for _, c, _ in reported}) > 80  # most codes are reached this way
