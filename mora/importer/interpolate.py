"""Compose interpolation, kept symbolic: `${VAR}` becomes a placeholder, not its value.

The rules are the Compose Specification's (compose-spec 12-interpolation.md; compose-go's
`template` package implements them): `$VAR` and `${VAR}`; `${VAR:-default}` (unset or empty) and
`${VAR-default}` (unset); `${VAR:?error}` and `${VAR?error}` (required); `${VAR:+other}` and
`${VAR+other}` (replacement when set); `$$` is a literal `$`; a default may itself hold `${...}`.
Values come from `.env` files (compose reads `.env` in the project directory, or `--env-file`),
parsed as compose-go's `dotenv` package documents: `KEY=VALUE`, `export KEY=VALUE`, `#`
comments, single quotes literal, double quotes with escapes, unquoted values interpolated.

Every variable use is recorded as a `Var` and replaced in the text by a placeholder made of
private-use characters, so the structure of a value (`"${PORT:-8080}:80"`) can be parsed while
each piece still knows which variable it came from: the importer turns variables into params (or
secrets), never into their values. The process environment is not read: the import must come out
the same on every machine, and a value from a shell is the site's business, not the project's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mora.source import SourceFile, Span

OPEN, CLOSE = "\ue000", "\ue001"
PLACEHOLDER = re.compile(f"{OPEN}(\\d+){CLOSE}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class EnvValue:
    """A value from an .env file, with where it was set (for comments and secrets)."""

    value: str
    span: Span


@dataclass
class Var:
    """One use of a variable in a compose value."""

    name: str
    op: str  # "", ":-", "-", ":?", "?", ":+", "+"
    arg: str  # the default, error message or replacement (already resolved to text)
    span: Span | None
    env: EnvValue | None  # the value an .env file gives it

    @property
    def required(self) -> bool:
        return self.op in (":?", "?")

    def resolved(self) -> str:
        """The value compose would use, from the .env files and the default."""
        value = self.env.value if self.env is not None else None
        if self.op == ":-":
            return value if value else self.arg
        if self.op == "-":
            return value if value is not None else self.arg
        if self.op == ":+":
            return self.arg if value else ""
        if self.op == "+":
            return self.arg if value is not None else ""
        return value or ""

    def default(self) -> str | None:
        """The param's default: the .env value, else the written default (None: none)."""
        if self.op in (":+", "+"):
            return self.resolved()
        if self.env is not None and (self.env.value or self.op not in (":-",)):
            return self.env.value
        if self.op in (":-", "-"):
            return self.arg
        return None


class BadInterpolation(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message, self.offset = message, offset


@dataclass
class Interpolator:
    """Replaces variable uses by placeholders and keeps every use in `uses`."""

    env: dict[str, EnvValue] = field(default_factory=dict)
    uses: list[Var] = field(default_factory=list)

    def text(self, raw: str, span: Span | None) -> str:
        """`raw` with each `${...}` as a placeholder and `$$` as `$`. Raises BadInterpolation."""
        out: list[str] = []
        i = 0
        n = len(raw)
        while i < n:
            c = raw[i]
            if c != "$":
                out.append(c)
                i += 1
                continue
            if raw.startswith("$$", i):
                out.append("$")
                i += 2
                continue
            if i + 1 < n and raw[i + 1] == "{":
                var, end = self._braced(raw, i, span)
                out.append(self._place(var))
                i = end
                continue
            m = _NAME.match(raw, i + 1)
            if m:
                var = Var(
                    m.group(), "", "", _sub_span(span, raw, i, m.end()), self.env.get(m.group())
                )
                out.append(self._place(var))
                i = m.end()
                continue
            raise BadInterpolation("a `$` that starts no variable (write `$$` for a `$`)", i)
        return "".join(out)

    def _place(self, var: Var) -> str:
        self.uses.append(var)
        return f"{OPEN}{len(self.uses) - 1}{CLOSE}"

    def _braced(self, raw: str, start: int, span: Span | None) -> tuple[Var, int]:
        m = _NAME.match(raw, start + 2)
        if not m:
            raise BadInterpolation("`${` without a variable name", start)
        name = m.group()
        j = m.end()
        op = ""
        for candidate in (":-", ":?", ":+", "-", "?", "+"):
            if raw.startswith(candidate, j):
                op = candidate
                j += len(candidate)
                break
        depth = 1
        k = j
        while k < len(raw):
            if raw.startswith("${", k):
                depth += 1
                k += 2
                continue
            if raw[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if depth != 0:
            raise BadInterpolation("`${` is not closed", start)
        arg_raw = raw[j:k]
        if not op and arg_raw:
            raise BadInterpolation(f"unexpected `{arg_raw}` in `${{{name}...}}`", start)
        arg = self.resolve(self._nested(arg_raw, span)) if arg_raw else ""
        var = Var(name, op, arg, _sub_span(span, raw, start, k + 1), self.env.get(name))
        return var, k + 1

    def _nested(self, raw: str, span: Span | None) -> str:
        """A default's own variables are resolved to text (they are not separate params)."""
        inner = Interpolator(self.env)
        return inner.resolve(inner.text(raw, span))

    def resolve(self, text: str) -> str:
        """Placeholders replaced by the values compose would use."""
        return PLACEHOLDER.sub(lambda m: self.uses[int(m.group(1))].resolved(), text)

    def show(self, text: str) -> str:
        """Text for a message: each variable as written (`${NAME}`), never its value."""
        return PLACEHOLDER.sub(lambda m: "${" + self.uses[int(m.group(1))].name + "}", text)

    def var(self, placeholder_text: str) -> Var | None:
        """The variable when `placeholder_text` is exactly one placeholder."""
        m = PLACEHOLDER.fullmatch(placeholder_text)
        return self.uses[int(m.group(1))] if m else None


def has_placeholder(text: str) -> bool:
    return OPEN in text


def _sub_span(span: Span | None, raw: str, start: int, end: int) -> Span | None:
    """The span of raw[start:end] inside a scalar's span: found in the file text, else the
    scalar's own span (escapes in quoted scalars can move it)."""
    if span is None:
        return None
    piece = raw[start:end]
    at = span.file.text.find(piece, span.start, span.end + 1)
    if at < 0:
        return span
    return Span(span.file, at, at + len(piece))


def read_env_file(path: Path, display: str, text: str) -> dict[str, EnvValue]:
    """KEY=VALUE lines of a dotenv file, later keys winning; values interpolated in order."""
    file = SourceFile(display, text)
    values: dict[str, EnvValue] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, value = stripped.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            continue
        value = value.strip()
        if value[:1] == "'" and value.endswith("'") and len(value) >= 2:
            value = value[1:-1]
        elif value[:1] == '"' and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            value = _expand_env(value, values)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            value = _expand_env(value, values)
        col = line.find(key) + 1
        start = file.offset_of(number, col)
        values[key] = EnvValue(value, Span(file, start, start + len(key)))
    return values


def _expand_env(value: str, known: dict[str, EnvValue]) -> str:
    """`${VAR}` in an .env value, from the keys set above it (compose-go's dotenv does this)."""
    inner = Interpolator(known)
    try:
        return inner.resolve(inner.text(value, None))
    except BadInterpolation:
        return value
