"""The files of mora's caches (parsed trees, check results): each written whole and renamed
into place, so a reader never sees half an entry, and each folder kept bounded. Both caches
write only on a miss, so `tempfile` is imported here only then."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # a replayed `mora check` imports this module: no typing at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO


def write_whole(path: str, write: Callable[[BinaryIO], object]) -> None:
    """`write` fills a temporary file beside `path`, which then replaces `path`; on any
    failure the temporary file is removed and the error raised."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        import contextlib  # a failed write only

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def prune(folder: str, suffixes: tuple[str, ...], max_entries: int) -> None:
    """Past `max_entries` files ending in `suffixes`, drop the least recently written half."""
    with os.scandir(folder) as listing:
        entries = [e for e in listing if e.name.endswith(suffixes) and e.is_file()]
    if len(entries) <= max_entries:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    import contextlib  # a folder past the limit only

    for old in entries[: len(entries) // 2]:
        with contextlib.suppress(OSError):
            os.unlink(old.path)
