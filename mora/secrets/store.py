"""The encrypted per-site secret store: one AES-256-GCM encrypted JSON file per site.

Inside it, each project has a namespace of its own, bound on first use to the project's identity
(see `mora.secrets.identity`): a foreign project cannot read another's values by naming itself
after it, and two projects sharing one site never see each other's secrets as orphans.

Why it looks like this:
- one key per store, kept outside any repository (or in an environment variable), so a shared
  project can never carry a site's secrets and a leaked store file is useless on its own;
- authenticated encryption over the whole file (the header is associated data), so a modified
  or truncated file is refused instead of silently regenerating values;
- atomic replace + fsync and a lock around read-modify-write, so neither a crash nor a second
  mora process can lose a value that was once saved.
"""

from __future__ import annotations

import binascii  # not base64, which also loads struct: b64decode/b64encode are these calls
import contextlib
import errno
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from stat import S_ISDIR, S_ISREG

from mora import paths
from mora.record import Record, field, replace
from mora.secrets.errors import StoreError
from mora.secrets.generators import GENERATORS
from mora.secrets.identity import ProjectIdentity
from mora.source import ReadRefused, read_bounded

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up
if TYPE_CHECKING:
    from os import PathLike

    StrPath = str | PathLike[str]

__all__ = [
    "CIPHER",
    "DEFAULT_NAMESPACE",
    "FORMAT",
    "KEY_ENV",
    "KINDS",
    "VERSION",
    "Entry",
    "SecretStore",
    "default_key_path",
    "default_store_path",
    "legacy_store_path",
    "migrate_legacy",
    "now_iso",
]

FORMAT = "mora-secrets"
#: written by this mora; version 1 (one project per file, no namespaces) is read and migrated
VERSION = 2
READABLE_VERSIONS = (1, 2)
#: the namespace of a store opened without naming one (library use, tests)
DEFAULT_NAMESPACE = "default"
CIPHER = "AES-256-GCM"
KEY_ENV = "MORA_SECRETS_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: "generated" by a generator, an "input" answered during `mora setup`, or "set" by hand
KINDS = ("generated", "input", "set")

_STORE_ID = r"^[0-9a-f]{32}$"  # compiled on first use (re's cache)
_HEADER_KEYS = ("cipher", "format", "store_id", "version")
_ENVELOPE_KEYS = frozenset({*_HEADER_KEYS, "nonce", "ciphertext"})
_ENTRY_KEYS = frozenset(
    {"kind", "generator", "args", "parts", "source_fingerprints", "created", "rotated"}
)


def now_iso() -> str:
    """UTC time to the second; timestamps live only inside the store, never in outputs."""
    from datetime import UTC, datetime  # only when an entry is written

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------


class Entry(Record, frozen=True):
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


def default_key_path(store_id: str) -> str:
    """`$XDG_CONFIG_HOME/mora/keys/<store-id>.key` (or ~/.config/...): never inside a project."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not base or not os.path.isabs(base):  # the XDG spec says to ignore relative values
        home = os.path.expanduser("~")
        if home.startswith("~"):  # where `Path.home()` raises
            raise StoreError(
                "cannot find a home directory for the secrets key file",
                help=f"set {KEY_ENV}, XDG_CONFIG_HOME, or pass a key file",
            )
        base = paths.join(home, ".config")
    return paths.join(base, "mora", "keys", f"{store_id}.key")


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = binascii.a2b_base64(text.strip(), strict_mode=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise StoreError(
            f"{where} must hold a base64-encoded {KEY_BYTES}-byte key",
            help="e.g. the output of `head -c 32 /dev/urandom | base64`",
        )
    return key


def _read_key_file(path: str) -> bytes:
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


def _make_private_dir(path: str) -> None:
    if S_ISDIR(paths.mode(path)):
        return
    try:  # as `Path.mkdir(0o700, parents=True)`: only the last folder is made private
        os.makedirs(path, 0o700, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create directory {path}: {exc.strerror}") from None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_key_file(path: str) -> bytes:
    _make_private_dir(paths.parent(path))
    import secrets  # (random, hmac...): only where a key, nonce or name is made

    key = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return _read_key_file(path)
    except OSError as exc:
        raise StoreError(f"cannot create key file {path}: {exc.strerror}") from None
    try:
        os.write(fd, binascii.b2a_base64(key))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(paths.parent(path))
    return key


# --------------------------------------------------------------------------------------------
# The file format
# --------------------------------------------------------------------------------------------


def _aesgcm() -> type:
    """cryptography's AES-GCM class, the store's one primitive, loaded when a store is opened.

    The public module (`hazmat.primitives.ciphers.aead`) is the same class re-exported, but
    importing it loads the whole `ciphers` package with every cipher and mode (~4-5 ms of a
    small compile, docs/performance.md); the Rust binding that defines it is enough. A
    cryptography without that layout falls back to the public name."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        return openssl.aead.AESGCM  # type: ignore[no-any-return]
    except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("ascii")


