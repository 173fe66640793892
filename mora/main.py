"""The `mora` console entry point: fast paths for `mora check` and `mora compile`, click for
everything else.

`mora check` runs in pre-commit hooks on every commit, and a small compile should cost about
what `helm template` does, so start-up matters: the common invocations (`mora check [--format
text|json] [PATH ...]`, `mora compile` with its plain options) are served without importing
click. Anything else, including `--help`, a usage error and every other command, goes to the
click application in `mora.cli`, which defines the same commands on top of the same `run_check`
and `run_compile`.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

TYPE_CHECKING = False  # a cached `mora check` imports neither typing nor pathlib (~15 ms)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

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


def run_check(projects: list[Path] | list[str], fmt: str, cache: bool = True) -> int:
    """`mora check`: each project's result replayed from the check cache (mora.check_cache)
    when nothing it read has changed, else checked and kept; `cache=False` (`--no-cache`, or
    MORA_NO_CACHE=1) neither reads nor writes it."""
    from mora import check_cache  # (json only when an entry is read or written)

    if not cache or not check_cache.enabled():
        from mora.api import check_project
        from mora.diagnostics import Diagnostics

        diags = Diagnostics()
        for project in projects or ["."]:  # `str` paths: the check never imports pathlib
            diags.extend(check_project(project).diagnostics)
        return report(diags, fmt)
    items: list[check_cache.Stored] = []
    for project in projects or ["."]:
        found = check_cache.lookup(project)
        if found is None:  # a miss: check, and keep the result with what it read
            from mora.api import check_and_keep

            found = check_cache.stored_diagnostics(check_and_keep(project).diagnostics)
        items += found
    return check_cache.report(items, fmt)


def run_compile(
    project: Path | str,
    domain: str | None,
    sets: list[str],
    site_file: Path | None,
    out_dir: Path | str,
    targets: tuple[str, ...],
    secrets_path: Path | None,
    no_secrets: bool,
    fmt: str,
    gitops: bool = False,
) -> int:
    """`mora compile`: check and evaluate, then write the manifest and the chosen targets.
    `project` and `out_dir` are a `Path` (click) or the same path's text (`_plain_compile`)."""
    from mora.api import compile_project

    result = compile_project(
        project,  # type: ignore[arg-type]
        domain=domain,
        sets=list(sets),
        site_file=site_file,
        secrets_path=secrets_path,
        cache=True,  # the checked program of an unchanged project (mora.check_cache)
    )
    diags = result.diagnostics
    if result.compiled is None or diags.has_errors:
        return report(diags, fmt)
    store = None
    if gitops:  # the encrypted store is copied beside the secret-free output
        from mora.manager.gitops import copy_store, store_path

        store = store_path(result.program, site_file, secrets_path)
    # The backends read only the model: let the syntax tree go (about 40% of a large compile's
    # memory, docs/performance.md) before they build their documents.
    result.program = None
    written, not_built = write_outputs(
        result.compiled, out_dir, targets, no_secrets or gitops, diags
    )
    if store is not None and not diags.has_errors and store.is_file():
        written += len(copy_store(store, out_dir))
    code = report(diags, fmt, quiet_ok=True)
    if fmt == "text":
        say_written(written, not_built, out_dir)
    return code


def write_outputs(
    compiled: object, out_dir: Path | str, targets: tuple[str, ...], no_secrets: bool, diags: Any
) -> tuple[int, list[str]]:
    """Run the chosen backends (the manifest always); returns how many files they wrote and the
    targets not built. Only the count is kept: each backend's list of paths (~100,000 `Path`s,
    ~29 MiB at 10,000 services, all targets) goes as soon as the backend has recorded it."""
    from mora.backends import TARGETS, NotBuilt, Options, write_target
    from mora.output import UnsafeOutput, sync

    wanted = list(TARGETS) if "all" in targets else ["manifest", *targets]
    written = 0
    not_built: list[str] = []
    for target in TARGETS:
        if target not in wanted:
            continue
        try:
            paths = write_target(
                target,
                compiled,
                out_dir,
                Options(no_secrets=no_secrets),
                diags,  # type: ignore[arg-type]
            )
            written += len(paths)
            del paths  # not held while the next backend builds its documents
        except NotBuilt:
            not_built.append(target)
        except UnsafeOutput as err:
            diags.error(
                "E0508",
                f"refusing to write `{err.path}`: {err.strerror}",
                None,
                help="mora never writes through a symlink below the output directory; remove it "
                "(a shared project must not commit its build/ folder) or choose another --out",
            )
            break
        except OSError as err:  # an output directory that cannot be made or written
            where = err.filename or out_dir
            diags.error("E0507", f"cannot write `{where}`: {err.strerror}", None)
            break
    sync()  # one flush for every file written, instead of one per file
    return written, not_built


def say_written(written: int, not_built: list[str], out_dir: Path | str) -> None:
    if written:
        print(f"wrote {written} file(s) to {out_dir}", file=sys.stderr)
    for target in not_built:
        print(f"note: the {target} backend is not built yet; skipped", file=sys.stderr)
    sys.stderr.flush()


