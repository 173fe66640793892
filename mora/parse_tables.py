"""A parse without importing lark: lark's own LALR tables, driven by a small loop here.

Importing lark costs ~50 ms and loading its cached parser ~11 ms of every `mora check` that
parses anything (a cold parse cache, an edited file). The tables and the contextual lexer's
patterns lark computes from `grammar/mora.lark` are plain data: the first parse that finds no
table file builds the lark parser once, copies out what the loop below needs (the actions of each
state, each rule's length, child filter and callback name, each state's token patterns) and
stores it beside lark's cache, keyed by the grammar's text. Every later parse reads that file and
runs the loop, which follows lark's `_Parser.feed_token`, `ChildFilterLALR`, `ExpandSingleChild`
and `BasicLexer.next_token` step by step, so the callbacks receive the same children and build
the same tree. The grammar stays the one description of the syntax: nothing here names a rule.

Anything the loop does not accept raises `NotHere`, and the caller parses the text with lark,
which reports the syntax error as it always has (errors are rare; their messages need lark).
`tests/unit/test_parse_tables.py` parses every `.mora` file of the repository and generated
sources both ways and compares the trees.
"""

from __future__ import annotations

import marshal
import os
import re
import sys

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_FORMAT = "mora-lalr-tables-4"  # 3: a literal terminal's text; 4: stored with marshal

# Rule record: (origin, size, callback name, child filter or None, Nones to append, expand1).
# A child filter is a tuple of (child index, splice its children, Nones to insert before it).
_Rule = tuple[str, int, str, "tuple[tuple[int, bool, int], ...] | None", int, bool]


class NotHere(Exception):
    """The text is not one this loop parses (a syntax error, most likely): ask lark."""


class Tok(str):
    """A token as the parser callbacks read it: the text, its terminal `type` and `start_pos`."""

    type: str
    value: str
    start_pos: int

    def __new__(cls, type_: str, value: str, start_pos: int) -> Tok:
        tok = str.__new__(cls, value)
        tok.type = type_
        tok.value = value
        tok.start_pos = start_pos
        return tok


# A lexer's candidate at one character: (terminal, its text if a plain string, else its
# pattern's `match`, role). Roles: a token, an ignored text (blanks, comments), a NAME that may
# be a keyword (lark's `UnlessCallback`).
if TYPE_CHECKING:
    _Candidate = tuple[str, str | None, Any, int]
_TOKEN, _IGNORED, _UNLESS = 0, 1, 2
_new_str = str.__new__


class _Tree:
    """What lark builds for a rule without a callback (`_decl`, `__start_star_0`): its
    children are spliced into the parent's by the parent's child filter."""

    __slots__ = ("children", "data")

    def __init__(self, data: str, children: list[Any]) -> None:
        self.data = data
        self.children = children


