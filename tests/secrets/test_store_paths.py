"""The store and the project identity work on text paths (no `pathlib`, ~3-5 ms of a compile's
start-up with what it imports): the same files, names, messages and refusals as `pathlib` gave."""

from __future__ import annotations

import fnmatch
import os
import textwrap
from pathlib import Path

import pytest

from mora import paths
from mora.secrets.identity import ProjectIdentity
from mora.secrets.store import SecretStore, _stem, default_store_path
from tests.probe import loaded_by

# pathlib and what it pulls in (urllib.parse builds ~9 namedtuples and imports ipaddress)
_PATHLIB = {"pathlib", "urllib", "urllib.parse", "ipaddress", "fnmatch", "ntpath"}

_OPEN = textwrap.dedent(
    """
    from mora.api import note_new_store, open_store
    from mora.diagnostics import Diagnostics

    class Program:  # what open_store reads of a checked program
        root, name = {root!r}, "media"

    store = open_store(Program, None, None)
    if store.get("new") is None:
        store.set_value("new", "made here")
        store.save()
    diags = Diagnostics()
    note_new_store(store, diags)
    print(store.get("old").value(), store.get("new").value(), store.identity.origin)
    for d in diags.items:
        print(d.code, d.message)
    """
)


def test_opening_reading_and_writing_a_store_imports_no_pathlib(tmp_path: Path) -> None:
    """`mora.api.open_store` (where the store is, the project's identity from its Git worktree,
    the legacy store's migration, the lock, the atomic write) and `note_new_store`, then a
    second process that only opens and reads the store: none of them loads pathlib."""
    main_git = tmp_path / "main" / ".git"
    (main_git / "worktrees" / "lab").mkdir(parents=True)
    (main_git / "config").write_text('[remote "origin"]\n  url = git@github.com:me/lab.git\n')
    (main_git / "worktrees" / "lab" / "commondir").write_text("../..\n")
    (tmp_path / "lab" / "media").mkdir(parents=True)
    (tmp_path / "lab" / ".git").write_text(f"gitdir: {main_git / 'worktrees' / 'lab'}\n")
    site = tmp_path / "site"
    legacy = SecretStore.open(site / ".mora" / "media.secrets", namespace="media")
    legacy.set_value("old", "from before namespaces")
    legacy.save()
    code = _OPEN.format(root=str(tmp_path / "lab" / "media"))

    printed, modules = loaded_by(code, site)
    assert "mora.secrets.store" in modules and "mora.secrets.identity" in modules  # sound probe
    assert not _PATHLIB & modules
    store = site / ".mora" / "site.secrets"
    lines = printed.splitlines()
    assert lines[0] == "from before namespaces made here github.com/me/lab"
    assert lines[1].startswith(f"W0510 created a new secret store {store} (namespace `media`)")
    assert lines[2] == (
        f"W0511 moved the secrets of `media` from {site / '.mora' / 'media.secrets'} into the "
        f"site store {store}; the old file is kept as {site / '.mora' / 'media.secrets'}.migrated"
    )
    assert (site / ".mora" / "media.secrets.migrated").is_file()

    printed, modules = loaded_by(code, site)  # a compile's usual case: the store is there
    assert "mora.secrets.store" in modules
    assert not _PATHLIB & modules
    assert printed == "from before namespaces made here github.com/me/lab"


_SPELLINGS = [
    "",
    ".",
    "..",
    "a",
    "a/",
    "a//b",
    "./a/./b/.",
    "a/../b",
    "/",
    "//",
    "///",
    "//a/b",
    "///a",
    "/a/b/",
    "~",
    "~/x",
    "a.b.c",
    ".hidden",
    "x.",
    "a/.b.",
    "...",
]


