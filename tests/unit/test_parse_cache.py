"""The parse cache: a hit gives the same tree, a change is never served stale, damage is a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mora import parse_cache
from mora.diagnostics import Diagnostics
from mora.parser import parse_module
from mora.source import SourceFile

SRC = 'service a { image = "docker.io/library/busybox:1.36" environment { A = "${param.x}" } }\n'
REPO = Path(__file__).resolve().parents[2]


def _entries() -> list[Path]:
    return sorted(Path(parse_cache.folder()).glob("*.pickle"))


def test_hit_returns_the_same_tree_with_this_runs_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MORA_NO_CACHE", raising=False)
    before = set(_entries())
    first = parse_cache.load_module(SourceFile("a.mora", SRC + "# hit\n"), Diagnostics())
    assert len(set(_entries()) - before) == 1

    def no_parsing(*_: object) -> None:
        raise AssertionError("a cached file was parsed again")

    monkeypatch.setattr(parse_cache, "_parse", no_parsing)
    second = parse_cache.load_module(SourceFile("elsewhere/a.mora", SRC + "# hit\n"), Diagnostics())
    monkeypatch.undo()
    fresh = parse_module(SourceFile("a.mora", SRC + "# hit\n"), Diagnostics())
    # Spans belong to their file, so compare the trees through their (location-bearing) reprs.
    assert repr(second.decls).replace("elsewhere/a.mora", "a.mora") == repr(fresh.decls)
    assert repr(first.decls) == repr(fresh.decls)
    assert second.file.path == "elsewhere/a.mora"
    span = second.decls[0].name.span  # type: ignore[union-attr]
    assert span.location() == "elsewhere/a.mora:1:9"


def test_changed_text_is_parsed_again() -> None:
    a = parse_cache.load_module(SourceFile("a.mora", SRC), Diagnostics())
    b = parse_cache.load_module(
        SourceFile("a.mora", SRC.replace("busybox", "alpine")), Diagnostics()
    )
    assert repr(a.decls) != repr(b.decls)


def test_files_with_errors_are_not_cached_and_report_every_time() -> None:
    broken = "service a {\n"
    for _ in range(2):
        diags = Diagnostics()
        parse_cache.load_module(SourceFile("b.mora", broken), diags)
        assert [d.code for d in diags] == ["E0001"]


def test_a_damaged_entry_is_a_miss() -> None:
    text = SRC + "# damaged\n"
    parse_cache.load_module(SourceFile("a.mora", text), Diagnostics())
    entry = Path(parse_cache.folder()) / f"{parse_cache._key(text)}.pickle"
    entry.write_bytes(b"\x80\x05garbage")
    module = parse_cache.load_module(SourceFile("a.mora", text), Diagnostics())
    assert module.decls and module.decls[0].name.text == "a"  # type: ignore[union-attr]


def test_mora_check_starts_without_click_or_lark_when_files_are_cached(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "a.mora").write_text(SRC.replace("${param.x}", "x"))
    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(tmp_path / "cache"))
    code = (
        "import sys; from mora.main import main\n"
        "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit as e:\n"
        "    loaded = [m for m in ('click', 'lark', 'pydantic', 'yaml') if m in sys.modules]\n"
        "    print(e.code, loaded)\n"
    )
    for _ in range(2):  # the first run fills the cache
        out = subprocess.run(
            [sys.executable, "-c", code, str(project)], env=env, capture_output=True, text=True
        ).stdout
    assert out.strip() == "0 []"


def test_prune_drops_the_older_half_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_cache, "_MAX_ENTRIES", 4)
    monkeypatch.setattr(parse_cache, "_pruned", [])
    monkeypatch.setattr("mora.cache_files.PRUNE_EVERY", 1)  # look every time (one in 16 else)
    for i in range(6):
        entry = tmp_path / f"{i}.pickle"
        entry.write_bytes(b"x")
        os.utime(entry, (1000 + i, 1000 + i))
    (tmp_path / "grammar.cache").write_bytes(b"kept")
    parse_cache._prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "3.pickle",
        "4.pickle",
        "5.pickle",
        "grammar.cache",
    ]


def test_a_process_lists_the_cache_folder_once_however_many_files_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each miss stores an entry; listing the whole folder (up to 4,000 entries) for each of them
    cost ~6 ms per file parsed."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("MORA_NO_CACHE", raising=False)
    monkeypatch.setattr(parse_cache, "_pruned", [], raising=False)
    monkeypatch.setattr("mora.cache_files.PRUNE_EVERY", 1)  # look every time (one in 16 else)
    listings = []
    scandir = os.scandir

    def counting(path: object) -> object:
        listings.append(path)
        return scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(parse_cache.os, "scandir", counting)
    for i in range(5):
        parse_cache.load_module(SourceFile(f"m{i}.mora", SRC + f"# {i}\n"), Diagnostics())
    assert len(listings) == 1
    monkeypatch.undo()
    assert len(list((tmp_path / "mora" / "ast").glob("*.pickle"))) == 5


def test_editing_one_file_of_a_project_reparses_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is per file: after an edit, the project's other files and the stdlib templates
    it imports come from the cache, and the trees and diagnostics are what a parse gives."""
    import shutil

    from mora.loader import load_project

    monkeypatch.delenv("MORA_NO_CACHE", raising=False)
    project = tmp_path / "media"
    shutil.copytree(REPO / "projects" / "media", project)
    (project / "extra.mora").write_text(
        'service extra { image = "docker.io/library/busybox:1.36" }\n'
    )
    load_project(project, Diagnostics())  # fills the cache
    main = project / "media.mora"
    main.write_text(main.read_text() + "\n# edited\n")

    parsed: list[str] = []
    real_parse = parse_cache._parse

    def counting(file: SourceFile, diags: Diagnostics) -> object:
        parsed.append(Path(file.path).name)
        return real_parse(file, diags)

    monkeypatch.setattr(parse_cache, "_parse", counting)
    cached_diags = Diagnostics()
    cached = load_project(project, cached_diags)
    assert parsed == ["media.mora"]
    assert len(cached.modules) > 3  # the stdlib templates it imports were served too

    monkeypatch.setenv("MORA_NO_CACHE", "1")
    fresh_diags = Diagnostics()
    fresh = load_project(project, fresh_diags)
    assert [m.file.path for m in cached.modules] == [m.file.path for m in fresh.modules]
    assert [repr(m.decls) for m in cached.modules] == [repr(m.decls) for m in fresh.modules]
    assert [(d.code, d.message) for d in cached_diags] == [(d.code, d.message) for d in fresh_diags]


