"""The files of mora's caches (parsed trees, check results): each written whole and renamed
into place, so a reader never sees half an entry, and each folder kept bounded. Both caches
write on a miss: a check after an edit writes both, so the temporary file is made here with
`os.open` rather than `tempfile` (with `shutil`, `random` and `weakref`, ~4 ms of that check)."""

from __future__ import annotations

import gc
import os

TYPE_CHECKING = False  # a replayed `mora check` imports this module: no typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO, TypeVar

    T = TypeVar("T")


# The caches' hash, the builtin BLAKE2b: hashlib would load OpenSSL (_hashlib, ~3 ms of every
# `mora check`), and it hashes the 88 KB a media check reads in 0.10 ms where the builtin SHA-256
# takes 0.29 ms (a check after an edit hashes them twice: verifying the entry, then recording
# the new one).
try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b


def cache_root() -> str | None:
    """`$XDG_CACHE_HOME/mora`, by default `~/.cache/mora`; None when that is not an absolute
    path. A relative `XDG_CACHE_HOME` is ignored, as the XDG spec says; a home directory that
    cannot be found (no `HOME`, a user id without a passwd entry: `~` stays `~`) leaves no
    folder at all. Either would put the caches in the working directory, often a shared
    project's checkout, and the caches would then unpickle whatever the project ships there."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mora") if os.path.isabs(base) else None


def enabled() -> bool:
    """Whether the caches are used: not turned off (`MORA_NO_CACHE=1`) and with a folder."""
    return not os.environ.get("MORA_NO_CACHE") and cache_root() is not None


def cache_folder(name: str) -> str:
    """The folder of one cache (`ast`, `check`, `templates`) under `cache_root()`; OSError when
    there is none, which every cache treats as a miss it cannot keep (callers ask `enabled()`)."""
    root = cache_root()
    if root is None:
        raise OSError("no cache folder")
    return os.path.join(root, name)


def digest(data: bytes = b"") -> Any:
    """A BLAKE2b-256 hash object over `data` (`update`, `digest`, `hexdigest`): the check
    cache's entries and the kept template checks (`mora.check.reuse`) are named with it."""
    return blake2b(data, digest_size=32)


def write_whole(path: str, write: Callable[[BinaryIO], object]) -> None:
    """`write` fills a temporary file beside `path`, which then replaces `path`; on any
    failure the temporary file is removed and the error raised."""
    fd, tmp = _temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        import contextlib  # a failed write only

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# A store looks at its folder on one call in PRUNE_EVERY, at random. Listing a folder costs ~0.9
# ms per 1,000 entries here, and a few weeks of edits leave 2,000-4,000 in the parse and check
# caches (each edit writes a tree, each compile after it a program): ~2.4 ms of every `mora check`
# after an edit with this machine's cache, had it looked each time (docs/performance.md,
# seventeenth round). Between looks a folder passes its limit by a few dozen entries at most.
PRUNE_EVERY = 16


def prune(
    folder: str, suffixes: tuple[str, ...], max_entries: int, every: int | None = None
) -> None:
    """Past `max_entries` files ending in `suffixes`, drop the least recently written half; the
    folder is looked at on one call in `every` (PRUNE_EVERY when None), chosen at random."""
    every = PRUNE_EVERY if every is None else every
    if every > 1 and os.urandom(1)[0] % every:
        return
    with os.scandir(folder) as listing:
        entries = [e for e in listing if e.name.endswith(suffixes) and e.is_file()]
    if len(entries) <= max_entries:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    import contextlib  # a folder past the limit only

    for old in entries[: len(entries) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(old.path)


# The largest pickle `load_kept` unpickles with the collector paused (bytes). Promoting a load
# to the oldest generation leaves whatever cyclic garbage the load made to the full collection,
# which a command never reaches: harmless for a small project's trees and program (the media
# program is 259 KB), but at 10,000 services it kept ~35-60 MiB alive and took the peak past
# the 300 MiB target (docs/performance.md, sixteenth round). Larger loads are collected as usual.
PROMOTE_MAX = 1024 * 1024


def load_kept(load: Callable[[T], Any], source: T, size: int) -> Any:
    """`load(source)` for an unpickle of `size` bytes whose every object is kept (a parsed tree,
    a checked program). A collection of the young generation that falls inside it would scan
    all of them to free nothing (~1.5 ms of a media compile, ~2.4 ms of a check after an edit):
    up to PROMOTE_MAX, the collector is paused while they are made, and they are then moved to
    the oldest generation, as if they had survived the collections they skipped (`freeze` and
    `unfreeze` only splice its lists). The collector is left running or paused, as it was."""
    if size > PROMOTE_MAX:
        return load(source)
    running = gc.isenabled()
    gc.disable()
    try:
        return load(source)
    finally:
        if not gc.get_freeze_count():  # a caller's frozen objects stay frozen
            gc.freeze()
            gc.unfreeze()
        if running:
            gc.enable()


# What `tempfile.mkstemp` opens with: a new file (never an existing one, never through a
# symlink), readable and writable by its owner only.
_TEMP_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _temporary_beside(path: str) -> tuple[int, str]:
    """A new file `.tmp-RANDOM` in the folder of `path`, opened: its descriptor and path."""
    folder = os.path.dirname(path) or "."
    for _ in range(100):  # 48 random bits: a clash is a leftover or a concurrent writer
        tmp = os.path.join(folder, f".tmp-{os.urandom(6).hex()}")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")