@pytest.mark.parametrize("text", _SPELLINGS)
def test_text_paths_are_spelled_as_pathlib_spells_them(text: str) -> None:
    path = Path(text)
    assert paths.pure(text) == str(path)
    assert paths.pure(path) == str(path)
    assert paths.parent(paths.pure(text)) == str(path.parent)
    absolute = paths.join("/srv", text)  # where a site file's stem is taken
    assert _stem(os.path.basename(absolute)) == Path(absolute).stem == Path("/srv", text).stem
    for base in ("/srv", "srv/", ".", "//x"):
        assert paths.join(base, text) == str(Path(base) / text)


def test_resolve_and_inside_answer_as_pathlib_does(tmp_path: Path) -> None:
    (tmp_path / "real" / "in").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases = ["link/in", "link/missing/x", "real/../link", "missing/../x", "link/in/../..", "/"]
    for rel in cases:
        path = str(tmp_path / rel) if rel != "/" else rel
        assert paths.resolve(path) == str(Path(path).resolve())
        for other in ("real", "link", "real/in", "missing"):
            got = paths.inside(paths.resolve(path), paths.resolve(str(tmp_path / other)))
            assert got == Path(path).resolve().is_relative_to((tmp_path / other).resolve())
    for path, directory in (("//a", "/"), ("/a", "//"), ("//a/b", "//a"), ("/a", "/"), ("a", ".")):
        assert paths.inside(path, directory) == (
            Path(directory) in Path(path).parents or Path(path) == Path(directory)
        ), (path, directory)
    for rel in ("a/b", "a", ".", "/a/b", "//a"):
        assert paths.parents(paths.pure(rel))[1:] == [str(p) for p in Path(rel).parents]
    with pytest.raises(RuntimeError) as ours:
        paths.resolve(str(tmp_path / "loop" / "x"))
    with pytest.raises(RuntimeError) as theirs:
        (tmp_path / "loop" / "x").resolve()
    assert str(ours.value) == str(theirs.value)


def test_a_store_reached_through_a_symlink_into_the_project_is_refused(tmp_path: Path) -> None:
    """The inside-the-project refusal compares resolved paths: a site folder that is a symlink
    into the project does not smuggle the store in."""
    project = tmp_path / "project"
    (project / "hidden").mkdir(parents=True)
    (tmp_path / "site").symlink_to(project / "hidden")
    with pytest.raises(Exception, match="inside the project"):
        default_store_path(project, "media", None, None, tmp_path / "site")
    with pytest.raises(Exception, match="inside the project"):
        default_store_path(str(project), "media", "site/example.yaml", None, str(tmp_path))


def test_a_write_removes_only_the_temp_files_atomic_write_makes(tmp_path: Path) -> None:
    """A dead writer's `.NAME.*.tmp` goes at the next write (as `Path.glob` found them); other
    names stay."""
    store = SecretStore.open(tmp_path / "site.secrets")
    store.set_value("a", "b")
    store.save()
    names = [
        ".site.secrets.0a1b.tmp",
        ".site.secrets..tmp",
        ".site.secrets.tmp",
        ".site.secrets.x.tmp.keep",
        ".other.secrets.0a1b.tmp",
        "site.secrets.0a1b.tmp",
    ]
    for name in names:
        (tmp_path / name).write_text("left over")
    store.set_value("a", "c")
    store.save()
    left = sorted(n for n in os.listdir(tmp_path) if n.endswith((".tmp", ".keep")))
    assert left == sorted(n for n in names if not fnmatch.fnmatch(n, ".site.secrets.*.tmp"))
    assert left == [
        ".other.secrets.0a1b.tmp",
        ".site.secrets.tmp",
        ".site.secrets.x.tmp.keep",
        "site.secrets.0a1b.tmp",
    ]


def test_the_identity_path_is_the_resolved_directory(tmp_path: Path) -> None:
    from mora.secrets.identity import project_identity

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert project_identity(str(tmp_path / "link") + "/./") == ProjectIdentity(
        path=str((tmp_path / "real").resolve())
    )
