"""The caches' shared file handling (mora.cache_files): whole writes and a bounded folder."""

from __future__ import annotations

import gc
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mora.cache_files import load_kept, prune, write_whole

REPO = Path(__file__).resolve().parents[2]


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
    prune(str(tmp_path), (".json",), 6, every=1)
    assert len(list(tmp_path.glob("*.json"))) == 6  # at the limit: nothing goes
    prune(str(tmp_path), (".json",), 5, every=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.json", "4.json", "5.json", "keep.txt"]


@pytest.mark.parametrize(("drawn", "looked"), [(b"\x00", True), (b"\x10", True), (b"\x07", False)])
def test_a_store_looks_at_its_folder_one_time_in_sixteen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drawn: bytes, looked: bool
) -> None:
    """Listing a folder of a few thousand entries on every store was ~2.4 ms of each check after
    an edit: the folder is listed only when the random draw says so (one call in 16)."""
    import mora.cache_files as cache_files

    for i in range(6):
        p = tmp_path / f"{i}.json"
        p.write_text("{}")
        os.utime(p, (1000 + i, 1000 + i))
    listed: list[str] = []
    scandir = os.scandir

    def counting(path: str) -> object:
        listed.append(path)
        return scandir(path)

    monkeypatch.setattr(cache_files.os, "urandom", lambda n: drawn[:n])
    monkeypatch.setattr(cache_files.os, "scandir", counting)
    assert cache_files.PRUNE_EVERY == 16
    prune(str(tmp_path), (".json",), 5)
    assert listed == ([str(tmp_path)] if looked else [])
    assert len(list(tmp_path.glob("*.json"))) == (3 if looked else 6)


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


@pytest.fixture
def collections_inside_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Where collections start: inside an unpickle of the C unpickler (the parse cache's trees,
    the check cache's program) or elsewhere, with the young generation collected every 100
    allocations so that an unpaused load meets several."""
    import _pickle

    seen: list[str] = []
    inside: list[str] = []

    def watched(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def unpickle(*args: object, **kwargs: object) -> object:
            inside.append(name)
            try:
                return real(*args, **kwargs)
            finally:
                inside.pop()

        return unpickle

    for name in ("load", "loads"):  # mora imports them from `_pickle` when it unpickles
        monkeypatch.setattr(_pickle, name, watched(name, getattr(_pickle, name)))

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(inside[-1] if inside else "elsewhere")

    before = gc.get_threshold()
    gc.set_threshold(100, 10, 10)
    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*before)


def test_a_kept_load_runs_no_collection_and_leaves_the_collector_as_it_was(
    collections_inside_loads: list[str],
) -> None:
    import _pickle

    data = pickle.dumps([[i, str(i)] for i in range(20_000)])
    for running in (True, False):
        (gc.enable if running else gc.disable)()
        try:
            loaded = load_kept(_pickle.loads, data, len(data))
            assert gc.isenabled() is running
        finally:
            gc.enable()
        assert len(loaded) == 20_000
        assert gc.get_freeze_count() == 0  # promoted to the oldest generation, not frozen
    assert "loads" not in collections_inside_loads


def test_only_a_small_load_is_promoted_to_the_oldest_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promotion leaves a load's cyclic garbage to the full collection, which a command never
    reaches: at 10,000 services that took the peak past 300 MiB. A load larger than
    PROMOTE_MAX is left in the young generation, to the collections as usual."""
    import _pickle

    from mora import cache_files

    data = pickle.dumps([[i] for i in range(100)])

    def oldest_holds(loaded: object) -> bool:
        return any(o is loaded for o in gc.get_objects(generation=2))

    gc.disable()  # no collection moves the result between generations meanwhile
    try:
        assert oldest_holds(load_kept(_pickle.loads, data, len(data)))
        monkeypatch.setattr(cache_files, "PROMOTE_MAX", len(data) - 1)
        assert not oldest_holds(load_kept(_pickle.loads, data, len(data)))
    finally:
        gc.enable()


def test_a_check_after_an_edit_and_a_compile_unpickle_with_no_collection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collections_inside_loads: list[str]
) -> None:
    """The parsed stdlib trees (a check after an edit) and the checked program (a compile of an
    unchanged project) are kept whole: no collection scans them while they are unpickled."""
    from mora.api import cached_check, check_and_keep

    project = tmp_path / "media"
    shutil.copytree(REPO / "projects" / "media", project)
    monkeypatch.chdir(tmp_path)
    check_and_keep(project, keep_program=True)  # fills the parse cache and the program
    with (project / "media.mora").open("a") as f:
        f.write("# an edit\n")
    collections_inside_loads.clear()
    assert check_and_keep(project, keep_program=True).program is not None  # trees from the cache
    assert cached_check(project).program is not None  # the program from the check cache
    assert "elsewhere" in collections_inside_loads  # the collector did run meanwhile
    assert [c for c in collections_inside_loads if c != "elsewhere"] == []


@pytest.mark.parametrize(
    ("xdg", "home", "root"),
    [
        ("/c", "/h", "/c/mora"),
        ("", "/h", "/h/.cache/mora"),
        ("rel", "/h", "/h/.cache/mora"),  # a relative XDG_CACHE_HOME is ignored (the XDG spec)
        ("rel", "also-rel", None),  # no absolute folder: no caches at all
        (None, None, "/from-passwd/.cache/mora"),
    ],
)
def test_the_caches_live_only_in_an_absolute_folder(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None, home: str | None, root: str | None
) -> None:
    """A relative XDG_CACHE_HOME, or a home directory that is not found (`~` left as `~`), once
    put the caches in the working directory: a shared project's checkout, whose planted pickles
    a check then loaded."""
    import mora.cache_files as cache_files

    for name, value in (("XDG_CACHE_HOME", xdg), ("HOME", home)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    if home is None:
        monkeypatch.setattr(cache_files.os.path, "expanduser", lambda p: "/from-passwd" + p[1:])
    monkeypatch.delenv("MORA_NO_CACHE", raising=False)
    assert cache_files.cache_root() == root
    assert cache_files.enabled() == (root is not None)


def test_a_project_cannot_plant_a_cache_entry_when_no_home_is_found(tmp_path: Path) -> None:
    """With no absolute cache folder (here a relative HOME and XDG_CACHE_HOME, as for a user id
    without a passwd entry), `mora check` run inside a project keeps no cache: a pickle the
    project ships where the parse cache would look is never loaded."""
    import subprocess
    import sys

    from mora import parse_cache

    project = tmp_path / "project"
    project.mkdir()
    text = 'service a { image = "docker.io/library/busybox:1.36" }\n'
    (project / "a.mora").write_text(text)
    marker = tmp_path / "unpickled"

    class Planted:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (open, (str(marker), "w"))

    for base in ("rel/mora/ast", "home/.cache/mora/ast"):
        (project / base).mkdir(parents=True)
        (project / base / f"{parse_cache._key(text)}.pickle").write_bytes(pickle.dumps(Planted()))
    env = {k: v for k, v in os.environ.items() if k not in ("MORA_NO_CACHE",)}
    env.update(XDG_CACHE_HOME="rel", HOME="home")
    run = subprocess.run(
        [sys.executable, "-m", "mora", "check", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "no problems" in run.stderr
    assert not marker.exists()
    assert sorted(p.name for p in (project / "rel" / "mora").iterdir()) == ["ast"]  # nothing new