def _plain_check(args: list[str]) -> tuple[list[str], str, bool] | None:
    """The arguments of a plain `mora check` call (projects, format, whether to use the check
    cache), or None to leave parsing to click."""
    if not args or args[0] != "check":
        return None
    fmt = "text"
    paths: list[str] = []
    cache = True
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
        elif arg == "--no-cache":
            cache = False
        elif arg.startswith("-"):
            return None  # --help, a typo...: click explains
        else:
            paths.append(arg or ".")  # as Path("") is
        i += 1
    return paths, fmt, cache


_TARGETS = ("all", "manifest", "kubernetes", "quadlet", "podman")
_COMPILE_VALUES = ("--domain", "--set", "--site", "--out", "--target", "--secrets", "--format")


def _plain_compile(args: list[str]) -> dict[str, Any] | None:
    """The arguments of a plain `mora compile` call (the options of `mora.cli.compile_cmd`,
    spelled `--opt VALUE` or `--opt=VALUE`), or None to leave parsing and errors to click: click
    alone costs ~45 ms, a sixth of a small compile (docs/performance.md). The project and the
    output folder are text (`mora.paths.pure`): `pathlib` (with `urllib.parse` and `ipaddress`, ~3-5
    ms) is imported only for a `--site` or `--secrets` file, which the site and the store read
    as `Path`s."""
    if not args or args[0] != "compile":
        return None
    from mora.paths import pure as _pure_path

    given: dict[str, list[str]] = {opt: [] for opt in _COMPILE_VALUES}
    flags: set[str] = set()
    paths: list[str] = []
    rest = args[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        name, eq, value = arg.partition("=")
        if name in given and eq:
            given[name].append(value)
        elif arg in given and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
            given[arg].append(rest[i + 1])
            i += 1
        elif arg == "--no-secrets":
            flags.add(arg)
        elif arg.startswith("-") or paths:
            return None  # --help, --gitops, a typo, a second project...: click handles it
        else:
            paths.append(arg)
        i += 1
    if any(t not in _TARGETS for t in given["--target"]):
        return None
    if any(f not in ("text", "json") for f in given["--format"]):
        return None
    out = _pure_path(given["--out"][-1] if given["--out"] else "build")
    files = given["--site"][-1:] + given["--secrets"][-1:]
    if (os.path.exists(out) and not os.path.isdir(out)) or any(map(os.path.isdir, files)):
        return None  # click's "is a file" / "is a directory" usage errors
    if any(not p for opt in given.values() for p in opt) or (paths and not paths[0]):
        return None
    site = given["--site"][-1:]
    secrets = given["--secrets"][-1:]
    if files:
        from pathlib import Path
    return {
        "project": _pure_path(paths[0] if paths else "."),
        "domain": given["--domain"][-1] if given["--domain"] else None,
        "sets": given["--set"],
        "site_file": Path(site[0]) if site else None,
        "out_dir": out,
        "targets": tuple(given["--target"]) or ("all",),
        "secrets_path": Path(secrets[0]) if secrets else None,
        "no_secrets": "--no-secrets" in flags,
        "fmt": given["--format"][-1] if given["--format"] else "text",
    }


# The cyclic garbage collector's young generation is collected every 700 allocations by default:
# a compile allocates millions of objects (syntax tree, model, documents) that all stay alive to
# the end, and ends up scanning them again and again (40% of parse + check + evaluate at 5,000
# services, over a third of a whole compile at 3,000). mora makes few reference cycles, so the
# command collects rarely; the process ends soon after anyway. Peak memory is unchanged.
GC_THRESHOLDS = (20_000, 50, 1_000)


def _exit(code: int, fast: bool) -> None:
    """End a fast-path command. As the console script (`fast`), flush the standard streams and
    leave with `os._exit`: the interpreter's own shutdown frees every module and object one by
    one (the program, the model, the documents), 15-18% of a media compile or check, all of it
    for memory the kernel takes back anyway (mypy's `hard_exit` does the same). Every file mora
    writes is closed and flushed before this point (outputs, caches, the secret store); only
    the standard streams hold buffered data. Called in-process (`main(argv)`: tests, the
    manager), it raises SystemExit as usual."""
    if not fast:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe (`mora check | head`): the output has gone nowhere anyway
        code = code or EXIT_INTERNAL
    os._exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a Python traceback reach the user."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    # At exit the interpreter collects every object still alive, some passes more than once
    # (~8 ms of a media compile or check); freezing them first skips that (the OS frees them).
    # `check` and `compile` skip the shutdown altogether (`_exit`); this serves the commands
    # click runs. Registered once however often `main` is called in-process.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    try:
        _main(argv)
    finally:
        gc.set_threshold(*before)  # when called in-process (tests), leave the caller's settings


def _main(argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        plain = _plain_check(args)
        if plain is not None:
            _exit(run_check(*plain), fast=argv is None)
        plain_compile = _plain_compile(args)
        if plain_compile is not None:
            _exit(run_compile(**plain_compile), fast=argv is None)
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
