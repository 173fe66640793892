"""Resolving declarations: generate once, keep, re-derive on source change, report the rest."""

from __future__ import annotations

from pathlib import Path

import bcrypt
import pytest
from cryptography import x509

from mora.secrets.errors import ProviderError
from mora.secrets.provider import (
    MemoryProvider,
    Resolution,
    SecretRef,
    SecretRequest,
    StoreProvider,
    dependency_order,
    dependents_of,
)
from mora.secrets.store import SecretStore

REQUESTS = [
    SecretRequest("db_password", "password", {"length": 24}),
    SecretRequest("sonarr_key", "hex", {"bytes": 16}),
    SecretRequest("oidc_client", "password", {"length": 64}),
    SecretRequest(
        "oidc_digest",
        "pbkdf2_sha512",
        {"iterations": 1000},
        {"source": SecretRef("oidc_client")},
    ),
    SecretRequest("admin", "password"),
    SecretRequest("admin_htpasswd", "htpasswd", {"cost": 4}, {"source": SecretRef("admin")}),
    SecretRequest("ca", "tls_ca"),
    SecretRequest("web_tls", "tls_cert", {"hosts": ["a.example.org"]}, {"ca": SecretRef("ca")}),
    SecretRequest("wg", "wireguard"),
    SecretRequest("jellyfin_key", None),
]


def resolve(path: Path, requests: list[SecretRequest] = REQUESTS) -> Resolution:
    return StoreProvider(SecretStore.open(path)).resolve(requests)


