"""Comments and string tokens of a source file.

The grammar drops comments (`%ignore COMMENT`), so the formatter finds them again here with the
grammar's own token shapes: a `#` or `//` inside a string is text, not a comment. The same scan
gives the ranges of strings and comments, to find a bracket in code without being fooled by one
inside a string or a comment.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# The grammar's LONG_STRING, STRING and COMMENT terminals (grammar/mora.lark), tried in its order
# of priority; anything else is code. `/` occurs in code only as part of `//`.
_TOKENS = re.compile(
    r'(?P<long>"""(?:[^"\\]|\\.|"(?!""))*""")'
    r'|(?P<str>"(?!"")(?:[^"\\\n]|\\.)*")'
    r"|(?P<com>#[^\n]*|//[^\n]*)"
    r'|[^"#/]+|.',
    re.S,
)


@dataclass(frozen=True, slots=True)
class Comment:
    """One comment: its offsets, its text (trailing blanks dropped) and the line it is on."""

    start: int
    end: int
    text: str
    line: int


@dataclass
class Scan:
    """The comments of a file, and the ranges of all strings and comments (sorted)."""

    comments: list[Comment]
    skips: list[tuple[int, int]]

    def find_code(self, text: str, char: str, start: int, end: int) -> int:
        """The first `char` in `text[start:end]` outside strings and comments, or -1."""
        i = start
        while i < end:
            j = text.find(char, i, end)
            if j < 0:
                return -1
            k = bisect.bisect_right(self.skips, (j, len(text) + 1)) - 1
            if k >= 0 and self.skips[k][0] <= j < self.skips[k][1]:
                i = self.skips[k][1]
                continue
            return j
        return -1


def scan(text: str) -> Scan:
    """Find every comment and string of `text` (which the parser accepted)."""
    comments: list[Comment] = []
    skips: list[tuple[int, int]] = []
    line = 1
    pos = 0
    for m in _TOKENS.finditer(text):
        chunk = m.group()
        if m.lastgroup == "com":
            line += text.count("\n", pos, m.start())
            pos = m.start()
            comments.append(Comment(m.start(), m.end(), chunk.rstrip(), line))
            skips.append((m.start(), m.end()))
        elif m.lastgroup in ("long", "str"):
            skips.append((m.start(), m.end()))
    return Scan(comments, skips)
