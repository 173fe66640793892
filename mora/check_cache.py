"""A cache of `mora check` results, replayed when nothing the check read has changed.

`mora check` runs on every commit over mostly unchanged projects: like ruff's and eslint's lint
caches and mypy's incremental cache, the result of a check is remembered with everything it
depended on, and replayed when all of that is still the same. An entry, one file under
`$XDG_CACHE_HOME/mora/check/` per (project as given, its absolute path, working directory,
the environment the loader reads, mora's own code), holds:

- every file the loader read, with the BLAKE2b of its bytes (`-` for one that was absent);
- every folder it listed, with the `.mora` names it saw (a new file must invalidate);
- every path it probed (`is_dir`, `exists`, `resolve`): where it leads and what it is;
- every locked dependency folder it verified, as a digest of its whole tree;
- the diagnostics, rendered in both output formats, so a hit prints what a miss prints.

The loader records all of it through `Reads` (mora/loader.py); a test opens every file and lists
every folder of the repository's projects and cases through an audit hook and fails if one was
not recorded. mora's own code is part of the key, as (path, size, mtime_ns) of each of its `.py`
and grammar files: the rule CPython uses to trust a `.pyc`. A hit imports nothing but `os`,
`stat` and `sys` beyond this module: no parser, checker, pathlib, pickle or json. An entry is
written with `marshal` (builtin, the format of `.pyc` files; the key holds `sys.version`, so
each Python reads only its own): `json`, ~1.5 ms to import, was a check's only use of it.
`--no-cache` or `MORA_NO_CACHE=1` turns it off.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys

from mora import cache_files
from mora.cache_files import digest as _hasher
from mora.cache_files import load_kept, prune, write_whole

TYPE_CHECKING = False  # typing costs ~7 ms: a hit does not import it
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    Stored = dict[str, Any]  # one diagnostic as the cache keeps it (see `stored_diagnostics`)

# 2: nodes pickled as Class._unpickle (mora.ast); 3: a program's file named by its BLAKE2b;
# 4: the entry in marshal's format, not JSON; 5: BLAKE2b digests, not SHA-256
FORMAT = "mora-check-cache-5"
MAX_ENTRIES = 2000
MAX_FILE_BYTES = 16 * 1024 * 1024  # larger than any file the loader accepts: a miss
#: environment variables the loader's result depends on (where fetched modules live)
ENVIRONMENT = ("MORA_MODULE_CACHE", "XDG_CACHE_HOME", "HOME")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def enabled() -> bool:
    return cache_files.enabled()


def cache_dir() -> str:
    return cache_files.cache_folder("check")


# --- what a check read ---------------------------------------------------------------------------


def _kind(path: str) -> str:
    """What `path` is when followed: d(irectory), f(ile), o(ther), - (absent) or an errno."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "-"
    except OSError as err:
        return f"e{err.errno}"
    except ValueError:  # a NUL in the path
        return "e"
    if stat.S_ISDIR(mode):
        return "d"
    return "f" if stat.S_ISREG(mode) else "o"


def _probe(path: str, resolved: dict[str, str]) -> list[str]:
    """Where `path` (absolute, normalised) leads and what it is. `resolved`: the folders this
    lookup or check has already resolved (see `_realpath`)."""
    try:
        real = _realpath(path, resolved)
    except (OSError, ValueError):
        real = ""
    return [real, _kind(path)]


def _realpath(path: str, resolved: dict[str, str]) -> str:
    """`os.path.realpath(path)`, its folder resolved once for all the paths in it: realpath
    looks at every component (an `lstat` each, 6 for a stdlib file here), and a check probes
    dozens of paths in a few folders. A path that is itself a symlink is resolved whole."""
    folder, name = os.path.split(path)
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:  # absent, or below a file: realpath keeps such a name as it is
        link = False
    if link or not name:
        return os.path.realpath(path)
    real = resolved.get(folder)
    if real is None:
        real = resolved[folder] = _realpath(folder, resolved)
    return os.path.join(real, name)


def _mora_names(directory: str) -> list[str] | None:
    """The names `loader._mora_files` sees: `*.mora` entries but directories (a symlink to one
    counts), sorted; None when the folder cannot be listed."""
    try:
        with os.scandir(directory) as listing:
            names = [
                e.name
                for e in listing
                if e.name.endswith(".mora") and (e.is_symlink() or not e.is_dir())
            ]
    except OSError:
        return None
    return sorted(names)


