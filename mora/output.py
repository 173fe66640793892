"""Writing output files: the one way every backend writes below `--out`.

- **Never through a symlink.** A shared project may commit `build/kubernetes/app -> /elsewhere`;
  every directory below the output directory (and the output directory itself) is opened with
  `O_NOFOLLOW`, relative to its parent's descriptor, so a symlink anywhere on the way is refused
  (`UnsafeOutput`) and nothing is written through it.
- **Atomic, only when the bytes change.** A file is written to a temporary name beside it and
  renamed over the old one; unchanged files keep their modification time, so `make`-style tools
  and GitOps diffs see only real changes. Secret-bearing files are created 0600 from the start.
  In a folder this compile made there is no old file to replace: the file is created under its
  own name, exclusively (`O_EXCL`, never through a symlink), which saves the rename; anything
  found there by then sends it the temporary-file way.
- **Durable once.** A per-file fsync cost about 1 s per 6,000 files; instead `sync()` flushes
  everything written once, at the end of a compile.
- **Stale files removed, yours kept.** `finish_target` records what a target wrote in
  `OUT/.mora-outputs.json`; the next compile deletes what the record lists and the new compile no
  longer writes. Files mora never recorded (a drop-in or patch you added) are never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator

from mora import paths

# Paths are text here: `pathlib` (with `urllib.parse` and `ipaddress`, ~3-5 ms of a compile's
# start-up) is imported only for a relative path `_parts` cannot split itself. A caller that
# gives the output directory as a `Path` gets `Path`s back, as before.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path, PurePosixPath

    Where = str | Path  # the output directory: a `Path` or a path's text as `str(Path)` gives it

RECORD = ".mora-outputs.json"
_RECORD_FORMAT = 1
_RECORD_MAX_BYTES = 16 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_unsynced = 0  # files replaced since the last sync()
# While a backend writes (`session()`): descriptors of the directories already opened safely,
# keyed by (output directory, relative folder), so 6,000 files do not re-walk 6,000 paths.
_open_dirs: dict[tuple[str, tuple[str, ...]], int] | None = None
# ...and those this session made: nothing of a previous compile can be there to compare with.
_made_dirs: set[tuple[str, tuple[str, ...]]] = set()
# ...and the path of the folder written last, which its next file's path is made from (one, not
# one per folder: 10,000 of them would be ~5 MiB at 10,000 services).
_last_dir: list[object] = [None, None]  # [(output directory, folder names), its path]
_umask: int | None = None  # the process's, read once a session
_tmp_count = 0
_pid: int | None = None  # the process id in temporary names: one `getpid` call, not one a file


def _forget_pid() -> None:
    global _pid
    _pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pid)  # a child names its files by its own id


class UnsafeOutput(OSError):
    """A symlink (or a non-directory) where the output tree needs a directory or a file."""

    def __init__(self, path: str | Path, what: str) -> None:
        super().__init__(errno.ELOOP, what, str(path))
        self.path = path


def _parts(rel: str | PurePosixPath) -> tuple[str, ...]:
    """The names of a relative path; anything that could leave the tree is refused."""
    if type(rel) is str:  # the usual `kubernetes/app/deployment.yaml`: no pathlib parsing
        names = tuple(rel.split("/"))
        if all(n and n != "." and n != ".." and "\x00" not in n for n in names):
            return names
    from pathlib import PurePosixPath  # (see the module's imports)

    parts = PurePosixPath(rel).parts
    if not parts or any(p in ("", ".", "..") or "/" in p or "\x00" in p for p in parts):
        raise ValueError(f"not a path inside the output directory: {rel!r}")
    if PurePosixPath(rel).is_absolute():
        raise ValueError(f"not a path inside the output directory: {rel!r}")
    return parts


def _join(folder: str, *names: str) -> str:
    """`folder` and names, as `Path(folder).joinpath(*names)` writes it for names `_parts`
    accepted and a `folder` written as `str(Path)` writes it (no trailing `/` but the root's)."""
    if not names:
        return folder
    if folder == ".":  # `Path(".") / "kubernetes"` is `kubernetes`
        return "/".join(names)
    return folder + ("/".join(names) if folder.endswith("/") else "/" + "/".join(names))


def _open_out(out: Where, create: bool) -> int:
    """A descriptor of the output directory itself, refusing a symlink there too.

    A relative `--out` (`build/site`) lies in the working directory, often the shared project's
    checkout: no part of it may be a symlink either. The text is normalised first (`build/`,
    `link/.` name the folder `link` itself, which must not be a symlink)."""
    base = paths.pure(out)
    if not base.startswith("/"):
        prefix = ""
        for part in base.split("/"):
            if not part or part == ".":  # what `Path.parts` leaves out
                continue
            prefix = f"{prefix}/{part}" if prefix else part
            if part != ".." and os.path.islink(prefix):
                raise UnsafeOutput(prefix, "a symlink on the way to the output directory")
    if os.path.islink(base):
        raise UnsafeOutput(out, "the output directory is a symlink (mora never writes through one)")
    if create:
        os.makedirs(base, exist_ok=True)
    try:
        return os.open(base, _DIR_FLAGS)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(base):
            raise UnsafeOutput(out, "the output directory is a symlink") from None
        raise


def _open_dir(
    parent: int, name: str, where: str, create: bool, made: list[bool] | None = None
) -> int | None:
    """Open (or make) directory `name` under `parent` without following a symlink.

    `made`, when given, receives True if this call created the directory."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            return None
        os.mkdir(name, 0o755, dir_fd=parent)
        if made is not None:
            made.append(True)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as err:
        if err.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise UnsafeOutput(where, "a symlink in the output tree") from None
        raise UnsafeOutput(where, "not a directory, where the output tree needs one") from None


def _walk(out: Where, dirs: tuple[str, ...], create: bool) -> int | None:
    """A descriptor of OUT/dirs..., every step without following symlinks (None: missing)."""
    fd: int | None = _open_out(out, create)
    where = os.fspath(out)
    for name in dirs:
        assert fd is not None
        where = _join(where, name)
        try:
            child = _open_dir(fd, name, where, create)
        finally:
            os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def _same(dirfd: int, name: str, data: bytes, mode: int, where: str) -> bool:
    """Whether the file already holds exactly these bytes and mode (a symlink is refused)."""
    try:
        info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeOutput(where, "a symlink in the output tree")
    if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
        return False
    if stat.S_IMODE(info.st_mode) != mode:
        return False
    # One plain read of one byte more than expected: a regular file's `read` returns fewer
    # bytes than asked only at its end, so equal bytes mean an equal file. No buffered file
    # object (its fstat, isatty ioctl, lseek and second read): 4 system calls for an unchanged
    # file instead of 8, 10,000 files in a recompile of 1,000 services.
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        return os.read(fd, len(data) + 1) == data
    finally:
        os.close(fd)


@contextlib.contextmanager
def session() -> Iterator[None]:
    """Keep the output directories open while one backend writes its files.

    Each directory is still opened once without following symlinks; holding its descriptor means
    a symlink put in its place afterwards is never followed either (writes go to the directory
    that was checked)."""
    global _open_dirs, _umask
    if _open_dirs is not None:  # nested: the outer session owns the descriptors
        yield
        return
    _open_dirs = {}
    _umask = None  # read afresh for each session: a library caller may have changed it
    try:
        yield
    finally:
        _close_dirs()
        _open_dirs = None


def _close_dirs() -> None:
    _made_dirs.clear()
    _last_dir[:] = [None, None]
    if _open_dirs:
        for fd in _open_dirs.values():
            os.close(fd)
        _open_dirs.clear()


def _dir_for_write(out: Where, dirs: tuple[str, ...]) -> tuple[int, bool]:
    """A descriptor of OUT/dirs (made when missing) and whether the caller must close it."""
    if _open_dirs is None:
        fd = _walk(out, dirs, create=True)
        assert fd is not None
        return fd, True
    key = (os.fspath(out), dirs)
    fd = _open_dirs.get(key)
    if fd is None:
        if dirs:
            parent, _ = _dir_for_write(out, dirs[:-1])
            made: list[bool] = []
            child = _open_dir(parent, dirs[-1], _join(key[0], *dirs), create=True, made=made)
            assert child is not None
            fd = child
            if made:
                _made_dirs.add(key)
        else:
            fd = _open_out(out, create=True)
        _open_dirs[key] = fd
    return fd, False


def _path_in(out: Where, dirs: tuple[str, ...], name: str) -> Where:
    """OUT/dirs/name, of the type of `out` (text, or a `Path` for a caller that gave one); in a
    session from the folder's, made once for the files a backend writes into one folder in a
    row."""
    if type(out) is not str:  # a `Path` (a library caller): joined by pathlib, as before
        return out.joinpath(*dirs, name)  # type: ignore[union-attr]
    if _open_dirs is None:
        return _join(out, *dirs, name)
    key = (out, dirs)
    if _last_dir[0] == key:
        folder = _last_dir[1]
    else:
        folder = _join(out, *dirs)
        _last_dir[:] = [key, folder]
    return _join(folder, name)  # type: ignore[arg-type]


def write_file(out: Where, rel: str | PurePosixPath, text: str, mode: int = 0o644) -> Where:
    """Write OUT/REL atomically, unless it already holds `text`; returns OUT/REL (text when
    `out` is text, else a `Path`).

    Raises `UnsafeOutput` when any part of the way below OUT (or OUT itself) is a symlink.
    """
    global _unsynced
    parts = _parts(rel)
    path = _path_in(out, parts[:-1], parts[-1])
    data = text.encode("utf-8")
    dirfd, close = _dir_for_write(out, parts[:-1])
    name = parts[-1]
    try:
        # In a folder this session made there is no old file to compare with (and a symlink
        # planted there since would be replaced by the rename, never written through).
        fresh = _open_dirs is not None and (os.fspath(out), parts[:-1]) in _made_dirs
        if not fresh and _same(dirfd, name, data, mode, os.fspath(path)):
            return path
        if _install(dirfd, name, mode, lambda fd: _write_all(fd, data), None, fresh):
            _unsynced += 1
    finally:
        if close:
            os.close(dirfd)
    return path


def write_chunks(
    out: Where, rel: str | PurePosixPath, chunks: Iterable[str], mode: int = 0o644
) -> Where:
    """`write_file` for text made in pieces (a large manifest): each piece goes to the temporary
    file as it comes, so the whole text is never held; an old file with the same bytes and mode
    is kept as it was (its modification time too), as `write_file` keeps it."""
    global _unsynced
    parts = _parts(rel)
    path = _join(out, *parts) if type(out) is str else out.joinpath(*parts)
    dirfd, close = _dir_for_write(out, parts[:-1])
    name = parts[-1]
    try:
        fresh = _open_dirs is not None and (os.fspath(out), parts[:-1]) in _made_dirs
        where = os.fspath(path)
        same = None if fresh else (lambda tmp: _same_as_temp(dirfd, name, tmp, mode, where))
        if _install(dirfd, name, mode, lambda fd: _write_pieces(fd, chunks), same, fresh):
            _unsynced += 1
    finally:
        if close:
            os.close(dirfd)
    return path


def _install(
    dirfd: int,
    name: str,
    mode: int,
    fill: Callable[[int], None],
    unchanged: Callable[[str], bool] | None,
    fresh: bool = False,
) -> bool:
    """Fill a new temporary file beside `name` (`fill` writes and closes it) and rename it over
    `name`, unless `unchanged(tmp)` says the old file already holds those bytes; the temporary
    file never outlives a failure. True when `name` was replaced.

    `fresh`: the folder is new this session, so `name` is created directly (exclusively); if
    something is there after all, the temporary file and the rename replace it."""
    if fresh:
        try:
            fd = os.open(name, _CREATE_FLAGS, _created_mode(mode), dir_fd=dirfd)
        except FileExistsError:
            pass  # planted since the folder was made: replaced below, never written through
        else:
            try:
                _fix_mode(fd, mode)
                fill(fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=dirfd)
                raise
            return True
    tmp, fd = _create_temp(dirfd, name, mode)
    try:
        _fix_mode(fd, mode)
        fill(fd)
        if unchanged is not None and unchanged(tmp):
            os.unlink(tmp, dir_fd=dirfd)
            return False
        os.replace(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dirfd)
        raise
    return True


def _fix_mode(fd: int, mode: int) -> None:
    """Give a just-created file exactly `mode` when the umask took bits away or it started
    private (no system call when it was created with its mode)."""
    if _open_dirs is None or _created_mode(mode) & ~_process_umask() != mode:
        os.fchmod(fd, mode)


_PIECE = 1 << 18  # characters gathered before one write


def _write_pieces(fd: int, chunks: Iterable[str]) -> None:
    """Write the UTF-8 of `chunks` to `fd` in writes of about `_PIECE` characters; close it."""
    try:
        gathered: list[str] = []
        size = 0
        for chunk in chunks:
            gathered.append(chunk)
            size += len(chunk)
            if size >= _PIECE:
                _write_view(fd, "".join(gathered).encode("utf-8"))
                gathered, size = [], 0
        _write_view(fd, "".join(gathered).encode("utf-8"))
    finally:
        os.close(fd)


def _write_view(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _same_as_temp(dirfd: int, name: str, tmp: str, mode: int, where: str) -> bool:
    """Whether file `name` holds the bytes just written to `tmp`, with this mode (a symlink at
    `name` is refused, as `_same` refuses it)."""
    try:
        info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeOutput(where, "a symlink in the output tree")
    if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != mode:
        return False
    if os.stat(tmp, dir_fd=dirfd, follow_symlinks=False).st_size != info.st_size:
        return False
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    with (
        os.fdopen(os.open(name, flags, dir_fd=dirfd), "rb") as old,
        os.fdopen(os.open(tmp, flags, dir_fd=dirfd), "rb") as new,
    ):
        while True:
            a, b = old.read(1 << 20), new.read(1 << 20)
            if a != b:
                return False
            if not a:
                return True


def _write_all(fd: int, data: bytes) -> None:
    """Write `data` to `fd` and close it: plain `write` calls, without the `isatty` ioctl,
    `fstat` and `lseek` that opening a buffered file object costs (three system calls a file,
    30,000 in a compile of 1,000 services)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _created_mode(mode: int) -> int:
    """The mode to create a temporary file with: `mode` itself unless it lets others more than
    read (then 0600: nobody else can open it before `fchmod`). Secrets (0600) are private from
    the start either way."""
    return 0o600 if mode & 0o033 else mode


def _process_umask() -> int:
    """The umask, read once a session (Linux shows it in /proc; elsewhere it is set and put back)."""
    global _umask
    if _umask is None:
        try:  # plain reads: no text file object (codec lookup, ioctl, fstat, lseek) per session
            fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
            try:
                status = b"".join(iter(lambda: os.read(fd, 4096), b""))
            finally:
                os.close(fd)
            for line in status.splitlines():
                if line.startswith(b"Umask:"):
                    _umask = int(line.split()[1], 8)
                    break
        except (OSError, ValueError, IndexError):
            pass
        if _umask is None:
            _umask = os.umask(0o022)
            os.umask(_umask)
    return _umask


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _create_temp(dirfd: int, name: str, mode: int) -> tuple[str, int]:
    """A new temporary file beside `name` (a name no one else uses: O_EXCL), and its descriptor."""
    global _tmp_count, _pid
    flags = _CREATE_FLAGS
    if _pid is None:
        _pid = os.getpid()
    for attempt in range(3):
        _tmp_count += 1
        tag = f"{_pid}-{_tmp_count}" if attempt == 0 else os.urandom(6).hex()  # (secrets: hmac)
        tmp = f".{name[:200]}.{tag}.tmp"
        try:
            return tmp, os.open(tmp, flags, _created_mode(mode), dir_fd=dirfd)
        except FileExistsError:
            continue  # left by a crashed run with the same process id: a random name next
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


def sync() -> None:
    """Make every file written since the last call durable: one flush instead of one per file."""
    global _unsynced
    if _unsynced:
        os.sync()
        _unsynced = 0


# --- the record of generated files ---------------------------------------------------------------


def _read_record(out: Where) -> dict[str, list[str]]:
    """The previous record (a damaged or foreign one counts as empty: nothing is deleted)."""
    try:
        dirfd = _open_out(out, create=False)
    except OSError:
        return {}
    try:
        fd = os.open(
            RECORD, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd
        )
    except OSError:
        return {}
    finally:
        os.close(dirfd)
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return {}
            doc = json.loads(f.read(_RECORD_MAX_BYTES))
        targets = doc["targets"] if doc.get("format") == _RECORD_FORMAT else {}
        return {
            str(t): [str(p) for p in files]
            for t, files in targets.items()
            if isinstance(files, list)
        }
    except (OSError, ValueError, TypeError, AttributeError, KeyError, RecursionError):
        return {}


def _owned_by(target: str, rel: str) -> bool:
    """Whether a recorded path can belong to `target` (a forged record cannot reach further)."""
    try:
        parts = _parts(rel)
    except ValueError:
        return False
    if target == "manifest":
        return parts == ("manifest.json",)
    return len(parts) > 1 and parts[0] == target


def _remove(out: Where, rel: str, target: str) -> None:
    """Delete OUT/REL if it is a regular file reached without symlinks; then empty folders."""
    parts = _parts(rel)
    try:
        dirfd = _walk(out, parts[:-1], create=False)
    except OSError:
        return  # a symlink or a file on the way: leave it alone
    if dirfd is None:
        return
    try:
        info = os.stat(parts[-1], dir_fd=dirfd, follow_symlinks=False)
        if stat.S_ISREG(info.st_mode):
            os.unlink(parts[-1], dir_fd=dirfd)
    except OSError:
        return
    finally:
        os.close(dirfd)
    # Folders emptied by this removal go too, up to (not including) the target's own folder.
    dirs = list(parts[:-1])
    while len(dirs) > 1:
        name = dirs.pop()
        try:
            parent = _walk(out, tuple(dirs), create=False)
        except OSError:
            return
        if parent is None:
            return
        try:
            os.rmdir(name, dir_fd=parent)
        except OSError:
            return  # not empty (a file of yours), or gone
        finally:
            os.close(parent)


def _relative(out: Where, path: Where) -> str:
    """`path` below `out` as a POSIX path (what `relative_to` gives), by cutting the text of
    `out` off the front: the paths `write_file` returns are `out` joined with names, already
    normalised, and three pathlib parses a file were ~4 ms of a media compile under cProfile."""
    text, base = os.fspath(path), os.fspath(out)
    if base != "." and text.startswith(base) and text[len(base) : len(base) + 1] == "/":
        return text[len(base) + 1 :]
    if base == "." and not text.startswith(("/", "./", "../")) and text not in (".", ".."):
        return text  # joined below `.` (`_join`)
    from pathlib import Path, PurePosixPath  # (see the module's imports)

    return PurePosixPath(Path(path).relative_to(out)).as_posix()


def finish_target(out: Where, target: str, written: Iterable[Where]) -> None:
    """Record what `target` wrote this time and delete what it wrote last time but not now."""
    new = sorted(_relative(out, p) for p in written)
    _close_dirs()  # removal may empty and delete folders: walk afresh from here on
    record = _read_record(out)
    keep = set(new)
    for rel in record.get(target, []):
        if rel not in keep and _owned_by(target, rel):
            _remove(out, rel, target)
    record[target] = new
    doc = {"format": _RECORD_FORMAT, "targets": dict(sorted(record.items()))}
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    write_file(out, RECORD, text)
