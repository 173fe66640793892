"""Paths as text, the way `pathlib` treats them, without importing it.

`pathlib` imports `urllib.parse` (which imports `ipaddress` and builds ~9 namedtuples),
`fnmatch` and `ntpath`: ~5 ms of a ~50 ms `mora check` after an edit and of a ~75 ms compile
(docs/performance.md, seventeenth round). The loader, the secret store, the project's identity
and the command line work on `str` paths through these helpers instead; each names the `pathlib`
call it stands for, so file names, messages and refusals stay exactly what they were
(tests/secrets/test_store_paths.py compares them with pathlib).
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up
if TYPE_CHECKING:
    from os import PathLike

    StrPath = str | PathLike[str]

# The errors for which pathlib's `exists()`, `is_dir()`, `is_file()` answer False rather than raise.
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _root(path: str) -> str:
    """The root of a `pure` path as pathlib has it: `//` (POSIX lets it differ from `/`), `/`,
    or none."""
    return "//" if path[:2] == "//" and path[:3] != "///" else "/" if path[:1] == "/" else ""


def pure(path: StrPath) -> str:
    """`str(Path(path))`: no `.` parts, no repeated or trailing slashes (`..` kept), "" as "."."""
    text = os.fspath(path)
    return _root(text) + "/".join(part for part in text.split("/") if part and part != ".") or "."


def join(directory: StrPath, *names: str) -> str:
    """`Path(directory).joinpath(*names)` (an absolute name starts over, as there)."""
    return pure(os.path.join(os.fspath(directory), *names))


def parent(path: str) -> str:
    """`Path(path).parent` of a `pure` path."""
    return os.path.dirname(path) or "."


def parents(path: str) -> list[str]:
    """`[path, *Path(path).parents]` of a `pure` path (a relative one ends at `.`)."""
    out = [path]
    while (up := os.path.dirname(out[-1]) or ".") != out[-1]:
        out.append(up)
    return out


def mode(path: StrPath) -> int:
    """The `st_mode` of what `path` names (symlinks followed), 0 where pathlib's `exists()` is
    False; other errors raise, as from pathlib."""
    try:
        return os.stat(path).st_mode
    except OSError as err:
        if err.errno not in _MISSING:
            raise
    except ValueError:  # a NUL in the path
        pass
    return 0


def resolve(path: StrPath) -> str:
    """`Path(path).resolve()`: absolute, every symlink followed (a missing rest kept as it is);
    a symlink loop raises RuntimeError."""
    resolved = os.path.realpath(path)
    try:
        os.stat(resolved)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise RuntimeError(f"Symlink loop from {err.filename!r}") from None
    return resolved


def inside(path: StrPath, directory: StrPath) -> bool:
    """Whether `path` is `directory` or below it (`directory in Path(path).parents`, or equal)."""
    path, directory = pure(path), pure(directory)
    if directory == ".":  # the parent of every relative path
        return not path.startswith("/")
    if _root(path) != _root(directory):
        return False
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def relative(path: str, directory: str) -> str:
    """`Path(path).relative_to(directory).as_posix()` for a resolved path below `directory`."""
    return path[len(directory.rstrip("/")) :].lstrip("/") or "."