def test_an_entry_is_the_pickle_that_pickle_dump_writes() -> None:
    """The cache writes with `_pickle` itself (no `pickle.py` on a check after an edit): the
    same bytes as `pickle.dumps` at the highest protocol, and they load back equal."""
    import pickle

    text = SRC + "# written by this test only\n"
    module = parse_cache.load_module(SourceFile("x.mora", text), Diagnostics())
    entry = Path(parse_cache.folder()) / f"{parse_cache._key(text)}.pickle"
    written = entry.read_bytes()
    assert parse_cache._PROTOCOL == pickle.HIGHEST_PROTOCOL
    assert written == pickle.dumps(module, protocol=pickle.HIGHEST_PROTOCOL)
    loaded = parse_cache.load_module(SourceFile("x.mora", text), Diagnostics())
    assert loaded is not module and pickle.dumps(loaded, protocol=5) == written


def test_a_file_is_indexed_by_line_only_when_a_position_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file read (and a tree's file in the cache) carries no line index until a line or
    column is asked for: a check after an edit takes most trees, with their own files, from
    the cache, and a clean check asks no position."""
    text = (REPO / "stdlib" / "postgres.mora").read_text()
    file = SourceFile("postgres.mora", text)
    assert file._line_starts == []
    parse_cache.load_module(file, Diagnostics())  # a miss: parsed and stored
    stored = parse_cache.load_module(SourceFile("again.mora", text), Diagnostics())
    assert stored.file._line_starts == []  # pickled without it
    lines = text.splitlines(keepends=True)
    line = next(n for n, t in enumerate(lines, 1) if n > 1 and len(t) > 3)
    offset = sum(len(t) for t in lines[: line - 1]) + 2
    assert stored.file.line_col(offset) == (line, 3) == file.line_col(offset)
    assert stored.file.line_text(line) == lines[line - 1].rstrip("\n")
    assert stored.file.offset_of(line, 3) == offset
    assert len(stored.file._line_starts) == text.count("\n") + 1
