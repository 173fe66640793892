"""Loading: a project path -> parsed modules, following imports.

A project is a directory of `.mora` files (all of them, in name order) or a single file.
`import "path"` pulls in another file or directory relative to the importing file;
`import name` pulls in a module of the standard library (`stdlib/<name>.mora`).
Every file is read and parsed once, however often it is imported.

A shared project is untrusted input, so reading is confined: an import stays inside the
project's boundary (see `boundary_of`) or the standard library, never follows a symlink out of
it, reads only regular `.mora` files up to `MAX_FILE_BYTES`, and a file that is not text (not
UTF-8, or with control characters) is refused without quoting any of it back.

Paths are `str`s, compared and joined as pathlib would (`mora.paths`):
`mora check` never imports pathlib, which with the `urllib.parse` and `ipaddress` it pulls in is
~5 ms of its start-up. Public functions also take any `os.PathLike`.
"""

from __future__ import annotations

import os
import re
from stat import S_ISDIR, S_ISREG

from mora import ast, paths
from mora.check_cache import NoReads, Reads
from mora.deps.lock import STDLIB, LockEntry, LockError, module_dir, read_lock, verified_dir
from mora.diagnostics import Diagnostics, did_you_mean
from mora.parse_cache import load_module
from mora.record import Record, field
from mora.resources import stdlib_folder
from mora.source import ReadRefused, SourceFile, Span, read_bounded

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from typing import Any

    StrPath = str | os.PathLike[str]

MAX_FILE_BYTES = 1024 * 1024  # one source file; the largest real module is ~20 KB
NAME_MAX = 255  # bytes in one path component (Linux and macOS)
PATH_MAX = 4096
E_OUTSIDE = "E0104"  # an import leaves the project (absolute, `..`, a symlink out)
E_NOT_SOURCE = "E0105"  # not a regular `.mora` file, too large, or an unusable path
E_CONTROL = "E0007"  # a file with control characters: not mora source, never quoted
# C0 controls but tab, newline and carriage return; DEL; the C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


class LoadedProject(Record):
    root: str  # the project directory, resolved (the file's directory for a one-file project)
    modules: list[ast.Module] = field(default_factory=list)
    stdlib_modules: set[str] = field(default_factory=set)  # display paths of stdlib files
    boundary: str = "."  # imports may not reach outside this directory (or the stdlib)
    lock: dict[str, LockEntry] = field(default_factory=dict)  # mora.lock beside the project
    dependency_modules: set[str] = field(default_factory=set)  # display paths of locked modules
    locked_imports: list[ast.ImportDecl] = field(default_factory=list)  # `import NAME` of a lock
    stdlib_problem: str | None = None  # why a required stdlib cannot be used (bundled one read)
    unknown_modules: list[ast.ImportDecl] = field(default_factory=list)  # E0102 unless required
    # Namespaced modules (mora.modules): the alias each module was loaded under ("" for the
    # project's own files, parallel to `modules`), and every alias's scope.
    module_scopes: list[str] = field(default_factory=list)
    scopes: dict[str, Any] = field(default_factory=dict)  # path -> mora.modules.Scope
    defaults_used: set[tuple[str, str]] = field(default_factory=set)  # (file, name) a module took


def _is_mora(path: str) -> bool:
    """`Path(path).suffix == ".mora"`."""
    name = os.path.basename(path)
    return name.endswith(".mora") and name != ".mora"


