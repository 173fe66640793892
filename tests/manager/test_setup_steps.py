"""Setup steps run by the manager's apply worker (issue 13), with real podman containers.

The service's steps talk to an app on loopback (an HTTP server in this test, as in
tests/micro/test_executor.py); the step's output is the input its consumer waits for, so one
apply from the manager deploys the app, runs its steps, compiles again and starts the consumer
with the produced value. A failing step's redacted report lands in the run's log.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from mora.manager.core import Manager
from tests.json_http import JsonHandler
from tests.manager.lab import make_manager
from tests.toolchain import BUSYBOX_IMAGE, missing, podman, podman_env

pytestmark = pytest.mark.slow

IDLE = "trap 'exit 0' TERM; sleep 600 & wait"

PROJECT = """\
project {project}

secret admin_password = password(length: 24)

service app {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}"]
  setup {{
    login {{
      method = "POST"
      url = "http://127.0.0.1:{port}/login"
      outside_hosts = ["127.0.0.1"]  # the test's app runs here, outside the project
      json = {{ user: "admin", password: secret.admin_password }}
      output {{ token = body.token }}
    }}
    check {{
      run = "always"
      url = "http://127.0.0.1:{port}/items/media"
      outside_hosts = ["127.0.0.1"]
      auth = bearer(setup.login.token)
      timeout = 2s
    }}
  }}
}}

service consumer {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}"]
  input app_token: secret {{ from = app.setup.login.token }}
  environment {{ TOKEN = input.app_token }}
}}
"""


class _App:
    """Signs in with any password (handing out `token`); `/items/media` needs that token."""

    def __init__(self) -> None:
        self.token = "tok-" + secrets.token_hex(12)
        self.password: str | None = None


def _serve(app: _App) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") == f"Bearer {app.token}":
                self._send(200, {"name": "media"})
            else:  # echoes what it was sent: the report must redact it
                self._send(401, {"error": "no", "got": self.headers.get("Authorization", "")})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            app.password = json.loads(self.rfile.read(length) or b"{}").get("password")
            self._send(200, {"token": app.token})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _podman(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(podman()), *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Manager, _App, int, str, dict[str, str]]]:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        missing(BUSYBOX_IMAGE, "the podman step of scripts/install-validators imports it")
    monkeypatch.setenv("CONTAINERS_CONF", env["CONTAINERS_CONF"])  # the manager's podman
    monkeypatch.setenv("PODMAN", str(podman()))
    project = f"msteps{secrets.token_hex(3)}"
    app = _App()
    server = _serve(app)
    manager = make_manager(tmp_path)
    manager.start()
    try:
        yield manager, app, server.server_address[1], project, env
    finally:
        manager.stop()
        server.shutdown()
        label = f"label=mora.project={project}"
        ids = _podman(env, "ps", "-a", "-q", "--filter", label).stdout.split()
        if ids:
            _podman(env, "rm", "-f", "-t", "0", *ids)
        for name in _podman(env, "secret", "ls", "--format", "{{.Name}}").stdout.split():
            if name.startswith(f"{project}-"):
                _podman(env, "secret", "rm", name)
        _podman(env, "network", "rm", "-f", project)


def test_an_apply_from_the_manager_runs_steps_and_starts_the_held_consumer(lab) -> None:
    manager, app, port, project, env = lab
    text = PROJECT.format(project=project, image=BUSYBOX_IMAGE, idle=IDLE, port=port)
    dep = manager.push({"main.mora": text})
    assert manager.view(dep.id).plan.held == ["consumer"]  # type: ignore[attr-defined]

    run = manager.start_apply(dep.id)
    assert manager.wait(run, 180) == "ok"
    lines = [(line.service, line.status, line.detail) for line in manager.db.lines(run)]
    assert ("setup app.login", "ran", "") in lines
    assert ("setup app.check", "ran", "") in lines
    # the step's output un-held the consumer in the same run: it was created and is healthy
    assert ("consumer", "healthy", "") in lines
    consumer = f"{project}-consumer"
    shown = _podman(env, "exec", consumer, "sh", "-c", 'printf %s "$TOKEN"')
    assert shown.stdout == app.token
    assert app.password and all(
        app.token not in d and app.password not in d for _s, _st, d in lines
    )

    # the app forgets the token: the always-run check fails, its report (redacted) in the log
    old, app.token = app.token, "tok-" + secrets.token_hex(12)
    run = manager.start_apply(dep.id)
    assert manager.wait(run, 180) == "failed"
    lines = [(line.service, line.status, line.detail) for line in manager.db.lines(run)]
    failed = [d for s, st, d in lines if s == "setup app.check" and st == "failed"]
    assert len(failed) == 1
    assert f"GET http://127.0.0.1:{port}/items/media: status 401" in failed[0]
    assert '"got": "Bearer [secret]"' in failed[0]
    assert all(old not in d and app.token not in d for _s, _st, d in lines)
    assert [d for s, st, d in lines if s == "app" and st == "failed"]
