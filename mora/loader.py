"""Loading: a project path -> parsed modules, following imports.

A project is a directory of `.mora` files (all of them, in name order) or a single file.
`import "path"` pulls in another file or directory relative to the importing file;
`import name` pulls in a module of the standard library (`stdlib/<name>.mora`).
Every file is read and parsed once, however often it is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mora import ast
from mora.diagnostics import Diagnostics, did_you_mean
from mora.parse_cache import load_module
from mora.resources import stdlib_dir
from mora.source import SourceFile


@dataclass
class LoadedProject:
    root: Path  # the project directory (the file's directory for a one-file project)
    modules: list[ast.Module] = field(default_factory=list)
    stdlib_modules: set[str] = field(default_factory=set)  # display paths of stdlib files


def display_path(path: Path) -> str:
    """A path as users typed it: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def stdlib_modules() -> list[str]:
    base = stdlib_dir()
    if not base.is_dir():
        return []
    return sorted(p.stem for p in base.glob("*.mora"))


def _mora_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.mora") if p.is_file())


class _Loader:
    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.seen: set[Path] = set()
        self.project = LoadedProject(Path("."))

    def load_file(self, path: Path, display: str, from_stdlib: bool = False) -> None:
        resolved = path.resolve()
        if resolved in self.seen:
            return
        self.seen.add(resolved)
        try:
            data = resolved.read_bytes()
        except OSError as err:
            self.diags.error("E0101", f"cannot read `{display}`: {err.strerror}", None)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            text = data.decode("utf-8", errors="replace")
            file = SourceFile(display, text)
            start = len(data[: err.start].decode("utf-8", errors="replace"))
            from mora.source import Span

            self.diags.error(
                "E0006",
                "file is not valid UTF-8",
                Span(file, start, start + 1),
                "this byte is not UTF-8",
                help="save the file as UTF-8",
            )
            return
        if text.startswith("\ufeff"):
            text = text[1:]
        file = SourceFile(display, text)
        module = load_module(file, self.diags)
        self.project.modules.append(module)
        if from_stdlib:
            self.project.stdlib_modules.add(display)
        for decl in module.decls:
            if isinstance(decl, ast.ImportDecl):
                self.load_import(decl, resolved.parent, from_stdlib)

    def load_dir(self, directory: Path) -> int:
        files = _mora_files(directory)
        for f in files:
            self.load_file(f, display_path(f))
        return len(files)

    def load_import(self, decl: ast.ImportDecl, base: Path, from_stdlib: bool) -> None:
        if decl.is_path:
            target = (base / decl.target).resolve()
            if target.is_dir():
                if not _mora_files(target):
                    self.diags.error(
                        "E0101", f"`{decl.target}` has no .mora files", decl.span, "imported here"
                    )
                for f in _mora_files(target):
                    self.load_file(f, display_path(f), from_stdlib)
                return
            if not target.is_file() and target.with_suffix(".mora").is_file():
                target = target.with_suffix(".mora")
            if target.is_file():
                self.load_file(target, display_path(target), from_stdlib)
                return
            self.diags.error(
                "E0101",
                f"cannot find `{decl.target}`",
                decl.span,
                "no such file or directory",
                help=f"paths are relative to the importing file's directory ({display_path(base)})",
            )
            return
        path = stdlib_dir() / f"{decl.target}.mora"
        if path.is_file():
            self.load_file(path, f"<stdlib>/{decl.target}.mora", from_stdlib=True)
            return
        self.diags.error(
            "E0102",
            f"unknown module `{decl.target}`",
            decl.span,
            "not in the standard library",
            help=did_you_mean(decl.target, stdlib_modules())
            or 'import a file or directory with a quoted path: import "./common.mora"',
        )


def load_project(path: Path, diags: Diagnostics) -> LoadedProject:
    """Read and parse a project and everything it imports; problems go to `diags`."""
    loader = _Loader(diags)
    if path.is_dir():
        loader.project.root = path.resolve()
        if loader.load_dir(path) == 0:
            diags.error("E0100", f"no .mora files in `{display_path(path)}`", None)
    elif path.is_file():
        loader.project.root = path.resolve().parent
        loader.load_file(path, display_path(path))
    else:
        diags.error("E0100", f"no such project: `{display_path(path)}`", None)
    return loader.project
