"""How steps reach services: HTTP with the standard library, commands through `podman exec`.

A step's URL names the service as the project network knows it (`http://jellyfin:8096`). mora
runs on the host, where that name does not resolve, so the podman transport asks podman for the
container's address on the project network and connects there, keeping the original `Host`.
"""

from __future__ import annotations

import http.client
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping

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
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = self.resolve(host) or host
        conn_type = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_type(address, port, timeout=timeout)
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

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        raise OSError(f"{service}: this target cannot run commands in a container")


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
