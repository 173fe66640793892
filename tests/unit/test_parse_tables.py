"""mora's own loop over lark's tables (`mora.parse_tables`) parses exactly as lark does.

Every `.mora` file of the repository, every ```mora example of the docs and generated sources
(mutated repository files, token soup) are parsed both ways: lark accepts a text exactly when
the loop does, and then both give the same tree (node types, fields, spans) and the same
diagnostics. `parse_module` and `parse_expression` are compared whole as well, the loop's tables
read from the cache folder as a user's check reads them.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora import ast, parse_tables
from mora import parser as P
from mora.diagnostics import Diagnostics
from mora.source import SourceFile, Span

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    p
    for top in ("stdlib", "projects", "examples", "tests", "benchmarks")
    for p in (REPO / top).rglob("*.mora")
)
_FENCE = re.compile(r"^```mora\n(.*?)^```", re.M | re.S)
DOC_EXAMPLES = [
    m.group(1)
    for doc in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for m in _FENCE.finditer(doc.read_text(encoding="utf-8"))
]
TEXTS = [p.read_bytes().decode("utf-8", errors="replace") for p in SOURCES]  # as SourceFile.read


def _dump(value: Any) -> Any:
    """A node as plain nested tuples: type, fields, spans as offsets; a token (a `str`
    subclass) left in a tree shows up as its class."""
    if isinstance(value, ast.Node):
        return (type(value).__name__, *(_dump(getattr(value, f)) for f in value._fields))
    if isinstance(value, Span):
        return ("span", value.start, value.end)
    if isinstance(value, tuple | list):
        return tuple(_dump(v) for v in value)
    if isinstance(value, str):
        return (type(value).__name__, str(value))
    return value


def _diags(diags: Diagnostics) -> list[tuple[str, str, int, int]]:
    return [(d.code, d.message, d.span.start, d.span.end) for d in diags.items]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def tables() -> parse_tables.Tables:
    """Tables copied out of lark just now (not the cache file): what the code would store."""
    return parse_tables.Tables(parse_tables.extract(P._parser()))


def _raw(tables: parse_tables.Tables | None, text: str, start: str) -> tuple[str, Any, Any]:
    """One parse through the loop (`tables`) or lark (None): ("ok", tree, diagnostics) or
    ("error", None, None)."""
    file = SourceFile("t.mora", text)
    P._BUILDER.file, P._BUILDER.base, P._BUILDER.diagnostics = file, 0, Diagnostics()
    try:
        if tables is None:
            tree = P._parser().parse(text, start=start)
        else:
            tree = parse_tables.parse(tables, text, start, P._BUILDER)
    except (parse_tables.NotHere, P._unexpected_input()):
        return "error", None, None
    return "ok", _dump(tree), _diags(P._BUILDER.diagnostics)


def _same(tables: parse_tables.Tables, text: str, start: str = "start") -> str:
    lark_result = _raw(None, text, start)
    loop_result = _raw(tables, text, start)
    assert loop_result == lark_result
    return lark_result[0]


def test_the_repository_sources_parse_identically(tables: parse_tables.Tables) -> None:
    assert len(SOURCES) > 300 and any(p.parent.name == "stdlib" for p in SOURCES)
    outcomes = [_same(tables, text) for text in TEXTS]
    assert outcomes.count("ok") > 250  # most are valid, so the trees were compared
    assert outcomes.count("error") > 0  # the parse-error cases: both decline them


def test_the_docs_examples_parse_identically(tables: parse_tables.Tables) -> None:
    assert len(DOC_EXAMPLES) > 50
    for text in DOC_EXAMPLES:
        _same(tables, text)


def test_expressions_parse_identically(tables: parse_tables.Tables) -> None:
    cases = ['"a${x.y}b"', "a.b == 1 && !c || d", '[1, 2 if x, {a: "b"}]', "f(1, n: 2Gi)", "("]
    assert [_same(tables, c, "expression") for c in cases] == ["ok"] * 4 + ["error"]


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = [
    *"{}[]():=,.!",
    "==",
    "!=",
    "&&",
    "||",
    "->",
    '"a"',
    '"${x}"',
    '"""\n  t\n  """',
    "10Gi",
    "-3",
    "0",
    "x",
    "service",
    "template",
    "param",
    "import",
    "if",
    "else",
    "true",
    "none",
    "contract",
    "unordered",
    "provides",
    "request",
    "amend",
    "moved",
    "require",
    "version",
    "as",
    "# c\n",
    "\n",
]


@SETTINGS
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=40), sep=st.sampled_from([" ", "\n"]))
def test_token_soup_parses_identically(
    tables: parse_tables.Tables, tokens: list[str], sep: str
) -> None:
    text = sep.join(tokens)
    _same(tables, text)
    _same(tables, text, "expression")


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 12)))
        text = text[:i] + draw(st.sampled_from(["", *TOKENS, " ", "$", "\\"])) + text[j:]
    return text


@SETTINGS
@given(text=_mutated())
def test_mutated_sources_parse_identically(tables: parse_tables.Tables, text: str) -> None:
    _same(tables, text)


def _module(text: str, tables: parse_tables.Tables | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(P, "_tables", lambda: tables)
    diags = Diagnostics()
    module = P.parse_module(SourceFile("t.mora", text), diags)
    return _dump(module.decls), module.broken, _diags(diags)


def test_parse_module_and_its_recovery_are_unchanged(
    tables: parse_tables.Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole files, the broken ones too (lark reports them, declaration by declaration), and a
    syntax error inside `${...}` of a file that parses (the loop hands that one text to lark)."""
    texts = [
        *TEXTS[:60],
        'service a { image = "x" }\nservice b { image = = }\nservice c { x = "\\q${a b}" }\n',
        'service a { image = "${a.}" env = { K = "\\q" } }\n',
    ]
    for text in texts:
        assert _module(text, tables, monkeypatch) == _module(text, None, monkeypatch)