def _aad(header: Mapping[str, object]) -> bytes:
    return _canonical({k: header[k] for k in _HEADER_KEYS})


def _render_envelope(doc: Mapping[str, object]) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode("ascii")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _parse_envelope(path: str, data: bytes) -> tuple[dict[str, object], bytes, bytes]:
    """Header, nonce and ciphertext; anything not exactly as mora writes it is refused."""
    modified = f"{path} is not a valid mora secrets store: it was truncated or modified"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError(modified) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StoreError(f"{path} is not a mora secrets store (no `format: {FORMAT}`)")
    version = doc.get("version")
    if (
        not isinstance(version, int)
        or isinstance(version, bool)
        or version not in READABLE_VERSIONS
    ):
        raise StoreError(
            f"{path} is a version {version!r} secrets store; this mora reads versions "
            + ", ".join(str(v) for v in READABLE_VERSIONS),
            help="use the mora release that wrote it, or a newer one",
        )
    if set(doc) != _ENVELOPE_KEYS or doc["cipher"] != CIPHER:
        raise StoreError(modified)
    store_id, nonce, ciphertext = doc["store_id"], doc["nonce"], doc["ciphertext"]
    if not isinstance(store_id, str) or not re.match(_STORE_ID, store_id):
        raise StoreError(modified)
    if not isinstance(nonce, str) or not isinstance(ciphertext, str):
        raise StoreError(modified)
    try:
        raw_nonce = binascii.a2b_base64(nonce, strict_mode=True)
        raw_ct = binascii.a2b_base64(ciphertext, strict_mode=True)
    except (binascii.Error, ValueError):
        raise StoreError(modified) from None
    if len(raw_nonce) != NONCE_BYTES or len(raw_ct) < TAG_BYTES:
        raise StoreError(modified)
    # base64 ignores the unused low bits of its last character: `Dls=` and `Dlv=` decode alike.
    if _b64(raw_nonce) != nonce or _b64(raw_ct) != ciphertext:
        raise StoreError(modified)
    # Only the exact bytes mora writes are accepted: whitespace that JSON would tolerate is
    # still a modification.
    if _render_envelope(doc) != data:
        raise StoreError(modified)
    return doc, raw_nonce, raw_ct


class _Namespace(Record, frozen=True):
    """One project's part of a store: who claimed it (None: nobody yet) and its entries."""

    identity: ProjectIdentity | None
    entries: dict[str, Entry]


def _parse_entries(path: str, where: str, entries: object) -> dict[str, Entry]:
    if not isinstance(entries, dict):
        raise StoreError(f"{path}: decrypted content has an unexpected shape")
    return {name: Entry.from_json(name, data, where) for name, data in entries.items()}


