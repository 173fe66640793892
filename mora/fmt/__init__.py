"""`mora fmt`: source -> source in one canonical layout (a side door: it reads syntax only).

`format_source` parses the text and prints the tree again (`mora.fmt.printer`), with the comments
the grammar drops found again by `mora.fmt.comments`. A file that does not parse is returned
with its diagnostics and no text: it is never half-formatted. `run` is the command: it formats
files in place, or with `check` names those that would change, or with `diff` prints the diffs.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mora import ast
from mora.diagnostics import Diagnostics
from mora.source import SourceFile

__all__ = ["FormatResult", "format_source", "run", "shape"]


@dataclass
class FormatResult:
    """The formatted text (None when the source has syntax errors) and the parser's diagnostics."""

    text: str | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def format_source(text: str, path: str = "<stdin>") -> FormatResult:
    """Format one file's text. Idempotent; the parse of the result equals the parse of `text`."""
    from mora.fmt.comments import scan
    from mora.fmt.printer import Printer
    from mora.parser import parse_module

    diags = Diagnostics()
    file = SourceFile(path, text)
    module = parse_module(file, diags)
    if diags.has_errors:
        return FormatResult(None, diags)
    return FormatResult(Printer(file, scan(text)).module(module), diags)


def shape(node: object) -> object:
    """A node as plain nested tuples without spans: equal shapes mean the same program."""
    if isinstance(node, ast.Module):
        return ("Module", shape(node.decls), node.broken)
    if isinstance(node, ast.Node):
        fields = tuple(shape(getattr(node, f)) for f in node._fields if f != "span")
        return (type(node).__name__, *fields)
    if isinstance(node, tuple):
        return tuple(shape(x) for x in node)
    return node


def _files(paths: list[Path]) -> list[Path]:
    """The .mora files named or found (recursively, hidden directories skipped) under `paths`."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out += [Path(root) / n for n in sorted(names) if n.endswith(".mora")]
        else:
            out.append(path)
    return out


def _write(path: Path, text: str) -> None:
    """Replace `path` whole (a temporary file renamed over it), keeping its mode."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.fmt")
    mode = path.stat().st_mode & 0o7777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _report(diags: Diagnostics) -> int:
    """Print diagnostics on stderr as `mora check` does; 1 when there are errors."""
    from mora.diagnostics import render_text, summary

    items = diags.sorted()
    for d in items:
        print(render_text(d) + "\n", file=sys.stderr)
    print(summary(items), file=sys.stderr)
    return 1 if diags.has_errors else 0


def run(paths: list[Path], check: bool = False, diff: bool = False) -> int:
    """The `mora fmt` command: 0 when all is well, 1 on syntax errors or (with --check) changes.

    `-` as the only path formats standard input to standard output."""
    from mora.loader import _Loader

    if [str(p) for p in paths] == ["-"]:
        result = format_source(sys.stdin.read())
        if result.text is None:
            return _report(result.diagnostics)
        sys.stdout.write(result.text)
        return 0
    diags = Diagnostics()
    reader = _Loader(diags)
    changed: list[Path] = []
    for path in _files(paths or [Path(".")]):
        data = reader._read(path, str(path))  # the loader's checks: E0101, E0105, E0006, E0007
        text = reader._decode(data, str(path)) if data is not None else None
        if text is None:
            continue
        result = format_source(text, str(path))
        if result.text is None:
            diags.extend(result.diagnostics)
            continue
        if result.text == text:
            continue
        changed.append(path)
        if diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    result.text.splitlines(keepends=True),
                    f"{path} (original)",
                    f"{path} (formatted)",
                )
            )
        elif check:
            print(f"would reformat {path}")
        else:
            _write(path, result.text)
            print(f"reformatted {path}", file=sys.stderr)
    status = _report(diags) if len(diags) else 0
    if check and changed:
        status = 1
    return status
