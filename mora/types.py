"""The type language and literal validation.

Types are small frozen values. `secret` is not a separate kind but a taint flag carried by every
type: a value that contains a secret is a secret. Literal checkers (sizes, durations, ports,
e-mail, host names, URLs, image references) live here so the checker and the site loader agree.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from typing import Any

# Scalar kinds and what they may be used as (their supertypes).
SCALARS = ("string", "int", "bool", "port", "path", "email", "hostname", "url", "duration", "size")
_SUPER = {
    "port": "int",
    "path": "string",
    "email": "string",
    "hostname": "string",
    "url": "string",
    "enum": "string",
}
# Kinds the checker uses internally: a service reference, a mount (volume/bind/tmpfs), a rendered
# config file, and `any` (unknown after an error: never reported twice).
INTERNAL = ("service", "mount", "file", "route", "any")


class Type:
    """A frozen value (what `@dataclass(frozen=True)` gave it), written out: the checker makes
    tens of thousands of types in a large project, and generating the methods cost start-up."""

    __slots__ = ("args", "kind", "secret", "values")
    __match_args__ = ("kind", "args", "values", "secret")
    kind: str
    args: tuple[Type, ...]
    values: tuple[str, ...]  # enum members
    secret: bool

    def __init__(
        self,
        kind: str,
        args: tuple[Type, ...] = (),
        values: tuple[str, ...] = (),
        secret: bool = False,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "kind", kind)
        setattr_(self, "args", args)
        setattr_(self, "values", values)
        setattr_(self, "secret", secret)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Type:
            return NotImplemented
        return (self.kind, self.args, self.values, self.secret) == (
            other.kind,  # type: ignore[attr-defined]
            other.args,  # type: ignore[attr-defined]
            other.values,  # type: ignore[attr-defined]
            other.secret,  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.args, self.values, self.secret))

    def __repr__(self) -> str:
        return (
            f"Type(kind={self.kind!r}, args={self.args!r}, values={self.values!r}, "
            f"secret={self.secret!r})"
        )

    def __reduce__(self) -> tuple[type[Type], tuple[object, ...]]:
        return Type, (self.kind, self.args, self.values, self.secret)

    def tainted(self, secret: bool = True) -> Type:
        if self.secret or not secret:  # the same value: a type is immutable, keep this one
            return self
        return Type(self.kind, self.args, self.values, True)

    def public(self) -> Type:
        if not self.secret:
            return self
        return Type(self.kind, self.args, self.values, False)

    def __str__(self) -> str:
        if self.kind in ("list", "map"):
            base = f"{self.kind}({self.args[0]})" if self.args else self.kind
        elif self.kind == "enum":
            base = "enum(" + ", ".join(f'"{v}"' for v in self.values) + ")"
        elif self.kind == "optional" and self.args:  # optional(T): T or `none` (mora/contracts)
            base = f"optional({self.args[0]})"
        elif self.kind == "contract" and self.values:  # a record a service provides
            base = self.values[0]
        else:
            base = self.kind
        return f"secret {base}" if self.secret and self.kind != "secret" else base


STRING = Type("string")
INT = Type("int")
BOOL = Type("bool")
PORT = Type("port")
PATH = Type("path")
HOSTNAME = Type("hostname")
URL = Type("url")
DURATION = Type("duration")
SIZE = Type("size")
ANY = Type("any")
SERVICE = Type("service")
MOUNT = Type("mount")
FILE = Type("file")
ROUTE = Type("route")  # route(...): a public host and path of a service (mora/routes.py)
SECRET_STRING = Type("string", secret=True)


def list_of(t: Type) -> Type:
    return Type("list", (t,))


def map_of(t: Type) -> Type:
    return Type("map", (t,))


def is_stringy(t: Type) -> bool:
    """Values that render as text in a string or an environment variable."""
    return t.kind in (
        "string",
        "int",
        "bool",
        "port",
        "path",
        "email",
        "hostname",
        "url",
        "enum",
        "duration",
        "size",
        "any",
    )


def assignable(src: Type, dst: Type) -> bool:
    """Whether a value of type `src` may be used where `dst` is expected (taint aside)."""
    if src.kind == "any" or dst.kind == "any":
        return True
    if dst.kind == "optional" and dst.args:  # `none`, a T or an optional(T) (mora/contracts)
        inner = src.args[0] if src.kind == "optional" and src.args else src
        return src.kind == "none" or assignable(inner, dst.args[0])
    if "contract" in (src.kind, dst.kind):
        return src.kind == dst.kind and src.values == dst.values
    if dst.kind in ("list", "map"):
        if src.kind != dst.kind:
            return False
        if not src.args or not dst.args:
            return True
        return assignable(src.args[0], dst.args[0])
    if dst.kind == "enum":
        return src.kind == "enum" and set(src.values) <= set(dst.values)
    kind = src.kind
    while True:
        if kind == dst.kind:
            return True
        if kind not in _SUPER:
            return False
        kind = _SUPER[kind]


# --- patterns compiled on first use ------------------------------------------------------------


class LazyPattern:
    """A regular expression compiled when it is first used, with `re.Pattern`'s methods.

    The checker's modules declare ~20 patterns for literals and names; a check of a clean
    project uses a few of them, and compiling all of them at import cost ~3 ms of every
    `mora check` (docs/performance.md, twelfth round)."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: re.Pattern[str] | None = None

    def compiled(self) -> re.Pattern[str]:
        found = self._compiled
        if found is None:
            found = self._compiled = re.compile(self.pattern, self.flags)
        return found

    def match(self, text: str, *pos: int) -> re.Match[str] | None:
        return self.compiled().match(text, *pos)

    def fullmatch(self, text: str, *pos: int) -> re.Match[str] | None:
        return self.compiled().fullmatch(text, *pos)

    def search(self, text: str, *pos: int) -> re.Match[str] | None:
        return self.compiled().search(text, *pos)

    def __getattr__(self, name: str) -> Any:  # sub, findall, finditer, groups...
        return getattr(self.compiled(), name)

    def __repr__(self) -> str:
        return f"LazyPattern({self.pattern!r})"


