"""What mora last deployed for a project on a site: the record the next change set starts from.

The record sits beside the site's secret store, `<store dir>/<store name>.deployed/<project>.json`
(0600, in a 0700 directory, written atomically). It holds the manifest of the services that were
applied, a keyed digest per delivered secret part (never a value) and, per service, the objects
the target made (so a removed service can be deleted without compiling the old project).

Digests are HMAC-SHA256 under a key derived from the store's own key: whoever reads the record but
not the key cannot test guesses of a low-entropy value (a PIN, a short password) against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mora import model as M
from mora.secrets.store import atomic_write

RECORD_FORMAT = "mora-deployed"
RECORD_VERSION = 1
_KEY_LABEL = b"mora deploy record digest v1"


class StateError(Exception):
    """A record that cannot be read or written; the message says which file and why."""


@dataclass
class Record:
    """One project's deployment on one site: what the next change set is computed against."""

    project: str
    target: str
    manifest: M.Manifest
    #: secret material name -> keyed digest of the value delivered
    secrets: dict[str, str] = field(default_factory=dict)
    #: service -> what the target made for it ({"containers": [...], "volumes": [...], ...});
    #: also for a service that failed (not in the manifest), so that removing it cleans up
    objects: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "project": self.project,
            "target": self.target,
            "manifest": json.loads(M.manifest_json(self.manifest)),
            "secrets": dict(sorted(self.secrets.items())),
            "objects": {k: self.objects[k] for k in sorted(self.objects)},
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Record:
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise StateError(f"{where} is not a mora deployment record")
        if data.get("version") != RECORD_VERSION:
            raise StateError(f"{where}: record version {data.get('version')!r} is not supported")
        try:
            manifest = M.Manifest.model_validate(data["manifest"])
            return cls(
                str(data["project"]),
                str(data["target"]),
                manifest,
                {str(k): str(v) for k, v in dict(data.get("secrets", {})).items()},
                {
                    str(k): {str(a): [str(x) for x in b] for a, b in dict(v).items()}
                    for k, v in dict(data.get("objects", {})).items()
                },
            )
        except (KeyError, TypeError, ValueError) as err:
            raise StateError(f"{where}: the record is damaged ({type(err).__name__})") from None


def empty_record(project: str, target: str, domain: str = "") -> Record:
    """What a site where nothing was deployed yet looks like."""
    return Record(project, target, M.Manifest(project=project, domain=domain))


def digest_key(store: object | None) -> bytes | None:
    """The digest key of a site: derived from its secret store's key (None without a store)."""
    from mora.secrets.store import SecretStore

    if not isinstance(store, SecretStore):
        return None
    return store.derived_key(_KEY_LABEL)


def secret_digest(key: bytes, name: str, value: str) -> str:
    """A keyed digest of one secret part: equal values give equal digests under one key only."""
    mac = hmac.new(key, name.encode() + b"\0" + value.encode(), hashlib.sha256)
    return "hmac-sha256:" + mac.hexdigest()


def secret_digests(material: dict[str, str], key: bytes | None) -> dict[str, str]:
    """material name -> digest; without a key (no store) the values cannot be recorded."""
    if not material:
        return {}
    if key is None:
        raise StateError("secret values cannot be recorded without the site's secret store key")
    return {name: secret_digest(key, name, value) for name, value in sorted(material.items())}


def record_path(store_path: str | Path, project: str) -> Path:
    """`<store dir>/<store name>.deployed/<project>.json` (`SecretStore.path` is text)."""
    store = Path(store_path)
    return store.parent / f"{store.name}.deployed" / f"{project}.json"


def load_record(path: Path) -> Record | None:
    """The record at `path`, or None when nothing was deployed from this site yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StateError(f"cannot read {path}: {err.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise StateError(f"{path}:{err.lineno}:{err.colno}: not JSON ({err.msg})") from None
    return Record.from_json(data, str(path))


def save_record(path: Path, record: Record) -> None:
    """Write atomically (temp file, fsync, rename, directory fsync), 0600, as the store is
    written: a crash leaves the old or the new record."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n").encode()
    atomic_write(path, data)
