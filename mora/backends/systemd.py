"""Writing values into systemd and quadlet unit files, so that no value can add a key or a line.

Quadlet reads a `.container` file line by line (leading and trailing whitespace trimmed, a trailing
backslash joins the next line) and then treats each key one of three ways:

* *raw* keys (`Image=`, `HealthCmd=`, `User=`, ...) are taken verbatim, except that 5.x strips
  double quotes at either end: a raw value is safe only without control characters, without
  surrounding whitespace or quotes, and without a trailing backslash (`raw_value` says None
  otherwise, and the caller falls back to an escaped `PodmanArgs=` word);
* *word* keys (`Exec=`, `PodmanArgs=`, `Environment=`, `Label=`, `Secret=`, ...) are split like an
  `ExecStart=` line, with double quotes and C escapes (`quote_word`, `exec_word`);
* every value ends up in the generated `ExecStart=` line, where systemd expands `%` specifiers and
  `$VAR`/`${VAR}`, so `%` is written `%%` and `$` is written `$$` (`escape_exec`).

`UnitFile` renders sections and refuses (with `UnitValueError`) any key or value that would still
break a line; the escaping functions make sure that never happens for escaped values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mora.record import Record, field

# Characters that need no quoting in an ExecStart-style word (after % and $ are doubled).
_BARE_WORD = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_SECTION = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class UnitValueError(ValueError):
    """A value that cannot be written into a unit file at all (a NUL byte, an empty word)."""


def escape_specifiers(text: str) -> str:
    """`%` -> `%%`: systemd expands `%x` specifiers in most settings."""
    return text.replace("%", "%%")


def escape_exec(text: str) -> str:
    """Escape for a value that reaches an `ExecStart=` line: specifiers and `$` variables."""
    return escape_specifiers(text).replace("$", "$$")


def c_escape(text: str) -> str:
    """C-style escapes for the inside of a double-quoted word (no raw control characters)."""
    out = []
    for ch in text:
        if ch == "\0":
            raise UnitValueError("a NUL byte cannot be written into a unit file")
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def quote_word(text: str) -> str:
    """One ExecStart-style word, always double-quoted: any text survives it unchanged."""
    return '"' + c_escape(escape_exec(text)) + '"'


def exec_word(text: str) -> str:
    """One ExecStart-style word, quoted only when it needs to be."""
    if text == "":
        # quadlet's word splitter drops an empty quoted word (and everything after it).
        raise UnitValueError("an empty argument cannot be written into a quadlet unit")
    if _BARE_WORD.fullmatch(text):
        return escape_exec(text)
    return quote_word(text)


def exec_words(words: Iterable[str]) -> str:
    """A command line for `Exec=`/`PodmanArgs=`: each word escaped on its own."""
    return " ".join(exec_word(w) for w in words)


def _has_control(text: str, *, delete: bool = False) -> bool:
    """Whether `text` holds a C0 control character (U+0000-U+001F), or DEL with `delete`.

    `min` finds the smallest code point in C: a generator over the characters cost ~6,500
    Python steps a media compile (docs/performance.md, twelfth round)."""
    if text and min(text) < " ":
        return True
    return delete and "\x7f" in text


def raw_value(text: str, *, exec_line: bool = True) -> str | None:
    """The text for a key quadlet reads verbatim, or None when it cannot be written that way."""
    if not text or text != text.strip():
        return None
    if _has_control(text, delete=True):
        return None
    if text[0] in "\"'" or text[-1] in "\"'\\":
        return None
    return escape_exec(text) if exec_line else escape_specifiers(text)


# A path systemd reads back unchanged from the space-separated list of `RequiresMountsFor=`:
# no whitespace (the separator), quotes or backslashes (unquoting, escapes), no `$` (quadlet
# copies `Volume=` there, where `$$` is not undone). `%` is fine once written `%%`.
_MOUNTS_FOR_PLAIN = re.compile(r"[^\s\\'\"$\x00-\x1f\x7f]+")


def plain_mount_path(path: str) -> bool:
    """Whether quadlet may copy `path` into `RequiresMountsFor=` as it is (see `mounts_for`)."""
    return bool(_MOUNTS_FOR_PLAIN.fullmatch(path))


def mounts_for(path: str) -> str:
    """One path as a word of `RequiresMountsFor=` (systemd.unit(5)): the list is split like a
    command line (quotes, backslash escapes), then `%` specifiers are expanded. So `%` is doubled
    and a path that needs it is double-quoted, each backslash and double quote escaped."""
    if _has_control(path, delete=True):
        raise UnitValueError("a control character cannot be written into RequiresMountsFor=")
    text = escape_specifiers(path)
    if plain_mount_path(path):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# (section, key) pairs `UnitFile.add` found valid: the backends use a few dozen, ~35,000 times
# at 1,000 services, and two regex matches each were a tenth of the quadlet backend's time.
_NAMES_SEEN: set[tuple[str, str]] = set()


class UnitFile(Record):
    """An ordered unit file: a header comment and sections of `Key=value` lines."""

    header: list[str] = field(default_factory=list)
    sections: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, section: str, key: str, value: str) -> None:
        """Add an already escaped value; refuses anything that could break the line."""
        if (section, key) not in _NAMES_SEEN:
            if not _SECTION.fullmatch(section) or not _KEY.fullmatch(key):
                raise UnitValueError(f"invalid section or key: [{section}] {key}")
            _NAMES_SEEN.add((section, key))
        if _has_control(value) or value != value.strip():
            raise UnitValueError(f"{key}= value would break the unit file line")
        if value.endswith("\\"):
            raise UnitValueError(f"{key}= value would continue onto the next line")
        self.sections.setdefault(section, []).append((key, value))

    def has(self, section: str, key: str) -> bool:
        return any(k == key for k, _ in self.sections.get(section, []))

    def render(self) -> str:
        lines: list[str] = []
        for comment in self.header:
            if _has_control(comment):
                raise UnitValueError("a comment cannot hold control characters")
            lines.append(f"# {comment}" if comment else "#")
        for name, entries in self.sections.items():
            if lines:
                lines.append("")
            lines.append(f"[{name}]")
            lines.extend(f"{key}={value}" for key, value in entries)
        return "\n".join(lines) + "\n"