def display_path(path: StrPath) -> str:
    """A path as users typed it: relative to the working directory when below it."""
    path = os.fspath(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def boundary_of(root: StrPath) -> str:
    """How far imports may reach: the enclosing Git work tree, else the project directory.

    A cloned repository is one unit of trust (all of it comes from the same hands), so the
    projects of one repository may import each other (`projects/homelab` imports
    `../media`); nothing outside the clone is ever reachable. Without a Git work tree the
    project directory itself is the limit.
    """
    root = paths.pure(root)
    for d in paths.parents(root):
        if paths.mode(os.path.join(d, ".git")):
            return d
    return root


def _entries(directory: str) -> list[os.DirEntry[str]]:
    """The entries named `*.mora` in `directory`, as pathlib's `glob("*.mora")` lists them
    (hidden names too; none when it is not a directory or may not be listed)."""
    if not S_ISDIR(paths.mode(directory)):
        return []
    try:
        with os.scandir(directory) as listing:
            return [e for e in listing if e.name.endswith(".mora")]
    except PermissionError:
        return []


def stdlib_modules() -> list[str]:
    names = (e.name for e in _entries(stdlib_folder()))
    return sorted(name[:-5] if name != ".mora" else name for name in names)  # `Path.stem`


def _mora_files(directory: StrPath) -> list[str]:
    """Every entry named `*.mora` but directories: a special file is reported, not skipped."""
    directory = paths.pure(directory)
    return sorted(
        paths.join(directory, e.name)
        for e in _entries(directory)
        if e.is_symlink() or not e.is_dir()
    )


def _mask(text: str) -> str:
    """The text with every character but line breaks blanked: a span without a quote."""
    return re.sub(r"[^\n]", " ", text)


def _path_problem(target: str) -> str | None:
    """Why an import path cannot name a file at all, or None."""
    if "\x00" in target:
        return "the path contains a NUL character"
    if len(target.encode("utf-8", "surrogatepass")) > PATH_MAX:
        return f"the path is longer than {PATH_MAX} bytes"
    if any(len(part.encode("utf-8", "surrogatepass")) > NAME_MAX for part in target.split("/")):
        return f"a name in the path is longer than {NAME_MAX} bytes"
    return None


class _Loader:
    def __init__(self, diags: Diagnostics, reads: Reads | None = None) -> None:
        self.diags = diags
        self.reads = reads or NoReads()  # what the check result depends on (mora.check_cache)
        self.seen: set[tuple[str, str]] = set()  # (scope, file): a file is read once per alias
        self.scope = ""  # the alias the files being read belong to ("" for the project)
        self.importer = ""  # the display path of the file whose imports are being followed
        self.project = LoadedProject(".")
        self.stdlib = paths.resolve(stdlib_folder())
        self.stdlib_label = "<stdlib>"
        self.dep_prefix: dict[str, str] = {}  # a locked module's directory -> `<name@version>`

    def open_lock(self, root: str) -> None:
        """Read `mora.lock`; a locked stdlib replaces the bundled one when its hash matches."""
        self.reads.file(os.path.join(root, "mora.lock"))
        try:
            self.project.lock = read_lock(root)
        except LockError as err:
            self.diags.error(
                "E0132",
                f"cannot use `{display_path(os.path.join(root, 'mora.lock'))}`: {err}",
                None,
                help="run `mora get` to write it again",
            )
            return
        entry = self.project.lock.get(STDLIB)
        if entry is not None:
            self.reads.tree(module_dir(entry.hash))
            try:
                self.stdlib = paths.resolve(verified_dir(entry))
                self.stdlib_label = f"<stdlib@{entry.version}>"
            except LockError as err:
                self.project.stdlib_problem = str(err)

    def _display(self, path: str, limit: str) -> str:
        """A locked module's file as `<name@version>/file.mora`; others as `display_path`."""
        if limit in self.dep_prefix:
            return f"{self.dep_prefix[limit]}/{paths.relative(path, limit)}"
        if limit == self.stdlib and self.stdlib_label != "<stdlib>":
            return f"{self.stdlib_label}/{paths.relative(path, limit)}"
        return display_path(path)

    def load_dependency(self, decl: ast.ImportDecl) -> None:
        """`import NAME` of a locked dependency: its verified copy, confined to that copy."""
        entry = self.project.lock[decl.target]
        self.project.locked_imports.append(decl)
        self.reads.tree(module_dir(entry.hash))
        try:
            directory = paths.resolve(verified_dir(entry))
        except LockError as err:
            self.diags.error(
                "E0130",
                f"dependency `{decl.target}` cannot be used: {err}",
                decl.span,
                "required here",
                help="run `mora get` to fetch the locked version again",
            )
            return
        self.dep_prefix[directory] = f"<{decl.target}@{entry.version}>"
        if self.load_dir(directory, directory, decl.span) == 0:
            self.diags.error(
                "E0101", f"dependency `{decl.target}` has no .mora files", decl.span, "here"
            )

    def _read(self, path: StrPath, display: str) -> bytes | None:
        """The bytes of a regular file of at most MAX_FILE_BYTES; a diagnostic otherwise."""
        try:
            return read_bounded(path, MAX_FILE_BYTES)
        except ReadRefused as refused:
            if refused.why == "not-regular":
                self.diags.error(
                    E_NOT_SOURCE,
                    f"`{display}` is not a regular file",
                    None,
                    help="a project is made of ordinary .mora files",
                )
            else:
                self.diags.error(
                    E_NOT_SOURCE,
                    f"`{display}` is larger than the limit of {MAX_FILE_BYTES // 1024 // 1024} MiB",
                    None,
                    help="split it into several files",
                )
        except OSError as err:
            self.diags.error("E0101", f"cannot read `{display}`: {err.strerror}", None)
        return None

    def _decode(self, data: bytes, display: str) -> str | None:
        """The text of a source file; not UTF-8 or with control characters: refused, unquoted."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            shown = data.decode("utf-8", errors="replace")
            start = len(data[: err.start].decode("utf-8", errors="replace"))
            self.diags.error(
                "E0006",
                "file is not valid UTF-8",
                Span(SourceFile(display, _mask(shown)), start, start + 1),
                "this byte is not UTF-8",
                help="save the file as UTF-8 (the file is not shown: it may not be mora source)",
            )
            return None
        bad = _CONTROL.search(text)
        if bad:
            self.diags.error(
                E_CONTROL,
                f"file contains a control character (U+{ord(bad.group()):04X})",
                Span(SourceFile(display, _mask(text)), bad.start(), bad.start() + 1),
                "not allowed in mora source",
                help="mora source is text: write `\\0`, `\\t`... escapes inside strings instead "
                "(the file is not shown: it may not be mora source)",
            )
            return None
        return text[1:] if text.startswith("\ufeff") else text

    def load_file(
        self, path: StrPath, display: str, from_stdlib: bool = False, limit: str | None = None
    ) -> None:
        """Read one file; `limit` is the locked module it belongs to (None: project/stdlib)."""
        resolved = paths.resolve(path)
        self.reads.probe(path)
        if (self.scope, resolved) in self.seen:
            return
        self.seen.add((self.scope, resolved))
        data = self._read(resolved, display)
        if data is None:
            self.reads.refuse()
            return
        self.reads.file(resolved, data)
        text = self._decode(data, display)
        if text is None:
            return
        file = SourceFile(display, text)
        module = load_module(file, self.diags)
        self.project.modules.append(module)
        self.project.module_scopes.append(self.scope)
        if from_stdlib:
            self.project.stdlib_modules.add(display)
        if limit is not None:
            self.project.dependency_modules.add(display)
        for decl in module.decls:
            if isinstance(decl, ast.ImportDecl):
                self.importer = display
                self.load_import(decl, os.path.dirname(resolved), from_stdlib, limit)

    def load_dir(self, directory: StrPath, limit: StrPath, span: Span | None = None) -> int:
        """Every `.mora` file of `directory`; one that is a symlink out of `limit` is refused."""
        limit = os.fspath(limit)
        files = _mora_files(directory)
        self.reads.listing(directory, [os.path.basename(f) for f in files])
        for f in files:
            self.reads.probe(f)
            try:
                resolved = paths.resolve(f)
            except RuntimeError:  # a symlink loop (a shared project can commit one)
                self.diags.error(
                    E_NOT_SOURCE,
                    f"`{display_path(f)}` is a symlink loop",
                    span,
                    "imported here" if span else "",
                    help="a project is made of ordinary .mora files",
                )
                continue
            if not paths.inside(resolved, limit):
                self.diags.error(
                    E_OUTSIDE,
                    f"`{display_path(f)}` is a symlink to a file outside the project",
                    span,
                    "imported here" if span else "",
                    help="a project reads only its own files: copy the file into the project",
                )
                continue
            self.load_file(
                f,
                self._display(f, limit),
                limit == self.stdlib,
                limit if limit in self.dep_prefix else None,
            )
        return len(files)

    def _outside(self, decl: ast.ImportDecl, why: str, help: str) -> None:
        """Refused before anything is read: the path is the project's own text, safe to show."""
        self.diags.error(
            E_OUTSIDE,
            f"cannot import `{decl.target}`: {why}",
            decl.span,
            "outside the project",
            help=help,
        )

    def load_import(
        self, decl: ast.ImportDecl, base: str, from_stdlib: bool, limit: str | None = None
    ) -> None:
        """Follow one import: under its alias's scope, a flat stdlib/locked name in the
        project's (shared by every alias), a flat path in the importing file's own scope."""
        outer = self.scope
        if decl.alias is not None:
            from mora.modules.load import enter

            inner = enter(self.project, outer, decl, self.importer, self.diags)
            if inner is None:
                return
            self.scope = inner
        elif not decl.is_path:
            self.scope = ""
        try:
            self._load_import(decl, base, from_stdlib, limit)
        finally:
            self.scope = outer

    def _load_import(
        self, decl: ast.ImportDecl, base: str, from_stdlib: bool, limit: str | None = None
    ) -> None:
        if decl.is_path:
            self.load_path_import(decl, base, from_stdlib, limit)
            return
        # A locked name resolves only from the project itself: a dependency reaches the
        # stdlib, never the project's other dependencies.
        if not from_stdlib and limit is None and decl.target in self.project.lock:
            if decl.target != STDLIB:
                self.load_dependency(decl)
                return
        path = paths.join(self.stdlib, f"{decl.target}.mora")
        self.reads.probe(path)
        if S_ISREG(paths.mode(path)):
            self.load_file(path, f"{self.stdlib_label}/{decl.target}.mora", from_stdlib=True)
            return
        if limit is None and not from_stdlib:  # a required name not locked yet: E0131 instead
            self.project.unknown_modules.append(decl)
            return
        self.reads.folder(stdlib_folder())  # its names are the did-you-mean candidates
        unknown_module(decl, self.diags)

    def load_path_import(
        self, decl: ast.ImportDecl, base: str, from_stdlib: bool, module: str | None = None
    ) -> None:
        """`import "PATH"`: confined to the project (or the stdlib, or the locked module)."""
        limit = module or (self.stdlib if from_stdlib else self.project.boundary)
        problem = _path_problem(decl.target)
        if problem is not None:
            self.diags.error(
                E_NOT_SOURCE, f"cannot import this path: {problem}", decl.span, "not a usable path"
            )
            return
        if os.path.isabs(decl.target) or decl.target.startswith("~"):
            self._outside(
                decl,
                "an absolute path",
                "paths are relative to the importing file; a project reads only its own files",
            )
            return
        try:
            joined = paths.join(base, decl.target)
            self.reads.probe(joined)
            target = paths.resolve(joined)
            if not paths.inside(target, limit) and not paths.inside(
                os.path.normpath(joined), limit
            ):
                self._outside(
                    decl,
                    "it is outside the project",
                    "a project reads only its own files (and the standard library: "
                    "`import postgres`)",
                )
                return
            if not paths.inside(target, limit):
                self._outside(
                    decl,
                    "a symlink that leads outside the project",
                    "a project reads only its own files: copy the file into the project",
                )
                return
            if S_ISDIR(paths.mode(target)):
                if self.load_dir(target, limit, decl.span) == 0:
                    self.diags.error(
                        "E0101", f"`{decl.target}` has no .mora files", decl.span, "imported here"
                    )
                return
            if not _is_mora(target) and not paths.mode(target):  # `.mora` may be left out
                self.reads.probe(target + ".mora")
                named = paths.resolve(target + ".mora")
                if paths.mode(named) and not paths.inside(named, limit):
                    self._outside(
                        decl,
                        "a symlink that leads outside the project",
                        "a project reads only its own files: copy the file into the project",
                    )
                    return
                target = named if paths.mode(named) else target
            if paths.mode(target) and not _is_mora(target):
                self.diags.error(
                    E_NOT_SOURCE,
                    f"`{decl.target}` is not a .mora file",
                    decl.span,
                    "only .mora files can be imported",
                )
                return
            if paths.mode(target):
                self.load_file(target, self._display(target, limit), from_stdlib, module)
                return
        except (OSError, RuntimeError) as err:  # a symlink loop, a name the OS refuses
            reason = getattr(err, "strerror", None) or "the path cannot be resolved"
            self.diags.error(
                E_NOT_SOURCE, f"cannot import `{decl.target}`: {reason}", decl.span, "here"
            )
            return
        self.diags.error(
            "E0101",
            f"cannot find `{decl.target}`",
            decl.span,
            "no such file or directory",
            help=f"paths are relative to the importing file's directory ({display_path(base)})",
        )


def unknown_module(decl: ast.ImportDecl, diags: Diagnostics) -> None:
    diags.error(
        "E0102",
        f"unknown module `{decl.target}`",
        decl.span,
        "not in the standard library",
        help=did_you_mean(decl.target, stdlib_modules())
        or 'import a file or directory with a quoted path: import "./common.mora"',
    )


def resolve_modules(project: LoadedProject, diags: Diagnostics) -> None:
    """Aliased imports into the flat program the checker reads (mora.modules): call once after
    loading, before checking."""
    if project.scopes:
        from mora.modules.rewrite import rewrite

        rewrite(project, diags)


def load_project(path: StrPath, diags: Diagnostics, reads: Reads | None = None) -> LoadedProject:
    """Read and parse a project and everything it imports; problems go to `diags`, and what
    was read to `reads` (mora.check_cache)."""
    path = paths.pure(path)
    loader = _Loader(diags, reads)
    loader.reads.probe(path)
    mode = paths.mode(path)
    if S_ISDIR(mode):
        root = paths.resolve(path)
        loader.project.root = root
        loader.project.boundary = boundary_of(root)
        loader.open_lock(root)
        if loader.load_dir(path, loader.project.boundary) == 0:
            diags.error(
                "E0100",
                f"no .mora files in `{display_path(path)}`",
                None,
                help="a project is a directory of .mora files: give the directory that holds "
                "them, or write one (`project NAME` first)",
            )
    elif S_ISREG(mode):
        root = os.path.dirname(paths.resolve(path))
        loader.project.root = root
        loader.project.boundary = boundary_of(root)
        loader.open_lock(root)
        loader.load_file(path, display_path(path))
    else:
        diags.error(
            "E0100",
            f"no such project: `{display_path(path)}`",
            None,
            help="give the path of a project directory (its .mora files) or of one .mora file, "
            "from the current directory",
        )
        return loader.project
    for d in paths.parents(loader.project.root):  # what boundary_of asked
        loader.reads.probe(os.path.join(d, ".git"))
        if paths.mode(os.path.join(d, ".git")):
            break
    if loader.project.unknown_modules:  # reported with the stdlib's names as candidates
        loader.reads.folder(stdlib_folder())
    from mora.deps.requirements import check_requirements

    check_requirements(loader.project, diags)
    resolve_modules(loader.project, diags)
    return loader.project
