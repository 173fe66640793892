"""Writing output files: atomically, only when the bytes change, with a chosen mode.

Unchanged files keep their modification time, so `make`-style tools and GitOps diffs see only
real changes; secret-bearing files are created 0600 from the start (never briefly readable).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_file(path: Path, text: str, mode: int = 0o644) -> Path:
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
            return path
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
