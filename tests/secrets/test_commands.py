"""`mora secrets list|show|set|rotate|prune` logic and where stores live by default."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest

from mora.secrets.commands import (
    default_store_path,
    list_entries,
    prune,
    rotate,
    set_value,
    show,
)
from mora.secrets.errors import CommandError, StoreError
from mora.secrets.provider import SecretRef, SecretRequest, StoreProvider
from mora.secrets.store import SecretStore

REQUESTS = [
    SecretRequest("admin", "password"),
    SecretRequest("admin_bcrypt", "bcrypt", {"cost": 4}, {"source": SecretRef("admin")}),
    SecretRequest(
        "admin_argon", "argon2id", {"memory_kib": 64}, {"source": SecretRef("admin_bcrypt")}
    ),
    SecretRequest("ca", "tls_ca"),
    SecretRequest("web_tls", "tls_cert", {"hosts": ["a.example.org"]}, {"ca": SecretRef("ca")}),
    SecretRequest("api", "hex"),
    SecretRequest("jellyfin_key", None),
]


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    store = SecretStore.open(tmp_path / "s.secrets")
    StoreProvider(store).resolve(REQUESTS)
    return store


def values(store: SecretStore) -> dict[str, dict[str, str]]:
    fresh = SecretStore.open(store.path)  # type: ignore[arg-type]
    return {name: dict(fresh.get(name).parts) for name in fresh.names()}  # type: ignore[union-attr]


def test_rotate_regenerates_and_rederives_dependents_only(store: SecretStore) -> None:
    before = values(store)
    assert rotate(store, "admin", REQUESTS) == ["admin_bcrypt", "admin_argon"]
    after = values(store)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"admin", "admin_bcrypt", "admin_argon"}
    assert bcrypt.checkpw(after["admin"]["value"].encode(), after["admin_bcrypt"]["value"].encode())
    entry = SecretStore.open(store.path).get("admin")  # type: ignore[arg-type]
    assert entry is not None and entry.rotated and entry.created

    assert rotate(store, "ca", REQUESTS) == ["web_tls"]
    again = values(store)
    assert {n for n in after if after[n] != again[n]} == {"ca", "web_tls"}

    assert rotate(store, "api", REQUESTS) == []
    assert rotate(store, "admin_argon", REQUESTS) == []  # a digest alone: new salt


def test_rotate_fixes_stale(store: SecretStore) -> None:
    changed = [SecretRequest("api", "hex", {"bytes": 8}), *REQUESTS]
    changed = [r for r in changed if not (r.name == "api" and r.args == {})]
    assert StoreProvider(store).resolve(changed).stale == ["api"]
    rotate(store, "api", changed)
    res = StoreProvider(SecretStore.open(store.path)).resolve(changed)  # type: ignore[arg-type]
    assert res.stale == [] and len(res.value("api")) == 16


def test_rotate_refuses_inputs_and_unknown_names(store: SecretStore) -> None:
    with pytest.raises(CommandError, match="input or a value you set") as info:
        rotate(store, "jellyfin_key", REQUESTS)
    assert info.value.help == "give it a new value with `mora secrets set jellyfin_key`"
    with pytest.raises(CommandError, match="no secret named `nope`"):
        rotate(store, "nope", REQUESTS)
    with pytest.raises(CommandError, match="no longer declared"):
        rotate(store, "api", REQUESTS[:2])
    waiting = [
        *REQUESTS,
        SecretRequest("key_digest", "bcrypt", {"cost": 4}, {"source": SecretRef("jellyfin_key")}),
    ]
    with pytest.raises(CommandError, match="derives from `jellyfin_key`, which has no value yet"):
        rotate(store, "key_digest", waiting)


def test_show(store: SecretStore) -> None:
    assert show(store, "api") == values(store)["api"]["value"]
    assert show(store, "ca", "cert").startswith("-----BEGIN CERTIFICATE-----")
    with pytest.raises(CommandError, match="several parts \\(key, cert\\)"):
        show(store, "ca")
    with pytest.raises(CommandError, match="no part `nope`"):
        show(store, "ca", "nope")
    with pytest.raises(CommandError, match="no value is stored for `jellyfin_key`"):
        show(store, "jellyfin_key")


def test_set_value(store: SecretStore) -> None:
    assert set_value(store, "jellyfin_key", "k3y", kind="input", requests=REQUESTS)
    assert not set_value(store, "jellyfin_key", "k3y", kind="input")
    assert show(SecretStore.open(store.path), "jellyfin_key") == "k3y"  # type: ignore[arg-type]
    with pytest.raises(CommandError, match="parts key, cert"):
        set_value(store, "ca", "x", requests=REQUESTS)
    with pytest.raises(CommandError, match="no secret or input named"):
        set_value(store, "typo", "x", requests=REQUESTS)
    with pytest.raises(CommandError, match="empty"):
        set_value(store, "jellyfin_key", "")


def test_list_entries_statuses_without_values(store: SecretStore) -> None:
    store.set_value("old_secret", "leftover")
    store.set_value("admin", "overridden-by-hand")
    store.save()
    declared = [
        SecretRequest("api", "hex", {"bytes": 8}) if r.name == "api" else r for r in REQUESTS
    ]
    rows = {row.name: row for row in list_entries(store, declared)}
    assert rows["jellyfin_key"].status == "missing" and rows["jellyfin_key"].kind is None
    assert rows["api"].status == "stale"
    assert rows["admin"].status == "ok" and rows["admin"].kind == "set"
    assert rows["admin_bcrypt"].status == "outdated"  # its source was changed by hand
    assert rows["old_secret"].status == "orphaned"
    assert rows["web_tls"].status == "ok" and rows["web_tls"].parts == ("key", "cert", "chain")
    assert rows["ca"].generator == "tls_ca" and rows["ca"].created
    assert list(rows) == sorted(rows)
    text = repr(list(rows.values()))
    for parts in values(store).values():
        for value in parts.values():
            assert value not in text


def test_prune(store: SecretStore) -> None:
    removed = prune(store, REQUESTS[:3])
    assert removed == ["api", "ca", "web_tls"]
    assert SecretStore.open(store.path).names() == ["admin", "admin_argon", "admin_bcrypt"]  # type: ignore[arg-type]
    assert prune(store, REQUESTS[:3]) == []


# -- where the store lives ------------------------------------------------------------------


def test_default_store_path(tmp_path: Path) -> None:
    project = tmp_path / "repo" / "projects" / "media"
    project.mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()

    # Text paths (the store imports no pathlib), spelled as `str(Path)` spells them.
    explicit = default_store_path(project, "media", None, Path("my.secrets"), home)
    assert explicit == str(home / "my.secrets")
    # explicit wins even inside the project: the person asked for it
    inside = default_store_path(project, "media", None, project / "x.secrets", home)
    assert inside == str(project / "x.secrets")
    assert default_store_path(project, "media", None, "./a//b/../x.secrets/", str(home)) == (
        f"{home}/a/b/../x.secrets"
    )

    site = home / "sites" / "example.mora-site"
    assert default_store_path(project, "media", site, None, home) == str(
        site.parent / "example.secrets"
    )
    relative = default_store_path(project, "media", Path("sites/example.yaml"), None, home)
    assert relative == str(home / "sites" / "example.secrets")
    # `Path.stem`: a name ending in a dot keeps it
    assert default_store_path(project, "media", "x.", None, home) == f"{home}/x..secrets"

    repo_root = tmp_path / "repo"
    assert default_store_path(project, "media", None, None, repo_root) == str(
        repo_root / ".mora" / "site.secrets"
    )


def test_store_inside_the_project_is_refused_with_help(tmp_path: Path) -> None:
    project = tmp_path / "repo" / "projects" / "media"
    (project / "sub").mkdir(parents=True)
    with pytest.raises(StoreError) as info:
        default_store_path(project, "media", None, None, project / "sub")
    message, help_text = info.value.message, info.value.help or ""
    assert "inside the project" in message and "must never hold" in message
    assert "--secrets" in help_text and "site file" in help_text
    assert f"cd {project.parent} && mora compile media" in help_text
    with pytest.raises(StoreError, match="next to the site file"):
        default_store_path(project, "media", project / "site.yaml", None, tmp_path)