# --- literal validation --------------------------------------------------------------------------

_SIZE_UNITS = {
    "": 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
}
_SIZE_RE = LazyPattern(r"^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$")
# Durations end up in 32-bit fields (Kubernetes probe periods): keep them representable.
MAX_DURATION_SECONDS = 2**31 - 1
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = LazyPattern(r"^(?:[0-9]+(?:ms|s|m|h|d))+$")
_DURATION_PART = LazyPattern(r"([0-9]+)(ms|s|m|h|d)")
_DNS_LABEL_ANY_CASE = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL_RE = LazyPattern(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_DNS_LABEL_ANY_CASE}(?:\.{_DNS_LABEL_ANY_CASE})+$"
)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME_RE = LazyPattern(rf"^{_LABEL}(?:\.{_LABEL})*$")
_URL_RE = LazyPattern(r"^[a-z][a-z0-9+.-]*://[^\s/?#]+(?:[/?#]\S*)?$", re.I)

# Image references as the container tools read them: [host[:port]/]path[:tag][@digest].
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    rf"(?:{_DNS_LABEL_ANY_CASE}(?:\.{_DNS_LABEL_ANY_CASE})*(?::[0-9]+)?"
    r"|\[[0-9a-fA-F:]+\](?::[0-9]+)?)"
)
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_RE = LazyPattern(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$"
)


def parse_size(text: str) -> int | None:
    """Bytes in a Kubernetes-style quantity (`10Gi`, `512M`, `1.5Gi`), or None if malformed."""
    m = _SIZE_RE.match(text.strip())
    if not m or m.group(2) not in _SIZE_UNITS:
        return None
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    if value != int(value):
        return None
    return int(value)


def parse_duration(text: str) -> float | None:
    """Seconds in a duration (`30s`, `5m`, `1h30m`, `500ms`), or None if malformed."""
    text = text.strip()
    if not _DURATION_RE.match(text):
        return None
    return sum(int(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(text))


def is_size_unit(text: str) -> bool:
    m = _SIZE_RE.match(text)
    return bool(m) and m.group(2) in _SIZE_UNITS and m.group(2) != ""


def check_literal(kind: str, value: object) -> str | None:
    """Why `value` is not a valid `kind`, or None when it is."""
    if kind == "port":
        if isinstance(value, bool) or not isinstance(value, int):
            return "a port is a whole number"
        if not 1 <= value <= 65535:
            return f"port {value} is out of range (1-65535)"
        return None
    if not isinstance(value, str):
        return None
    if kind == "size" and parse_size(value) is None:
        return f"`{value}` is not a size (use a number with Ki, Mi, Gi, Ti or k, M, G, T)"
    if kind == "duration" and parse_duration(value) is None:
        return f"`{value}` is not a duration (use ms, s, m, h or d, like `30s` or `1h30m`)"
    if kind == "duration" and (parse_duration(value) or 0) > MAX_DURATION_SECONDS:
        return f"`{value}` is too long (at most {MAX_DURATION_SECONDS // 86400} days)"
    if kind == "email" and not _EMAIL_RE.match(value):
        return f"`{value}` is not an e-mail address"
    if kind == "hostname" and not _HOSTNAME_RE.match(value):
        return f"`{value}` is not a valid host name (lower-case letters, digits, `-` and `.`)"
    if kind == "url" and not _URL_RE.match(value):
        return f"`{value}` is not a URL (like `https://example.org/path`)"
    if kind == "path" and not value.startswith("/"):
        return f"`{value}` is not an absolute path"
    return None


def check_image(ref: str) -> str | None:
    """Why `ref` is not a valid container image reference, or None."""
    if not ref:
        return "the image reference is empty"
    if ref != ref.strip() or any(c.isspace() for c in ref):
        return "an image reference cannot contain spaces"
    if not _IMAGE_RE.match(ref):
        if any(c.isupper() for c in ref.split("@")[0].rsplit(":", 1)[0].split("/", 1)[-1]):
            return "image repository names must be lower case"
        return f"`{ref}` is not a valid image reference ([registry/]name[:tag][@digest])"
    return None


def image_has_tag(ref: str) -> bool:
    if "@" in ref:
        return True
    last = ref.rsplit("/", 1)[-1]
    return ":" in last


def is_dns_label_path(text: str) -> bool:
    """A subdomain: one or more DNS labels (`sonarr`, `media.home`)."""
    return bool(_HOSTNAME_RE.match(text))
