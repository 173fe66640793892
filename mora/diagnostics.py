"""Diagnostics: what every pass reports instead of raising.

A pass appends `Diagnostic`s to a `Diagnostics` collection and carries on, so one run shows every
problem. Rendering is one format everywhere (text for people, JSON for editors and CI).
Messages never contain secret values: passes only ever name secrets.
"""

from __future__ import annotations

import enum
import re

from mora.record import Record, field
from mora.source import Span
from mora.types import LazyPattern

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Label(Record, frozen=True):
    """A secondary span with its own short message (e.g. "first defined here")."""

    span: Span
    message: str


class Diagnostic(Record, frozen=True):
    severity: Severity
    code: str
    message: str
    span: Span | None
    label: str = ""
    labels: tuple[Label, ...] = ()
    help: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, str]:
        if self.span is None:
            return ("", 0, self.code)
        return (self.span.file.path, self.span.start, self.code)


class Diagnostics(Record):
    """An ordered collection that passes append to; never raises on its own."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        span: Span | None,
        label: str = "",
        *,
        labels: Iterable[Label] = (),
        help: str | None = None,
        notes: Iterable[str] = (),
    ) -> None:
        self.items.append(
            Diagnostic(severity, code, message, span, label, tuple(labels), help, tuple(notes))
        )

    def error(self, code: str, message: str, span: Span | None, label: str = "", **kw: Any) -> None:
        self.add(Severity.ERROR, code, message, span, label, **kw)

    def warning(
        self, code: str, message: str, span: Span | None, label: str = "", **kw: Any
    ) -> None:
        self.add(Severity.WARNING, code, message, span, label, **kw)

    def note(self, code: str, message: str, span: Span | None, label: str = "", **kw: Any) -> None:
        """Information worth knowing that is not a problem (never fails a run)."""
        self.add(Severity.NOTE, code, message, span, label, **kw)

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        """Stable, file-then-position order, duplicates (same code and span) removed."""
        seen: set[tuple[object, ...]] = set()
        out: list[Diagnostic] = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.code, d.message, d.sort_key())
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


# --- did-you-mean --------------------------------------------------------------------------------


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to `name`, if it is plausibly a typo of it."""
    best: tuple[int, str] | None = None
    limit = max(1, min(3, len(name) // 5))
    for cand in sorted(set(candidates)):
        if cand == name:
            continue
        d = edit_distance(name.lower(), cand.lower(), limit)
        if d <= limit and (best is None or d < best[0]):
            best = (d, cand)
    return best[1] if best else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    guess = closest(name, candidates)
    return f"did you mean `{guess}`?" if guess else None


# --- rendering -----------------------------------------------------------------------------------

# What a terminal would act on rather than show: C0 controls but tab and newline, DEL, the C1
# controls (ESC, CSI, OSC...), and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = LazyPattern(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """Text that is safe to print to a terminal: control characters shown escaped (`\\x1b`).

    Project text (a prompt, a name, a quoted line, a path) may come from a stranger's
    repository; an escape sequence in it must be seen, not obeyed by the terminal.
    """
    if text.isprintable():  # every character the pattern matches is unprintable: none here,
        return text  # and no pattern compiled (~0.3 ms) for a compile's plain notes
    return _UNPRINTABLE.sub(_escape, text)


def _gutter_width(d: Diagnostic) -> int:
    lines = [d.span.line] if d.span else []
    lines += [lab.span.line for lab in d.labels]
    return len(str(max(lines))) if lines else 1


def _snippet(span: Span, message: str, width: int, mark: str) -> list[str]:
    line, col = span.file.line_col(span.start)
    end_line, end_col = span.file.line_col(max(span.end, span.start))
    raw = span.file.line_text(line).expandtabs(1)
    if end_line != line:
        end_col = len(raw) + 1
    # Columns are counted on the escaped text, so the caret stays under what it marks.
    before = printable(raw[: col - 1])
    marked = printable(raw[col - 1 : end_col - 1])
    text = printable(raw).rstrip()  # a masked line (not mora source) shows as empty
    length = max(1, len(marked))
    pad = " " * width
    caret = " " * len(before) + mark * length
    return [
        f"{pad} |",
        f"{str(line).rjust(width)} | {text}".rstrip(),
        f"{pad} | {caret}{(' ' + printable(message)) if message else ''}",
    ]


def render_text(d: Diagnostic) -> str:
    """The human format: header, location, source line with a caret span, labels, help."""
    out = [f"{d.severity.value}[{d.code}]: {printable(d.message)}"]
    width = _gutter_width(d)
    pad = " " * width
    if d.span is not None:
        out.append(f"{pad}--> {printable(d.span.location())}")
        out.extend(_snippet(d.span, d.label, width, "^"))
    for lab in d.labels:
        if d.span is None or lab.span.file is not d.span.file:
            out.append(f"{pad}::: {printable(lab.span.location())}")
        out.extend(_snippet(lab.span, lab.message, width, "-"))
    for note in d.notes:
        out.append(f"{pad} = note: {printable(note)}")
    if d.help:
        out.append(f"{pad} = help: {printable(d.help)}")
    return "\n".join(out)


def summary(diags: Iterable[Diagnostic]) -> str:
    items = list(diags)
    errors = sum(1 for d in items if d.severity is Severity.ERROR)
    warnings = sum(1 for d in items if d.severity is Severity.WARNING)
    notes = sum(1 for d in items if d.severity is Severity.NOTE)
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    if notes:
        parts.append(f"{notes} note{'s' if notes != 1 else ''}")
    if not errors and not warnings:
        return "no problems" + (f" ({parts[0]})" if parts else "")
    return ", ".join(parts)


def _span_json(span: Span) -> dict[str, object]:
    line, col = span.file.line_col(span.start)
    end_line, end_col = span.file.line_col(span.end)
    return {
        "file": span.file.path,
        "line": line,
        "column": col,
        "end_line": end_line,
        "end_column": end_col,
    }


def to_json(d: Diagnostic) -> dict[str, object]:
    return {
        "severity": d.severity.value,
        "code": d.code,
        "message": d.message,
        "span": _span_json(d.span) if d.span else None,
        "label": d.label,
        "labels": [{"span": _span_json(lab.span), "message": lab.message} for lab in d.labels],
        "help": d.help,
        "notes": list(d.notes),
    }


def render_json(diags: Iterable[Diagnostic]) -> str:
    items = list(diags)
    doc = {
        "diagnostics": [to_json(d) for d in items],
        "errors": sum(1 for d in items if d.is_error),
        "warnings": sum(1 for d in items if d.severity is Severity.WARNING),
    }
    import json  # only `--format json` renders with it: a plain check never imports it

    return json.dumps(doc, indent=2, sort_keys=True)
