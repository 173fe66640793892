"""Kubernetes names, keys, labels and quantities.

mora names may hold upper case and `_`; Kubernetes wants DNS labels, data keys of `[-._a-zA-Z0-9]`
and quantities in its own spelling. Everything here is a pure function of its input, so the
same project always maps to the same names (stable diffs, stable selectors).
"""

from __future__ import annotations

import math
import re

from mora import types as T
from mora.backends._digest import sha256

MAX_NAME = 63  # DNS-1123 / DNS-1035 label, and the longest label value

_NOT_NAME = re.compile(r"[^a-z0-9-]+")
_NOT_KEY = re.compile(r"[^-._a-zA-Z0-9]+")
# The checks below are compiled on first use (re's cache of patterns): most compiles ask few
# or none of them, and compiling each costs ~0.1 ms of every start-up.
_LABEL_VALUE = r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"
_KEY_NAME = r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
_DNS_SUBDOMAIN = r"^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$"
_DNS_LABEL = r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$"


def _short_hash(text: str, length: int = 6) -> str:
    return sha256(text.encode("utf-8")).hexdigest()[:length]


def _fit(text: str, limit: int, seed: str) -> str:
    """Cut `text` to `limit` characters, keeping it unique with a hash of what it came from."""
    if len(text) <= limit:
        return text
    digest = _short_hash(seed)
    return text[: limit - len(digest) - 1].rstrip("-.") + "-" + digest


def dns_label(name: str, fallback: str = "x") -> str:
    """A DNS-1035 label (what a Service name must be): lower case, starts with a letter."""
    label = _NOT_NAME.sub("-", name.lower().replace("_", "-")).strip("-")
    while "--" in label:
        label = label.replace("--", "-")
    if not label or not label[0].isalpha():
        label = f"{fallback}-{label}".strip("-")
    return _fit(label, MAX_NAME, name)


def claim_name(volume: str) -> str:
    """The PersistentVolumeClaim of a named volume."""
    return dns_label(volume, fallback="data")


def is_dns_label(name: str) -> bool:
    return bool(re.match(_DNS_LABEL, name))


def with_suffix(base: str, suffix: str) -> str:
    """`base-suffix`, cut to a valid name when the base is long (the suffix stays readable)."""
    limit = MAX_NAME - len(suffix) - 1
    return f"{_fit(base, limit, base)}-{suffix}"


def joined(*parts: str) -> str:
    """`a-b-c` as one valid name, cut (with a hash of the whole) when too long."""
    text = "-".join(parts)
    return _fit(text, MAX_NAME, text).rstrip("-")


def port_name(name: str) -> str | None:
    """A container port name (IANA_SVC_NAME: at most 15, a letter, no `--`), or None."""
    label = dns_label(name, fallback="p")
    if len(label) > 15 or "--" in label:
        return None
    return label


def data_keys(sources: list[str]) -> dict[str, str]:
    """ConfigMap / Secret data keys for paths or variable names: valid, unique, stable.

    A path keeps its shape (`/etc/app/config.yml` -> `etc.app.config.yml`); when two sources
    would share a key, each of the later ones gets a short hash of its own text.
    """
    keys: dict[str, str] = {}
    used: set[str] = set()
    for source in sorted(sources):
        key = _NOT_KEY.sub("_", source.strip("/").replace("/", ".")).strip(".") or "_"
        key = _fit(key, 253, source)
        if key in used:
            key = _fit(f"{key}-{_short_hash(source, 8)}", 253, source)
        used.add(key)
        keys[source] = key
    return keys


def is_label_value(value: str) -> bool:
    return bool(re.match(_LABEL_VALUE, value))


def is_annotation_key(key: str) -> bool:
    """`[prefix/]name`, the prefix a DNS subdomain, the name 63 characters of `[-._a-zA-Z0-9]`."""
    prefix, slash, name = key.rpartition("/")
    if slash and not re.match(_DNS_SUBDOMAIN, prefix):
        return False
    return bool(re.match(_KEY_NAME, name))


def image_tag(image: str) -> str | None:
    """The tag of an image reference, or None (no tag, or pinned by digest only)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    return last.rsplit(":", 1)[1]


def pull_policy(image: str) -> str:
    """`Always` when the reference floats (`latest` or no tag), else `IfNotPresent`."""
    if "@" in image:
        return "IfNotPresent"
    tag = image_tag(image)
    return "Always" if tag in (None, "latest") else "IfNotPresent"


# --- quantities ----------------------------------------------------------------------------------


def size_quantity(text: str) -> str | None:
    """A mora size (`5Gi`, `512M`, `1K`) in Kubernetes' spelling, or None when malformed."""
    text = text.strip()
    if T.parse_size(text) is None:
        return None
    if text.endswith("K"):  # Kubernetes spells the decimal kilo `k`
        text = text[:-1] + "k"
    return text


def size_bytes(text: str) -> int | None:
    return T.parse_size(text.strip())


_CPU_RE = r"^([0-9]+(?:\.[0-9]+)?)(m?)$"  # compiled on first use


def cpu_millis(text: str) -> float | None:
    m = re.match(_CPU_RE, text.strip())
    if not m:
        return None
    value = float(m.group(1))
    return value if m.group(2) else value * 1000


def whole_seconds(seconds: float | None, default: int, minimum: int = 1) -> int:
    """Probe settings are whole seconds: round up (500ms -> 1s), never below `minimum`."""
    if seconds is None:
        return default
    return max(minimum, math.ceil(seconds))