class Tables:
    """The plain data of one grammar's parser, and the lexers compiled from it on first use."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.actions: list[dict[str, int]] = data["actions"]  # >= 0: shift; < 0: ~rule
        self.rules: list[_Rule] = data["rules"]
        # (origin, size, unit): a unit rule (`?expr: or_expr`, one child kept as it is) passes
        # its child up unchanged, so the loop skips its callback and its list
        self.reductions = [
            (origin, size, size == 1 and expand1 and keep in (None, ((0, False, 0),)) and not nones)
            for origin, size, _name, keep, nones, expand1 in self.rules
        ]
        self.start: dict[str, int] = data["start"]
        self.end: dict[str, int] = data["end"]
        self.lexer_of_state: list[int] = data["lexer_of_state"]
        # per terminal: its pattern, the characters a match can start with (None if unknown)
        # and, for a plain string (`"{"`, `"service"`), that string (else None)
        self.terminals: dict[str, tuple[str, str | None, str | None]] = data["terminals"]
        # per lexer: (terminal names in lark's order, flags, {type: unless patterns}, ignored)
        self.lexer_data: list[
            tuple[tuple[str, ...], int, dict[str, tuple[str, ...]], frozenset[str]]
        ]
        self.lexer_data = data["lexers"]
        # per lexer, per first character: the terminals that may match there, in order
        self.dispatch: list[dict[str, tuple[_Candidate, ...]]] = [{} for _ in self.lexer_data]
        self._patterns: dict[tuple[str, int], Any] = {}
        self._unless: dict[int, dict[str, _Keywords | dict[str, str]]] = {}
        self._callbacks: dict[int, list[Callable[[list[Any]], Any]]] = {}
        # (state below, unit rule's origin, lookahead) -> the state a chain of unit rules ends
        # in, or 0 where the loop takes the steps one by one (see _unit_hops)
        self.hops: dict[tuple[int, str, str], int] = {}

    def candidates(self, index: int, char: str) -> tuple[_Candidate, ...]:
        """The terminals of lexer `index` a token starting with `char` may be, in lark's order,
        each alone: trying them in turn is what lark's one alternation of all of them does (the
        first alternative that matches wins), without compiling a large pattern for every
        parser state. A plain string is compared as a string (`startswith`), never compiled:
        most terminals are (`{`, `=`, `service`), and a cold check compiles only the others."""
        names, flags, unless, ignore = self.lexer_data[index]
        found: list[_Candidate] = []
        for name in names:
            pattern, first, literal = self.terminals[name]
            if first is None or char in first:
                role = _IGNORED if name in ignore else _UNLESS if name in unless else _TOKEN
                if literal is not None and not flags & re.IGNORECASE:
                    found.append((name, literal, None, role))
                    continue
                compiled = self._patterns.get((name, flags))
                if compiled is None:
                    compiled = self._patterns[name, flags] = re.compile(pattern, flags)
                found.append((name, None, compiled.match, role))
        got = self.dispatch[index][char] = tuple(found)
        return got

    def unless(self, index: int) -> dict[str, _Keywords | dict[str, str]]:
        """lark's keyword check of lexer `index`: a NAME that is a keyword this state accepts
        becomes that keyword. Per terminal, what `.get(text, terminal)` turns a token's text
        into: a dict from each keyword's text to its terminal where lark's patterns are
        alternations of plain words (all of mora's: `(?P<IF>if)|(?P<ELSE>else)|...`), so
        neither compiling them (~1.2 ms of a cold check) nor a `fullmatch` per NAME is
        needed; the patterns themselves otherwise."""
        got = self._unless.get(index)
        if got is None:
            _names, flags, unless, _ignore = self.lexer_data[index]
            got = {t: _keywords(ps, flags) for t, ps in unless.items()}
            self._unless[index] = got
        return got

    def callbacks(self, builder: object) -> list[Callable[[list[Any]], Any]]:
        """One function per rule: lark's child filter, single-child expansion and callback."""
        got = self._callbacks.get(id(builder))
        if got is None:
            got = [_callback(rule, builder) for rule in self.rules]
            self._callbacks[id(builder)] = got
        return got


class _Keywords:
    """lark's `UnlessCallback` as written: the first pattern that matches the whole text
    names the terminal (for patterns that are not plain alternations of words)."""

    def __init__(self, patterns: tuple[str, ...], flags: int) -> None:
        self.patterns = [re.compile(p, flags) for p in patterns]

    def get(self, text: str, default: str) -> str:
        for pattern in self.patterns:
            m = pattern.fullmatch(text)
            if m:
                return m.lastgroup or default
        return default


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _keywords(patterns: tuple[str, ...], flags: int) -> _Keywords | dict[str, str]:
    """The keyword texts of `patterns` and their terminals, when every pattern is an
    alternation of named groups of plain words (`(?P<IF>if)|(?P<INPUT>input)`, what lark
    builds from a grammar's keywords): a text fully matches such a pattern exactly when it
    is one of the words, and the first pattern and alternative holding it wins, as in `re`.
    Anything else (case-insensitive flags, a character class...) keeps the patterns."""
    words: dict[str, str] = {}
    if flags & ~re.UNICODE:
        return _Keywords(patterns, flags)
    for pattern in patterns:
        for branch in pattern.split("|"):
            name, _, word = branch.removeprefix("(?P<").removesuffix(")").partition(">")
            if (
                not branch.startswith("(?P<")
                or not branch.endswith(")")
                or not name
                or not word
                or not _WORD_CHARS.issuperset(name)
                or not _WORD_CHARS.issuperset(word)
            ):
                return _Keywords(patterns, flags)
            words.setdefault(word, name)
    return words


def _callback(rule: _Rule, builder: object) -> Callable[[list[Any]], Any]:
    """lark's wrapper chain for one rule (child filter, then single-child expansion, then the
    builder's method or a `_Tree`), specialised: most rules need only part of it."""
    _origin, _size, name, keep, append_none, expand1 = rule
    user = getattr(builder, name, None)
    if user is None:

        def user(children: list[Any], name: str = name) -> Any:
            return _Tree(name, children)

    if keep is not None and not append_none and not any(s or n for _i, s, n in keep):
        picks = tuple(i for i, _s, _n in keep)  # only drops anonymous tokens: the common case
        if expand1:

            def picked_expand(children: list[Any]) -> Any:
                kept = [children[i] for i in picks]
                return kept[0] if len(kept) == 1 else user(kept)

            return picked_expand

        def picked(children: list[Any]) -> Any:
            return user([children[i] for i in picks])

        return picked

    if keep is None and not expand1:
        return user

    def call(children: list[Any]) -> Any:
        if keep is not None:
            filtered: list[Any] = []
            for i, splice, nones in keep:
                if nones:
                    filtered += [None] * nones
                if splice:
                    if filtered:
                        filtered += children[i].children
                    else:
                        filtered = children[i].children
                else:
                    filtered.append(children[i])
            if append_none:
                filtered += [None] * append_none
            children = filtered
        if expand1 and len(children) == 1:
            return children[0]
        return user(children)

    return call


def _unit_hops(tables: Tables, below: int, origin: str, kind: str) -> int:
    """Where a chain of unit rules (`?expr: or_expr`, `?or_expr: and_expr`...) leads from the
    state `below` them, ahead of `kind`: each one replaces the top state by `below`'s goto for
    its origin, and the next action (same `below`, same lookahead) may be another. A value such
    as `"x"` climbs a handful of them; the chain depends only on these three, so it is followed
    once per process. 0: a step leaves the plain cases (an error, the end state, a state 0),
    and the loop takes the steps itself."""
    actions, reductions = tables.actions, tables.reductions
    ends = set(tables.end.values())
    state = 0
    while True:
        goto = actions[below].get(origin)
        if goto is None or goto <= 0 or goto in ends:
            return 0
        state = goto
        action = actions[state].get(kind)
        if action is None or action >= 0:
            return state
        origin, _size, unit = reductions[~action]
        if not unit:
            return state


def parse(tables: Tables, text: str, start: str, builder: object) -> Any:
    """Parse `text` from the rule `start`, calling `builder`'s methods as lark's inline
    transformer would; raises `NotHere` where lark would raise a syntax error."""
    actions = tables.actions
    reductions = tables.reductions
    lexer_of_state = tables.lexer_of_state
    dispatch = tables.dispatch
    callbacks = tables.callbacks(builder)
    hops = tables.hops
    end_state = tables.end[start]
    states = [tables.start[start]]
    values: list[Any] = []
    pos, n = 0, len(text)
    while True:
        # the next token, lexed with the terminals of the current state (the contextual lexer)
        tok: Tok | None = None
        while pos < n:
            index = lexer_of_state[states[-1]]
            candidates = dispatch[index].get(text[pos])
            if candidates is None:
                candidates = tables.candidates(index, text[pos])
            for kind, literal, match, role in candidates:  # noqa: B007 - read after `break`
                if literal is not None:
                    if text.startswith(literal, pos):
                        value = literal
                        break
                else:
                    m = match(text, pos)
                    if m:
                        value = m.group()
                        break
            else:
                raise NotHere(pos)
            start_pos = pos
            pos += len(value)
            if role:
                if role == _IGNORED:  # blanks, comments
                    continue
                kind = tables.unless(index)[kind].get(value, kind)
            # Tok(kind, value, start_pos), without the call: a token per ~6 characters
            tok = _new_str(Tok, value)
            tok.__dict__ = {"type": kind, "value": value, "start_pos": start_pos}
            break
        kind = tok.type if tok is not None else "$END"
        while True:
            action = actions[states[-1]].get(kind)
            if action is None or action == end_state:  # lark never shifts into the end state
                raise NotHere(pos)
            if action >= 0:
                if tok is None:
                    raise NotHere(pos)
                states.append(action)
                values.append(tok)
                break
            origin, size, unit = reductions[~action]
            if unit:
                key = (states[-2], origin, kind)
                hop = hops.get(key)
                if hop is None:
                    hop = hops[key] = _unit_hops(tables, *key)
                if hop:  # the state at the end of the chain of unit rules: one step for all
                    states[-1] = hop
                    continue
                del states[-1]
                goto = actions[states[-1]].get(origin)
                if goto is None or goto < 0:
                    raise NotHere(pos)
                states.append(goto)
                if tok is None and goto == end_state:
                    return values[-1]
                continue
            if size:
                children = values[-size:]
                del states[-size:]
                del values[-size:]
            else:
                children = []
            value_ = callbacks[~action](children)
            goto = actions[states[-1]].get(origin)
            if goto is None or goto < 0:
                raise NotHere(pos)
            states.append(goto)
            values.append(value_)
            if tok is None and goto == end_state:
                return values[-1]


# --- building the tables from lark ---------------------------------------------------------------


def extract(parser: Any) -> dict[str, Any]:
    """Copy out of a built `lark.Lark` (LALR, contextual lexer, inline transformer) what `parse`
    needs. Reads lark's internals: anything unexpected raises `NotHere`, and mora keeps to lark."""
    from functools import partial

    from lark.lexer import ContextualLexer
    from lark.parse_tree_builder import (
        ChildFilterLALR,
        ChildFilterLALR_NoPlaceholders,
        ExpandSingleChild,
    )
    from lark.parsers.lalr_analysis import Shift

    frontend = parser.parser
    inner = frontend.parser.parser
    table = inner.parse_table
    lexer = frontend.lexer
    if not isinstance(lexer, ContextualLexer) or parser.options.lexer_callbacks:
        raise NotHere("not a contextual lexer without callbacks")
    rule_index = {rule: i for i, rule in enumerate(parser.rules)}
    if sorted(table.states) != list(range(len(table.states))):
        raise NotHere("states are not numbered 0..n-1")
    actions: list[dict[str, int]] = []
    for state in range(len(table.states)):
        row: dict[str, int] = {}
        for symbol, (action, arg) in table.states[state].items():
            row[str(symbol)] = int(arg) if action is Shift else ~rule_index[arg]
        actions.append(row)
    rules: list[_Rule] = []
    for rule in parser.rules:
        f = inner.callbacks[rule]
        keep: tuple[tuple[int, bool, int], ...] | None = None
        append_none = 0
        if isinstance(f, ChildFilterLALR):
            keep = tuple((i, bool(s), int(n)) for i, s, n in f.to_include)
            append_none = int(f.append_none)
            f = f.node_builder
        elif isinstance(f, ChildFilterLALR_NoPlaceholders):
            keep = tuple((i, bool(s), 0) for i, s in f.to_include)
            f = f.node_builder
        expand1 = isinstance(f, ExpandSingleChild)
        if expand1:
            f = f.node_builder
        name = str(rule.alias or rule.options.template_source or rule.origin.name)  # not a Token
        named = getattr(f, "__name__", None) if not isinstance(f, partial) else f.args[0]
        if named != name:
            raise NotHere(f"unexpected callback for {rule}")
        rules.append((str(rule.origin.name), len(rule.expansion), name, keep, append_none, expand1))
    lexers: list[tuple[tuple[str, ...], int, dict[str, tuple[str, ...]], frozenset[str]]] = []
    terminals: dict[str, tuple[str, str | None, str | None]] = {}
    index_of: dict[int, int] = {}
    lexer_of_state: list[int] = []
    for state in range(len(table.states)):
        basic = lexer.lexers[state]
        if id(basic) not in index_of:
            scanner = basic.scanner
            flags = {m.flags for m in scanner._mres}
            names: list[str] = []
            for term in scanner.terminals:
                pattern = str(term.pattern.to_regexp())
                name = str(term.name)
                if terminals.setdefault(name, (pattern, None, None))[0] != pattern:
                    raise NotHere(f"two patterns for {name}")
                names.append(name)
            unless: dict[str, tuple[str, ...]] = {}
            for kind, cb in basic.callback.items():
                if type(cb).__name__ != "UnlessCallback":
                    raise NotHere(f"unexpected lexer callback for {kind}")
                unless[str(kind)] = tuple(str(m.pattern) for m in cb.scanner._mres)
                flags |= {m.flags for m in cb.scanner._mres}
            if len(flags) != 1:
                raise NotHere("patterns with different flags")
            index_of[id(basic)] = len(lexers)
            lexers.append(
                (
                    tuple(names),
                    int(flags.pop()),
                    unless,
                    frozenset(str(t) for t in basic.ignore_types),
                )
            )
        lexer_of_state.append(index_of[id(basic)])
    for name, (pattern, _first, _literal) in terminals.items():
        flags_of = {flags for names, flags, _u, _i in lexers if name in names}
        flags = flags_of.pop()
        terminals[name] = (pattern, _first_chars(pattern, flags), _literal_of(pattern, flags))
    return {
        "format": _FORMAT,
        "actions": actions,
        "rules": rules,
        "start": {str(k): int(v) for k, v in table.start_states.items()},
        "end": {str(k): int(v) for k, v in table.end_states.items()},
        "lexer_of_state": lexer_of_state,
        "terminals": terminals,
        "lexers": lexers,
    }


def _parsed(pattern: str, flags: int) -> list[Any] | None:
    """`pattern`'s items as `re` parses them, or None when case is ignored or it does not parse
    (the callers then make no claim about the terminal)."""
    from re import _parser as sre

    if flags & re.IGNORECASE:
        return None
    try:
        return list(sre.parse(pattern, flags))
    except (re.error, TypeError, ValueError):
        return None


def _first_chars(pattern: str, flags: int) -> str | None:
    """The characters a match of `pattern` can start with, or None when that is not plainly
    known (then the terminal is tried at every character: slower, never wrong)."""
    from re import _constants as c

    items = _parsed(pattern, flags)
    if items is None:
        return None
    chars = _first_of(items, c)
    return None if chars is None else "".join(sorted(chars))


def _literal_of(pattern: str, flags: int) -> str | None:
    """The one text `pattern` matches when it is a plain string (`\\{`, `service`), else None:
    the lexer compares such a terminal with `startswith` instead of compiling it."""
    from re import _constants as c

    items = _parsed(pattern, flags)
    if not items or any(op is not c.LITERAL for op, _av in items):
        return None
    return "".join(chr(av) for _op, av in items)


def _first_of(items: list[Any], c: Any) -> set[str] | None:
    """First characters of a sequence of `re._parser` items (lookaheads only narrow them)."""
    for at, (op, av) in enumerate(items):
        if op in (c.ASSERT, c.ASSERT_NOT):
            continue  # consumes nothing; the next item starts the match
        if op is c.LITERAL:
            return {chr(av)}
        if op is c.IN:
            found: set[str] = set()
            for kind, value in av:
                if kind is c.LITERAL:
                    found.add(chr(value))
                elif kind is c.RANGE and value[1] - value[0] < 256:
                    found.update(chr(x) for x in range(value[0], value[1] + 1))
                else:  # NEGATE, a category, a large range
                    return None
            return found
        if op is c.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if add_flags & re.IGNORECASE or sub.getwidth()[0] == 0:
                return None
            return _first_of(list(sub), c)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, _high, sub = av
            if sub.getwidth()[0] == 0:
                return None
            inner = _first_of(list(sub), c)
            if low > 0 or inner is None:
                return inner
            after = _first_of(items[at + 1 :], c)  # `-?[0-9]+`: a `-` or a digit
            return None if after is None else inner | after
        if op is c.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                if branch.getwidth()[0] == 0:
                    return None
                got = _first_of(list(branch), c)
                if got is None:
                    return None
                union |= got
            return union
        return None  # ANY, NOT_LITERAL, anchors, backreferences: not known
    return None


def tables_path(folder: str | os.PathLike[str], digest: str) -> str:
    """Where the tables of a grammar (`digest`) are kept; marshal's format is the running
    Python's, so its version is part of the name. (`str` paths: a check never imports pathlib,
    ~5 ms of start-up with the `urllib.parse` and `ipaddress` it pulls in.)"""
    python = f"py{sys.version_info[0]}{sys.version_info[1]}m{marshal.version}"
    return os.path.join(folder, f"grammar-tables-{digest}-{_FORMAT}-{python}.marshal")


def load(path: str | os.PathLike[str]) -> Tables | None:
    """The tables stored at `path`, or None when there are none (or they are unreadable).

    Stored with `marshal`, which reads and writes only plain data (dicts, lists, tuples,
    strings, numbers) and is built in: a check without the parse cache does not import
    `pickle` for it (~2 ms), and a class in the data (a lark `Token` passed for a `str`)
    cannot be stored at all. Read whole, then `marshal.loads`: `marshal.load` of a file object
    asks the file for every object's bytes in turn (~3 ms for these 46 KB, against ~0.4)."""
    try:
        with open(path, "rb") as f:
            data = marshal.loads(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:  # plain data only: see extract
        return None
    return Tables(data)


def store(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write the tables atomically; a folder that cannot be written (or data that is not
    plain) only costs lark's import on the next parse."""
    folder, name = os.path.split(os.fspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{name}")
    try:
        blob = marshal.dumps(data)
    except ValueError:
        return
    try:
        os.makedirs(folder or ".", exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:
        from contextlib import suppress

        with suppress(FileNotFoundError):
            os.unlink(tmp)
