"""The site's `kubernetes:` settings: read, checked and defaulted in one place.

The site file passes the section through untouched (`manifest.targets["kubernetes"]`); this backend
is the one that knows what the keys mean, so it reports unknown keys and wrong types here.
"""

from __future__ import annotations

from mora.diagnostics import Diagnostics, did_you_mean
from mora.model import Manifest
from mora.record import Record

from .naming import dns_label, is_dns_label

E_SETTING = "E0601"
W_UNKNOWN_SETTING = "W0601"

DEFAULT_ISSUER = "letsencrypt"
DEFAULT_INGRESS_CLASS = "traefik"  # k3s ships Traefik as its ingress controller
DEFAULT_STORAGE_CLASS = "local-path"  # k3s ships the local-path provisioner
# The init containers that wait for dependencies; a pinned tag, overridable for mirrors.
DEFAULT_INIT_IMAGE = "docker.io/library/busybox:1.36.1"


class Settings(Record, frozen=True):
    namespace: str
    cluster_issuer: str | None = DEFAULT_ISSUER  # None: no cert-manager annotation
    ingress_class: str | None = DEFAULT_INGRESS_CLASS  # None: the cluster's default class
    storage_class: str | None = DEFAULT_STORAGE_CLASS  # None: the cluster's default class
    init_image: str = DEFAULT_INIT_IMAGE


_NULLABLE = ("cluster_issuer", "ingress_class", "storage_class")
KEYS = ("namespace", *_NULLABLE, "init_image")


def read_settings(manifest: Manifest, diags: Diagnostics) -> Settings:
    """The settings of this site, defaults filled in; problems become diagnostics."""
    raw = dict(manifest.targets.get("kubernetes", {}))
    values: dict[str, str | None] = {}
    for key in sorted(raw):
        if key not in KEYS:
            diags.warning(
                W_UNKNOWN_SETTING,
                f"unknown kubernetes setting `{key}` in the site file",
                None,
                help=did_you_mean(key, KEYS) or "kubernetes settings: " + ", ".join(KEYS),
            )
            continue
        value = raw[key]
        if value is None and key in _NULLABLE:
            values[key] = None
            continue
        if not isinstance(value, str) or not value.strip():
            hint = " (or null to leave it to the cluster)" if key in _NULLABLE else ""
            diags.error(E_SETTING, f"kubernetes setting `{key}` must be a name{hint}", None)
            continue
        values[key] = value.strip()
    namespace = values.pop("namespace", None) or dns_label(manifest.project)
    if not is_dns_label(namespace):
        diags.error(
            E_SETTING,
            f"kubernetes namespace `{namespace}` is not a valid name",
            None,
            help="lower-case letters, digits and `-`, starting with a letter, at most 63",
        )
        namespace = dns_label(namespace)
    return Settings(namespace=namespace, **values)  # type: ignore[arg-type]