def _parse_namespaces(
    path: str, plaintext: bytes, version: int, legacy_namespace: str, only: str | None = None
) -> dict[str, _Namespace | None]:
    """Namespaces of a decrypted store; a version 1 store is one unclaimed namespace.

    With `only`, the entries of that namespace alone are read (the others map to None, their
    shape and identity still checked): a compile of one project in a site that also holds a
    1,000-service project's secrets would otherwise rebuild every one of them on each run.
    `save` reads them all, so nothing is written back unchecked."""
    try:
        doc = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError(f"{path}: decrypted content is not valid JSON") from None
    shape = f"{path}: decrypted content has an unexpected shape"
    if version == 1:
        # One project per file, as every store before namespaces: its entries become the
        # namespace of the project opening it, claimed at the next write. No value is lost.
        if not isinstance(doc, dict) or set(doc) != {"entries"}:
            raise StoreError(shape)
        return {legacy_namespace: _Namespace(None, _parse_entries(path, str(path), doc["entries"]))}
    if not isinstance(doc, dict) or set(doc) != {"namespaces"}:
        raise StoreError(shape)
    spaces = doc["namespaces"]
    if not isinstance(spaces, dict):
        raise StoreError(shape)
    out: dict[str, _Namespace | None] = {}
    for ns, data in spaces.items():
        if not ns or not isinstance(data, dict) or set(data) != {"entries", "identity"}:
            raise StoreError(shape)
        identity = None
        if data["identity"] is not None:
            identity = ProjectIdentity.from_json(data["identity"])
            if identity is None:
                raise StoreError(f"{path}: namespace `{ns}` has a malformed identity")
        if only is not None and ns != only:
            if not isinstance(data["entries"], dict):
                raise StoreError(f"{path}: decrypted content has an unexpected shape")
            out[ns] = None
            continue
        out[ns] = _Namespace(identity, _parse_entries(path, f"{path} [{ns}]", data["entries"]))
    return out


def _namespaces_json(spaces: Mapping[str, _Namespace]) -> dict[str, object]:
    return {
        "namespaces": {
            ns: {
                "entries": {n: space.entries[n].to_json() for n in sorted(space.entries)},
                "identity": space.identity.to_json() if space.identity is not None else None,
            }
            for ns, space in sorted(spaces.items())
        }
    }


#: a store larger than this is refused rather than read (`--secrets /dev/zero` must not eat memory)
MAX_STORE_BYTES = 64 * 1024 * 1024


