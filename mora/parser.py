"""Parsing: source text -> `mora.ast.Module`, with syntax errors as diagnostics.

The LALR parser is built once per process from `grammar/mora.lark` and cached on disk (Lark's own
cache, keyed by the grammar's hash), so `mora check` does not pay for grammar analysis on every
run. The AST is built inline while parsing (no intermediate parse tree). A file that parses is
parsed without importing lark at all: `mora.parse_tables` runs lark's own tables (copied out once
per grammar into the cache folder); lark itself parses only what that loop declines, a syntax
error above all, so every diagnostic still comes from lark's exception.

Recovery: when a file has a syntax error, it is re-parsed declaration by declaration (split at
lines that start with a top-level keyword), so one run reports an error per broken declaration
and the healthy declarations still reach the checker.
"""

from __future__ import annotations

import itertools
import os
import re
from functools import cache
from operator import attrgetter

from mora import ast, parse_tables
from mora.diagnostics import Diagnostics, Label
from mora.source import _LOW, SourceFile, Span, span_at

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:  # lark is imported only to build the tables or to report a syntax error
    from collections.abc import Callable
    from typing import Any

    import lark
    from lark import Token

# Nesting levels (a bracket, block, `if`, call or operator each adds one): later passes recurse
# over the tree, so deeper input is refused (E0008). Real modules stay below 15.
MAX_DEPTH = 64
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$", "0": "\0"}
_SIMPLE_REF = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\s*")
# The recovery's patterns (a file with a syntax error), as pattern text: compiling them is
# ~0.3 ms a cold check that parses never needs; `re` compiles them once, on first use.
_DECL_NAME = r"(param|secret|input|service|template|contract)\s+([A-Za-z_][A-Za-z0-9_]*)"
_DECL_START = (
    r"^(project|import|param|secret|input|service|template|require|moved|contract|defaults|amend)\b"
)

# Words a user knows, for the terminals Lark names in "expected ..." sets.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "INDEX": "a name",  # a list item in a step's response (`body.0.id`): still a name to a user
    "STRING": "a string",
    "LONG_STRING": "a string",
    "INT": "a number",
    "UNIT_NUMBER": "a size or duration (like `10Gi` or `30s`)",
    "COMPARE": "`==` or `!=`",
    "$END": "the end of the file",
}


# Positional constructors that fill the nodes' slots directly (mora.ast.positional).
_AmendDecl = ast.positional(ast.AmendDecl)
_Arg = ast.positional(ast.Arg)
_Attr = ast.positional(ast.Attr)
_Binary = ast.positional(ast.Binary)
_Block = ast.positional(ast.Block)
_Body = ast.positional(ast.Body)
_BoolLit = ast.positional(ast.BoolLit)
_Call = ast.positional(ast.Call)
_ContractDecl = ast.positional(ast.ContractDecl)
_ContractField = ast.positional(ast.ContractField)
_DefaultsDecl = ast.positional(ast.DefaultsDecl)
_IfEntry = ast.positional(ast.IfEntry)
_ImportDecl = ast.positional(ast.ImportDecl)
_InputDecl = ast.positional(ast.InputDecl)
_IntLit = ast.positional(ast.IntLit)
_Key = ast.positional(ast.Key)
_ListExpr = ast.positional(ast.ListExpr)
_ListItem = ast.positional(ast.ListItem)
_MapEntry = ast.positional(ast.MapEntry)
_MapExpr = ast.positional(ast.MapExpr)
_Module = ast.positional(ast.Module)
_MovedDecl = ast.positional(ast.MovedDecl)
_Name = ast.positional(ast.Name)
_NoneLit = ast.positional(ast.NoneLit)
_ParamDecl = ast.positional(ast.ParamDecl)
_ProjectDecl = ast.positional(ast.ProjectDecl)
_Provides = ast.positional(ast.Provides)
_Ref = ast.positional(ast.Ref)
_Request = ast.positional(ast.Request)
_RequireDecl = ast.positional(ast.RequireDecl)
_SecretDecl = ast.positional(ast.SecretDecl)
_ServiceDecl = ast.positional(ast.ServiceDecl)
_StringLit = ast.positional(ast.StringLit)
_TemplateBase = ast.positional(ast.TemplateBase)
_TemplateDecl = ast.positional(ast.TemplateDecl)
_TemplateParam = ast.positional(ast.TemplateParam)
_TypeExpr = ast.positional(ast.TypeExpr)
_Unary = ast.positional(ast.Unary)
_UnitLit = ast.positional(ast.UnitLit)


