"""One store per site, a namespace per project, bound to the project's identity; v1 migration."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from mora.secrets.errors import StoreError
from mora.secrets.identity import ProjectIdentity, normalize_origin, project_identity
from mora.secrets.store import SecretStore

from .helpers import v1_entry, write_store, write_v1_store

MEDIA = ProjectIdentity(path="/home/me/lab/media", origin="github.com/me/lab", subdir="media")
MOVED = ProjectIdentity(path="/srv/ci/lab/media", origin="github.com/me/lab", subdir="media")
FOREIGN = ProjectIdentity(path="/tmp/evil", origin="github.com/evil/media", subdir=".")
LOCAL = ProjectIdentity(path="/home/me/notes")


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    raw = os.urandom(32)
    monkeypatch.setenv("MORA_SECRETS_KEY", base64.b64encode(raw).decode())
    return raw


def open_ns(path: Path, ns: str, identity: ProjectIdentity, adopt: bool = False) -> SecretStore:
    return SecretStore.open(path, namespace=ns, identity=identity, adopt=adopt)


def test_two_projects_share_a_site_store_without_seeing_each_other(
    tmp_path: Path, key: bytes
) -> None:
    path = tmp_path / "home.secrets"
    media = open_ns(path, "media", MEDIA)
    media.set_value("db_password", "media-db")
    media.save()
    notes = open_ns(path, "notes", LOCAL)
    assert notes.names() == []  # media's secrets are not this project's orphans
    notes.set_value("db_password", "notes-db")
    notes.save()
    again = open_ns(path, "media", MEDIA)
    assert again.names() == ["db_password"]
    assert again.get("db_password").value() == "media-db"  # type: ignore[union-attr]
    assert again.namespaces == ["media", "notes"]
    assert open_ns(path, "notes", LOCAL).get("db_password").value() == "notes-db"  # type: ignore[union-attr]


def test_a_foreign_project_naming_itself_like_another_is_refused(
    tmp_path: Path, key: bytes
) -> None:
    path = tmp_path / "home.secrets"
    media = open_ns(path, "media", MEDIA)
    media.set_value("db_password", "media-db")
    media.save()
    with pytest.raises(StoreError) as err:
        open_ns(path, "media", FOREIGN)
    message = str(err.value)
    assert "belongs to another project" in message
    assert MEDIA.path in message and FOREIGN.path in message
    assert "github.com/evil/media" in message and "github.com/me/lab" in message
    assert "mora secrets adopt" in (err.value.help or "")
    assert "media-db" not in message


def test_same_repository_elsewhere_shares_the_namespace(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "home.secrets"
    media = open_ns(path, "media", MEDIA)
    media.set_value("db_password", "media-db")
    media.save()
    ci = open_ns(path, "media", MOVED)  # CI runner / second checkout: same origin and subdir
    assert ci.get("db_password").value() == "media-db"  # type: ignore[union-attr]
    assert not ci.dirty and not ci.save()  # matching is not a reason to rewrite the store
    assert ci.recorded_identity == MEDIA


def test_adopt_moves_the_namespace_to_a_new_identity(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "home.secrets"
    notes = open_ns(path, "notes", LOCAL)
    notes.set_value("token", "t0k")
    notes.save()
    moved = ProjectIdentity(path="/home/me/elsewhere/notes")
    with pytest.raises(StoreError, match="belongs to another project"):
        open_ns(path, "notes", moved)
    adopted = open_ns(path, "notes", moved, adopt=True)
    assert adopted.dirty and adopted.save()
    assert open_ns(path, "notes", moved).get("token").value() == "t0k"  # type: ignore[union-attr]
    with pytest.raises(StoreError, match="belongs to another project"):
        open_ns(path, "notes", LOCAL)


def test_a_version_1_store_migrates_without_losing_a_value(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "home.secrets"
    write_v1_store(path, key, {"db_password": v1_entry("old-db"), "api": v1_entry("old-api")})
    store = open_ns(path, "media", MEDIA)
    assert store.disk_version == 1
    assert store.names() == ["api", "db_password"]
    assert store.get("db_password").value() == "old-db"  # type: ignore[union-attr]
    assert store.dirty  # the unclaimed namespace is claimed by the next write
    assert store.save()
    doc = json.loads(path.read_text())
    assert doc["version"] == 2 and doc["store_id"] == "ab" * 16  # same store, same key
    again = open_ns(path, "media", MEDIA)
    assert again.disk_version == 2 and again.recorded_identity == MEDIA
    assert {n: again.get(n).value() for n in again.names()} == {  # type: ignore[union-attr]
        "api": "old-api",
        "db_password": "old-db",
    }
    with pytest.raises(StoreError, match="belongs to another project"):
        open_ns(path, "media", FOREIGN)


def test_a_version_1_store_is_only_read_until_something_is_written(
    tmp_path: Path, key: bytes
) -> None:
    path = tmp_path / "home.secrets"
    write_v1_store(path, key, {"db_password": v1_entry("old-db")})
    before = path.read_bytes()
    store = SecretStore.open(path)  # no identity: library use, nothing to claim
    assert store.get("db_password").value() == "old-db"  # type: ignore[union-attr]
    assert not store.dirty and not store.save()
    assert path.read_bytes() == before


def test_malformed_namespace_content_is_refused(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "home.secrets"
    for content in (
        {"namespaces": {"m": {"entries": {}, "identity": {"path": 1}}}},
        {"namespaces": {"": {"entries": {}, "identity": None}}},
        {"namespaces": []},
        {"entries": {}},
    ):
        write_store(path, key, content, version=2, store_id="cd" * 16)
        with pytest.raises(StoreError):
            SecretStore.open(path, namespace="m")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:me/lab.git", "github.com/me/lab"),
        ("https://me:ghp_token@GitHub.com/me/lab/", "github.com/me/lab"),
        ("ssh://git@github.com/me/lab.git", "github.com/me/lab"),
        ("https://github.com/me/lab", "github.com/me/lab"),
        ("/srv/git/lab", None),
        ("file:///srv/git/lab", None),
        ("", None),
    ],
)
def test_origins_compare_equal_and_never_keep_credentials(url: str, expected: str | None) -> None:
    assert normalize_origin(url) == expected


def test_identity_of_a_checkout_reads_its_git_config(tmp_path: Path) -> None:
    repo = tmp_path / "lab"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = https://x.org/other\n'
        '[remote "origin"]\n\turl = https://me:secret@github.com/me/lab.git\n'
    )
    (repo / "projects" / "media").mkdir(parents=True)
    ident = project_identity(repo / "projects" / "media")
    assert ident == ProjectIdentity(
        path=str((repo / "projects" / "media").resolve()),
        origin="github.com/me/lab",
        subdir="projects/media",
    )
    assert "secret" not in json.dumps(ident.to_json())
    plain = tmp_path / "plain"
    plain.mkdir()
    assert project_identity(plain) == ProjectIdentity(path=str(plain.resolve()))


def test_identity_of_a_git_worktree_reads_the_main_repository_config(tmp_path: Path) -> None:
    main_git = tmp_path / "main" / ".git"
    (main_git / "worktrees" / "wt").mkdir(parents=True)
    (main_git / "config").write_text('[remote "origin"]\n  url = git@github.com:me/lab.git\n')
    (main_git / "worktrees" / "wt" / "commondir").write_text("../..\n")
    work = tmp_path / "wt"
    (work / "media").mkdir(parents=True)
    (work / ".git").write_text(f"gitdir: {main_git / 'worktrees' / 'wt'}\n")
    ident = project_identity(work / "media")
    assert (ident.origin, ident.subdir) == ("github.com/me/lab", "media")
    # a checkout elsewhere of the same repository shares the namespace; another repo does not
    assert ident.matches(ProjectIdentity("/elsewhere/media", "github.com/me/lab", "media"))
    assert not ident.matches(ProjectIdentity("/elsewhere/media", "github.com/evil/lab", "media"))
    assert not ident.matches(ProjectIdentity("/elsewhere/x", "github.com/me/lab", "other"))


def test_opening_a_namespace_reads_only_its_own_entries(
    tmp_path: Path, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compile of a small project in a site that also keeps a large project's secrets does
    not rebuild every entry of the large one; a save still reads (and checks) them all and
    writes them back unchanged."""
    from mora.secrets.store import Entry

    path = tmp_path / "home.secrets"
    big = open_ns(path, "big", LOCAL)
    for i in range(50):
        big.set_value(f"s{i}", f"big-{i}")
    big.save()
    media = open_ns(path, "media", MEDIA)
    media.set_value("db_password", "media-db")
    media.save()
    built: list[str] = []
    real = Entry.from_json.__func__  # type: ignore[attr-defined]

    def counted(cls: type, name: str, data: object, where: str = "store") -> Entry:
        built.append(name)
        return real(cls, name, data, where)  # type: ignore[no-any-return]

    monkeypatch.setattr(Entry, "from_json", classmethod(counted))
    media = open_ns(path, "media", MEDIA)
    assert built == ["db_password"]
    assert media.namespaces == ["big", "media"]
    media.set_value("api_key", "k")
    built.clear()
    assert media.save()
    assert sorted(built) == sorted(["db_password", *(f"s{i}" for i in range(50))])
    again = open_ns(path, "big", LOCAL)
    assert {n: again.get(n).value() for n in again.names()} == {  # type: ignore[union-attr]
        f"s{i}": f"big-{i}" for i in range(50)
    }


def test_a_malformed_entry_of_another_namespace_is_refused_before_a_write(
    tmp_path: Path, key: bytes
) -> None:
    """Only the opened namespace's entries are read on open; the save reads every namespace,
    so a damaged one is refused then and the file is left as it was."""
    path = tmp_path / "home.secrets"
    good = {
        "kind": "set",
        "generator": None,
        "args": {},
        "parts": {"value": "v"},
        "source_fingerprints": {},
        "created": "2026-01-01T00:00:00Z",
        "rotated": None,
    }
    write_store(
        path,
        key,
        {
            "namespaces": {
                "m": {"entries": {"a": good}, "identity": None},
                "other": {"entries": {"x": {**good, "kind": "bogus"}}, "identity": None},
            }
        },
        version=2,
        store_id="cd" * 16,
    )
    before = path.read_bytes()
    store = SecretStore.open(path, namespace="m")
    assert store.get("a").value() == "v"  # type: ignore[union-attr]
    store.set_value("b", "w")
    with pytest.raises(StoreError, match="malformed"):
        store.save()
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match="malformed"):
        SecretStore.open(path, namespace="other")
