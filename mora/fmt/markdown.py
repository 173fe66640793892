"""The ```mora examples of Markdown files in `mora fmt`'s layout (issue 16: docs are formatted).

An example is a whole file or a fragment of a service body (`volumes { ... }`, `setup { ... }`):
a fragment is formatted inside a stand-in `service` and taken out again, at its own indent.
An example that is deliberately wrong (a syntax error shown on purpose) is fenced ```mora-invalid
and left as written; a ```mora example that parses neither way is an error, so a broken example
cannot hide. Used by `scripts/fmt-docs` and by the test that keeps the docs formatted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mora.fmt import format_source

__all__ = ["INVALID", "Example", "format_example", "format_markdown", "main"]

INVALID = "mora-invalid"
_FENCE = re.compile(
    r"^(?P<ind>[ ]*)```(?P<info>mora(?:-invalid)?)[ \t]*\n(?P<body>.*?)^(?P=ind)```[ \t]*$",
    re.M | re.S,
)
_WRAP = "service example {"


@dataclass(frozen=True)
class Example:
    """One fenced example: where it starts (1-based line of the fence) and what became of it."""

    line: int
    status: str  # "unchanged", "formatted", "invalid" (```mora-invalid) or "error"
    message: str = ""


def _indent(lines: list[str]) -> int:
    return min((len(x) - len(x.lstrip(" ")) for x in lines if x.strip()), default=0)


def _fragment(text: str) -> str | None:
    """`text` formatted as the body of a service (None when that does not parse either)."""
    wrapped = _WRAP + "\n" + "".join("  " + x if x.strip() else x for x in text.splitlines(True))
    result = format_source(wrapped + "}\n", "example.mora").text
    if result is None:
        return None
    lines = result.splitlines(True)
    if lines[0] != _WRAP + "\n" or lines[-1] != "}\n":
        return None
    body = lines[1:-1]
    if any(x.strip() and not x.startswith("  ") for x in body):
        return None
    return "".join(x[2:] if x.strip() else x for x in body)


def format_example(body: str) -> str | None:
    """The example's text formatted at its own indent; None when it is not mora."""
    lines = body.splitlines(True)
    ind = _indent(lines)
    text = "".join(x[ind:] if x.strip() else x.lstrip(" ") for x in lines)
    formatted = format_source(text, "example.mora").text
    if formatted is None:
        formatted = _fragment(text)
    if formatted is None:
        return None
    pad = " " * ind
    return "".join(pad + x if x.strip() else x for x in formatted.splitlines(True))


def format_markdown(text: str) -> tuple[str, list[Example]]:
    """`text` with every ```mora example formatted, and what was done to each example."""
    out: list[str] = []
    examples: list[Example] = []
    pos = 0
    for m in _FENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        body = m.group("body")
        new = None if m.group("info") == INVALID else format_example(body)
        if m.group("info") == INVALID:
            examples.append(Example(line, "invalid"))
        elif new is None:
            examples.append(
                Example(line, "error", f"not mora: fix it, or fence it ```{INVALID} if meant")
            )
        else:
            examples.append(Example(line, "unchanged" if new == body else "formatted"))
        out.append(text[pos : m.start("body")])
        out.append(body if new is None else new)
        pos = m.end("body")
    out.append(text[pos:])
    return "".join(out), examples


def main(argv: list[str]) -> int:
    """`scripts/fmt-docs [--check] [FILE.md...]`: format the examples in place (default: README.md,
    docs/*.md, docs/stdlib/*.md), or with --check name the files that would change. Exit 1 on a
    file to change (--check) or an example that is not mora; prints the counts."""
    import sys
    from collections import Counter
    from pathlib import Path

    check = "--check" in argv
    names = [a for a in argv if a != "--check"]
    paths = [Path(n) for n in names] or [
        Path("README.md"),
        *sorted(Path("docs").glob("*.md")),
        *sorted(Path("docs/stdlib").glob("*.md")),
    ]
    counts: Counter[str] = Counter()
    failed = False
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new, examples = format_markdown(text)
        counts.update(e.status for e in examples)
        for e in examples:
            if e.status == "error":
                print(f"{path}:{e.line}: {e.message}", file=sys.stderr)
                failed = True
        if new != text:
            if check:
                print(f"{path}: examples not formatted (run scripts/fmt-docs)", file=sys.stderr)
                failed = True
            else:
                path.write_text(new, encoding="utf-8")
    print(
        f"{sum(counts.values())} examples: {counts['formatted']} formatted, "
        f"{counts['unchanged']} unchanged, {counts['invalid']} {INVALID} (skipped), "
        f"{counts['error']} not mora",
        file=sys.stderr,
    )
    return 1 if failed else 0
