"""The caches' shared file handling (mora.cache_files): whole writes and a bounded folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mora.cache_files import prune, write_whole


def test_a_failed_write_leaves_the_old_entry_and_no_temporary_file(tmp_path: Path) -> None:
    entry = tmp_path / "e.pickle"
    entry.write_bytes(b"old")

    def half(f: object) -> None:
        f.write(b"ne")  # type: ignore[attr-defined]
        raise RecursionError("a tree too deep to pickle")

    with pytest.raises(RecursionError):
        write_whole(str(entry), half)
    assert entry.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pickle"]
    write_whole(str(entry), lambda f: f.write(b"new"))
    assert entry.read_bytes() == b"new"


def test_past_the_limit_the_older_half_goes(tmp_path: Path) -> None:
    for i in range(6):
        p = tmp_path / f"{i}.json"
        p.write_text("{}")
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "keep.txt").write_text("not an entry")
    prune(str(tmp_path), (".json",), 6)
    assert len(list(tmp_path.glob("*.json"))) == 6  # at the limit: nothing goes
    prune(str(tmp_path), (".json",), 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.json", "4.json", "5.json", "keep.txt"]


def test_a_cache_entry_is_written_whole_and_private(tmp_path: Path) -> None:
    """The temporary file is new (never an existing file or a symlink's target), readable by
    its owner only, as `tempfile.mkstemp` made it, and renamed over the entry."""
    entry = tmp_path / "e.pickle"
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    write_whole(str(entry), lambda f: f.write(b"tree"))
    assert entry.read_bytes() == b"tree"
    assert entry.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.pickle", "victim"]
    entry.unlink()
    entry.symlink_to(victim)  # the entry itself replaced, never written through
    write_whole(str(entry), lambda f: f.write(b"new"))
    assert victim.read_bytes() == b"untouched" and entry.read_bytes() == b"new"
    assert not entry.is_symlink()
