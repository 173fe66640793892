"""`mora fmt` never changes meaning and reaches its fixed point in one step.

For every .mora file of the repository (stdlib, projects, test cases) and every ```mora example of
the docs, and for generated programs with comments and line breaks in every place the grammar
allows: parse(fmt(x)) == parse(x) with spans aside, fmt(fmt(x)) == fmt(x), every comment is kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mora.diagnostics import Diagnostics
from mora.fmt import format_source, shape
from mora.fmt.comments import scan
from mora.parser import parse_module
from mora.source import SourceFile

REPO = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```mora\n(.*?)^```", re.M | re.S)


def _sources() -> list[tuple[str, str]]:
    out = []
    for folder in ("stdlib", "projects", "tests/cases"):
        for path in sorted((REPO / folder).rglob("*.mora")):
            data = path.read_bytes()
            try:
                out.append((str(path.relative_to(REPO)), data.decode("utf-8")))
            except UnicodeDecodeError:
                continue  # the not-UTF-8 case: refused before parsing
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for i, m in enumerate(_FENCE.finditer(doc.read_text())):
            out.append((f"{doc.relative_to(REPO)}#{i + 1}", m.group(1)))
    return out


SOURCES = _sources()


def _parse(text: str, path: str) -> tuple[object, bool]:
    diags = Diagnostics()
    module = parse_module(SourceFile(path, text), diags)
    return shape(module), diags.has_errors


def _assert_roundtrip(text: str, path: str) -> str | None:
    """The properties for one source; returns the formatted text (None: it does not parse)."""
    before, broken = _parse(text, path)
    result = format_source(text, path)
    if broken:
        assert result.text is None and result.diagnostics.has_errors
        return None
    assert result.text is not None
    after, broken_after = _parse(result.text, path)
    assert not broken_after, result.text
    assert after == before, result.text
    again = format_source(result.text, path).text
    assert again == result.text
    assert _owned_comments(result.text, path) == _owned_comments(text, path)
    return result.text


def _owned_comments(text: str, path: str) -> list[list[str]]:
    """The comments of each top-level declaration (inside it, or between it and the previous
    one), sorted, and those after the last: a comment is never lost nor moved to another one."""
    module = parse_module(SourceFile(path, text), Diagnostics())
    comments = scan(text).comments
    out: list[list[str]] = []
    begin = 0
    for decl in module.decls:
        inside = sorted(c.text for c in comments if begin <= c.start < decl.span.end)
        out.append(inside)
        begin = decl.span.end
    out.append(sorted(c.text for c in comments if c.start >= begin))
    return out


def test_sources_are_found() -> None:
    """The corpus is the real one (a broken glob would make every test below vacuous)."""
    names = [name for name, _ in SOURCES]
    assert sum(n.startswith("stdlib/") for n in names) >= 20
    assert sum(n.startswith("docs/") for n in names) >= 20
    assert sum(n.startswith("tests/cases/") for n in names) >= 50


@pytest.mark.parametrize(("path", "text"), SOURCES, ids=[name for name, _ in SOURCES])
def test_repository_sources_roundtrip(path: str, text: str) -> None:
    formatted = _assert_roundtrip(text, path)
    if formatted is not None:
        assert all(
            len(line) <= 100 or '"' in line or "#" in line for line in formatted.splitlines()
        )


# --- generated programs --------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "db", "web", "x_1", "image", "ports", "env"])
_COMMENT = st.sampled_from(["# c", "# a comment, with: [brackets] { }", '// "quoted"', "#"])
_GAP = st.one_of(
    st.just(" "),
    st.just("\n"),
    st.just("\n\n\n"),
    _COMMENT.map(lambda c: f"  {c}\n"),
    _COMMENT.map(lambda c: f"\n{c}\n\n"),
)


@st.composite
def _spaced(draw: st.DrawFn, tokens: list[str]) -> str:
    """Tokens joined by random whitespace and comments (every gap is a legal place for both)."""
    out = [tokens[0]]
    for tok in tokens[1:]:
        out.append(draw(_GAP))
        out.append(tok)
    return "".join(out)


_ATOMS = st.sampled_from(
    [
        '"text"',
        '"a # not a comment ${x.y}"',
        '"${ join(args.list) }/${x}"',
        "42",
        "-7",
        "10Gi",
        "30s",
        "true",
        "false",
        "param.tz",
        "db.ports.http",
        '"""\n  long\n    text ${a}\n  """',
    ]
)


def _exprs() -> st.SearchStrategy[list[str]]:
    def extend(inner: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
        items = st.lists(inner, max_size=4)

        def sep(parts: list[list[str]], comma: bool = True) -> list[str]:
            out: list[str] = []
            for i, p in enumerate(parts):
                if i:
                    out.append(",")
                out += p
            return out

        return st.one_of(
            items.map(lambda ps: ["[", *sep(ps), "]"]),
            st.lists(st.tuples(_NAMES, inner), max_size=4).map(
                lambda es: ["{", *sep([[k, ":", *v] for k, v in es]), "}"]
            ),
            st.tuples(_NAMES, items).map(lambda t: [t[0], "(", *sep(t[1]), ")"]),
            st.tuples(_NAMES, _NAMES, inner).map(lambda t: [t[0], "(", t[1], ":", *t[2], ")"]),
            st.tuples(inner, st.sampled_from(["==", "!="]), inner).map(
                lambda t: ["(", *t[0], ")", t[1], "(", *t[2], ")"]
            ),
            st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
                lambda t: ["(", *t[0], ")", t[1], "(", *t[2], ")"]
            ),
            inner.map(lambda e: ["!", "(", *e, ")"]),
            st.tuples(inner, inner).map(lambda t: ["[", *t[0], "if", *t[1], "]"]),
            st.lists(
                st.sampled_from(['"a-very-long-string-value-number"', "service.long.reference"]),
                min_size=3,
                max_size=8,
            ).map(lambda xs: ["[", *sep([[x] for x in xs]), "]"]),
        )

    return st.recursive(_ATOMS.map(lambda a: [a]), extend, max_leaves=12)


def _bodies() -> st.SearchStrategy[list[str]]:
    def extend(inner: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
        entry = st.one_of(
            st.tuples(_NAMES, _exprs()).map(lambda t: [t[0], "=", *t[1]]),
            st.tuples(_NAMES, inner).map(lambda t: [t[0], *t[1]]),
            st.tuples(_exprs(), inner).map(lambda t: ["if", *t[0], *t[1]]),
            st.tuples(_exprs(), inner, inner).map(lambda t: ["if", *t[0], *t[1], "else", *t[2]]),
            st.tuples(_NAMES, _exprs()).map(lambda t: ["secret", t[0], "=", *t[1]]),
        )
        return st.lists(entry, max_size=4).map(lambda es: ["{", *[t for e in es for t in e], "}"])

    return st.recursive(st.just(["{", "}"]), extend, max_leaves=6)


_TYPES = st.sampled_from(
    [["string"], ["list", "(", "string", ")"], ["enum", "(", '"a"', ",", '"b"', ")"]]
)

_DECLS = st.one_of(
    _NAMES.map(lambda n: ["project", n]),
    st.sampled_from([["import", "postgres"], ["import", '"../common"', "as", "common"]]),
    st.tuples(_NAMES, _TYPES, _exprs()).map(lambda t: ["param", t[0], ":", *t[1], "=", *t[2]]),
    st.tuples(_NAMES, _exprs()).map(lambda t: ["secret", t[0], "=", *t[1]]),
    st.tuples(_NAMES, _bodies()).map(lambda t: ["service", t[0], *t[1]]),
    st.tuples(_NAMES, _NAMES, st.lists(_exprs(), max_size=3)).map(
        lambda t: ["service", t[0], "=", t[1], "(", *[x for e in t[2] for x in [*e, ","]], ")"]
    ),
    st.tuples(_NAMES, st.lists(st.tuples(_NAMES, _TYPES), max_size=3), _bodies()).map(
        lambda t: [
            "template",
            t[0],
            "(",
            *[x for n, ty in t[1] for x in [n, ":", *ty, ","]],
            ")",
            *t[2],
        ]
    ),
    # instance bodies and `amend` (mora/amend)
    st.tuples(_NAMES, _NAMES, st.lists(_exprs(), max_size=2), _bodies()).map(
        lambda t: ["service", t[0], "=", t[1], "(", *[x for e in t[2] for x in [*e, ","]], ")"]
        + t[3]
    ),
    st.tuples(st.lists(_NAMES, min_size=1, max_size=2), _bodies()).map(
        lambda t: ["amend", ".".join(t[0]), *t[1]]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # a comment in a list item's condition moved before the item changed the layout twice
    'service a = a ( "text" , [ ( "a # not a comment ${x.y}" ) == ( "a # not a comment ${x.y}" )'
    ' if ( a ( a : "text" ) ) == ( ( "text" ) == (  # c\n"a # not a comment ${x.y}" ) ) ] , )'
)
@example(  # ... but a comment that keeps its place inside the condition's map keeps the item's
    'service a = a ( [ "text" if { a : "text" , a : db.ports.http , a : a ( a : "text" ) ,'
    ' a : ( "text" ) == ( "a # not a comment ${x.y}" )  # c\n} ] , )'
)
@given(st.lists(_DECLS, max_size=5).flatmap(lambda ds: _spaced([t for d in ds for t in d] or [""])))
def test_generated_programs_roundtrip(text: str) -> None:
    _assert_roundtrip(text, "generated.mora")
