"""What a `.mora` file says in its comments for tools: the `# login:` paragraphs.

A template whose login mora cannot automate says how its app signs in on a `# login:` line
(docs/stdlib/sso.md), continued by indented `#   ` lines. The checker quotes it in E0306's help
and the stdlib table (`scripts/stdlib-table`) shows it; both read it here, so the two cannot
disagree on where a paragraph ends.
"""

from __future__ import annotations

from collections.abc import Iterable

LOGIN = "# login:"


def login_paragraphs(comment: Iterable[str]) -> list[str]:
    """Each `# login:` line of a comment block with its `#   ` continuation lines, joined into
    one line; a paragraph ends at the first comment line that does not continue it."""
    found: list[str] = []
    open_paragraph = False
    for line in comment:
        if line.startswith(LOGIN):
            found.append(line[len(LOGIN) :].strip())
            open_paragraph = True
        elif open_paragraph and line.startswith("#   ") and line[4:].strip():
            found[-1] += " " + line[4:].strip()
        else:
            open_paragraph = False
    return found


def header(text: str) -> list[str]:
    """The comment lines a file opens with: its header."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines
