"""The `mora` console entry point: a fast path for `mora check`, click for everything else.

`mora check` runs in pre-commit hooks on every commit, so its start-up matters: the common
invocation (`mora check [--format text|json] [PATH ...]`) is served without importing click.
Anything else, including `--help` and every other command, goes to the click application in
`mora.cli`, which defines the same `check` on top of the same `run_check`.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def report(diags: object, fmt: str, quiet_ok: bool = False) -> int:
    """Print diagnostics (text on stderr, or one JSON document on stdout); the exit code."""
    from mora.diagnostics import render_json, render_text, summary

    items = diags.sorted()  # type: ignore[attr-defined]
    if fmt == "json":
        print(render_json(items), flush=True)
    else:
        for d in items:
            print(render_text(d) + "\n", file=sys.stderr)
        if items or not quiet_ok:
            print(summary(items), file=sys.stderr)
        sys.stderr.flush()
    return EXIT_ERRORS if diags.has_errors else EXIT_OK  # type: ignore[attr-defined]


def run_check(projects: list[Path], fmt: str) -> int:
    from mora.api import check_project
    from mora.diagnostics import Diagnostics

    diags = Diagnostics()
    for project in projects or [Path(".")]:
        diags.extend(check_project(project).diagnostics)
    return report(diags, fmt)


def _plain_check(args: list[str]) -> tuple[list[Path], str] | None:
    """The arguments of a plain `mora check` call, or None to leave parsing to click."""
    if not args or args[0] != "check":
        return None
    fmt = "text"
    paths: list[Path] = []
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--format" and i + 1 < len(rest) and rest[i + 1] in ("text", "json"):
            fmt = rest[i + 1]
            i += 2
            continue
        if arg in ("--format=text", "--format=json"):
            fmt = arg.split("=", 1)[1]
        elif arg.startswith("-"):
            return None  # --help, a typo...: click explains
        else:
            paths.append(Path(arg))
        i += 1
    return paths, fmt


# The cyclic garbage collector's young generation is collected every 700 allocations by default:
# a compile allocates millions of objects (syntax tree, model, documents) that all stay alive to
# the end, and ends up scanning them again and again (40% of parse + check + evaluate at 5,000
# services, over a third of a whole compile at 3,000). mora makes few reference cycles, so the
# command collects rarely; the process ends soon after anyway. Peak memory is unchanged.
GC_THRESHOLDS = (20_000, 50, 1_000)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a Python traceback reach the user."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        _main(argv)
    finally:
        gc.set_threshold(*before)  # when called in-process (tests), leave the caller's settings


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        plain = _plain_check(args)
        if plain is not None:
            sys.exit(run_check(*plain))
        from mora.cli import cli

        cli.main(args=args, prog_name="mora", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # a bug in mora: say so briefly, never dump values
        if os.environ.get("MORA_DEBUG"):
            raise
        print(
            f"internal error: {type(err).__name__} (a bug in mora; rerun with MORA_DEBUG=1 "
            "for details and please report it)",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERNAL)
