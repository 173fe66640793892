"""`mora import`: a docker-compose project -> a mora project (a side door, over the checker).

    compose files --compose.load--> merged, interpolated nodes (with spans)
                  --convert.Converter--> mora source text --> OUT/<name>.mora --> check

Reading follows the Compose Specification (compose.py, interpolate.py, yamlnodes.py); writing
maps every key mora can express and reports every other one at its line and column
(codes.py). Secret values from the compose file are never written: each becomes a generated
`secret`. The result is checked with `mora check`'s own pass; errors there make the import fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mora.diagnostics import Diagnostics

__all__ = ["ImportResult", "import_compose", "render_project"]


@dataclass
class ImportResult:
    text: str | None  # the mora source written (None when nothing could be read)
    written: Path | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    check_errors: int = 0


def render_project(
    paths: list[Path],
    diags: Diagnostics,
    *,
    name: str | None = None,
    env_files: list[Path] | None = None,
    profiles: list[str] | None = None,
    project_directory: Path | None = None,
) -> tuple[str, str] | None:
    """(project name, mora source) for the compose files, or None when none could be read."""
    from mora.importer import compose
    from mora.importer.convert import Converter
    from mora.importer.project import assemble
    from mora.importer.writer import mora_name

    loaded = compose.load(
        paths, diags, env_files=env_files, profiles=profiles, project_directory=project_directory
    )
    if loaded is None or not loaded.services:
        return None
    base = loaded.directory.resolve().name if project_directory is None else loaded.directory.name
    project = mora_name(name or loaded.name or base or "imported")
    conv = Converter(loaded, project, diags)
    return project, _formatted(assemble(conv, paths), f"{project}.mora")


def _formatted(text: str, path: str) -> str:
    """`text` in `mora fmt`'s layout, so an imported project is already formatted (issue 16).

    The writer's own layout is only a first draft: the formatter is the one place that decides
    layout. Text that does not parse is kept as written, so `mora check` reports it at its lines."""
    from mora.fmt import format_source

    formatted = format_source(text, path).text
    return text if formatted is None else formatted


def import_compose(
    paths: list[Path],
    out: Path,
    *,
    name: str | None = None,
    env_files: list[Path] | None = None,
    profiles: list[str] | None = None,
    project_directory: Path | None = None,
    force: bool = False,
) -> ImportResult:
    """Import compose files into the directory `out` (`<project>.mora`) and check the result.

    An existing file is replaced only with `force`: a project imported once is then edited by
    hand, and importing again must not silently throw that work away."""
    from mora.api import check_project
    from mora.importer import codes

    diags = Diagnostics()
    rendered = render_project(
        paths,
        diags,
        name=name,
        env_files=env_files,
        profiles=profiles,
        project_directory=project_directory,
    )
    if rendered is None:
        return ImportResult(None, None, diags)
    project, text = rendered
    from mora.output import UnsafeOutput, write_file

    target = out / f"{project}.mora"
    if (target.exists() or target.is_symlink()) and not force:
        diags.error(
            codes.E_OUTPUT,
            f"`{target}` exists: the import does not replace it",
            None,
            help="pass --force to replace it, or choose another --out",
        )
        return ImportResult(text, None, diags)
    try:
        write_file(out, f"{project}.mora", text)
    except UnsafeOutput as err:
        diags.error(codes.E_OUTPUT, f"cannot write `{target}`: {err}", None)
        return ImportResult(text, None, diags)
    except OSError as err:
        diags.error(codes.E_OUTPUT, f"cannot write `{target}`: {err.strerror or err}", None)
        return ImportResult(text, None, diags)
    checked = check_project(out).diagnostics
    diags.extend(checked)
    return ImportResult(text, target, diags, sum(1 for d in checked if d.is_error))