class _Builder:  # used inline by the LALR parser: no parse tree
    """Turns the parser's rule callbacks into AST nodes with spans.

    Called by lark's parser and by `mora.parse_tables`' loop alike: a token is a `str` with
    `type` and `start_pos` (lark's `Token`, or `parse_tables.Tok`), anything else a node."""

    __visit_tokens__ = False  # lark: no token callbacks

    def __init__(self) -> None:
        self.file: SourceFile = SourceFile("<none>", "")
        self.base = 0
        self.diagnostics = Diagnostics()

    # --- helpers ---------------------------------------------------------------------------------
    def _cover(self, children: list[Any]) -> Span:
        """The span from the first to the last child (tokens are relative to `base`).

        Reads a token's length as a `str` and a node's offsets from its packed span: the
        builder covers about every other node it makes, on every cold parse."""
        start = end = -1
        base = self.base
        for child in children:
            if child is None:
                continue
            if isinstance(child, str):  # a token
                if child.start_pos is None:
                    continue
                lo = base + child.start_pos
                hi = lo + len(child)  # a token is its text: len(value)
            else:
                span = getattr(child, "span", None)
                if span is None:  # a tuple of arguments, an unnamed lark tree
                    continue
                pos = span._pos
                if pos.__class__ is int:
                    lo, hi = pos >> 32, pos & _LOW
                else:
                    lo, hi = pos
            if start < 0 or lo < start:
                start = lo
            if hi > end:
                end = hi
        if start < 0:
            return span_at(self.file, base, base)
        return span_at(self.file, start, end)

    def _tok(self, tok: Token) -> Span:
        start = self.base + (tok.start_pos or 0)
        return span_at(self.file, start, start + len(tok))

    def _name(self, tok: Token) -> ast.Name:
        return _Name(str(tok), self._tok(tok))

    # --- declarations ----------------------------------------------------------------------------
    def start(self, decls: list[ast.Decl]) -> tuple[ast.Decl, ...]:
        return tuple(decls)

    def expression(self, children: list[ast.Expr]) -> ast.Expr:
        return children[0]

    def project_decl(self, c: list[Any]) -> ast.ProjectDecl:
        return _ProjectDecl(self._name(c[0]), self._cover(c))

    def import_decl(self, c: list[Any]) -> ast.ImportDecl:
        target, alias, *rest = c
        args, close = rest[0] if rest and rest[0] is not None else (None, None)
        if isinstance(target, str):  # a STRING token
            lit = self._string(target)
            text, is_path = lit.plain, True
        else:
            text, is_path = target.dotted, False
        return _ImportDecl(
            text,
            is_path,
            self._name(alias) if alias is not None else None,
            self._cover([target, alias, *(args or ()), close]),
            args,
        )

    def import_args(self, c: list[Any]) -> tuple[tuple[ast.Arg, ...], Token]:
        """The arguments of an aliased import, and the `)` that ends the declaration's span."""
        return tuple(a for a in c[:-1] if a is not None), c[-1]

    def require_decl(self, c: list[Any]) -> ast.RequireDecl:
        name, repo, version = c
        repository = self._string(repo).plain if repo is not None else None
        return _RequireDecl(
            self._name(name), repository, self._string(version).plain, self._cover(c)
        )

    def moved_decl(self, c: list[Any]) -> ast.MovedDecl:
        new = c[1]  # a dotted name (`media.db`, a module's service) is kept as written
        return _MovedDecl(self._name(c[0]), _Name(new.dotted, new.span), self._cover(c))

    def contract_decl(self, c: list[Any]) -> ast.ContractDecl:
        name, unordered, _open, *fields, _close = c
        return _ContractDecl(
            self._name(name),
            unordered is not None,
            tuple(f for f in fields if f is not None),
            self._cover(c),
        )

    def contract_field(self, c: list[Any]) -> ast.ContractField:
        return _ContractField(self._name(c[0]), c[1], c[2], self._cover(c))

    def defaults_decl(self, c: list[Any]) -> ast.DefaultsDecl:
        return _DefaultsDecl(c[0], self._cover(c))

    def provides_entry(self, c: list[Any]) -> ast.Provides:
        return _Provides(self._name(c[0]), c[1], self._cover(c))

    def request_entry(self, c: list[Any]) -> ast.Request:
        return _Request(c[0], self._name(c[1]), c[2], self._cover(c))

    def param_decl(self, c: list[Any]) -> ast.ParamDecl:
        return _ParamDecl(self._name(c[0]), c[1], c[2], self._cover(c))

    def secret_decl(self, c: list[Any]) -> ast.SecretDecl:
        return _SecretDecl(self._name(c[0]), c[1], self._cover(c))

    def input_decl(self, c: list[Any]) -> ast.InputDecl:
        return _InputDecl(self._name(c[0]), c[1], c[2], self._cover(c))

    def service_block(self, c: list[Any]) -> ast.ServiceDecl:
        return _ServiceDecl(self._name(c[0]), c[1], None, self._cover(c))

    def service_instance(self, c: list[Any]) -> ast.ServiceDecl:
        return _ServiceDecl(self._name(c[0]), None, c[1], self._cover(c))

    def service_instance_body(self, c: list[Any]) -> ast.ServiceDecl:
        return _ServiceDecl(self._name(c[0]), c[2], c[1], self._cover(c))

    def amend_decl(self, c: list[Any]) -> ast.AmendDecl:
        return _AmendDecl(c[0], c[1], self._cover(c))

    def template_decl(self, c: list[Any]) -> ast.TemplateDecl:
        name, *params, body = c
        return _TemplateDecl(
            self._name(name), tuple(p for p in params if p is not None), body, self._cover(c)
        )

    def template_base(self, c: list[Any]) -> ast.TemplateBase:
        return _TemplateBase(self._name(c[0]), c[1], self._cover(c))

    def template_param(self, c: list[Any]) -> ast.TemplateParam:
        return _TemplateParam(self._name(c[0]), c[1], c[2], self._cover(c))

    def type_expr(self, c: list[Any]) -> ast.TypeExpr:
        name, *args = c
        out: list[ast.TypeExpr | ast.StringLit] = []
        for a in args:
            if a is None or (isinstance(a, str) and a.type == "RPAR"):  # type: ignore[attr-defined]
                continue
            out.append(self._string(a) if isinstance(a, str) else a)
        return _TypeExpr(self._name(name), tuple(out), self._cover(c))

    # --- blocks ----------------------------------------------------------------------------------
    def body(self, c: list[Any]) -> ast.Body:
        return _Body(tuple(c[1:-1]), self._cover(c))

    def attr(self, c: list[Any]) -> ast.Attr:
        return _Attr(c[0], c[1], self._cover(c))

    def block(self, c: list[Any]) -> ast.Block:
        return _Block(c[0], c[1], self._cover(c))

    def if_entry(self, c: list[Any]) -> ast.IfEntry:
        cond, then, *rest = c
        otherwise = rest[0] if rest else None
        return _IfEntry(cond, then, otherwise, self._cover(c))

    def map_key(self, c: list[Token]) -> ast.Key:
        return self._key(c[0])

    def key(self, c: list[Token]) -> ast.Key:
        return self._key(c[0])

    def _key(self, tok: Token) -> ast.Key:
        if tok.type == "STRING":
            lit = self._string(tok)
            if not lit.is_plain:  # a computed key would need the site: refused, never emptied
                first = next(p for p in lit.parts if not isinstance(p, str))
                self.diagnostics.error(
                    "E0009",
                    "`${...}` in a key: keys are fixed text",
                    first.span,  # type: ignore[union-attr]
                    "interpolated here",
                    help="a key (a file path in `files`, an environment variable name, a map key) "
                    "cannot depend on a value: put the varying part in the value, or write "
                    "`\\${` for a literal `${`",
                )
            return _Key(lit.plain, True, self._tok(tok))
        return _Key(str(tok), False, self._tok(tok))

    # --- expressions -----------------------------------------------------------------------------
    def or_op(self, c: list[Any]) -> ast.Binary:
        return _Binary("||", c[0], c[1], self._cover(c))

    def and_op(self, c: list[Any]) -> ast.Binary:
        return _Binary("&&", c[0], c[1], self._cover(c))

    def not_op(self, c: list[Any]) -> ast.Unary:
        return _Unary("!", c[1], self._cover(c))

    def compare(self, c: list[Any]) -> ast.Binary:
        return _Binary(str(c[1]), c[0], c[2], self._cover(c))

    def dotted(self, c: list[Token]) -> ast.Ref:
        return _Ref(tuple(self._name(t) for t in c), self._cover(c))

    def reference(self, c: list[ast.Ref]) -> ast.Ref:
        return c[0]

    def call(self, c: list[Any]) -> ast.Call:
        func, *args, _close = c
        return _Call(func, tuple(a for a in args if a is not None), self._cover(c))

    def positional_arg(self, c: list[Any]) -> ast.Arg:
        return _Arg(None, c[0], self._cover(c))

    def named_arg(self, c: list[Any]) -> ast.Arg:
        return _Arg(self._name(c[0]), c[1], self._cover(c))

    def list(self, c: list[Any]) -> ast.ListExpr:
        return _ListExpr(tuple(i for i in c[1:-1] if i is not None), self._cover(c))

    def list_item(self, c: list[Any]) -> ast.ListItem:
        return _ListItem(c[0], c[1], self._cover(c))

    def map(self, c: list[Any]) -> ast.MapExpr:
        return _MapExpr(tuple(e for e in c[1:-1] if e is not None), self._cover(c))

    def map_entry(self, c: list[Any]) -> ast.MapEntry:
        return _MapEntry(c[0], c[1], self._cover(c))

    def string(self, c: list[Token]) -> ast.StringLit:
        return self._string(c[0])

    def long_string(self, c: list[Token]) -> ast.StringLit:
        return self._string(c[0], long=True)

    def int(self, c: list[Token]) -> ast.IntLit:
        return _IntLit(int(c[0]), self._tok(c[0]))

    def unit_number(self, c: list[Token]) -> ast.UnitLit:
        return _UnitLit(str(c[0]), self._tok(c[0]))

    def true(self, c: list[Token]) -> ast.BoolLit:
        return _BoolLit(True, self._cover(c))

    def false(self, c: list[Token]) -> ast.BoolLit:
        return _BoolLit(False, self._cover(c))

    def none(self, c: list[Token]) -> ast.NoneLit:
        return _NoneLit(self._cover(c))

    # --- strings ---------------------------------------------------------------------------------
    def _string(self, tok: Token, long: bool = False) -> ast.StringLit:
        """Unescape a string token and parse its `${...}` interpolations."""
        raw = str(tok)
        quote = 3 if long else 1
        body_start = self.base + (tok.start_pos or 0) + quote
        body = raw[quote:-quote]
        if not long and "\\" not in body and "$" not in body:
            return _StringLit((body,) if body else (), self._tok(tok))
        parts: list[str | ast.Expr] = []
        text: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                esc = body[i + 1]
                if esc in _ESCAPES:
                    text.append(_ESCAPES[esc])
                else:
                    self.diagnostics.error(
                        "E0003",
                        f"unknown escape sequence `\\{esc}`",
                        Span(self.file, body_start + i, body_start + i + 2),
                        "not a known escape",
                        help='known escapes: \\n \\t \\r \\0 \\" \\\\ \\$',
                    )
                    text.append(esc)
                i += 2
                continue
            if ch == "$" and body.startswith("${", i):
                end = _matching_brace(body, i + 1)
                if end < 0:
                    self.diagnostics.error(
                        "E0004",
                        "unterminated `${` in string",
                        Span(self.file, body_start + i, body_start + i + 2),
                        "this `${` is never closed",
                        help="close the interpolation with `}`, or write `\\${` for a literal `${`",
                    )
                    text.append(body[i:])
                    break
                if text:
                    parts.append("".join(text))
                    text = []
                expr = self._interpolation(body[i + 2 : end], body_start + i + 2)
                if expr is not None:
                    parts.append(expr)
                i = end + 1
                continue
            text.append(ch)
            i += 1
        if text:
            parts.append("".join(text))
        if long and parts and isinstance(parts[0], str):
            parts = _dedent_parts(parts)
        return _StringLit(tuple(parts), self._tok(tok))

    def _interpolation(self, text: str, offset: int) -> ast.Expr | None:
        if not text.strip():
            self.diagnostics.error(
                "E0004",
                "empty interpolation `${}`",
                Span(self.file, offset - 2, offset + len(text) + 1),
                "nothing to interpolate",
            )
            return None
        simple = _SIMPLE_REF.fullmatch(text)
        if simple:  # most interpolations are plain references: no parser round trip
            names = []
            for m in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", text):
                names.append(
                    _Name(m.group(), span_at(self.file, offset + m.start(), offset + m.end()))
                )
            return _Ref(tuple(names), span_at(self.file, names[0].span.start, names[-1].span.end))
        saved = self.base
        self.base = offset
        try:
            result: ast.Expr = _parse(text, "expression")
            return result
        except _unexpected_input() as err:
            _report_syntax_error(
                err, self.file, offset, len(text), self.diagnostics, interpolation=True
            )
            return None
        finally:
            self.base = saved