def _read_store_file(path: str) -> bytes | None:
    """The file's bytes, None if it does not exist; only a regular file of bounded size."""
    try:
        return read_bounded(path, MAX_STORE_BYTES)
    except FileNotFoundError:
        return None
    except ReadRefused as refused:
        if refused.why == "not-regular":
            raise StoreError(f"cannot read {path}: not a regular file") from None
        raise StoreError(
            f"{path} is larger than {MAX_STORE_BYTES // (1024 * 1024)} MiB: not a mora "
            "secrets store"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None


def atomic_write(path: StrPath, data: bytes) -> None:
    """Write a sibling temp file, fsync it, rename it over `path`, fsync the directory.

    A reader (or a crash at any instant) sees either the old file or the new one, never a mix.
    """
    path = paths.pure(path)
    directory = paths.parent(path)
    import secrets

    tmp = paths.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
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
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class SecretStore:
    """One project's namespace in a site's store: read once, changed in memory, written back
    atomically by `save()` (other namespaces in the file are kept as they are on disk).

    With an `identity`, the namespace is bound to it: opening a namespace another project
    claimed is refused unless `adopt` is set (a moved checkout), and the first write records it.
    """

    def __init__(
        self,
        path: StrPath | None,
        *,
        key_env: str | None = KEY_ENV,
        key_file: StrPath | None = None,
        lock_timeout: float = 60.0,
        namespace: str = DEFAULT_NAMESPACE,
        identity: ProjectIdentity | None = None,
        adopt: bool = False,
    ) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise StoreError("a secrets namespace needs a non-empty name")
        #: the store file as given (`str(Path(path))`); None for a store in memory
        self.path = paths.pure(path) if path is not None else None
        self.namespace = namespace
        self.identity = identity
        self._adopt = adopt
        self._key_env = key_env
        self._key_file = paths.pure(key_file) if key_file is not None else None
        self._lock_timeout = lock_timeout
        self._keys: dict[str, bytes] = {}
        self._store_id: str | None = None
        self._base: dict[str, Entry] = {}
        self._changes: dict[str, Entry | None] = {}
        self._lock_depth = 0
        #: the identity recorded for this namespace on disk (None: unclaimed or new)
        self.recorded_identity: ProjectIdentity | None = None
        #: the format version of the file as read (None: no file yet)
        self.disk_version: int | None = None
        #: the namespaces in the file as read, this one included
        self.namespaces: list[str] = []
        #: set by the `save()` that created the file (the CLI says so once)
        self.created_file = False
        #: a pre-namespace store moved into this one (see `commands.migrate_legacy`)
        self.migrated_from: str | None = None

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: StrPath,
        *,
        key_env: str | None = KEY_ENV,
        key_file: StrPath | None = None,
        lock_timeout: float = 60.0,
        namespace: str = DEFAULT_NAMESPACE,
        identity: ProjectIdentity | None = None,
        adopt: bool = False,
    ) -> SecretStore:
        """Open (and decrypt) a store file; a missing file is an empty store.

        The key comes from the environment variable `key_env` if it is set, else from
        `key_file`, else from the default key file for this store (see `default_key_path`).
        `namespace` and `identity` say whose part of the store this is (see the class).
        """
        store = cls(
            path,
            key_env=key_env,
            key_file=key_file,
            lock_timeout=lock_timeout,
            namespace=namespace,
            identity=identity,
            adopt=adopt,
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
        return f"SecretStore({where} [{self.namespace}], {len(self.names())} entries)"

    @property
    def store_id(self) -> str | None:
        """The random id in the file header that names the default key file."""
        return self._store_id

    @property
    def dirty(self) -> bool:
        """True if `save()` has something to write: changes, or a namespace to claim."""
        return bool(self._changes) or self._claim_pending()

    def key_location(self) -> str:
        """Where this store's key is (for the note a new store gets); never the key itself."""
        if self._store_id is None:
            return "not created yet"
        if "env" in self._keys:
            return f"the environment variable {self._key_env}"
        return str(self._key_path(self._store_id))

    def _claim_pending(self) -> bool:
        """An existing namespace that nobody claimed (a migrated store), or one to adopt."""
        if self.identity is None or self.path is None or self.namespace not in self.namespaces:
            return False
        if self.recorded_identity is None:
            return True
        return self._adopt and self.recorded_identity != self.identity

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

    def rename(self, old: str, new: str) -> bool:
        """Re-key `old` as `new` (a `moved` service); the old value replaces one under `new`,
        since the old one is what the service's data was made with. False if `old` is absent."""
        entry = self.get(old)
        if entry is None:
            return False
        self.put(replace(entry, name=new))
        self.remove(old)
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
        disk = self._read_disk(only=self.namespace)
        if disk is None:
            self._base, self.recorded_identity = {}, None
            self.disk_version, self.namespaces = None, []
            return
        self._store_id, self.disk_version, spaces = disk
        space = spaces.get(self.namespace)
        self._check_identity(space)
        self._base = dict(space.entries) if space is not None else {}
        self.recorded_identity = space.identity if space is not None else None
        self.namespaces = sorted(spaces)

    def _check_identity(self, space: _Namespace | None) -> None:
        """Refuse a namespace another project claimed (unless adopting it)."""
        if space is None or space.identity is None or self.identity is None or self._adopt:
            return
        if space.identity.matches(self.identity):
            return
        raise StoreError(
            f"the secrets namespace `{self.namespace}` in {self.path} belongs to another "
            f"project: it was claimed by {space.identity.describe()}; this project is "
            f"{self.identity.describe()}",
            help="if this is the same project, moved or checked out again, run "
            "`mora secrets adopt` to move the namespace to it; otherwise rename this project "
            "(its `project` line) or use another site's store (--site / --secrets)",
        )

    def save(self) -> bool:
        """Write pending changes, merged onto the file's current content; False if no write.

        Runs under the store's lock and re-reads the file first, so values another process
        saved meanwhile are kept.
        """
        if not self.dirty:
            return False
        if self.path is None:
            self._base = self._merged(self._base)
            self._changes.clear()
            return True
        with self._locked():
            disk = self._read_disk()  # every namespace read: all of them are written back
            store_id, version, read = disk if disk is not None else (self._store_id, None, {})
            spaces = {ns: space for ns, space in read.items() if space is not None}
            space = spaces.get(self.namespace)
            self._check_identity(space)
            base = dict(space.entries) if space is not None else {}
            recorded = space.identity if space is not None else None
            merged = self._merged(base)
            identity = recorded
            if self.identity is not None and (recorded is None or self._adopt):
                identity = self.identity
            changed = merged != base or (space is not None and identity != recorded)
            if space is None and not merged:
                changed = False  # never create an empty namespace (or an empty file)
            wrote = False
            if changed:
                if store_id is None:
                    import secrets

                    store_id = secrets.token_hex(16)
                spaces = {**spaces, self.namespace: _Namespace(identity, merged)}
                self._write(store_id, self._key_for(store_id, create=True), spaces)
                self.created_file = self.created_file or disk is None
                version = VERSION
                wrote = True
            self._store_id, self._base = store_id, merged
            self.recorded_identity, self.disk_version = identity, version
            self.namespaces = sorted({*spaces, self.namespace} if merged else spaces)
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

    def _key_path(self, store_id: str) -> str:
        return self._key_file if self._key_file is not None else default_key_path(store_id)

    def _key_description(self, store_id: str) -> str:
        if "env" in self._keys:
            return f"from {self._key_env}"
        return f"key file {self._key_path(store_id)}"

    def derived_key(self, label: bytes) -> bytes | None:
        """A key for another purpose (the deployment record's digests), HMAC-derived from the
        store's key under `label`: one key to back up per site, and the store key itself never
        leaves this object. None for a store not written yet."""
        if self.store_id is None:
            return None
        import hashlib
        import hmac

        return hmac.new(self._key_for(self.store_id, create=False), label, hashlib.sha256).digest()

    def _key_for(self, store_id: str, *, create: bool) -> bytes:
        if "env" in self._keys:
            return self._keys["env"]
        if store_id in self._keys:
            return self._keys[store_id]
        path = self._key_path(store_id)
        if paths.mode(path):  # `Path.exists()`
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

    def _read_disk(
        self, only: str | None = None
    ) -> tuple[str, int, dict[str, _Namespace | None]] | None:
        """The file's store id, version and namespaces (with `only`: that one's entries alone,
        see `_parse_namespaces`); None when there is no file."""
        assert self.path is not None
        data = _read_store_file(self.path)
        if data is None:
            return None
        header, nonce, ciphertext = _parse_envelope(self.path, data)
        store_id = str(header["store_id"])
        key = self._key_for(store_id, create=False)
        try:
            plaintext = _aesgcm()(key).decrypt(nonce, ciphertext, _aad(header))
        except Exception as err:
            from cryptography.exceptions import InvalidTag  # only when decryption failed

            if not isinstance(err, InvalidTag):
                raise
            raise StoreError(
                f"cannot decrypt {self.path}: wrong key ({self._key_description(store_id)}) "
                "or the file was modified",
                help="mora will not regenerate secrets over a store it cannot read",
            ) from None
        version = int(str(header["version"]))
        spaces = _parse_namespaces(self.path, plaintext, version, self.namespace, only)
        return store_id, version, spaces

    def _write(self, store_id: str, key: bytes, spaces: Mapping[str, _Namespace]) -> None:
        assert self.path is not None
        plaintext = _canonical(_namespaces_json(spaces))
        header: dict[str, object] = {
            "cipher": CIPHER,
            "format": FORMAT,
            "store_id": store_id,
            "version": VERSION,
        }
        import secrets

        nonce = secrets.token_bytes(NONCE_BYTES)  # fresh for every write: GCM demands it
        ciphertext = _aesgcm()(key).encrypt(nonce, plaintext, _aad(header))
        doc = {**header, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}
        try:
            atomic_write(self._target(), _render_envelope(doc))
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None

    def _target(self) -> str:
        """The file the store really is: `--secrets link.secrets` writes through the link.

        Replacing the link itself would turn it into a regular file and leave the real store
        with the old values.
        """
        assert self.path is not None
        return os.path.realpath(self.path)

    def _remove_stale_temps(self) -> None:
        # Only called under the lock: any temp file left is from a writer that died.
        target = self._target()
        directory, name = paths.parent(target), os.path.basename(target)
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return  # as `Path.glob`: no folder, or one that may not be listed, has none
        prefix = f".{name}."
        for tmp in names:  # `.NAME.*.tmp`, as `atomic_write` names them
            if tmp.startswith(prefix) and tmp[len(prefix) :].endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(paths.join(directory, tmp))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.path is None or self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        import fcntl  # here: a compile that only reads the store takes no lock

        target = self._target()
        directory = paths.parent(target)
        _make_private_dir(directory)
        # Hidden, next to the real store (flock needs the same file system; two names for one
        # store must take one lock).
        lock_path = paths.join(directory, f".{os.path.basename(target)}.lock")
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


# --- where a site's store is ---------------------------------------------------------------------
# (here, not in mora.secrets.commands: every compile needs them, and that module only for the
# `mora secrets` commands)

#: the store in `./.mora/` when there is no site file
DEFAULT_SITE_STORE = "site.secrets"


def default_store_path(
    project_dir: StrPath,
    project_name: str,
    site_file: StrPath | None,
    explicit: StrPath | None,
    cwd: StrPath,
) -> str:
    """Where a site's store lives: --secrets PATH, else next to the site file, else ./.mora/.

    A store inside the project directory is refused unless asked for explicitly: the project is
    what people share (on GitHub), and a site's secrets must never travel with it.
    """
    if explicit is not None:
        return _absolute(explicit, cwd)
    if site_file is not None:
        site = _absolute(site_file, cwd)
        path = paths.join(paths.parent(site), f"{_stem(os.path.basename(site))}.secrets")
        how = f"next to the site file {site}"
    else:
        # The site is "wherever you run mora from"; every project gets a namespace in it.
        path = _absolute(os.path.join(".mora", DEFAULT_SITE_STORE), cwd)
        how = f"in {paths.parent(path)} (you ran mora from {paths.pure(cwd)})"
    project = _absolute(project_dir, cwd)
    if paths.inside(paths.resolve(path), paths.resolve(project)):
        raise StoreError(
            f"refusing to keep site secrets {how}: {path} is inside the project {project}, "
            "which is meant to be shared and must never hold a site's secrets",
            help="pass --secrets PATH outside the project, keep your site file outside the "
            "project (its secrets go next to it), or run mora from outside the project "
            f"directory (e.g. `cd {paths.parent(project)} && mora compile "
            f"{os.path.basename(project)}`)",
        )
    return path


def legacy_store_path(project_name: str, cwd: StrPath) -> str:
    """Where a store lived before namespaces when there was no site file: one per project."""
    return _absolute(os.path.join(".mora", f"{project_name}.secrets"), cwd)


def migrate_legacy(store: SecretStore, legacy: StrPath) -> bool:
    """Move a pre-namespace `./.mora/<project>.secrets` into `store`'s namespace, once.

    Only when the namespace does not exist yet; values already in the namespace win. The old
    file is renamed to `<name>.migrated`, never deleted. Sets `store.migrated_from`.
    """
    legacy = paths.pure(legacy)
    if store.path is None or store.namespace in store.namespaces:
        return False
    if os.path.realpath(legacy) == os.path.realpath(store.path):
        return False
    if not S_ISREG(paths.mode(legacy)):  # `Path.is_file()`
        return False
    old = SecretStore.open(legacy, namespace=store.namespace)
    with store.transaction():
        if store.namespace in store.namespaces:  # another process migrated it meanwhile
            return False
        for name in old.names():
            entry = old.get(name)
            if entry is not None and store.get(name) is None:
                store.put(entry)
    os.replace(legacy, legacy + ".migrated")
    store.migrated_from = legacy
    return True


def _absolute(path: StrPath, cwd: StrPath) -> str:
    """`~` expanded, then relative to `cwd` (as the `Path` it was: `str(Path(cwd) / path)`)."""
    path = paths.pure(os.path.expanduser(path))
    return path if path.startswith("/") else paths.join(cwd, path)


def _stem(name: str) -> str:
    """`Path.stem`: the name without its last suffix (`a.` and `.a` have none)."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name
