"""A small writer of mora source: quoted strings, keys, values and indented blocks.

The importer emits text directly (no syntax tree): this keeps the few layout rules in one place
(two-space indent, `key = value` in blocks, `key: value` in maps, names bare and everything else
quoted) until `mora fmt` owns the canonical layout.
"""

from __future__ import annotations

import re

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = {"if", "else", "input", "secret", "true", "false"}
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def escape(text: str) -> str:
    """Literal text for inside a mora string: `\\`, `"`, control characters and `${` escaped."""
    out = "".join(_ESCAPES.get(c, c) for c in text)
    return out.replace("${", "\\${")


def quote(text: str) -> str:
    return f'"{escape(text)}"'


def key(name: str) -> str:
    """A block or map key: bare when it is a plain name, quoted otherwise."""
    return name if _BARE.fullmatch(name) and name not in _KEYWORDS else quote(name)


def mora_name(text: str) -> str:
    """A mora name made from compose text: lower case, other characters as `_`."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not name:
        name = "x"
    if name[0].isdigit():
        name = "_" + name
    return name


class Block:
    """Lines of a body being written, with the current indent."""

    def __init__(self, indent: int = 0) -> None:
        self.lines: list[str] = []
        self.indent = indent

    def line(self, text: str, comment: str = "") -> None:
        pad = "  " * self.indent
        tail = f"  # {comment}" if comment else ""
        self.lines.append(f"{pad}{text}{tail}")

    def comment(self, text: str) -> None:
        pad = "  " * self.indent
        for part in text.splitlines() or [""]:
            self.lines.append(f"{pad}# {part}".rstrip())

    def open(self, header: str) -> None:
        self.line(header + " {")
        self.indent += 1

    def close(self) -> None:
        self.indent -= 1
        self.line("}")