def _all_names(directory: str) -> list[str] | None:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return None


def _file_digest(path: str) -> str | None:
    """BLAKE2b of a regular file's bytes, `-` when it is absent, None when unusable (a miss).

    Opened without blocking and checked to be a regular file first: a path that became a fifo
    must not hang a pre-commit hook."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        return "-"
    except (OSError, ValueError):
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        h = _hasher()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _tree_digest(directory: str) -> str:
    """One digest of a folder tree as `deps.lock.read_module_files` sees it: every name with
    its kind (a symlink is refused there), and the bytes of every `.mora` file."""
    h = _hasher()

    def walk(path: str) -> None:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for e in entries:
            kind = "l" if e.is_symlink() else "d" if e.is_dir() else "f" if e.is_file() else "o"
            h.update(f"{e.name}\0{kind}\0".encode("utf-8", "surrogateescape"))
            if kind == "d":
                h.update(b"{")
                walk(e.path)
                h.update(b"}")
            elif kind == "f" and e.name.endswith(".mora"):
                h.update((_file_digest(e.path) or "?").encode())

    if not os.path.isdir(directory):
        return "-"
    try:
        walk(directory)
    except OSError:
        return "?"
    return h.hexdigest()


class Reads:
    """What one check read, recorded by the loader as it reads (see the module docstring)."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}  # absolute path -> BLAKE2b hex, or "-" (absent)
        self.listings: dict[str, list[str]] = {}  # folder -> its `.mora` names
        self.folders: dict[str, list[str]] = {}  # folder -> all its names
        self.probes: dict[str, list[str]] = {}  # path -> [where it leads, what it is]
        self.trees: dict[str, str] = {}  # a verified dependency folder -> its tree digest
        self._resolved: dict[str, str] = {}  # folder -> where it leads (`_realpath`)
        self.cacheable = True

    def file(self, path: object, data: bytes | None = None) -> None:
        """A file the check read (`data`: its bytes), or looked for (read here, or absent)."""
        where = os.path.abspath(os.fspath(path))  # type: ignore[call-overload]
        digest = _hasher(data).hexdigest() if data is not None else _file_digest(where)
        if digest is None:
            self.refuse()
        else:
            self.files[where] = digest

    def listing(self, directory: object, names: Iterable[str]) -> None:
        """A folder whose `*.mora` entries (but directories) the check listed."""
        self.listings[os.path.abspath(os.fspath(directory))] = sorted(names)  # type: ignore[call-overload]

    def folder(self, directory: object) -> None:
        """A folder whose every name the result depends on (the stdlib's, for did-you-mean)."""
        where = os.path.abspath(os.fspath(directory))  # type: ignore[call-overload]
        names = _all_names(where)
        if names is None:
            self.refuse()
        else:
            self.folders[where] = names

    def probe(self, path: object) -> None:
        """A path the check resolved or asked about (`is_dir`, `exists`, `resolve`)."""
        try:
            where = os.path.abspath(os.fspath(path))  # type: ignore[call-overload]
        except ValueError:
            self.refuse()
            return
        if where not in self.probes:  # a file is probed when listed and again when read
            self.probes[where] = _probe(where, self._resolved)

    def tree(self, directory: object) -> None:
        """A locked module's folder, verified against its hash: all of it counts."""
        where = os.path.abspath(os.fspath(directory))  # type: ignore[call-overload]
        self.trees[where] = _tree_digest(where)

    def refuse(self) -> None:
        """Something was read that an entry could not vouch for (an unreadable file): no entry."""
        self.cacheable = False

    def as_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "listings": self.listings,
            "folders": self.folders,
            "probes": self.probes,
            "trees": self.trees,
        }


class NoReads(Reads):
    """The recorder of a check that keeps no entry: every method does nothing."""

    def file(self, path: object, data: bytes | None = None) -> None:
        pass

    def listing(self, directory: object, names: Iterable[str]) -> None:
        pass

    def folder(self, directory: object) -> None:
        pass

    def probe(self, path: object) -> None:
        pass

    def tree(self, directory: object) -> None:
        pass