def test_a_check_parses_without_importing_lark(tmp_path: Path) -> None:
    """With the tables stored, a check that parses (no parse cache) never imports lark; a syntax
    error still gets lark's diagnostic."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "MORA_NO_CACHE": "1", "PATH": "/usr/bin:/bin"}
    probe = (
        "import sys\nfrom mora.main import main\n"
        "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('LARK' if 'lark' in sys.modules else 'NOLARK', code)\n"
    )
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.mora").write_text('project p\nservice a { image = "x:1" }\n')

    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(project)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
        )
        return done.stderr + done.stdout  # the diagnostics, then the probe line

    first = run()  # builds the tables with lark and stores them
    assert first.splitlines()[-1].startswith("LARK")
    assert run().splitlines()[-1] == "NOLARK 0"
    (project / "main.mora").write_text("project p\nservice a { image = = }\n")
    out = run()
    assert "E0001" in out and out.splitlines()[-1].startswith("LARK")


@SETTINGS
@given(data=st.data())
def test_a_terminal_starts_with_one_of_its_first_characters(
    tables: parse_tables.Tables, data: st.DataObject
) -> None:
    """The lexer tries at a character only the terminals that can start there: every text a
    terminal's pattern matches starts with one of the characters recorded for it."""
    name = data.draw(st.sampled_from(sorted(tables.terminals)))
    pattern, first, _literal = tables.terminals[name]
    text = data.draw(st.from_regex(pattern, fullmatch=True))
    assert first is None or text[:1] in first, (name, text)


def test_first_characters_of_the_pattern_forms() -> None:
    first = parse_tables._first_chars
    assert first(r"-?[0-9]+(?![0-9])", 0) == "-0123456789"
    assert first(r'"(?!"")([^"\\\n]|\\.)*"', 0) == '"'
    assert first(r"(?:==|!=)", 0) == "!="
    assert first(r"(?i:abc)", 0) is None  # either case: not worked out, tried everywhere
    assert first(r"[^a]x", 0) is None and first(r".x", 0) is None and first(r"a*", 0) is None


def _first_token(tables: parse_tables.Tables, index: int, text: str) -> tuple[str, str] | None:
    """The loop's lexer at the start of `text` in lexer `index`: the first of the candidates
    for the first character that matches (a plain string by `startswith`), as (kind, text)."""
    for kind, literal, match, _role in tables.candidates(index, text[0]):
        if literal is not None:
            if text.startswith(literal):
                return kind, literal
        else:
            m = match(text, 0)
            if m:
                return kind, m.group()
    return None


@SETTINGS
@given(
    data=st.data(),
    tokens=st.lists(
        st.sampled_from([*TOKENS, "services", "as_", "iff", "//x\n", "\t", "-"]),
        min_size=1,
        max_size=6,
    ),
)
def test_the_lexer_takes_the_token_lark_s_alternation_takes(
    tables: parse_tables.Tables, data: st.DataObject, tokens: list[str]
) -> None:
    """lark's contextual lexer matches one alternation of a state's terminals, in its order;
    the loop tries only those that can start with the character, plain strings compared as
    strings: the same token (kind and text) at the start of random token streams, in every
    lexer."""
    index = data.draw(st.integers(0, len(tables.lexer_data) - 1))
    names, flags, _unless, _ignore = tables.lexer_data[index]
    alternation = re.compile(
        "|".join(f"(?P<{name}>{tables.terminals[name][0]})" for name in names), flags
    )
    text = "".join(tokens)
    m = alternation.match(text)
    assert _first_token(tables, index, text) == (None if m is None else (m.lastgroup, m.group()))


