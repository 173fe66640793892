"""How steps reach services: HTTP with the standard library, commands through `podman exec`.

A step's URL names the service as the project network knows it (`http://jellyfin:8096`). mora
runs on the controller, where that name does not resolve, so each target has a transport that
finds the container and connects there, keeping the original `Host`:

- podman (here): the container's address on the project network, asked from podman;
- podman-ssh and quadlet: the same address asked on the service's host over the apply's SSH
  master connection, reached through a forward on that connection (`ssh -O forward -L` to a
  Unix socket in the connection's private folder); commands are `podman exec -i` over the same
  connection, their standard input (where secrets go) never in an argument;
- kubernetes: HTTP through the API server's service proxy (`.../services/NAME:PORT/proxy/`).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path

from mora.micro.executor import Response

Resolve = Callable[[str], str | None]


class HttpTransport:
    """Plain HTTP(S) requests; `resolve` maps a host name to the address to connect to."""

    def __init__(self, resolve: Resolve | None = None) -> None:
        self.resolve = resolve or (lambda _h: None)

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OSError(f"not an http(s) URL: {url}")
        conn = self._connection(parts, timeout)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        sent = {"Host": parts.netloc, "Accept": "application/json", **headers}
        try:
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            text = resp.read(1 << 20).decode("utf-8", "replace")
            return Response(resp.status, text, {k.lower(): v for k, v in resp.getheaders()})
        except http.client.HTTPException as err:
            raise OSError(f"{type(err).__name__}: {err}") from None
        finally:
            conn.close()

    def _connection(
        self, parts: urllib.parse.SplitResult, timeout: float
    ) -> http.client.HTTPConnection:
        """The connection for a URL: to the address `resolve` gives for its host, else the host."""
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.resolve(host) or host
        if parts.scheme == "https":
            return http.client.HTTPSConnection(address, port, timeout=timeout)
        return http.client.HTTPConnection(address, port, timeout=timeout)

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        raise OSError(f"{service}: this target cannot run commands in a container")

    def close(self) -> None:
        """Release what the transport holds open (forwards end with their SSH connection)."""


class PodmanTransport(HttpTransport):
    """Steps against containers of the local podman target."""

    def __init__(
        self,
        containers: Mapping[str, str],
        *,
        podman: str = "podman",
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(self._address)
        self.containers = dict(containers)  # service -> container name
        self.podman = podman
        self.env = dict(env) if env is not None else None

    def _podman(
        self, args: list[str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [self.podman, *args],
                input=stdin,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise OSError(f"podman {args[0]} timed out after {timeout:g}s") from None

    def _address(self, host: str) -> str | None:
        name = self.containers.get(host)
        if name is None:
            return None
        fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        proc = self._podman(["container", "inspect", "--format", fmt, name], None, 30)
        found = proc.stdout.split() if proc.returncode == 0 else []
        return found[0] if found else None

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        name = self.containers.get(service)
        if name is None:
            raise OSError(f"{service} has no container here")
        proc = self._podman(["exec", "-i", name, *argv], stdin or "", timeout)
        return Response(proc.returncode, proc.stdout + (proc.stderr if proc.returncode else ""))


def _unix_socket(path: str, timeout: float | None) -> socket.socket:
    """A stream socket connected to `path` (an SSH forward's local end), closed on failure."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock


class _UnixHTTP(http.client.HTTPConnection):
    """HTTP over a Unix socket (an SSH forward's local end); `Host` stays the URL's."""

    def __init__(self, path: Path, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._socket_path = str(path)

    def connect(self) -> None:
        self.sock = _unix_socket(self._socket_path, self.timeout)


class _UnixHTTPS(http.client.HTTPSConnection):
    """HTTPS over a Unix socket; the certificate is checked against the URL's host name."""

    def __init__(self, path: Path, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._socket_path = str(path)

    def connect(self) -> None:
        sock = _unix_socket(self._socket_path, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class SshTransport(HttpTransport):
    """Steps against containers on the site's hosts (`--target podman-ssh` and `quadlet`).

    The executor stays here; `hosts[h]` is the apply's `mora.deploy.ssh.SshHost` (one master
    connection per host). A URL whose host is a service of this deployment goes through a
    forward on that connection to the container's address on its host; any other URL is
    requested from here. Commands run as `podman exec -i` on the service's host; their standard
    input (where a secret may be) travels on the SSH channel's stdin, never in an argument."""

    def __init__(
        self,
        hosts: Mapping[str, object],
        where: Mapping[str, str],
        containers: Mapping[str, str],
        *,
        podman: str = "podman",
    ) -> None:
        super().__init__()
        self.hosts = dict(hosts)  # host name -> SshHost
        self.where = dict(where)  # service -> host name
        self.containers = dict(containers)  # service -> container name
        self.podman = podman
        self._forwards: dict[tuple[str, str, int], Path] = {}

    def _host(self, service: str) -> object:
        host = self.hosts.get(self.where.get(service, ""))
        if host is None or service not in self.containers:
            raise OSError(f"{service} has no container on the site's hosts")
        return host

    def _remote(
        self, host: object, words: list[str], stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        try:
            return host.words(words, stdin=stdin, timeout=timeout)  # type: ignore[attr-defined,no-any-return]
        except subprocess.TimeoutExpired:
            raise OSError(f"{words[0]} {words[1]} timed out after {timeout:g}s") from None
        except OSError:
            raise
        except Exception as err:  # the deploy layer's TargetError (ssh itself failed)
            raise OSError(str(err)) from None

    def _forward(self, service: str, port: int, timeout: float) -> Path:
        """A Unix socket here that reaches the service's container on its host (kept for the
        apply: the forward ends when the master connection closes)."""
        host = self._host(service)
        fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
        name = self.containers[service]
        proc = self._remote(
            host, [self.podman, "container", "inspect", "--format", fmt, name], None, timeout
        )
        found = proc.stdout.split() if proc.returncode == 0 else []
        if not found:
            raise OSError(f"{service}: no address for its container on its host yet")
        key = (self.where[service], found[0], port)
        if key in self._forwards:
            return self._forwards[key]
        control: Path = host.control  # type: ignore[attr-defined]
        sock = control.parent / f"fwd{len(self._forwards)}-{control.stem[:20]}.sock"
        if not control.exists():  # the master connection: any command opens it
            self._remote(host, ["true"], None, timeout)
        argv = [
            *host.base_argv(),  # type: ignore[attr-defined]
            "-O", "forward", "-L", f"{sock}:{found[0]}:{port}",
            "--", host.access.address,  # type: ignore[attr-defined]
        ]  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise OSError(f"{service}: ssh -O forward timed out") from None
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise OSError(f"{service}: ssh could not forward to its container: {why}")
        self._forwards[key] = sock
        return sock

    def _connection(
        self, parts: urllib.parse.SplitResult, timeout: float
    ) -> http.client.HTTPConnection:
        host = parts.hostname or ""
        if host not in self.containers:  # not a service of this deployment: from here
            return super()._connection(parts, timeout)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        sock = self._forward(host, port, timeout)
        kind = _UnixHTTPS if parts.scheme == "https" else _UnixHTTP
        return kind(sock, host, port, timeout)

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        host = self._host(service)
        words = [self.podman, "exec", "-i", self.containers[service], *argv]
        proc = self._remote(host, words, stdin or "", timeout)
        return Response(proc.returncode, proc.stdout + (proc.stderr if proc.returncode else ""))


class KubeTransport(HttpTransport):
    """Steps against a cluster (`--target kubernetes`), through the API server.

    HTTP goes through the service proxy subresource, `GET /api/v1/namespaces/NS/services/
    NAME:PORT/proxy/PATH`, on a connection of its own with the kubeconfig's CA and credentials
    (`client`: the target's `KubeClient`). The API server takes the `Authorization` header for
    itself (and drops it before proxying), so a step that sends one is refused with that reason
    instead of failing obscurely. Commands (`exec`) need the pods/exec subresource's streaming
    protocol, which mora's client does not speak: refused with that reason."""

    def __init__(self, client: object, services: Mapping[str, tuple[str, str]]) -> None:
        super().__init__()
        self.client = client
        self.services = dict(services)  # service -> (namespace, Kubernetes Service name)

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if host not in self.services:  # not a service of this deployment: from here
            return super().request(method, url, headers, body, timeout)
        if any(k.lower() == "authorization" for k in headers):
            raise OSError(
                f"{host}: a step's Authorization header cannot pass the API server's service "
                "proxy (the API server uses that header itself); send the key in another header"
            )
        namespace, name = self.services[host]
        port = parts.port or (443 if parts.scheme == "https" else 80)
        scheme = "https:" if parts.scheme == "https" else ""
        target = urllib.parse.quote(f"{scheme}{name}:{port}", safe=":")
        path = (
            f"{self.client.prefix}/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}"  # type: ignore[attr-defined]
            f"/services/{target}/proxy{parts.path or '/'}"
        )
        if parts.query:
            path += "?" + parts.query
        sent = {"Accept": "application/json", **headers}
        token = self.client.config.token  # type: ignore[attr-defined]
        if token:
            sent["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPSConnection(
            self.client.host,  # type: ignore[attr-defined]
            self.client.port,  # type: ignore[attr-defined]
            timeout=timeout,
            context=self.client.ctx,  # type: ignore[attr-defined]
        )
        try:
            conn.request(method, path, body=body, headers=sent)
            resp = conn.getresponse()
            text = resp.read(1 << 20).decode("utf-8", "replace")
            return Response(resp.status, text, {k.lower(): v for k, v in resp.getheaders()})
        except http.client.HTTPException as err:
            raise OSError(f"{type(err).__name__}: {err}") from None
        finally:
            conn.close()

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        raise OSError(
            f"{service}: commands in a pod (pods/exec) need a streaming connection mora's "
            "Kubernetes client does not open yet; run this step with a podman target"
        )