def test_first_resolve_generates_and_saves(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    res = resolve(path)
    generated = [r.name for r in REQUESTS if r.generator]
    assert sorted(res.changed) == sorted(generated)
    assert res.changed.index("ca") < res.changed.index("web_tls")  # dependency order
    assert res.missing == ["jellyfin_key"] and res.stale == [] and res.orphaned == []
    assert set(res.values) == set(generated)
    assert len(res.value("db_password")) == 24
    assert res.value("wg", "public_key")
    assert SecretStore.open(path).names() == sorted(generated)


def test_resolving_again_is_byte_identical_and_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    first = resolve(path)
    raw, mtime = path.read_bytes(), path.stat().st_mtime_ns
    for _ in range(2):
        again = resolve(path)
        assert again.values == first.values
        assert again.changed == []
    assert path.read_bytes() == raw and path.stat().st_mtime_ns == mtime


def test_inputs_come_back_once_set(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    resolve(path)
    store = SecretStore.open(path)
    store.set_value("jellyfin_key", "abc123", kind="input")
    store.save()
    res = resolve(path)
    assert res.missing == [] and res.value("jellyfin_key") == "abc123"


def test_derived_secret_follows_its_source_and_nothing_else_changes(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    before = resolve(path).values
    store = SecretStore.open(path)
    store.set_value("admin", "a-new-admin-password")  # a person overrides the source
    store.save()
    res = resolve(path)
    assert res.changed == ["admin_htpasswd"]
    assert res.value("admin") == "a-new-admin-password"
    digest = res.value("admin_htpasswd").split(":", 1)[1]
    assert bcrypt.checkpw(b"a-new-admin-password", digest.encode())
    for name, parts in before.items():
        if name not in ("admin", "admin_htpasswd"):
            assert res.values[name] == parts
    assert store.get("admin_htpasswd").rotated is None  # type: ignore[union-attr]
    assert SecretStore.open(path).get("admin_htpasswd").rotated  # type: ignore[union-attr]


def test_changed_declaration_keeps_the_value_and_reports_stale(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    before = resolve(path).values
    raw = path.read_bytes()
    changed = [
        SecretRequest("db_password", "password", {"length": 40}),  # args changed
        SecretRequest("sonarr_key", "base64"),  # generator changed
        *REQUESTS[2:],
    ]
    res = resolve(path, changed)
    assert res.stale == ["db_password", "sonarr_key"]
    assert res.values["db_password"] == before["db_password"]
    assert res.values["sonarr_key"] == before["sonarr_key"]
    assert res.changed == [] and path.read_bytes() == raw


def test_equivalent_args_are_not_stale(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    resolve(path)
    explicit = [
        SecretRequest("db_password", "password", {"length": 24, "alphabet": "alphanumeric"}),
        SecretRequest(
            "web_tls", "tls_cert", {"hosts": ("a.example.org",)}, {"ca": SecretRef("ca")}
        ),
        SecretRequest("ca", "tls_ca"),
    ]
    assert resolve(path, explicit).stale == []


def test_orphans_are_reported_not_removed(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    resolve(path)
    res = resolve(path, REQUESTS[:2])
    assert res.orphaned == sorted(r.name for r in REQUESTS[2:] if r.generator)
    assert len(SecretStore.open(path)) == len(REQUESTS) - 1


def test_input_stored_under_a_now_generated_name_is_stale(tmp_path: Path) -> None:
    store = SecretStore.open(tmp_path / "s.secrets")
    store.set_value("api", "given-by-hand", kind="input")
    store.set_value("pw", "chosen", kind="set")
    store.save()
    res = StoreProvider(store).resolve(
        [SecretRequest("api", "hex"), SecretRequest("pw", "password")]
    )
    assert res.stale == ["api"]  # was an input, is now generated: rotate to generate
    assert res.value("api") == "given-by-hand" and res.value("pw") == "chosen"


def test_missing_source_blocks_its_dependents(tmp_path: Path) -> None:
    requests = [
        SecretRequest("upstream", None),
        SecretRequest("digest", "bcrypt", {"cost": 4}, {"source": SecretRef("upstream")}),
        SecretRequest("other", "uuid"),
    ]
    res = resolve(tmp_path / "s.secrets", requests)
    assert res.missing == ["upstream"] and res.blocked == ["digest"]
    assert set(res.values) == {"other"}


def test_generator_failure_is_reported_and_the_rest_still_saved(tmp_path: Path) -> None:
    requests = [
        SecretRequest("long", "password", {"length": 100}),
        SecretRequest("digest", "bcrypt", {"cost": 4}, {"source": SecretRef("long")}),
        SecretRequest("after", "bcrypt", {"cost": 4}, {"source": SecretRef("digest")}),
        SecretRequest("bad_args", "hex", {"bytes": 1}),
        SecretRequest("fine", "uuid"),
    ]
    path = tmp_path / "s.secrets"
    res = resolve(path, requests)
    messages = sorted(e.message for e in res.errors)
    assert messages[0].startswith("secret `bad_args`: hex(): `bytes` must be between")
    assert messages[1].startswith("secret `digest`: bcrypt(): bcrypt uses only the first 72")
    assert {e.secret for e in res.errors} == {"bad_args", "digest"}
    assert res.blocked == ["after"]
    assert SecretStore.open(path).names() == ["fine", "long"]


def test_part_references(tmp_path: Path) -> None:
    requests = [
        SecretRequest("ssh", "ssh_key"),
        SecretRequest("digest", "bcrypt", {"cost": 4}, {"source": SecretRef("wg", "public_key")}),
        SecretRequest("wg", "wireguard"),
    ]
    res = resolve(tmp_path / "s.secrets", requests)
    assert bcrypt.checkpw(res.value("wg", "public_key").encode(), res.value("digest").encode())
    bad = [*requests[:1], SecretRequest("x", "bcrypt", {}, {"source": SecretRef("ssh", "nope")})]
    with pytest.raises(ProviderError, match="`ssh` has no part `nope`"):
        resolve(tmp_path / "s.secrets", bad)


def test_graph_errors_name_the_secrets() -> None:
    provider = MemoryProvider()
    cyc = [
        SecretRequest("a", "bcrypt", {}, {"source": SecretRef("b")}),
        SecretRequest("b", "argon2id", {}, {"source": SecretRef("c")}),
        SecretRequest("c", "bcrypt", {}, {"source": SecretRef("a")}),
    ]
    with pytest.raises(ProviderError, match=r"cycle: a -> b -> c -> a"):
        provider.resolve(cyc)
    with pytest.raises(ProviderError, match="`a` refers to unknown secret `zz`"):
        provider.resolve([SecretRequest("a", "bcrypt", {}, {"source": SecretRef("zz")})])
    with pytest.raises(ProviderError, match="`a` is declared twice"):
        provider.resolve([SecretRequest("a", "uuid"), SecretRequest("a", "uuid")])
    with pytest.raises(ProviderError, match="unknown generator `nope\\(\\)`") as info:
        provider.resolve([SecretRequest("a", "nope")])
    assert "password" in (info.value.help or "")
    with pytest.raises(ProviderError, match="takes secret arguments"):
        provider.resolve([SecretRequest("a", "bcrypt")])
    with pytest.raises(ProviderError, match="arguments but no generator"):
        provider.resolve([SecretRequest("a", None, {"x": 1})])


def test_dependency_helpers() -> None:
    order = [r.name for r in dependency_order(REQUESTS)]
    assert order.index("oidc_client") < order.index("oidc_digest")
    assert dependents_of(REQUESTS, "ca") == ["web_tls"]
    assert dependents_of(REQUESTS, "wg") == []
    deep = [
        SecretRequest(f"s{i}", "bcrypt", {}, {"source": SecretRef(f"s{i + 1}")})
        for i in range(3000)
    ]
    deep.append(SecretRequest("s3000", "password"))
    assert dependency_order(deep)[0].name == "s3000"  # no recursion limit on long chains


def test_memory_provider_with_a_seed_is_reproducible() -> None:
    first = MemoryProvider(seed=b"golden").resolve(REQUESTS)
    second = MemoryProvider(seed=b"golden").resolve(REQUESTS)
    assert first.values == second.values
    assert first.values != MemoryProvider(seed=b"other").resolve(REQUESTS).values
    cert = x509.load_pem_x509_certificate(first.value("web_tls", "cert").encode())
    ca = x509.load_pem_x509_certificate(first.value("ca", "cert").encode())
    cert.verify_directly_issued_by(ca)


def test_memory_provider_without_seed_memoises_and_takes_inputs() -> None:
    provider = MemoryProvider(values={"jellyfin_key": "given", "tls": {"key": "k", "cert": "c"}})
    first = provider.resolve(REQUESTS)
    assert provider.resolve(REQUESTS).values == first.values
    assert first.value("jellyfin_key") == "given" and first.missing == []
    assert first.orphaned == ["tls"]
    assert MemoryProvider().resolve(REQUESTS).values["wg"] != first.values["wg"]


def test_resolution_repr_hides_values() -> None:
    res = MemoryProvider().resolve(REQUESTS)
    text = repr(res) + str(res)
    for parts in res.values.values():
        for value in parts.values():
            assert value not in text
    with pytest.raises(ProviderError, match="no part `nope`"):
        res.value("wg", "nope")
    with pytest.raises(ProviderError, match="has no value"):
        res.value("jellyfin_key")


def test_records_of_a_step_repeated_per_item_are_not_orphans(tmp_path: Path) -> None:
    """`for_each` keeps `setup.SVC.STEP[KEY]` per item; the step's declaration covers them all,
    so `mora secrets prune` must not delete them (the next apply would redo every item)."""
    from mora.secrets.commands import orphans

    store = SecretStore.open(tmp_path / "s.secrets")
    for name in (
        "setup.app.add_key",
        "setup.app.add_key[seerr]",
        "setup.app.add_key[a.b]",
        "setup.app.gone[x]",
        "setup.other.add_key[seerr]",
    ):
        store.set_value(name, "done", kind="set")
    store.save()
    requests = [SecretRequest("setup.app.add_key", None, per_item=True)]
    assert orphans(store, requests) == ["setup.app.gone[x]", "setup.other.add_key[seerr]"]
    res = StoreProvider(store).resolve(requests)
    assert res.orphaned == ["setup.app.gone[x]", "setup.other.add_key[seerr]"]
    # a step that is not repeated per item covers its own record only
    plain = [SecretRequest("setup.app.add_key", None)]
    assert "setup.app.add_key[seerr]" in orphans(store, plain)
