"""The encrypted per-site secret store: one AES-256-GCM encrypted JSON file per site.

Why it looks like this:
- one key per store, kept outside any repository (or in an environment variable), so a shared
  project can never carry a site's secrets and a leaked store file is useless on its own;
- authenticated encryption over the whole file (the header is associated data), so a modified
  or truncated file is refused instead of silently regenerating values;
- atomic replace + fsync and a lock around read-modify-write, so neither a crash nor a second
  mora process can lose a value that was once saved.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import glob
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mora.secrets.errors import StoreError
from mora.secrets.generators import GENERATORS

__all__ = [
    "CIPHER",
    "FORMAT",
    "KEY_ENV",
    "KINDS",
    "VERSION",
    "Entry",
    "SecretStore",
    "default_key_path",
    "now_iso",
]

FORMAT = "mora-secrets"
VERSION = 1
CIPHER = "AES-256-GCM"
KEY_ENV = "MORA_SECRETS_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: "generated" by a generator, an "input" answered during `mora setup`, or "set" by hand
KINDS = ("generated", "input", "set")

_STORE_ID = re.compile(r"^[0-9a-f]{32}$")
_HEADER_KEYS = ("cipher", "format", "store_id", "version")
_ENVELOPE_KEYS = frozenset({*_HEADER_KEYS, "nonce", "ciphertext"})
_ENTRY_KEYS = frozenset(
    {"kind", "generator", "args", "parts", "source_fingerprints", "created", "rotated"}
)


def now_iso() -> str:
    """UTC time to the second; timestamps live only inside the store, never in outputs."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, kw_only=True)