def unchanged(entry: dict[str, Any]) -> bool:
    """Whether everything the entry's check read is still what it was (cheapest first)."""
    try:
        resolved: dict[str, str] = {}
        if any(_probe(p, resolved) != v for p, v in entry["probes"].items()):
            return False
        if any(_mora_names(d) != v for d, v in entry["listings"].items()):
            return False
        if any(_all_names(d) != v for d, v in entry["folders"].items()):
            return False
        if any(_file_digest(p) != v for p, v in entry["files"].items()):
            return False
        return all(_tree_digest(d) == v for d, v in entry["trees"].items())
    except (AttributeError, KeyError, TypeError, ValueError):  # an entry of another shape
        return False


# --- the key -------------------------------------------------------------------------------------

_code: list[str] = []


def code_digest() -> str:
    """(path, size, mtime_ns) of every `.py` and grammar file of this mora: a reinstall or an
    edit in a development checkout changes it."""
    if _code:
        return _code[0]
    h = _hasher(FORMAT.encode())

    def walk(path: str) -> None:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    walk(e.path)
            elif e.name.endswith((".py", ".lark")):
                info = e.stat()
                h.update(f"{e.path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())

    walk(_PACKAGE)
    grammar = os.path.join(os.path.dirname(_PACKAGE), "grammar")  # a development checkout
    if os.path.isdir(grammar):
        walk(grammar)
    _code.append(h.hexdigest())
    return _code[0]


def entry_path(project: object) -> str:
    """Where the entry for checking `project` (as given) from here lives. The text is
    normalised, so `x/`, `./x` and `Path("x")` share one entry (what each read is verified
    on a hit anyway)."""
    given = os.path.normpath(os.fspath(project))  # type: ignore[call-overload]
    parts = [
        FORMAT,
        code_digest(),
        sys.version,
        os.getcwd(),
        given,
        os.path.abspath(given),
        *(f"{name}={os.environ.get(name)}" for name in ENVIRONMENT),
    ]
    key = _hasher("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return os.path.join(cache_dir(), f"{key}.entry")


def lookup_entry(project: object) -> dict[str, Any] | None:
    """The entry for checking `project`, when nothing its check read has changed."""
    try:
        path = entry_path(project)
        with open(path, "rb") as f:
            entry = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):  # absent, or not an entry
        return None
    if not isinstance(entry, dict) or entry.get("format") != FORMAT or not unchanged(entry):
        return None
    return entry


def lookup(project: object) -> list[Stored] | None:
    """The stored diagnostics of checking `project`, when nothing it read has changed."""
    entry = lookup_entry(project)
    diagnostics = entry.get("diagnostics") if entry is not None else None
    return diagnostics if isinstance(diagnostics, list) else None


def store(
    project: object, reads: Reads, diagnostics: list[Stored], program: bytes | None = None
) -> None:
    """Keep the entry (written whole, then renamed into place), and `program` (a pickled
    checked program, see `pickled_program`) beside it; a cache that cannot be written is only
    slower."""
    if not reads.cacheable:
        return
    entry = {"format": FORMAT, **reads.as_json(), "diagnostics": diagnostics}
    try:
        path = entry_path(project)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        if program is not None:
            name = _program_name(program)
            write_whole(os.path.join(folder, f"{name}.pickle"), lambda f: f.write(program))
            entry["program"] = name
        data = marshal.dumps(entry)
        write_whole(path, lambda f: f.write(data))
        # (`.json`: the entries of mora before the fourth format, pruned with the others)
        prune(folder, (".entry", ".json", ".pickle"), MAX_ENTRIES)
    except (OSError, ValueError):  # ValueError: a value marshal cannot write (none expected)
        pass


# --- the checked program, for `mora compile` ------------------------------------------------------


#: The largest project whose checked program is kept. Pickling the program of 10,000 services
#: and loading it again cost more memory than the whole compile is allowed (a 496 MiB peak to
#: write it, 355 MiB to load it, against 300: docs/performance.md), while its checker's share
#: of such a compile is small; a project this size or smaller is a few MiB of pickle. At 2,000
#: services (3.3 MB) a compile that loads it saves ~0.5 s of 4 s and peaks 9 MiB higher (93
#: against 84 MiB); the compile that writes it peaks at 126 MiB. The realistic 1,001-service
#: benchmark project (7 services a copy) was one over the earlier limit of 1,000.
PROGRAM_MAX_SERVICES = 2000


def keeps_program(program: Any) -> bool:
    """Whether a clean check's program is kept for the next compile (see PROGRAM_MAX_SERVICES)."""
    return len(program.services) <= PROGRAM_MAX_SERVICES


def pickled_program(program: object, diagnostics: list[Any]) -> bytes | None:
    """A clean check's program and its diagnostics (warnings, notes), pickled for the next
    `mora compile` of the unchanged project; None when it cannot be pickled. The program is
    syntax and declarations: the checker never sees a site, a store or a secret value."""
    import pickle

    try:
        return pickle.dumps((program, diagnostics), protocol=pickle.HIGHEST_PROTOCOL)
    except (RecursionError, pickle.PicklingError, TypeError, AttributeError):
        return None


def _program_name(data: bytes) -> str:
    """A pickled program's file name: its BLAKE2b digest (64 hex digits), which a load checks
    (~0.3 ms for a media program, where SHA-256 took ~0.8 ms)."""
    return _hasher(data).hexdigest()


def load_program(entry: dict[str, Any]) -> tuple[Any, list[Any]] | None:
    """The program and diagnostics a verified entry's check stored, or None (none kept, or the
    file is not the one the entry names: its BLAKE2b digest is its name)."""
    name = entry.get("program")
    if not isinstance(name, str) or len(name) != 64:
        return None
    # The C unpickler straight: `pickle.py` (its pure-Python classes, `struct`, a Jython probe)
    # costs a compile ~2-3 ms of imports it does not use; `UnpicklingError` is the same class.
    from _pickle import UnpicklingError, loads

    try:
        with open(os.path.join(cache_dir(), f"{name}.pickle"), "rb") as f:
            data = f.read()
        if _program_name(data) != name:
            return None
        program, diagnostics = load_kept(loads, data, len(data))
    except (OSError, ValueError, EOFError, UnpicklingError, AttributeError):
        return None
    except (ImportError, TypeError, RecursionError):
        return None
    return program, list(diagnostics)


# --- the result ----------------------------------------------------------------------------------


def stored_diagnostics(diags: Iterable[Any]) -> list[Stored]:
    """Diagnostics (in the order they were reported) as the cache keeps them: what `report`
    sorts and removes duplicates by, the severity, the text and the JSON rendering."""
    from mora.diagnostics import render_text, to_json

    out: list[Stored] = []
    for d in diags:
        path, start, code = d.sort_key()
        out.append(
            {
                "key": [path, start, code],
                "message": d.message,
                "severity": d.severity.value,
                "text": render_text(d),
                "json": to_json(d),
            }
        )
    return out


def ordered(items: list[Stored]) -> list[Stored]:
    """`Diagnostics.sorted` on stored diagnostics: file then position, duplicates removed."""
    seen: set[tuple[object, ...]] = set()
    out: list[Stored] = []
    for d in sorted(items, key=lambda d: tuple(d["key"])):
        key = (d["key"][2], d["message"], tuple(d["key"]))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _summary(severities: list[str]) -> str:
    """`diagnostics.summary` on stored severities."""
    counts = [(severities.count(s), s) for s in ("error", "warning", "note")]
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for n, s in counts if n]
    if not counts[0][0] and not counts[1][0]:
        return "no problems" + (f" ({parts[0]})" if parts else "")
    return ", ".join(parts)


def report(items: list[Stored], fmt: str) -> int:
    """`mora.main.report` on stored diagnostics: the same bytes on the same stream, the same
    exit code."""
    items = ordered(items)
    severities = [d["severity"] for d in items]
    if fmt == "json":
        doc = {
            "diagnostics": [d["json"] for d in items],
            "errors": severities.count("error"),
            "warnings": severities.count("warning"),
        }
        import json  # here: only `--format json` prints JSON

        print(json.dumps(doc, indent=2, sort_keys=True), flush=True)
    else:
        for d in items:
            print(d["text"] + "\n", file=sys.stderr)
        print(_summary(severities), file=sys.stderr)
        sys.stderr.flush()
    return 1 if "error" in severities else 0
