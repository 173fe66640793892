"""The check-result cache (mora/check_cache.py): a hit prints what a miss prints, and any change
to what the check read is a miss.

A hit is told apart from a miss by poisoning the stored entry: its diagnostics are replaced by a
marker that no check produces. A hit prints the marker; a miss checks again and prints the real
diagnostics (and stores them over the marker).
"""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mora import check_cache
from mora.api import check_project
from mora.main import run_check
from tests.cli import run_mora

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases"
MARKER = "poisoned entry: this was replayed from the cache"


def _check(capsys: pytest.CaptureFixture[str], *args: str, fmt: str = "text", cache: bool = True):
    code = run_check(list(args), fmt, cache=cache)
    out = capsys.readouterr()
    return code, out.out, out.err


def _poison(project: str) -> None:
    """Replace the stored diagnostics of `project` (checked from here) by the marker."""
    path = Path(check_cache.entry_path(project))
    entry = marshal.loads(path.read_bytes())
    entry["diagnostics"] = [
        {
            "key": ["", 0, "W9999"],
            "message": MARKER,
            "severity": "warning",
            "text": MARKER,
            "json": {"message": MARKER},
        }
    ]
    path.write_bytes(marshal.dumps(entry))


def _replayed(capsys: pytest.CaptureFixture[str], project: str) -> tuple[bool, str]:
    """Poison the entry, check again: (whether the marker was printed, the text printed)."""
    _poison(project)
    _, _, err = _check(capsys, project)
    return MARKER in err, err


# --- a hit prints what a miss prints -------------------------------------------------------------


def _case_dirs() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "input").is_dir())