def _matching_brace(text: str, open_at: int) -> int:
    """Index of the `}` closing the `{` at `open_at`, skipping nested strings and braces."""
    depth = 0
    i = open_at
    in_string = False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _placeholder(parts: list[str | ast.Expr]) -> str:
    """A character that occurs in none of the text (a `\\0` escape may put NUL there)."""
    text = "".join(p for p in parts if isinstance(p, str))
    code = 0xE000  # the private use area: free in practice, the loop only for hostile input
    while chr(code) in text:
        code += 1
    return chr(code)


def _dedent_parts(parts: list[str | ast.Expr]) -> list[str | ast.Expr]:
    """Triple-quoted strings: drop the first newline and the common indentation of the lines."""
    mark = _placeholder(parts)
    joined = "".join(p if isinstance(p, str) else mark for p in parts)
    if joined.startswith("\n"):
        joined = joined[1:]
    lines = joined.split("\n")
    indents = [len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip(" ")]
    strip = min(indents) if indents else 0
    joined = "\n".join(ln[strip:] if ln.strip(" ") else ln.lstrip(" ") for ln in lines)
    exprs = iter(p for p in parts if not isinstance(p, str))
    out: list[str | ast.Expr] = []
    for i, chunk in enumerate(joined.split(mark)):
        if i:
            out.append(next(exprs))
        if chunk:
            out.append(chunk)
    return out