def test_plain_string_terminals_are_compared_as_strings() -> None:
    literal = parse_tables._literal_of
    assert literal(r"\{", 0) == "{" and literal("service", 0) == "service"
    assert literal(r"\-\>", 0) == "->" and literal(r"\|\|", 0) == "||"
    assert literal("(?:==|!=)", 0) is None and literal("[0-9]+", 0) is None
    assert literal("service", re.IGNORECASE) is None  # either case: matched as a pattern


def test_keywords_are_looked_up_as_lark_s_patterns_would_match_them(
    tables: parse_tables.Tables,
) -> None:
    """A NAME that is a keyword of its state becomes that keyword: the loop looks the text up
    in a dict built from lark's alternations of words instead of running `fullmatch` on them;
    every pattern of the grammar is such an alternation, and the lookup names the terminal
    the first matching pattern names, for every keyword and near misses."""
    checked = 0
    for index, (_names, flags, unless, _ignore) in enumerate(tables.lexer_data):
        for kind, patterns in unless.items():
            lookup = tables.unless(index)[kind]
            assert isinstance(lookup, dict)  # no pattern compiled for mora's grammar
            compiled = [re.compile(p, flags) for p in patterns]
            words = re.findall(r">([A-Za-z_0-9]+)\)", "|".join(patterns))
            for text in {*words, *(w + "s" for w in words), *(w.upper() for w in words), "x"}:
                m = next((m for p in compiled if (m := p.fullmatch(text))), None)
                assert lookup.get(text, kind) == (m.lastgroup if m else kind)
                checked += 1
    assert checked > 100


def test_keyword_patterns_of_another_form_are_matched_as_patterns() -> None:
    """What is not an alternation of plain words (a class, case-insensitive flags) is kept as
    lark's patterns, first match winning."""
    keywords = parse_tables._keywords
    assert keywords(("(?P<IF>if)|(?P<IN>in)", "(?P<IF2>if)"), re.UNICODE) == {
        "if": "IF",
        "in": "IN",
    }
    for patterns, flags in (
        (("(?P<IF>i[fn])",), re.UNICODE),
        (("(?P<IF>if)",), re.IGNORECASE),
        (("(?P<IF>if)|plain",), re.UNICODE),
    ):
        found = keywords(patterns, flags)
        assert isinstance(found, parse_tables._Keywords)
        assert found.get("IF" if flags & re.IGNORECASE else "if", "NAME") == "IF"
        assert found.get("else", "NAME") == "NAME"


def test_the_tables_file_holds_plain_data_only(tmp_path: Path, tables: parse_tables.Tables) -> None:
    """The tables are kept with marshal: they round-trip, a damaged file reads as none (the
    tables are built again), and data that is not plain (a `str` subclass such as lark's
    `Token`) is not stored at all rather than stored and refused on every read."""
    data = parse_tables.extract(P._parser())
    path = Path(parse_tables.tables_path(tmp_path, "d"))
    parse_tables.store(path, data)
    loaded = parse_tables.load(path)
    assert loaded is not None and loaded.actions == tables.actions
    assert loaded.lexer_data == tables.lexer_data and loaded.rules == tables.rules
    path.write_bytes(path.read_bytes()[:100])
    assert parse_tables.load(path) is None
    path.write_bytes(b"\x00garbage")
    assert parse_tables.load(path) is None

    class Token(str):
        pass

    other = Path(parse_tables.tables_path(tmp_path, "e"))
    parse_tables.store(other, {**data, "start": {Token("start"): 0}})
    assert not other.exists() and list(tmp_path.glob(".tmp-*")) == []


def test_the_tables_file_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables are read in one call and then unmarshalled: `marshal.load` of a file object
    asks it for every string in turn (about 2,000 calls, ~3 ms of each check that parses)."""
    path = parse_tables.tables_path(tmp_path, "d")
    parse_tables.store(path, parse_tables.extract(P._parser()))
    calls: list[str] = []

    class Counting(io.FileIO):
        def read(self, size: int = -1) -> bytes:
            calls.append("read")
            return super().read(size)

        def readinto(self, buffer: Any) -> int:
            calls.append("readinto")
            return super().readinto(buffer)

    expected = parse_tables.load(path)
    monkeypatch.setattr(parse_tables, "open", lambda p, mode: Counting(p, "r"), raising=False)
    loaded = parse_tables.load(path)
    assert loaded is not None and expected is not None and loaded.rules == expected.rules
    assert calls == ["read"]
