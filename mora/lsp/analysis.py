"""What the language server knows about a document: the checked project it belongs to.

A document is checked the way `mora check DIR` checks its directory (the project), with the
editor's unsaved texts read instead of the files on disk, so the diagnostics carry the same codes
and spans as the command. The loader records where each display path came from, so a span in
another file of the project, or in the stdlib, maps back to a file URI.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from mora import ast
from mora.diagnostics import Diagnostic, Diagnostics
from mora.loader import _Loader, boundary_of, display_path, resolve_modules
from mora.source import SourceFile, Span


def uri_to_path(uri: str) -> Path | None:
    """The file a `file:` URI names (None for other schemes: an unsaved buffer)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


def path_to_uri(path: Path) -> str:
    return "file://" + quote(str(path.resolve()))


class LineIndex:
    """Character offsets <-> LSP positions (lines, and UTF-16 code units within a line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        i = text.find("\n")
        while i >= 0:
            self.starts.append(i + 1)
            i = text.find("\n", i + 1)

    def offset(self, line: int, character: int) -> int:
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        units = 0
        i = start
        while i < end and units < character:
            units += 2 if ord(self.text[i]) > 0xFFFF else 1
            i += 1
        return i

    def position(self, offset: int) -> dict[str, int]:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        chunk = self.text[self.starts[line] : offset]
        return {"line": line, "character": len(chunk) + sum(ord(c) > 0xFFFF for c in chunk)}

    def range(self, start: int, end: int) -> dict[str, dict[str, int]]:
        return {"start": self.position(start), "end": self.position(end)}


class _OverlayLoader(_Loader):
    """The project loader, reading open documents from the editor instead of the disk."""

    def __init__(self, diags: Diagnostics, overlay: dict[Path, str]) -> None:
        super().__init__(diags)
        self.overlay = overlay
        self.paths: dict[str, Path] = {}

    def _read(self, path: str | Path, display: str) -> bytes | None:
        resolved = Path(path).resolve()  # (the loader passes `str` paths)
        self.paths[display] = resolved
        text = self.overlay.get(resolved)
        if text is not None:
            return text.encode("utf-8", "surrogatepass")
        return super()._read(path, display)


@dataclass
class Analysis:
    """One check of the project a document belongs to."""

    program: object | None  # mora.checker.Program
    diagnostics: list[Diagnostic]
    paths: dict[str, Path] = field(default_factory=dict)  # display path -> file
    modules: dict[Path, ast.Module] = field(default_factory=dict)

    def path_of(self, span: Span) -> Path | None:
        return self.paths.get(span.file.path)


def analyse(path: Path | None, text: str, overlay: dict[Path, str]) -> Analysis:
    """Check the project of the document at `path` (its directory); `overlay`: open texts."""
    from mora.checker import check

    diags = Diagnostics()
    if path is None:  # an unsaved buffer: the file alone, parsed and checked
        from mora.loader import LoadedProject
        from mora.parse_cache import load_module

        module = load_module(SourceFile("<buffer>", text), diags)
        loaded = LoadedProject(Path.cwd(), [module], set(), Path.cwd())
        program = check(loaded, diags) if not diags.has_errors else None
        return Analysis(program, list(diags), {}, {})
    loader = _OverlayLoader(diags, overlay)
    root = path.resolve().parent
    loader.project.root = root
    loader.project.boundary = boundary_of(root)
    if root.is_dir():
        loader.load_dir(root, loader.project.boundary)
    if ("", str(path.resolve())) not in loader.seen:  # a new file, not saved yet
        loader.load_file(path, display_path(path))
    resolve_modules(loader.project, diags)  # `import ... as NAME` (mora.modules)
    program = check(loader.project, diags) if loader.project.modules else None
    modules = {}
    for module in loader.project.modules:
        file = loader.paths.get(module.file.path)
        if file is not None:
            modules.setdefault(file, module)  # a file used under two aliases: its first copy
    return Analysis(program, list(diags), loader.paths, modules)
