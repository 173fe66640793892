"""What expressions evaluate to, beyond plain Python values, and the taint helpers.

Values carry their taint: anything computed from a secret is a `Secret` (its text plus the names
it came from), anything computed from an unanswered input is `Pending`. The helpers at the bottom
read a value's text, taint or plain form without ever printing a secret.
"""

from __future__ import annotations

from mora import types as T
from mora.record import Record


class Secret(Record, frozen=True):
    """Text that contains secret material. `repr` never shows the text."""

    value: str
    sources: frozenset[str]

    def __repr__(self) -> str:
        return f"Secret(<hidden>, sources={sorted(self.sources)})"


class Pending(Record, frozen=True):
    """A value that needs inputs a person has not answered yet."""

    inputs: frozenset[str]


class Unit(Record, frozen=True):
    text: str
    kind: str  # "size" | "duration"
    amount: float

    def __str__(self) -> str:
        return self.text


class ServiceRef(Record, frozen=True):
    name: str


class MountVal(Record, frozen=True):
    kind: str
    size: str | None = None
    name: str | None = None
    host_path: str | None = None
    readonly: bool = False
    reason: str | None = None  # why a bind may mount a system directory
    mode: str | None = None  # a tmpfs's file mode, octal
    storage_class: str | None = None
    access: str | None = None  # RWO / RWX / ROX
    external: bool = False  # an existing volume, by name
    server: str | None = None  # nfs: the server
    share: str | None = None  # nfs: the exported directory


class FileVal(Record, frozen=True):
    format: str
    content: str | Secret | Pending


class _Abort(Exception):
    """An evaluation problem already reported; skip the rest of the current item."""


def _collect_taint(value: object, sources: set[str], pending: set[str]) -> None:
    if isinstance(value, Secret):
        sources |= value.sources
    elif isinstance(value, Pending):
        pending |= value.inputs
    elif isinstance(value, list):
        for v in value:
            _collect_taint(v, sources, pending)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_taint(v, sources, pending)


def _plain(value: object) -> object:
    """The underlying data, secrets unwrapped (only for rendering into secret material)."""
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, Unit):
        return value.text
    if isinstance(value, ServiceRef):
        return value.name
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Secret):
        raise TypeError("secret text must be delivered as a secret")
    if isinstance(value, ServiceRef):
        return value.name
    if value is None:
        return ""
    return str(value)


def _opt_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _plain_text(value: object) -> str | None:
    if isinstance(value, Secret | Pending):
        return None
    return _text(value)


def _seconds(value: object) -> float | None:
    if isinstance(value, Unit):
        return value.amount
    return None


def _jsonable(value: object) -> object:
    if isinstance(value, Unit | ServiceRef):
        return _plain(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _unit(text: str, kind: str) -> Unit:
    amount = T.parse_duration(text) if kind == "duration" else T.parse_size(text)
    return Unit(text, kind, float(amount or 0))


def _shell_quote(text: str) -> str:
    return f"'{text}'" if any(c in text for c in " []{}") else text


def _show_value(value: object) -> str:
    """A site value for a message (params are never secret), kept short."""
    text = repr(value) if not isinstance(value, str) else f"`{value}`"
    return text if len(text) <= 60 else text[:57] + "..."


def _slug(path: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in path.lower()).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or "root"


def _example(t: T.Type) -> str:
    return {
        "email": "you@example.org",
        "bool": "true",
        "int": "1",
        "port": "8080",
        "path": "/srv/data",
        "hostname": "host.example.org",
        "url": "https://example.org",
        "duration": "30s",
        "size": "10Gi",
        "enum": t.values[0] if t.values else "VALUE",
        "list": "[a, b]",
        "map": "{a: b}",
    }.get(t.kind, "VALUE")