def test_a_hit_prints_exactly_what_an_uncached_check_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case folder, both formats: the uncached report (`--no-cache`, mora.main.report on
    the checker's diagnostics), the miss that stores the entry, and the hit that replays it."""
    names = _case_dirs()
    assert len(names) > 100
    hits = 0
    for name in names:
        monkeypatch.chdir(CASES / name)  # paths shown relative to the case: input/main.mora
        for fmt in ("text", "json"):
            uncached = _check(capsys, "input", fmt=fmt, cache=False)
            if fmt == "text":
                miss = _check(capsys, "input", fmt=fmt)
                assert miss == uncached, name
            hit = _check(capsys, "input", fmt=fmt)
            assert hit == uncached, (name, fmt)
        hits += Path(check_cache.entry_path("input")).is_file()
    assert hits == len(names)  # every case was stored, so the comparisons above were of hits


def test_several_projects_are_sorted_and_deduplicated_as_one_report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mora check A B A`: one report over all of them, whether each came from the cache."""
    monkeypatch.chdir(CASES)
    args = ["err-import-missing/input", "err-duplicate-service/input", "err-import-missing/input"]
    uncached = _check(capsys, *args, cache=False)
    assert _check(capsys, *args) == uncached
    assert _check(capsys, *args) == uncached
    json_uncached = _check(capsys, *args, fmt="json", cache=False)
    assert _check(capsys, *args, fmt="json") == json_uncached
    assert uncached[0] == 1 and uncached[2].count("E0101") == 2  # the duplicate shown once


def test_the_marker_is_replayed_when_nothing_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the invalidation tests below: an unchanged project is a hit."""
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _check(capsys, "proj")[0] == 0
    assert _replayed(capsys, "proj")[0]
    _, _, err = _check(capsys, "proj", cache=False)  # --no-cache neither reads nor writes it
    assert MARKER not in err
    # the click command (`python -m mora.cli`) goes through the same function and option
    assert MARKER in run_mora(["check", "proj"], cwd=tmp_path).stderr
    assert MARKER not in run_mora(["check", "--no-cache", "proj"], cwd=tmp_path).stderr
    monkeypatch.setenv("MORA_NO_CACHE", "1")
    assert MARKER not in _check(capsys, "proj")[2]


# --- what invalidates an entry -------------------------------------------------------------------

MAIN = """\
project home
import "./lib"

service web {
  image = "docker.io/library/nginx:1.27"
  depends_on = [db]
}
"""
DB = """\
service db {
  image = "docker.io/library/postgres:16"
}
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    (project / "lib").mkdir(parents=True)
    (project / "main.mora").write_text(MAIN)
    (project / "lib" / "db.mora").write_text(DB)
    return project


def _miss_after(capsys: pytest.CaptureFixture[str], change: object) -> str:
    """Store the entry, poison it, make the change: the check must run again; its text."""
    assert _check(capsys, "proj")[0] == 0
    _poison("proj")
    change()  # type: ignore[operator]
    code, _, err = _check(capsys, "proj")
    assert MARKER not in err
    assert (code, err) == _check(capsys, "proj", cache=False)[::2]
    return err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("edit project file", "E0204"),
        ("edit imported file", "E0204"),
        ("add project file", "E0201"),
        ("add module file", "E0201"),
        ("remove module file", "E0204"),
        ("replace file by symlink elsewhere", "E0104"),
    ],
)
def test_a_change_to_what_the_check_read_is_a_miss(
    change: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "elsewhere.mora"
    outside.write_text(DB)

    def act() -> None:
        if change == "edit project file":
            (project / "main.mora").write_text(MAIN.replace("[db]", "[dbb]"))
        elif change == "edit imported file":
            (project / "lib" / "db.mora").write_text(DB.replace("service db", "service dbb"))
        elif change == "add project file":
            (project / "more.mora").write_text('service web {\n  image = "a:1"\n}\n')
        elif change == "add module file":
            (project / "lib" / "more.mora").write_text('service db {\n  image = "a:1"\n}\n')
        elif change == "remove module file":
            (project / "lib" / "db.mora").unlink()
            (project / "lib" / "other.mora").write_text("")
        elif change == "replace file by symlink elsewhere":
            (project / "lib" / "db.mora").unlink()
            (project / "lib" / "db.mora").symlink_to(outside)

    err = _miss_after(capsys, act)
    assert f"[{expected}]" in err


def test_a_new_git_work_tree_above_the_project_is_a_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imports may reach the enclosing Git work tree: a `.git` appearing moves that boundary."""
    repo = tmp_path / "repo"
    (repo / "shared").mkdir(parents=True)
    (repo / "shared" / "db.mora").write_text(DB)
    project = repo / "proj"
    project.mkdir()
    (project / "main.mora").write_text(MAIN.replace('"./lib"', '"../shared"'))
    monkeypatch.chdir(repo)
    code, _, err = _check(capsys, "proj")
    assert code == 1 and "E0104" in err  # no work tree: the project folder is the limit
    _poison("proj")
    (repo / ".git").mkdir()
    code, _, err = _check(capsys, "proj")
    assert (code, MARKER in err) == (0, False)


def test_a_locked_dependency_and_the_module_cache_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A locked module is read from `$MORA_MODULE_CACHE`: pointing it elsewhere, or changing
    the cached copy, is a miss (the copy no longer verifies)."""
    from mora.deps.lock import LockEntry, store_module, write_lock

    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "modules"))
    digest, copy = store_module({"lib.mora": DB.encode()})
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.mora").write_text(
        'project home\nrequire lib = "https://example.org/lib" version "v1"\nimport lib\n'
        'service web {\n  image = "docker.io/library/nginx:1.27"\n  depends_on = [db]\n}\n'
    )
    write_lock(
        project, {"lib": LockEntry("lib", "https://example.org/lib", "v1", "a" * 40, digest)}
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = _check(capsys, "proj")
    assert code == 0, err
    assert _replayed(capsys, "proj")[0]

    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "empty"))
    code, _, err = _check(capsys, "proj")
    assert code == 1 and "E0130" in err and "not been fetched" in err

    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "modules"))
    assert _check(capsys, "proj")[0] == 0
    _poison("proj")
    (copy / "lib.mora").write_text(DB.replace("16", "17"))
    code, _, err = _check(capsys, "proj")
    assert code == 1 and "does not match the hash" in err and MARKER not in err


def test_the_lock_file_appearing_is_a_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _check(capsys, "proj")[0] == 0
    _poison("proj")
    (tmp_path / "proj" / "mora.lock").write_text("not json")
    code, _, err = _check(capsys, "proj")
    assert code == 1 and "E0132" in err


def test_the_working_directory_is_part_of_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths are shown relative to where mora runs: the same project from elsewhere is another
    entry, with its own paths."""
    project = _project(tmp_path)
    (project / "main.mora").write_text(MAIN.replace("[db]", "[dbb]"))
    monkeypatch.chdir(tmp_path)
    assert "--> proj/main.mora" in _check(capsys, "proj")[2]
    monkeypatch.chdir(project)
    assert "--> main.mora" in _check(capsys, ".")[2]
    assert "--> main.mora" in _check(capsys, ".")[2]


# --- mora's own code and its stdlib --------------------------------------------------------------


def _mora_copy(tmp_path: Path) -> Path:
    """This checkout's package, grammar and stdlib, copied: a mora whose files a test may edit."""
    root = tmp_path / "mora-copy"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("mora", "grammar", "stdlib"):
        shutil.copytree(REPO / name, root / name, ignore=ignore)
    return root


def _run(root: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("MORA_NO_CACHE", None)
    return subprocess.run(
        [sys.executable, "-m", "mora", "check", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_edited_stdlib_template_or_mora_source_file_is_a_miss(tmp_path: Path) -> None:
    root = _mora_copy(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.mora").write_text("project home\nimport postgres\nservice db = postgres()\n")
    assert _run(root, work, ".").returncode == 0

    # the stdlib template the project uses
    _poison_in(work, root)
    assert MARKER in _run(root, work, ".").stderr  # the control: a hit replays
    postgres = root / "stdlib" / "postgres.mora"
    postgres.write_text(postgres.read_text() + "\nservice extra {\n  bogus = 1\n}\n")
    proc = _run(root, work, ".")
    assert (
        MARKER not in proc.stderr
        and proc.returncode == 1
        and "<stdlib>/postgres.mora:100" in proc.stderr
    )

    # a source file of mora itself, only touched (a development checkout, a reinstall)
    _poison_in(work, root)
    assert MARKER in _run(root, work, ".").stderr
    source = root / "mora" / "builtins.py"
    info = source.stat()
    os.utime(source, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    proc = _run(root, work, ".")
    assert MARKER not in proc.stderr and proc.returncode == 1


def _poison_in(cwd: Path, root: Path) -> None:
    """`_poison(".")` as the copied mora (its own code digest) sees it from `cwd`."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from mora import check_cache\n"
        "print(check_cache.entry_path('.'))\n"
    )
    env = dict(os.environ)
    path = subprocess.run(
        [sys.executable, "-c", code, str(root)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    entry = marshal.loads(Path(path).read_bytes())
    entry["diagnostics"] = [
        {
            "key": ["", 0, "W9999"],
            "message": MARKER,
            "severity": "warning",
            "text": MARKER,
            "json": {},
        }
    ]
    Path(path).write_bytes(marshal.dumps(entry))


# --- the recorder sees every read ----------------------------------------------------------------

_EVENTS: list[tuple[str, str]] = []
_LISTENING: list[bool] = []


def _hook(event: str, args: tuple[object, ...]) -> None:
    if not _LISTENING:
        return
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _EVENTS.append(("open", os.fsdecode(args[0])))  # type: ignore[arg-type]
    elif event in ("os.listdir", "os.scandir") and isinstance(args[0], (str, os.PathLike)):
        _EVENTS.append(("list", os.fsdecode(args[0])))  # type: ignore[arg-type]


def _projects() -> list[Path]:
    found = [p for p in (REPO / "projects").iterdir() if p.is_dir()]
    found += [p for p in (REPO / "examples").iterdir() if p.is_dir()]
    found += [CASES / name / "input" for name in _case_dirs()]
    found += [p for p in (REPO / "tests" / "projects").rglob("*") if p.is_dir()]
    return sorted(found)


def test_every_file_opened_and_folder_listed_by_a_check_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An uncached check of every project, case and test project under an audit hook: each
    file it opens and each folder it lists must be in what the loader recorded, so a read
    that bypasses the recorder fails here."""
    monkeypatch.setenv("MORA_NO_CACHE", "1")  # the parser runs too: nothing comes from a cache
    # a project with a locked dependency, whose verification reads the module cache
    from mora.deps.lock import LockEntry, store_module, write_lock

    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "modules"))
    digest, _ = store_module({"lib.mora": DB.encode(), "sub/more.mora": b""})
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "main.mora").write_text('project p\nrequire lib = "r" version "v1"\nimport lib\n')
    write_lock(locked, {"lib": LockEntry("lib", "r", "v1", "a" * 40, digest)})

    projects = [*_projects(), locked]
    for path in projects:  # every lazy import done before listening
        check_project(path)
    sys.addaudithook(_hook)
    own = (str(REPO / "grammar"), sys.prefix, sys.base_prefix)  # and every .py: the code digest
    parse_caches = os.path.join(os.environ["XDG_CACHE_HOME"], "mora")
    missing: list[str] = []
    for path in projects:
        reads = check_cache.Reads()
        _EVENTS.clear()
        _LISTENING.append(True)
        try:
            check_project(path, reads)
        finally:
            _LISTENING.clear()
        trees = tuple(reads.trees)
        for kind, name in _EVENTS:
            where = os.path.abspath(name)
            if where.startswith(own) or where.endswith((".py", ".pyc")):
                continue  # mora's own code and grammar: covered by the code digest
            if where.startswith(parse_caches) and ("/ast/" in where or "/grammar-" in where):
                continue  # the parser's caches: never part of a result
            if any(where == t or where.startswith(t + os.sep) for t in trees):
                continue
            seen = reads.files if kind == "open" else {**reads.listings, **reads.folders}
            if where not in seen:
                missing.append(f"{path}: {kind} {where}")
    assert missing == []
    assert len(projects) > 150


# --- `mora compile` takes the checked program of an unchanged project ----------------------------


def _compiled(site: Path, cache: bool) -> tuple[str, dict[str, str], str]:
    """(manifest JSON, secret material, rendered diagnostics) of compiling ./input for `site`."""
    from mora.api import compile_project
    from mora.diagnostics import render_text
    from mora.model import manifest_json
    from mora.secrets.provider import MemoryProvider

    result = compile_project(
        Path("input"), site_file=site, provider=MemoryProvider(seed=b"cache"), cache=cache
    )
    manifest = manifest_json(result.compiled.manifest) if result.compiled is not None else ""
    material = dict(result.compiled.material) if result.compiled is not None else {}
    text = "\n\n".join(render_text(d) for d in result.diagnostics.sorted())
    return manifest, material, text


def test_a_compile_from_the_stored_program_writes_what_a_full_compile_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every compiled case: the manifest, the secret material and the diagnostics are the
    same whether the program came from the checker or from the check cache."""
    names = [n for n in _case_dirs() if (CASES / n / "site.yaml").is_file()]
    assert len(names) > 50
    replayed = 0
    for name in names:
        monkeypatch.chdir(CASES / name)
        site = Path("site.yaml")
        fresh = _compiled(site, cache=True)  # a miss: checks (as without the cache), keeps it
        entry = marshal.loads(Path(check_cache.entry_path(Path("input"))).read_bytes())
        replayed += "program" in entry
        assert _compiled(site, cache=True) == fresh, name  # a hit: the stored program
    assert replayed > 40  # (cases whose check has errors keep no program)


def test_a_compile_of_an_unchanged_project_runs_no_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mora.checker

    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input").symlink_to(tmp_path / "proj")
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    first = _compiled(site, cache=True)
    assert first[0]

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the checker ran")

    monkeypatch.setattr(mora.checker, "check", refuse)
    assert _compiled(site, cache=True) == first
    (tmp_path / "proj" / "lib" / "db.mora").write_text(DB.replace(":16", ":17"))
    with pytest.raises(AssertionError, match="the checker ran"):  # an edit: checked again
        _compiled(site, cache=True)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert "postgres:17" in _compiled(site, cache=True)[0]


def test_a_large_projects_program_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PROGRAM_MAX_SERVICES the program is not pickled (its pickle would cost a 10,000-
    service compile more memory than its checker): the entry keeps only the diagnostics, and
    the next compile checks again and writes the same."""
    import mora.checker

    _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input").symlink_to(tmp_path / "proj")
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    monkeypatch.setattr(check_cache, "PROGRAM_MAX_SERVICES", 1)
    first = _compiled(site, cache=True)
    assert first[0]
    entry = marshal.loads(Path(check_cache.entry_path(Path("input"))).read_bytes())
    assert "program" not in entry
    checked = []
    real = mora.checker.check
    monkeypatch.setattr(mora.checker, "check", lambda *a: checked.append(1) or real(*a))
    assert _compiled(site, cache=True) == first
    assert checked == [1]


def test_the_stored_program_holds_no_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program is pickled after the check, before any site or store is read: none of the
    secret values the compile then generated are in it."""
    shutil.copytree(REPO / "projects" / "media", tmp_path / "input")
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    _, material, _ = _compiled(site, cache=True)
    entry = marshal.loads(Path(check_cache.entry_path(Path("input"))).read_bytes())
    stored = (Path(check_cache.cache_dir()) / f"{entry['program']}.pickle").read_bytes()
    assert len(material) > 5
    leaked = [name for name, value in material.items() if value.encode() in stored]
    assert leaked == []
    assert _compiled(site, cache=True)[1] == material  # the hit: the same values from the store


def test_one_project_spelt_differently_shares_one_entry() -> None:
    """`mora check` keys by the text as given and the compile by a `Path`: `x/`, `./x` and
    `Path("x")` must find the same entry, or a project given with a trailing slash would be
    checked again on every run."""
    assert check_cache.entry_path("proj/") == check_cache.entry_path(Path("proj"))
    assert check_cache.entry_path("./proj") == check_cache.entry_path("proj")
    assert check_cache.entry_path("proj") != check_cache.entry_path("other")


def test_the_files_read_are_recorded_by_their_blake2b(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file the check read is kept as hashlib's BLAKE2b (32 bytes) of its bytes: the builtin
    `_blake2` hashes about three times as fast as SHA-256 and is what the program's name uses."""
    import hashlib

    monkeypatch.chdir(REPO)
    assert _check(capsys, "projects/media")[0] == 0
    entry = marshal.loads(Path(check_cache.entry_path("projects/media")).read_bytes())
    files = {path: digest for path, digest in entry["files"].items() if digest != "-"}
    assert len(files) > 5
    for path, digest in files.items():
        assert digest == hashlib.blake2b(Path(path).read_bytes(), digest_size=32).hexdigest()


def test_a_probe_resolves_every_path_as_realpath_does(tmp_path: Path) -> None:
    """The probes resolve each folder once (`_realpath`) and must say what `os.path.realpath`
    says for every kind of path: plain, through a linked folder, a link to a file, a dangling
    link, a loop, a missing name, a name below a file, the root."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "a.mora").write_text("")
    (tmp_path / "file").write_text("")
    (tmp_path / "dirlink").symlink_to(tmp_path / "real")
    (tmp_path / "rellink").symlink_to("real/sub")
    (tmp_path / "real" / "sub" / "up").symlink_to("../..")
    (tmp_path / "filelink").symlink_to(tmp_path / "real" / "sub" / "a.mora")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    names = ["real", "real/sub", "real/sub/a.mora", "real/sub/missing.mora", "file", "file/x"]
    names += ["dirlink", "dirlink/sub/a.mora", "dirlink/sub/up/file", "rellink/a.mora"]
    names += ["rellink/up/dirlink/sub", "filelink", "dangling", "dangling/more", "loop1"]
    names += ["loop1/x", "missing/deeper/still", "real/sub/up/real/sub/up/filelink"]
    resolved: dict[str, str] = {}
    paths = ["/", str(tmp_path), *(os.path.join(tmp_path, n) for n in names)]
    for path in paths * 2:  # the second time, from the folders already resolved
        assert check_cache._realpath(path, resolved) == os.path.realpath(path), path
    assert check_cache._probe(str(tmp_path / "a\0b"), {})[0] == ""  # as realpath raises


def test_a_lookup_resolves_each_folder_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifying the media check's probes looks at each path and each of its folders once, not
    at every component of every path as `os.path.realpath` does."""
    monkeypatch.chdir(REPO)
    assert _check(capsys, "projects/media")[0] == 0
    entry = check_cache.lookup_entry("projects/media")
    assert entry is not None
    probes = list(entry["probes"])
    folders = {f for p in probes for f in _folders_of(p)}
    looked: list[str] = []
    real_lstat = os.lstat

    def lstat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        looked.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "lstat", lstat)
    assert check_cache.unchanged(entry)
    assert len(probes) > 10
    assert len(looked) <= len(probes) + len(folders)


def _folders_of(path: str) -> list[str]:
    out = []
    while (parent := os.path.dirname(path)) != path:
        out.append(parent)
        path = parent
    return out