class Entry:
    """One stored secret. Its repr and str never show the values."""

    name: str
    kind: str
    generator: str | None = None
    args: Mapping[str, object] = field(default_factory=dict)
    parts: Mapping[str, str] = field(default_factory=dict)
    source_fingerprints: Mapping[str, str] = field(default_factory=dict)
    created: str = ""
    rotated: str | None = None

    def __post_init__(self) -> None:
        # Private copies, so nobody mutates a stored entry behind the store's back.
        object.__setattr__(self, "args", dict(self.args))
        object.__setattr__(self, "parts", dict(self.parts))
        object.__setattr__(self, "source_fingerprints", dict(self.source_fingerprints))

    def __repr__(self) -> str:
        parts = ", ".join(self.parts)
        return (
            f"Entry(name={self.name!r}, kind={self.kind!r}, generator={self.generator!r}, "
            f"parts=<hidden: {parts}>, created={self.created!r}, rotated={self.rotated!r})"
        )

    __str__ = __repr__

    def value(self, part: str | None = None) -> str:
        """One part's text; `None` means the single `value` part."""
        key = part or "value"
        if key not in self.parts:
            raise StoreError(
                f"secret `{self.name}` has no part `{key}` (parts: {', '.join(self.parts)})",
                secret=self.name,
            )
        return self.parts[key]

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "generator": self.generator,
            "args": dict(self.args),
            "parts": dict(self.parts),
            "source_fingerprints": dict(self.source_fingerprints),
            "created": self.created,
            "rotated": self.rotated,
        }

    @classmethod
    def from_json(cls, name: str, data: object, where: str = "store") -> Entry:
        """Rebuild an entry, refusing anything malformed (messages never quote values)."""

        def bad(what: str) -> StoreError:
            return StoreError(f"{where}: entry `{name}` is malformed ({what})", secret=name)

        if not isinstance(data, dict) or set(data) != _ENTRY_KEYS:
            raise bad("unexpected fields")
        kind, generator = data["kind"], data["generator"]
        if kind not in KINDS:
            raise bad("kind")
        if generator is not None and not isinstance(generator, str):
            raise bad("generator")
        if not isinstance(data["args"], dict):
            raise bad("args")
        parts, fps = data["parts"], data["source_fingerprints"]
        if not _str_map(parts) or not parts:
            raise bad("parts")
        if not _str_map(fps):
            raise bad("source_fingerprints")
        created, rotated = data["created"], data["rotated"]
        if not isinstance(created, str) or not (rotated is None or isinstance(rotated, str)):
            raise bad("dates")
        gen = GENERATORS.get(generator) if generator else None
        if gen is not None:  # the file stores keys sorted; give parts back in declared order
            rank = {part: i for i, part in enumerate(gen.parts)}
            parts = dict(sorted(parts.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
        return cls(
            name=name,
            kind=kind,
            generator=generator,
            args=data["args"],
            parts=parts,
            source_fingerprints=fps,
            created=created,
            rotated=rotated,
        )


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def default_key_path(store_id: str) -> Path:
    """`$XDG_CONFIG_HOME/mora/keys/<store-id>.key` (or ~/.config/...): never inside a project."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not base or not os.path.isabs(base):  # the XDG spec says to ignore relative values
        try:
            base = str(Path.home() / ".config")
        except RuntimeError as exc:
            raise StoreError(
                "cannot find a home directory for the secrets key file",
                help=f"set {KEY_ENV}, XDG_CONFIG_HOME, or pass a key file",
            ) from exc
    return Path(base) / "mora" / "keys" / f"{store_id}.key"


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise StoreError(
            f"{where} must hold a base64-encoded {KEY_BYTES}-byte key",
            help="e.g. the output of `head -c 32 /dev/urandom | base64`",
        )
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise StoreError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if mode & 0o077:
            raise StoreError(
                f"key file {path} can be read by other users (mode {mode & 0o777:o})",
                help=f"run `chmod 600 {path}`",
            )
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(4096)
    finally:
        os.close(fd)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    return _decode_key(text, f"key file {path}")


def _make_private_dir(path: Path) -> None:
    if path.is_dir():
        return
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create directory {path}: {exc.strerror}") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_key_file(path: Path) -> bytes:
    _make_private_dir(path.parent)
    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create key file {path}: {exc.strerror}") from None
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)
    return key


# --------------------------------------------------------------------------------------------
# The file format
# --------------------------------------------------------------------------------------------


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


def _aad(header: Mapping[str, object]) -> bytes:
    return _canonical({k: header[k] for k in _HEADER_KEYS})


def _render_envelope(doc: Mapping[str, object]) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode("ascii")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _parse_envelope(path: Path, data: bytes) -> tuple[dict[str, object], bytes, bytes]:
    """Header, nonce and ciphertext; anything not exactly as mora writes it is refused."""
    modified = f"{path} is not a valid mora secrets store: it was truncated or modified"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError(modified) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f"{path} is not a mora secrets store (no `format: {FORMAT}`)")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise StoreError(
            f"{path} is a version {version!r} secrets store; this mora reads version {VERSION}",
            help="use the mora release that wrote it, or a newer one",
        )
    if set(doc) != _ENVELOPE_KEYS or doc["cipher"] != CIPHER:
        raise StoreError(modified)
    store_id, nonce, ciphertext = doc["store_id"], doc["nonce"], doc["ciphertext"]
    if not isinstance(store_id, str) or not _STORE_ID.match(store_id):
        raise StoreError(modified)
    if not isinstance(nonce, str) or not isinstance(ciphertext, str):
        raise StoreError(modified)
    try:
        raw_nonce = base64.b64decode(nonce, validate=True)
        raw_ct = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(modified) from None
    if len(raw_nonce) != NONCE_BYTES or len(raw_ct) < TAG_BYTES:
        raise StoreError(modified)
    # Only the exact bytes mora writes are accepted: whitespace or base64 padding bits that
    # JSON and base64 would tolerate are still a modification.
    if _render_envelope(doc) != data:
        raise StoreError(modified)
    return doc, raw_nonce, raw_ct


def _parse_entries(path: Path, plaintext: bytes) -> dict[str, Entry]:
    try:
        doc = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError(f"{path}: decrypted content is not valid JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"entries"} or not isinstance(doc["entries"], dict):
        raise StoreError(f"{path}: decrypted content has an unexpected shape")
    return {name: Entry.from_json(name, data, str(path)) for name, data in doc["entries"].items()}


def _atomic_write(path: Path, data: bytes) -> None:
    """Write a sibling temp file, fsync it, rename it over `path`, fsync the directory.

    A reader (or a crash at any instant) sees either the old file or the new one, never a mix.
    """
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class SecretStore:
    """A site's secrets: read once, changed in memory, written back atomically by `save()`."""

    def __init__(
        self,
        path: Path | None,
        *,
        key_env: str | None = KEY_ENV,
        key_file: Path | None = None,
        lock_timeout: float = 60.0,
    ) -> None:
        self.path = path
        self._key_env = key_env
        self._key_file = Path(key_file) if key_file is not None else None
        self._lock_timeout = lock_timeout
        self._keys: dict[str, bytes] = {}
        self._store_id: str | None = None
        self._base: dict[str, Entry] = {}
        self._changes: dict[str, Entry | None] = {}
        self._lock_depth = 0

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        key_env: str | None = KEY_ENV,
        key_file: Path | str | None = None,
        lock_timeout: float = 60.0,
    ) -> SecretStore:
        """Open (and decrypt) a store file; a missing file is an empty store.

        The key comes from the environment variable `key_env` if it is set, else from
        `key_file`, else from the default key file for this store (see `default_key_path`).
        """
        store = cls(
            Path(path),
            key_env=key_env,
            key_file=Path(key_file) if key_file is not None else None,
            lock_timeout=lock_timeout,
        )
        env_key = store._env_key()  # a malformed variable fails now, not at the first write
        if env_key is not None:
            store._keys["env"] = env_key
        store.reload()
        return store

    @classmethod
    def in_memory(cls) -> SecretStore:
        """A store that lives only in this process (tests, `mora check`)."""
        return cls(None, key_env=None)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "<memory>"
        return f"SecretStore({where}, {len(self.names())} entries)"

    @property
    def store_id(self) -> str | None:
        """The random id in the file header that names the default key file."""
        return self._store_id

    @property
    def dirty(self) -> bool:
        """True if there are changes that `save()` has not written yet."""
        return bool(self._changes)

    # -- reading -------------------------------------------------------------------------

    def get(self, name: str) -> Entry | None:
        if name in self._changes:
            return self._changes[name]
        return self._base.get(name)

    def names(self) -> list[str]:
        names = set(self._base) | {n for n, e in self._changes.items() if e is not None}
        return sorted(n for n in names if self.get(n) is not None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        return len(self.names())

    # -- changing ------------------------------------------------------------------------

    def put(self, entry: Entry) -> None:
        """Record an entry (written by the next `save()`)."""
        if not isinstance(entry.name, str) or not entry.name:
            raise StoreError("a secret needs a non-empty name")
        if self._base.get(entry.name) == entry:
            self._changes.pop(entry.name, None)
        else:
            self._changes[entry.name] = entry

    def set_value(self, name: str, value: str, kind: str = "set") -> bool:
        """Store a value given by a person (`set`) or answered during setup (`input`)."""
        if kind not in ("set", "input"):
            raise StoreError(f'kind must be "set" or "input", not {kind!r}', secret=name)
        if not isinstance(value, str):
            raise StoreError(f"the value for `{name}` must be text", secret=name)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise StoreError(f"the value for `{name}` is not valid text", secret=name) from None
        old = self.get(name)
        if old is not None and old.kind == kind and old.parts == {"value": value}:
            return False
        now = now_iso()
        self.put(
            Entry(
                name=name,
                kind=kind,
                parts={"value": value},
                created=old.created if old is not None else now,
                rotated=now if old is not None else None,
            )
        )
        return True

    def remove(self, name: str) -> bool:
        if self.get(name) is None:
            return False
        if name in self._base:
            self._changes[name] = None
        else:
            self._changes.pop(name, None)
        return True

    def discard(self) -> None:
        """Forget unsaved changes."""
        self._changes.clear()

    def reload(self) -> None:
        """Re-read the file (keeping unsaved changes on top of what is there now)."""
        if self.path is None:
            return
        disk = self._read_disk()
        if disk is None:
            self._base = {}
        else:
            self._store_id, self._base = disk

    def save(self) -> bool:
        """Write pending changes, merged onto the file's current content; False if no write.

        Runs under the store's lock and re-reads the file first, so values another process
        saved meanwhile are kept.
        """
        if not self._changes:
            return False
        if self.path is None:
            self._base = self._merged(self._base)
            self._changes.clear()
            return True
        with self._locked():
            disk = self._read_disk()
            store_id, base = disk if disk is not None else (self._store_id, {})
            merged = self._merged(base)
            wrote = False
            if merged != base:
                if store_id is None:
                    store_id = secrets.token_hex(16)
                self._write(store_id, self._key_for(store_id, create=True), merged)
                wrote = True
            self._store_id, self._base = store_id, merged
            self._changes.clear()
            return wrote

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SecretStore]:
        """Hold the lock, re-read, let the caller change things, save; nothing is saved on error.

        Use it for read-modify-write that must see other processes' latest values.
        """
        with self._locked():
            self.reload()
            try:
                yield self
            except BaseException:
                self.discard()
                raise
            self.save()

    # -- internals -----------------------------------------------------------------------

    def _merged(self, base: Mapping[str, Entry]) -> dict[str, Entry]:
        merged = dict(base)
        for name, entry in self._changes.items():
            if entry is None:
                merged.pop(name, None)
            else:
                merged[name] = entry
        return merged

    def _env_key(self) -> bytes | None:
        if not self._key_env:
            return None
        text = os.environ.get(self._key_env, "")
        if not text.strip():
            return None
        return _decode_key(text, f"environment variable {self._key_env}")

    def _key_path(self, store_id: str) -> Path:
        return self._key_file if self._key_file is not None else default_key_path(store_id)

    def _key_description(self, store_id: str) -> str:
        if "env" in self._keys:
            return f"from {self._key_env}"
        return f"key file {self._key_path(store_id)}"

    def _key_for(self, store_id: str, *, create: bool) -> bytes:
        if "env" in self._keys:
            return self._keys["env"]
        if store_id in self._keys:
            return self._keys[store_id]
        path = self._key_path(store_id)
        if path.exists():
            key = _read_key_file(path)
        elif create:
            key = _create_key_file(path)
        else:
            raise StoreError(
                f"cannot open {self.path}: its key file {path} does not exist"
                + (f" and {self._key_env} is not set" if self._key_env else ""),
                help=f"set {self._key_env} to the store's key (base64), or pass its key file; "
                "mora never makes a new key for an existing store",
            )
        self._keys[store_id] = key
        return key

    def _read_disk(self) -> tuple[str, dict[str, Entry]] | None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from None
        header, nonce, ciphertext = _parse_envelope(self.path, data)
        store_id = str(header["store_id"])
        key = self._key_for(store_id, create=False)
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, _aad(header))
        except InvalidTag:
            raise StoreError(
                f"cannot decrypt {self.path}: wrong key ({self._key_description(store_id)}) "
                "or the file was modified",
                help="mora will not regenerate secrets over a store it cannot read",
            ) from None
        return store_id, _parse_entries(self.path, plaintext)

    def _write(self, store_id: str, key: bytes, entries: Mapping[str, Entry]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self.path is not None
        plaintext = _canonical({"entries": {n: entries[n].to_json() for n in sorted(entries)}})
        header: dict[str, object] = {
            "cipher": CIPHER,
            "format": FORMAT,
            "store_id": store_id,
            "version": VERSION,
        }
        nonce = secrets.token_bytes(NONCE_BYTES)  # fresh for every write: GCM demands it
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(header))
        doc = {**header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        try:
            _atomic_write(self._target(), _render_envelope(doc))
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None

    def _target(self) -> Path:
        """The file the store really is: `--secrets link.secrets` writes through the link.

        Replacing the link itself would turn it into a regular file and leave the real store
        with the old values.
        """
        assert self.path is not None
        return Path(os.path.realpath(self.path))

    def _remove_stale_temps(self) -> None:
        # Only called under the lock: any temp file left is from a writer that died.
        target = self._target()
        for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.path is None or self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        target = self._target()
        _make_private_dir(target.parent)
        # Hidden, next to the real store (flock needs the same file system; two names for one
        # store must take one lock).
        lock_path = target.with_name("." + target.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open lock file {lock_path}: {exc.strerror}") from None
        try:
            deadline = time.monotonic() + self._lock_timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise StoreError(f"cannot lock {lock_path}: {exc.strerror}") from None
                    if time.monotonic() >= deadline:
                        raise StoreError(
                            f"{self.path} is locked by another mora process "
                            f"(waited {self._lock_timeout:g}s for {lock_path})"
                        ) from None
                    time.sleep(0.01)
            self._lock_depth = 1
            try:
                self._remove_stale_temps()
                yield
            finally:
                self._lock_depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
