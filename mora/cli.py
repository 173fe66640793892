"""The `mora` command: a thin layer over `mora.api`.

Exit codes: 0 success (warnings allowed), 1 errors in the project or site, 2 usage errors,
3 an internal error (a bug in mora: reported without a traceback unless MORA_DEBUG=1).
Diagnostics go to stderr; `--format json` prints them as one JSON document on stdout instead.
Heavy modules (pydantic, the secrets package, backends) are imported only by the commands that
need them, so `mora check` starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mora import __version__
from mora.diagnostics import Diagnostics, render_json, render_text, summary

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print diagnostics: for people, or one JSON document for editors and CI.",
)
_PROJECT = click.argument("project", type=click.Path(path_type=Path), default=".")


def _report(diags: Diagnostics, fmt: str, quiet_ok: bool = False) -> int:
    items = diags.sorted()
    if fmt == "json":
        click.echo(render_json(items))
    else:
        for d in items:
            click.echo(render_text(d) + "\n", err=True)
        if items or not quiet_ok:
            click.echo(summary(items), err=True)
    return EXIT_ERRORS if diags.has_errors else EXIT_OK


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mora")
def cli() -> None:
    """mora: homelab configuration, compiled.

    Write your services once in .mora files; compile them against your site (domain, params,
    secrets) to Kubernetes, podman quadlet and podman outputs.
    """


@cli.command("check")
@_PROJECT
@_FORMAT
def check_cmd(project: Path, fmt: str) -> None:
    """Parse and check PROJECT (a directory of .mora files, or one file).

    Needs no site and touches no secrets: made for pre-commit hooks and CI.
    """
    from mora.api import check_project

    result = check_project(project)
    sys.exit(_report(result.diagnostics, fmt, quiet_ok=False))


@cli.command("compile")
@_PROJECT
@click.option("--domain", help="The site's domain; subdomains are served under it.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a param (repeatable). Overrides --domain and the site file.",
)
@click.option(
    "--site",
    "site_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A site file (YAML: domain, params). Keep it outside the shared project.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Output directory.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.Choice(["all", "manifest", "kubernetes", "quadlet", "podman"]),
    default=("all",),
    show_default=True,
    help="What to emit (repeatable). The manifest is always written.",
)
@click.option(
    "--secrets",
    "secrets_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The site's secret store (default: next to the site file, else ./.mora/).",
)
@_FORMAT
def compile_cmd(
    project: Path,
    domain: str | None,
    sets: tuple[str, ...],
    site_file: Path | None,
    out_dir: Path,
    targets: tuple[str, ...],
    secrets_path: Path | None,
    fmt: str,
) -> None:
    """Compile PROJECT against a site into OUT (manifest.json and the chosen targets)."""
    from mora.api import compile_project
    from mora.backends import BACKENDS, TARGETS, NotBuilt

    result = compile_project(
        project, domain=domain, sets=list(sets), site_file=site_file, secrets_path=secrets_path
    )
    diags = result.diagnostics
    if result.compiled is None or diags.has_errors:
        sys.exit(_report(diags, fmt))
    wanted = list(TARGETS) if "all" in targets else ["manifest", *targets]
    written: list[Path] = []
    not_built: list[str] = []
    for target in TARGETS:
        if target not in wanted:
            continue
        try:
            written += BACKENDS[target](result.compiled, out_dir, {})  # type: ignore[arg-type]
        except NotBuilt:
            not_built.append(target)
    code = _report(diags, fmt, quiet_ok=True)
    if fmt == "text":
        click.echo(f"wrote {len(written)} file(s) to {out_dir}", err=True)
        for target in not_built:
            click.echo(f"note: the {target} backend is not built yet; skipped", err=True)
    sys.exit(code)


@cli.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of manifest.json."""
    from mora.model import manifest_schema

    click.echo(manifest_schema(), nl=False)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: never lets a Python traceback reach the user."""
    try:
        cli.main(args=argv, prog_name="mora", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as err:  # a bug in mora: say so briefly, never dump values
        if os.environ.get("MORA_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(err).__name__} (a bug in mora; rerun with MORA_DEBUG=1 "
            "for details and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
