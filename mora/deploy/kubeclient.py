"""A small Kubernetes API client: a kubeconfig's context, TLS, and one request at a time.

Why not the `kubernetes` PyPI client: it is a large generated package (and its own
dependencies) for the five calls mora makes (server-side apply PATCH, GET, DELETE, list pods, a
pod's log), and server-side apply is one HTTP request anyway. This client uses the standard
library (`http.client`, `ssl`) and reads the kubeconfig fields those calls need: the server, its
CA (file or data), a bearer token (or token file), a client certificate and key (files or data).
What it does not support is said plainly instead of half-working: `exec` and `auth-provider`
credential plugins, user name and password, and `insecure-skip-tls-verify` (mora never turns TLS
verification off). Client keys given as data are handed to OpenSSL through an anonymous memory
file (memfd), never written to disk.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from mora.deploy.kube import Request


class KubeError(Exception):
    """A request the API server refused, or a kubeconfig mora cannot use; `status` when HTTP."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass
class KubeConfig:
    context: str
    server: str
    namespace: str | None = None
    ca_data: bytes | None = None
    tls_server_name: str | None = None
    token: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None

    def __repr__(self) -> str:  # never the token or the key
        return f"KubeConfig(context={self.context!r}, server={self.server!r})"


def default_kubeconfig() -> Path:
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def _named(items: Any, name: str, what: str, path: Path) -> dict[str, Any]:
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return dict(item.get(what) or {})
    raise KubeError(f"{path}: no {what} named `{name}`")


def _data(section: dict[str, Any], key: str, base: Path) -> bytes | None:
    """`KEY-data` (base64) or `KEY` (a file, relative to the kubeconfig's folder)."""
    if section.get(f"{key}-data"):
        return base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        return (base / str(section[key])).expanduser().read_bytes()
    return None


def load_kubeconfig(path: Path | None = None, context: str | None = None) -> KubeConfig:
    """The cluster and credentials of `context` (default: the current context)."""
    path = path or default_kubeconfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise KubeError(
            f"cannot read the kubeconfig {path}: {err.strerror} (give the cluster's with "
            "--kubeconfig FILE or the KUBECONFIG variable)"
        ) from None
    except yaml.YAMLError:
        raise KubeError(f"{path} is not a kubeconfig (not YAML)") from None
    if not isinstance(data, dict):
        raise KubeError(f"{path} is not a kubeconfig")
    name = context or data.get("current-context")
    if not name:
        raise KubeError(f"{path} has no current context: pass --context NAME")
    ctx = _named(data.get("contexts"), str(name), "context", path)
    cluster = _named(data.get("clusters"), str(ctx.get("cluster")), "cluster", path)
    user = _named(data.get("users"), str(ctx.get("user")), "user", path) if ctx.get("user") else {}
    if cluster.get("insecure-skip-tls-verify"):
        raise KubeError(
            f"context `{name}` sets insecure-skip-tls-verify: mora does not turn TLS verification"
            " off; give the cluster's CA (certificate-authority-data)"
        )
    for unsupported in ("exec", "auth-provider", "username", "password"):
        if user.get(unsupported):
            raise KubeError(
                f"context `{name}`: the user's `{unsupported}` is not supported by mora's client;"
                " use a token or a client certificate (e.g. a service account's token)"
            )
    base = path.parent
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / str(user["tokenFile"])).read_text().strip()
    if cluster.get("tls-server-name"):
        raise KubeError(f"context `{name}`: `tls-server-name` is not supported by mora's client")
    server = str(cluster.get("server") or "")
    if not server.startswith("https://"):
        raise KubeError(f"context `{name}`: the server must be an https:// address, not {server!r}")
    return KubeConfig(
        str(name),
        server,
        ctx.get("namespace"),
        _data(cluster, "certificate-authority", base),
        None,
        token,
        _data(user, "client-certificate", base),
        _data(user, "client-key", base),
    )


def _pem_file(data: bytes) -> tuple[int, str]:
    """A file descriptor and a path OpenSSL can read `data` from: a memfd when the system has
    one (nothing on disk), else a 0600 temporary file that the caller deletes at once."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("mora-kube", 0)
        os.write(fd, data)
        return fd, f"/proc/self/fd/{fd}"
    fd, name = tempfile.mkstemp(prefix="mora-kube-")
    os.write(fd, data)
    return fd, name


def tls_context(config: KubeConfig) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=config.ca_data.decode() if config.ca_data else None)
    if config.cert_data and config.key_data:
        cert_fd, cert_path = _pem_file(config.cert_data)
        key_fd, key_path = _pem_file(config.key_data)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        finally:
            for fd, p in ((cert_fd, cert_path), (key_fd, key_path)):
                os.close(fd)
                if not p.startswith("/proc/"):
                    os.unlink(p)
    return ctx


class KubeClient:
    """One keep-alive HTTPS connection to the API server; `send` executes one `Request`."""

    def __init__(self, config: KubeConfig, timeout: float = 30) -> None:
        self.config = config
        url = urlsplit(config.server)
        self.host = url.hostname or ""
        self.port = url.port or 443
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.ctx = tls_context(config)
        self._conn: http.client.HTTPSConnection | None = None

    def _connection(self) -> http.client.HTTPSConnection:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.ctx
            )
        return self._conn

    def raw(self, req: Request) -> tuple[int, bytes]:
        """Send one request: (HTTP status, body). Reconnects once when a kept connection closed."""
        headers = {"Accept": "application/json", "User-Agent": "mora"}
        if req.content_type:
            headers["Content-Type"] = req.content_type
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(req.method, self.prefix + req.url(), body=req.data(), headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise KubeError(
                        f"{req.method} {req.path}: the API server closed the connection"
                    ) from None
            except (OSError, http.client.HTTPException) as err:
                self.close()
                raise KubeError(f"{req.method} {req.path}: {err}") from None
        raise AssertionError("unreachable")

    def send(self, req: Request, missing_ok: bool = False) -> dict[str, Any]:
        """Send and decode JSON; KubeError (with the API's own message) for a 4xx/5xx."""
        status, data = self.raw(req)
        if status == 404 and missing_ok:
            return {}
        if status >= 400:
            try:
                problem = json.loads(data)
                message, reason = str(problem.get("message", "")), str(problem.get("reason", ""))
            except (ValueError, AttributeError):
                message, reason = data[:200].decode(errors="replace"), ""
            raise KubeError(f"{req.method} {req.path}: {status} {message}", status, reason)
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise KubeError(f"{req.method} {req.path}: the answer is not JSON") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
