"""The encrypted store: round trip, keys, refusing wrong keys and modified files, no-op saves."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.secrets.errors import StoreError
from mora.secrets.store import Entry, SecretStore, default_key_path

VALUE = "pa55-Wörd-that-must-never-leak"


def make_store(path: Path) -> SecretStore:
    store = SecretStore.open(path)
    store.set_value("db_password", VALUE)
    store.put(
        Entry(
            name="wg",
            kind="generated",
            generator="wireguard",
            parts={"private_key": "PRIV", "public_key": "PUB"},
            created="2025-01-01T00:00:00Z",
        )
    )
    assert store.save()
    return store


def test_round_trip(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "site" / "home.secrets"
    store = make_store(path)
    again = SecretStore.open(path)
    assert again.names() == ["db_password", "wg"]
    assert again.get("db_password") == store.get("db_password")
    assert again.get("wg").parts == {"private_key": "PRIV", "public_key": "PUB"}  # type: ignore[union-attr]
    assert again.get("db_password").kind == "set"  # type: ignore[union-attr]
    assert again.get("missing") is None
    assert again.store_id == store.store_id


def test_file_layout_and_permissions(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "site" / "home.secrets"
    store = make_store(path)
    raw = path.read_bytes()
    assert VALUE.encode() not in raw and b"db_password" not in raw and b"PRIV" not in raw
    doc = json.loads(raw)
    assert doc["format"] == "mora-secrets" and doc["version"] == 2
    assert doc["cipher"] == "AES-256-GCM" and doc["store_id"] == store.store_id
    assert len(base64.b64decode(doc["nonce"])) == 12
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    key = Path(default_key_path(doc["store_id"]))  # text: the store imports no pathlib
    assert key.is_relative_to(isolated_env / "mora" / "keys")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(key.read_text().strip())) == 32


def test_missing_file_is_an_empty_store_and_nothing_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "s.secrets"
    store = SecretStore.open(path)
    assert store.names() == [] and not store.save()
    assert not path.parent.exists()


def test_save_only_writes_when_something_changed(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    store = SecretStore.open(path)
    assert not store.set_value("db_password", VALUE)  # same value: no change
    assert not store.save()
    store.put(store.get("wg"))  # type: ignore[arg-type]
    assert not store.dirty and not store.save()
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    store.set_value("db_password", "new")
    assert store.save()
    after = path.read_bytes()
    assert after != before
    assert json.loads(after)["nonce"] != json.loads(before)["nonce"]  # fresh nonce per write


def test_set_keeps_created_and_marks_rotated(tmp_path: Path) -> None:
    store = SecretStore.open(tmp_path / "s.secrets")
    store.set_value("x", "one", kind="input")
    first = store.get("x")
    assert first is not None and first.rotated is None and first.kind == "input"
    store.set_value("x", "two", kind="input")
    second = store.get("x")
    assert second is not None and second.created == first.created and second.rotated
    with pytest.raises(StoreError, match="kind"):
        store.set_value("x", "v", kind="generated")


def test_remove(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    store = SecretStore.open(path)
    assert store.remove("wg") and not store.remove("wg")
    store.save()
    assert SecretStore.open(path).names() == ["db_password"]


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    path = tmp_path / "s.secrets"
    make_store(path)
    assert not (tmp_path / "config").exists()  # no key file when the key comes from env
    assert SecretStore.open(path).get("db_password").value() == VALUE  # type: ignore[union-attr]
    monkeypatch.delenv("MORA_SECRETS_KEY")
    with pytest.raises(StoreError, match=r"key file .* does not exist") as info:
        SecretStore.open(path)
    assert "MORA_SECRETS_KEY" in (info.value.message + (info.value.help or ""))
    assert not (tmp_path / "config").exists()  # and no new key is ever made for it


def test_malformed_environment_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MORA_SECRETS_KEY", "tooshort-SECRETISH")
    with pytest.raises(StoreError, match="base64-encoded 32-byte key") as info:
        SecretStore.open(tmp_path / "s.secrets")
    assert "SECRETISH" not in str(info.value)


def test_wrong_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    monkeypatch.setenv("MORA_SECRETS_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(StoreError) as info:
        SecretStore.open(path)
    message = str(info.value)
    assert message.startswith(f"cannot decrypt {path}: wrong key (from MORA_SECRETS_KEY)")
    assert "or the file was modified" in message


def test_wrong_key_file(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    other = tmp_path / "other.key"
    other.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    other.chmod(0o600)
    with pytest.raises(StoreError, match=f"wrong key \\(key file {other}\\)"):
        SecretStore.open(path, key_file=other)


def test_explicit_key_file_is_created_private(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "site.key"
    store = SecretStore.open(tmp_path / "s.secrets", key_file=key)
    store.set_value("a", "b")
    store.save()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert SecretStore.open(tmp_path / "s.secrets", key_file=key).get("a").value() == "b"  # type: ignore[union-attr]


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    store = make_store(path)
    key = Path(default_key_path(store.store_id or ""))
    key.chmod(0o644)
    with pytest.raises(StoreError, match="can be read by other users") as info:
        SecretStore.open(path)
    assert info.value.help == f"run `chmod 600 {key}`"


def test_entry_repr_hides_values() -> None:
    entry = Entry(name="n", kind="set", parts={"value": VALUE}, created="t")
    assert VALUE not in repr(entry) and VALUE not in str(entry) and VALUE not in f"{entry}"
    assert "hidden" in repr(entry)


def test_in_memory_store() -> None:
    store = SecretStore.in_memory()
    store.set_value("a", "b")
    assert store.save() and store.get("a").value() == "b"  # type: ignore[union-attr]
    assert "<memory>" in repr(store)


def test_stale_temp_files_are_cleaned_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    junk = tmp_path / ".s.secrets.deadbeef0000.tmp"
    junk.write_bytes(b"half a store")
    store = SecretStore.open(path)
    store.set_value("more", "x")
    store.save()
    assert not junk.exists()
    assert SecretStore.open(path).names() == ["db_password", "more", "wg"]


def test_lock_timeout_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    fd = os.open(tmp_path / ".s.secrets.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        store = SecretStore.open(path, lock_timeout=0.2)
        store.set_value("x", "y")
        with pytest.raises(StoreError, match="locked by another mora process"):
            store.save()
    finally:
        os.close(fd)
    assert store.save()  # the change is still pending and goes through once the lock is free


def test_transaction_discards_on_error(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    store = SecretStore.open(path)
    with pytest.raises(RuntimeError), store.transaction():
        store.set_value("half", "done")
        raise RuntimeError("boom")
    assert not store.dirty
    assert SecretStore.open(path).names() == ["db_password", "wg"]


def test_save_merges_with_what_another_writer_saved(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    make_store(path)
    first, second = SecretStore.open(path), SecretStore.open(path)
    first.set_value("from_first", "1")
    second.set_value("from_second", "2")
    second.remove("wg")
    first.save()
    second.save()
    assert SecretStore.open(path).names() == ["db_password", "from_first", "from_second"]


def test_unsupported_version_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "s.secrets"
    path.write_text('{"hello": "world"}\n')
    with pytest.raises(StoreError, match="not a mora secrets store"):
        SecretStore.open(path)
    folder = tmp_path / "dir.secrets"
    folder.mkdir()
    with pytest.raises(StoreError, match="cannot read"):
        SecretStore.open(folder)


# -- tampering: any change to the file is refused with a StoreError, never anything else -----


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """A small store file and its key (module-wide so hypothesis does not rebuild it)."""
    folder = tmp_path_factory.mktemp("pristine")
    key = base64.b64encode(os.urandom(32)).decode()
    os.environ["MORA_SECRETS_KEY"] = key
    try:
        make_store(folder / "s.secrets")
    finally:
        del os.environ["MORA_SECRETS_KEY"]
    return (folder / "s.secrets").read_bytes(), key


def _open_bytes(data: bytes, folder: Path) -> SecretStore:
    path = folder / "t.secrets"
    path.write_bytes(data)
    return SecretStore.open(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_refused(
    pristine: tuple[bytes, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    position: int,
    flip: int,
) -> None:
    data, key = pristine
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    assert _open_bytes(data, tmp_path).names() == ["db_password", "wg"]
    damaged = bytearray(data)
    damaged[position % len(data)] ^= flip
    with pytest.raises(StoreError):
        _open_bytes(bytes(damaged), tmp_path)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=0))
def test_truncated_file_is_refused(
    pristine: tuple[bytes, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cut: int
) -> None:
    data, key = pristine
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    with pytest.raises(StoreError):
        _open_bytes(data[: cut % len(data)], tmp_path)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_are_refused(
    pristine: tuple[bytes, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, junk: bytes
) -> None:
    monkeypatch.setenv("MORA_SECRETS_KEY", pristine[1])
    with pytest.raises(StoreError):
        _open_bytes(junk, tmp_path)


def test_envelope_with_wrong_shape_but_valid_json_is_refused(
    pristine: tuple[bytes, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, key = pristine
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    doc = json.loads(data)
    variants = [
        {**doc, "version": 3},
        {**doc, "version": 0},
        {**doc, "cipher": "ROT13"},
        {**doc, "store_id": "../../etc/passwd"},
        {**doc, "extra": 1},
        {k: v for k, v in doc.items() if k != "nonce"},
        {**doc, "nonce": 12},
        [doc],
    ]
    for variant in variants:
        with pytest.raises(StoreError):
            _open_bytes((json.dumps(variant, sort_keys=True, indent=2) + "\n").encode(), tmp_path)
    # compact JSON with identical content is still "not as mora wrote it"
    with pytest.raises(StoreError, match="truncated or modified"):
        _open_bytes(json.dumps(doc).encode(), tmp_path)


def test_a_symlinked_store_is_written_through_and_locked_at_its_target(tmp_path: Path) -> None:
    """`--secrets link.secrets`: the real store gets the value, the link stays a link."""
    real = tmp_path / "real" / "home.secrets"
    make_store(real)
    link = tmp_path / "link.secrets"
    link.symlink_to(real)
    store = SecretStore.open(link)
    store.set_value("db_password", "new-value")
    assert store.save()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert SecretStore.open(real).get("db_password").value() == "new-value"  # type: ignore[union-attr]
    assert (real.parent / ".home.secrets.lock").exists()
    assert not (tmp_path / ".link.secrets.lock").exists()
    # the lock held on the real store's name blocks a writer that came through the link
    fd = os.open(real.parent / ".home.secrets.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        blocked = SecretStore.open(link, lock_timeout=0.1)
        blocked.set_value("x", "y")
        with pytest.raises(StoreError, match="locked by another mora process"):
            blocked.save()
    finally:
        os.close(fd)


def test_a_device_a_fifo_or_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    """`--secrets /dev/zero` is one clear error, not a read without end."""
    for special in (Path("/dev/zero"), Path("/dev/null")):
        with pytest.raises(StoreError, match="not a regular file"):
            SecretStore.open(special)
    fifo = tmp_path / "pipe.secrets"
    os.mkfifo(fifo)
    with pytest.raises(StoreError, match="not a regular file"):
        SecretStore.open(fifo)  # would block forever waiting for a writer if it were opened
    huge = tmp_path / "huge.secrets"
    with huge.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: no disk used
    with pytest.raises(StoreError, match="larger than 64 MiB"):
        SecretStore.open(huge)


def test_unused_base64_bits_in_the_ciphertext_are_a_modification(
    tmp_path: Path, isolated_env: Path
) -> None:
    """`Dls=` and `Dlv=` decode to the same bytes: the low bits of the last character before
    padding are unused by base64, so only the canonical encoding mora writes is accepted."""
    for extra in range(3):  # one of three plaintext lengths leaves base64 padding
        path = tmp_path / f"s{extra}.secrets"
        store = make_store(path)
        store.set_value("pad", "x" * (1 + extra))
        assert store.save()
        doc = json.loads(path.read_text())
        if doc["ciphertext"].endswith("="):
            break
    assert doc["ciphertext"].endswith("="), "no padded ciphertext to tamper with"
    original = doc["ciphertext"]
    text = original.rstrip("=")
    padding = original[len(text) :]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(text[-1]) ^ 1]  # the lowest bit is unused under padding
    forged = text[:-1] + twin + padding
    assert forged != original and base64.b64decode(forged) == base64.b64decode(original)
    path.write_text(path.read_text().replace(original, forged))
    with pytest.raises(StoreError, match="modified"):
        SecretStore.open(path)


def test_the_store_cipher_is_cryptographys_public_aesgcm() -> None:
    """The store loads AES-GCM from the Rust binding (no `ciphers` package): the same class the
    public `hazmat.primitives.ciphers.aead` module exports, so the files stay readable by it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from mora.secrets.store import _aesgcm

    assert _aesgcm() is AESGCM


def test_a_failure_of_the_cipher_other_than_a_wrong_key_is_not_called_a_wrong_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only cryptography's InvalidTag means "wrong key or modified"; another error propagates."""
    from mora.secrets import store as store_module

    path = tmp_path / "s.secrets"
    make_store(path)

    class Broken:
        def __init__(self, key: bytes) -> None:
            pass

        def decrypt(self, nonce: bytes, data: bytes, aad: bytes) -> bytes:
            raise MemoryError("out of memory")

    monkeypatch.setattr(store_module, "_aesgcm", lambda: Broken)
    with pytest.raises(MemoryError):
        SecretStore.open(path)