# --- the parser ----------------------------------------------------------------------------------


def _grammar_digest(grammar: str) -> str:
    from mora.parse_cache import _sha256

    return _sha256(grammar.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _cache_folder() -> str | None:
    """`$XDG_CACHE_HOME/mora`, or None: no folder to keep lark's parser and the tables in
    (`mora.cache_files.cache_root`); they are then built for this process only."""
    from mora.cache_files import cache_root

    return cache_root()


def _cache_path(grammar: str = "") -> str:
    """lark's cache of the built parser, one file per grammar text: lark keeps one grammar per
    file and rebuilds (~80 ms, against ~12 ms from the file) when the text differs, so two
    versions of mora (or two checkouts) sharing one file rebuilt it for each other every run."""
    import lark

    name = f"grammar-lark{lark.__version__}-{_grammar_digest(grammar)}.cache"
    folder = _cache_folder()
    if folder is None:
        raise OSError("no cache folder")
    return os.path.join(folder, name)


_BUILDER = _Builder()


@cache
def _parser() -> lark.Lark:
    import lark

    from mora.resources import grammar_file

    kwargs: dict[str, Any] = dict(
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        start=["start", "expression"],
        transformer=_BUILDER,
    )
    grammar = _read_grammar(grammar_file())
    try:
        cache_file = _cache_path(grammar)
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        built = lark.Lark(grammar, cache=cache_file, **kwargs)
    except OSError:
        return lark.Lark(grammar, **kwargs)
    _prune_grammar_caches(os.path.dirname(cache_file))
    return built


@cache
def _tables() -> parse_tables.Tables | None:
    """lark's tables for `mora.parse_tables`' loop: read from the cache folder, or copied out of
    lark (and stored) on the first parse after the grammar changed. None: parse with lark."""
    if os.environ.get("MORA_LARK_ONLY"):  # the comparison tests parse with lark itself
        return None
    from mora.resources import grammar_file

    try:
        grammar = _read_grammar(grammar_file())
    except OSError:
        return None
    folder = _cache_folder()
    path = None
    if folder is not None:
        path = parse_tables.tables_path(folder, _grammar_digest(grammar + _lark_stamp()))
        tables = parse_tables.load(path)
        if tables is not None:
            return tables
    try:
        data = parse_tables.extract(_parser())
    except (
        parse_tables.NotHere,
        AttributeError,
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        ImportError,
    ):
        return None  # a lark whose internals differ: lark parses, as before
    if path is not None:
        parse_tables.store(path, data)
        _prune_grammar_caches(os.path.dirname(path), pattern="grammar-tables-*")  # .pickle: before marshal
    return parse_tables.Tables(data)


def _read_grammar(path: str) -> str:
    """The grammar's text, as `Path.read_text` read it (universal newlines)."""
    with open(path, encoding="utf-8") as f:
        return f.read()


def _lark_stamp() -> str:
    """Which lark installation would build the tables (its package file's size and time), found
    without importing it: tables copied from another lark version are not reused."""
    import sys

    for entry in sys.path:
        try:
            st = os.stat(os.path.join(entry or ".", "lark", "__init__.py"))
        except OSError:
            continue
        return f"\0lark {st.st_size} {st.st_mtime_ns}"
    return "\0no lark"


def _parse(text: str, start: str) -> Any:
    """Parse `text` with the tables' loop, or with lark when the loop declines it (a syntax
    error: lark's exception carries what the diagnostic reports)."""
    tables = _tables()
    if tables is not None:
        diagnostics = _BUILDER.diagnostics
        mark = len(diagnostics.items)
        try:
            return parse_tables.parse(tables, text, start, _BUILDER)
        except parse_tables.NotHere:
            del diagnostics.items[mark:]  # lark's parse below reports the same again
    return _parser().parse(text, start=start)


def _unexpected_input() -> type[Exception]:
    """lark's syntax error class, for an `except` clause: evaluated only when something was
    raised, so a parse that succeeds never imports lark."""
    import lark

    return lark.exceptions.UnexpectedInput


def _prune_grammar_caches(
    folder: str | os.PathLike[str], keep: int = 8, pattern: str = "grammar-lark*.cache"
) -> None:
    """One cache file per grammar text: keep the most recently written few, not every grammar
    a checkout ever had. (Only after lark built a parser or tables: fnmatch is imported then.)"""
    from contextlib import suppress
    from fnmatch import fnmatchcase

    try:
        with os.scandir(folder) as listing:
            entries = [e for e in listing if fnmatchcase(e.name, pattern)]
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            with suppress(FileNotFoundError):
                os.unlink(old.path)
    except OSError:
        pass  # a cache that cannot be tidied is only larger


_VALUE_STARTS = {"STRING", "INT", "LSQB"}


def _describe_expected(expected: set[str] | frozenset[str]) -> str:
    if set(expected) >= _VALUE_STARTS:
        return "a value (a string, number, list, map, reference or call)"
    words: list[str] = []
    parser = _parser()
    for name in sorted(expected):
        if name in _TERMINAL_WORDS:
            word = _TERMINAL_WORDS[name]
        else:
            try:
                term = parser.get_terminal(name)
                pattern = term.pattern
                word = f"`{pattern.value}`" if pattern.type == "str" else name.lower()
            except KeyError:
                word = name.lower()
        if word not in words:
            words.append(word)
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    if len(words) > 8:
        words = [*words[:7], "..."]
        return "one of " + ", ".join(words)
    return "one of " + ", ".join(words[:-1]) + " or " + words[-1]


def _token_words(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type in ("STRING", "LONG_STRING"):
        return "string"
    return f"`{tok.value}`"


def _report_syntax_error(
    err: lark.exceptions.UnexpectedInput,
    file: SourceFile,
    base: int,
    length: int,
    diags: Diagnostics,
    interpolation: bool = False,
) -> None:
    """One diagnostic for a Lark error, in words a user knows."""
    import lark

    if isinstance(err, lark.exceptions.UnexpectedCharacters):
        pos = base + err.pos_in_stream
        ch = file.text[pos : pos + 1]
        if file.text.startswith('"""', pos):
            diags.error(
                "E0002",
                "unterminated triple-quoted string",
                Span(file, pos, pos + 3),
                'this `"""` is never closed',
                help='close it with `"""`',
            )
            return
        if ch == '"':
            diags.error(
                "E0002",
                "unterminated string",
                Span(file, pos, min(pos + 1, len(file.text))),
                "this string is never closed on its line",
                help='close it with `"`; for text over several lines use """triple quotes"""',
            )
            return
        help = None
        if ch == "-" and pos > 0 and (file.text[pos - 1].isalnum() or file.text[pos - 1] == "_"):
            word_start = pos
            while word_start > 0 and (
                file.text[word_start - 1].isalnum() or file.text[word_start - 1] in "_-"
            ):
                word_start -= 1
            word_end = pos
            while word_end < len(file.text) and (
                file.text[word_end].isalnum() or file.text[word_end] in "_-"
            ):
                word_end += 1
            help = f'names with `-` must be quoted: "{file.text[word_start:word_end]}"'
        diags.error(
            "E0001",
            f"unexpected character `{ch}`" if ch.strip() else "unexpected character",
            Span(file, pos, pos + 1),
            f"expected {_describe_expected(err.allowed or set())}",
            help=help,
        )
        return
    if isinstance(err, lark.exceptions.UnexpectedToken):
        tok = err.token
        if tok.type == "$END" and interpolation:
            pos = base + length  # the closing `}` of `${...}`
            diags.error(
                "E0004",
                "incomplete expression in `${...}`",
                Span(file, pos, pos + 1),
                f"expected {_describe_expected(err.expected)} before this",
            )
            return
        if tok.type == "$END":
            pos = base + length
            span = Span(file, max(pos - 1, 0), pos) if pos else Span(file, 0, 0)
            labels = _unclosed_labels(file, base, pos)
            diags.error(
                "E0001",
                "unexpected end of file",
                span,
                f"expected {_describe_expected(err.expected)}",
                labels=labels,
                help="close the bracket marked above"
                if labels
                else "a `{`, `[` or `(` may be missing its closing bracket",
            )
            return
        start = base + (tok.start_pos or 0)
        expected = err.expected
        help = None
        if tok.type == "COLON" and "EQUAL" in expected:
            help = "entries of a block are `key = value`; `:` is for maps and named arguments"
        elif tok.type == "EQUAL" and "COLON" in expected:
            help = "named arguments and map entries use `:`, like `length: 24`"
        elif tok.type == "EQUAL" and "COMPARE" in expected:
            help = "compare with `==`"
        elif tok.type == "STRING" and "LBRACE" in expected and "EQUAL" in expected:
            help = "is an `=` missing?"
        elif tok.type == "COMMA" and "RBRACE" in expected:
            help = (
                "entries of a block are separated by new lines or spaces, not commas: "
                '`security { privileged = true reason = "..." }`'
            )
        diags.error(
            "E0001",
            f"unexpected {_token_words(tok)}",
            Span(file, start, start + len(tok.value)),
            f"expected {_describe_expected(expected)}",
            help=help,
        )
        return
    diags.error("E0001", "syntax error", Span(file, base, base + 1))


_CLOSERS = {"{": "}", "[": "]", "(": ")"}


def _unclosed_labels(file: SourceFile, base: int, end: int) -> list[Label]:
    """Label the innermost bracket left open before `end` (skipping strings and comments)."""
    text = file.text
    stack: list[int] = []
    i = base
    while i < end:
        ch = text[i]
        if ch == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = end if nl < 0 else nl
            continue
        if text.startswith('"""', i):
            close = text.find('"""', i + 3)
            i = end if close < 0 else close + 3
            continue
        if ch == '"':
            j = i + 1
            while j < end and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if ch in _CLOSERS:
            stack.append(i)
        elif ch in ")]}" and stack and _CLOSERS[text[stack[-1]]] == ch:
            stack.pop()
        i += 1
    if not stack:
        return []
    at = stack[-1]
    return [Label(Span(file, at, at + 1), f"this `{text[at]}` is never closed")]


# Parts of a level rather than levels: an item of a list, an entry of a map, an argument...
_NO_LEVEL = (ast.ListItem, ast.MapEntry, ast.Arg, ast.Attr, ast.Body, ast.Name, ast.Key)


def _too_deep(node: ast.Node) -> ast.Node | None:
    """The first node more than MAX_DEPTH levels down, or None (iterative: no recursion)."""
    return _first_too_deep(node) if _exceeds(node) else None


def _exceeds(node: ast.Node) -> bool:
    """Is some node more than MAX_DEPTH levels down?

    Every parse walks every tree once, so the walk goes level by level: a list of the items at
    one depth, each node's fields added with one `attrgetter` call (to this list, or the next
    depth's for a node that adds a level), no (item, depth) pair per item: ~30% cheaper than
    the depth-first walk, which runs only for a tree that is too deep, to name the node it
    always named."""
    plans = _LEVEL_PLANS
    current: list[Any] = [node]
    depth = 0
    while current:
        deeper: list[Any] = []
        for item in current:  # grows while it is read: a node that adds no level adds here
            kind = item.__class__
            if kind is str:
                continue
            if kind is tuple:
                current.extend(item)
                continue
            plan = plans.get(kind)
            if plan is None:
                plan = plans[kind] = _level_plan(kind)
            level, get, many = plan
            if level:
                if depth >= MAX_DEPTH:
                    return True
                if get is None:
                    continue
                target = deeper
            elif get is None:
                continue
            else:
                target = current
            if many:
                target.extend(get(item))
            else:
                target.append(get(item))
        current = deeper
        depth += 1
    return False


def _level_plan(kind: type) -> tuple[bool, Callable[[Any], Any] | None, bool]:
    """How `_too_deep` reads one class: does a node of it add a level, a getter of the fields
    that may hold nodes (None: no such field), and whether that getter returns several."""
    level, fields = _walk_plan(kind)
    if not fields:
        return level, None, False
    return level, attrgetter(*fields), len(fields) > 1


_LEVEL_PLANS: dict[type, tuple[bool, Callable[[Any], Any] | None, bool]] = {}


def _first_too_deep(node: ast.Node) -> ast.Node | None:
    """`_too_deep`'s answer, depth first: the node E0008 reports (the walk of the eighth
    round, kept for the rare tree that is too deep)."""
    plans = _WALK_PLANS
    stack: list[tuple[object, int]] = [(node, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is tuple:
            for x in item:  # type: ignore[attr-defined]
                push((x, depth))
            continue
        plan = plans.get(kind)
        if plan is None:
            plan = plans[kind] = _walk_plan(kind)
        level, fields = plan
        if level:
            depth += 1
            if depth > MAX_DEPTH:
                return item  # type: ignore[return-value]
        for f in fields:
            push((getattr(item, f), depth))
    return None


def _walk_plan(kind: type) -> tuple[bool, tuple[str, ...]]:
    """How `_too_deep` walks one class: does a node of it add a level, and which fields may
    hold nodes (a span never does; a str, int or None has no fields)."""
    if not issubclass(kind, ast.Node):
        return False, ()
    return not issubclass(kind, _NO_LEVEL), tuple(f for f in kind._fields if f != "span")


_WALK_PLANS: dict[type, tuple[bool, tuple[str, ...]]] = {}


def _report_too_deep(node: ast.Node, diags: Diagnostics) -> None:
    diags.error(
        "E0008",
        f"nested too deeply (more than {MAX_DEPTH} levels)",
        node.span,  # type: ignore[attr-defined]
        "the limit is reached here",
        help="brackets, blocks, `if`, calls and each chained `&&`, `||` or `!` add a level: "
        "split the value, or name parts of it with params",
    )


def _within_depth(
    decls: tuple[ast.Decl, ...], diags: Diagnostics
) -> tuple[tuple[ast.Decl, ...], list[tuple[str, str]]]:
    """Drop declarations nested deeper than MAX_DEPTH (reported), so no later pass recurses
    without bound; returns the others and the (kind, name) of the dropped ones."""
    kept: list[ast.Decl] = []
    dropped: list[tuple[str, str]] = []
    for decl in decls:
        deep = _too_deep(decl)
        if deep is None:
            kept.append(decl)
            continue
        _report_too_deep(deep, diags)
        name = getattr(decl, "name", None)
        if isinstance(name, ast.Name):
            dropped.append((type(decl).__name__.removesuffix("Decl").lower(), name.text))
    return tuple(kept), dropped


def parse_expression(file: SourceFile, diags: Diagnostics) -> ast.Expr | None:
    """Parse a whole file as one expression (used for `--set` values and tests)."""
    _BUILDER.file, _BUILDER.base, _BUILDER.diagnostics = file, 0, diags
    try:
        result: ast.Expr = _parse(file.text, "expression")
    except _unexpected_input() as err:
        _report_syntax_error(err, file, 0, len(file.text), diags)
        return None
    deep = _too_deep(result)
    if deep is not None:
        _report_too_deep(deep, diags)
        return None
    return result


def parse_module(file: SourceFile, diags: Diagnostics) -> ast.Module:
    """Parse one file. Syntax errors go to `diags`; the healthy declarations are returned."""
    _BUILDER.file, _BUILDER.base, _BUILDER.diagnostics = file, 0, Diagnostics()
    try:
        decls: tuple[ast.Decl, ...] = _parse(file.text, "start")
    except _unexpected_input():
        pass
    else:
        decls, dropped = _within_depth(decls, _BUILDER.diagnostics)
        diags.extend(_BUILDER.diagnostics)
        return _Module(file, decls, tuple(dropped))
    # Recovery: parse each top-level declaration on its own.
    starts = [m.start() for m in re.finditer(_DECL_START, file.text, re.M)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(file.text))
    out: list[ast.Decl] = []
    broken: list[tuple[str, str]] = []
    parser = _parser()
    _BUILDER.diagnostics = Diagnostics()
    for begin, end in itertools.pairwise(starts):
        chunk = file.text[begin:end]
        if not chunk.strip():
            continue
        _BUILDER.base = begin
        try:
            out.extend(parser.parse(chunk, start="start"))
        except _unexpected_input() as err:
            _report_syntax_error(err, file, begin, len(chunk.rstrip()), _BUILDER.diagnostics)
            named = re.match(_DECL_NAME, chunk)
            if named:
                broken.append((named.group(1), named.group(2)))
    decls, dropped = _within_depth(tuple(out), _BUILDER.diagnostics)
    diags.extend(_BUILDER.diagnostics)
    return _Module(file, decls, (*broken, *dropped))
