"""The editor files: the TextMate grammar scopes mora as the parser reads it, and the VS Code
extension folder points at the grammar and at `mora lsp`.

The grammar is run by a small TextMate tokenizer (match and begin/end rules, captures,
repository includes) written with Python's `re`; the grammar's regexes use only what Python and
Oniguruma read alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mora.fmt.comments import scan

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
GRAMMAR = json.loads((EDITORS / "mora.tmLanguage.json").read_text())


def _flatten(patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in patterns:
        if "include" in p:
            rule = GRAMMAR["repository"][p["include"].removeprefix("#")]
            out += (
                _flatten([rule])
                if "match" in rule or "begin" in rule
                else _flatten(rule["patterns"])
            )
        else:
            out.append(p)
    return out


def _captured(m: re.Match[str], named: list[str], captures: dict[str, Any]) -> list[str]:
    """The scopes of a match's characters: the rule's, plus each capture group's."""
    piece = [" ".join(named)] * (m.end() - m.start())
    for group, cap in captures.items():
        g = int(group)
        if m.group(g) is not None:
            for k in range(m.start(g), m.end(g)):
                piece[k - m.start()] += " " + cap["name"]
    return piece


def tokenize(text: str) -> list[str]:
    """The scope of each character of `text` (newlines get the scope they are in), joined by ' '."""
    scopes: list[str] = []
    stack: list[tuple[dict[str, Any], list[str]]] = []
    base = [GRAMMAR["scopeName"]]
    for line in text.split("\n"):
        pos = 0
        while True:
            rule, outer = stack[-1] if stack else (None, base)
            inner = outer + ([rule["contentName"]] if rule and "contentName" in rule else [])
            patterns = _flatten(rule.get("patterns", []) if rule else GRAMMAR["patterns"])
            best: tuple[int, int, dict[str, Any] | None, re.Match[str]] | None = None
            if rule is not None:
                m = re.compile(rule["end"]).search(line, pos)
                if m:
                    best = (m.start(), -1, None, m)
            for i, p in enumerate(patterns):
                m = re.compile(p.get("match") or p["begin"]).search(line, pos)
                if m and (best is None or m.start() < best[0]) and (m.end() > m.start()):
                    best = (m.start(), i, p, m)
            if best is None:
                scopes += [" ".join(inner)] * (len(line) - pos)
                break
            start, _, p, m = best
            scopes += [" ".join(inner)] * (start - pos)
            if p is None:  # the end of the begin/end rule on top
                assert rule is not None
                scopes += _captured(m, [*outer, rule.get("name", "")], rule.get("endCaptures", {}))
                stack.pop()
            elif "match" in p:
                scopes += _captured(m, [*inner, p.get("name", "")], p.get("captures", {}))
            else:
                named = [*inner, p.get("name", "")]
                scopes += _captured(m, named, p.get("beginCaptures", {}))
                stack.append((p, named))
            if m.end() == pos and p is None and m.end() == len(line):
                pos = m.end()
                continue
            pos = m.end()
        rule, outer = stack[-1] if stack else (None, base)
        scopes.append(" ".join(outer))  # the newline
    return scopes[: len(text)]


SAMPLE = '''\
# a comment with "quotes" and ${x}
project demo
import postgres

param tz: string = "Etc/UTC"  // slash comment
secret key = hex(16)

service web {
  image = "nginx # not a comment ${param.tz}"
  size = 10Gi
  if param.tz == "x" && !true {
    script = """
      echo # still text ${secret.key}
      """
  }
  volumes { "/data" = volume(size: 1Gi) }
}
'''


def scope_of(text: str, needle: str, delta: int = 0) -> str:
    return tokenize(text)[text.index(needle) + delta]


@pytest.mark.parametrize(
    ("needle", "delta", "scope"),
    [
        ("# a comment", 0, "comment.line.number-sign.mora"),
        ('"quotes"', 1, "comment.line.number-sign.mora"),
        ("project demo", 0, "keyword.declaration.project.mora"),
        ("demo", 0, "entity.name.namespace.mora"),
        ("import", 0, "keyword.control.import.mora"),
        ("param tz", 0, "keyword.declaration.mora"),
        ("tz:", 0, "variable.other.declaration.mora"),
        ('"Etc/UTC"', 1, "string.quoted.double.mora"),
        ("// slash", 3, "comment.line.double-slash.mora"),
        ("hex(", 0, "entity.name.function.mora"),
        ("16)", 0, "constant.numeric.integer.mora"),
        ("web {", 0, "entity.name.type.mora"),
        ("image =", 0, "variable.other.property.mora"),
        ("# not a comment", 0, "string.quoted.double.mora"),
        ("${param.tz}", 0, "punctuation.section.interpolation.begin.mora"),
        ("param.tz}", 0, "variable.language.mora"),
        ("10Gi", 0, "constant.numeric.unit.mora"),
        ("if param", 0, "keyword.control.conditional.mora"),
        ("==", 0, "keyword.operator.mora"),
        ("&&", 0, "keyword.operator.mora"),
        ("true", 0, "constant.language.boolean.mora"),
        ('"""', 0, "string.quoted.triple.mora"),
        ("# still text", 0, "string.quoted.triple.mora"),
        ("secret.key}", 0, "variable.language.mora"),
        ("volume(", 0, "entity.name.function.mora"),
        ("size: 1Gi", 0, "variable.other.property.mora"),
    ],
)
def test_sample_scopes(needle: str, delta: int, scope: str) -> None:
    assert scope in scope_of(SAMPLE, needle, delta).split()


def test_comment_is_not_a_string_in_a_string_line() -> None:
    scopes = tokenize(SAMPLE)
    line = SAMPLE.index("# not a comment")
    assert all("comment" not in s for s in scopes[line : line + 15])


SOURCES = sorted([*(REPO / "stdlib").glob("*.mora"), *(REPO / "projects").rglob("*.mora")])


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_comments_and_strings_scoped_as_the_parser_reads_them(path: Path) -> None:
    """Every character of every comment (as the grammar of the parser finds them) is a
    comment to the TextMate grammar, nothing else is, and every string starts as a string."""
    text = path.read_text()
    scopes = tokenize(text)
    found = scan(text)
    in_comment = set()
    for c in found.comments:
        in_comment.update(range(c.start, c.end))
    wrong = [
        (i, text[i])
        for i, s in enumerate(scopes)
        if ("comment." in s) != (i in in_comment) and text[i] not in " \n"
    ]
    assert wrong[:5] == []
    starts = [a for a, _ in found.skips if text[a] == '"']
    assert all("string.quoted" in scopes[a] for a in starts)


def test_vscode_extension_uses_the_grammar_and_the_server() -> None:
    folder = EDITORS / "vscode"
    package = json.loads((folder / "package.json").read_text())
    (language,) = package["contributes"]["languages"]
    assert language["id"] == "mora" and language["extensions"] == [".mora"]
    (grammar,) = package["contributes"]["grammars"]
    assert grammar["language"] == "mora" and grammar["scopeName"] == GRAMMAR["scopeName"]
    assert json.loads((folder / grammar["path"]).read_text()) == GRAMMAR
    config = json.loads((folder / language["configuration"]).read_text())
    assert config["comments"]["lineComment"] == "#"
    assert "onLanguage:mora" in package["activationEvents"]
    assert "vscode-languageclient" in package["dependencies"]
    main = (folder / package["main"]).read_text()
    assert '"lsp"' in main and "mora.path" in main
    assert "mora.path" in package["contributes"]["configuration"]["properties"]
