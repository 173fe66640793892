"""The setup-step executor against a real HTTP server (a thread here) and real processes.

Steps come from compiling a real project (so the manifest is what the executor sees in
production); the store is a real in-memory `SecretStore` holding the project's secrets. The
server counts requests, so idempotence is measured, not assumed.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from mora.api import compile_project
from mora.micro.executor import Executor, Response
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.plan import build_plan, render_plan
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore
from tests.json_http import JsonHandler

PROJECT = """\
project lab

secret admin_password = password(length: 24)

service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = {port} }}
  setup {{
    wait_ready {{
      url = "${{self.internal_url}}/ready"
      until = status == 200 && body.state == "ready"
      timeout = 20s
    }}
    login {{
      method = "POST"
      url = "${{self.internal_url}}/login"
      json = {{ user: "admin", password: secret.admin_password }}
      output {{ token = body.token }}
    }}
    find_item {{
      run = "always"
      url = "${{self.internal_url}}/items/media"
      auth = bearer(setup.login.token)
      expect = [200, 404]
      output {{ present = status == 200 }}
    }}
    add_item {{
      run = "always"
      when = !setup.find_item.present
      method = "PUT"
      url = "${{self.internal_url}}/items/media"
      auth = bearer(setup.login.token)
      form = {{ name: "media" }}
    }}
    echo_key {{
      exec = ["sh", "-c", "cat"]
      stdin = setup.login.token
      output {{ copy = stdout }}
    }}
  }}
}}

service consumer {{
  image = "localhost/app:1"
  user = "1000"
  input app_token: secret {{ from = app.setup.login.token }}
  environment {{ TOKEN = input.app_token }}
}}
"""


class _App:
    """A tiny app: not ready for the first `late` polls, then a login and an item store."""

    def __init__(self, late: int) -> None:
        self.late = late
        self.requests: list[str] = []
        self.items: dict[str, str] = {}
        self.token = "tok-" + "9f8e7d6c5b4a" * 2
        self.password: str | None = None


def _serve(app: _App) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def _authed(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {app.token}"

        def do_GET(self) -> None:
            app.requests.append(f"GET {self.path}")
            if self.path == "/ready":
                if app.late > 0:
                    app.late -= 1
                    self._send(503, {"state": "starting"})
                else:
                    self._send(200, {"state": "ready"})
            elif self.path.startswith("/items/") and self._authed():
                name = self.path.removeprefix("/items/")
                self._send(200, {"name": name}) if name in app.items else self._send(404, {})
            else:  # echoes what it was sent, as some apps do: the report must redact it
                self._send(401, {"error": "no", "got": self.headers.get("Authorization", "")})

        def do_POST(self) -> None:
            app.requests.append(f"POST {self.path}")
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            app.password = body.get("password")
            self._send(200, {"token": app.token})

        def do_PUT(self) -> None:
            app.requests.append(f"PUT {self.path}")
            length = int(self.headers.get("Content-Length", "0"))
            form = self.rfile.read(length).decode()
            if not self._authed():
                self._send(401, {"error": f"bad token; got {form}"})
                return
            app.items[self.path.removeprefix("/items/")] = form
            self._send(201, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Local(HttpTransport):
    """`app` resolves to loopback; commands run as local processes (no container here)."""

    def __init__(self) -> None:
        super().__init__(lambda host: "127.0.0.1" if host == "app" else None)

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        proc = subprocess.run(
            argv, input=stdin or "", capture_output=True, text=True, timeout=timeout
        )
        return Response(proc.returncode, proc.stdout)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[_App, ThreadingHTTPServer]]:
    app = _App(late=3)
    server = _serve(app)
    yield app, server
    server.shutdown()


def _compile(tmp: Path, port: int, store: SecretStore, text: str = PROJECT) -> object:
    (tmp / "p").mkdir(exist_ok=True)
    (tmp / "p" / "main.mora").write_text(text.format(port=port))
    result = compile_project(tmp / "p", domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    # what the steps keep in the store is declared: never an "orphaned secret" warning
    assert not [d for d in result.diagnostics if d.code == "W0502"]
    return result.compiled


class _Time:
    """A clock that moves only when the executor sleeps: backoff without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _fast(hook: SetupHook) -> _Time:
    t = _Time()
    hook.executor.clock = t.clock
    hook.executor.sleep = t.sleep
    return t


def test_steps_run_retry_and_second_run_changes_nothing(lab, tmp_path: Path) -> None:
    app, server = lab
    store = SecretStore.in_memory()
    compiled = _compile(tmp_path, server.server_address[1], store)
    manifest = compiled.manifest  # type: ignore[attr-defined]
    said: list[tuple[str, str, str]] = []
    hook = SetupHook(manifest, store, _Local(), lambda *a: said.append(a))
    t = _fast(hook)

    assert hook("app") is None
    assert [(r.step, r.status) for r in hook.results] == [
        ("wait_ready", "ran"),
        ("login", "ran"),
        ("find_item", "ran"),
        ("add_item", "ran"),
        ("echo_key", "ran"),
    ]
    # retried while the app was starting: three 503s, then ready
    assert app.requests[:4] == ["GET /ready"] * 4
    assert t.slept == [0.5, 1.0, 2.0]  # exponential backoff
    assert next(s for s in said if s[1] == "retrying")[0] == "app.wait_ready"
    assert app.items == {"media": "name=media"}
    password = store.get("admin_password").parts["value"]  # type: ignore[union-attr]
    assert app.password == password  # the secret reached the app in the JSON body
    token = store.get("setup.app.login.token").parts["value"]  # type: ignore[union-attr]
    assert token == app.token
    assert store.get("setup.app.echo_key.copy").parts["value"] == app.token  # type: ignore[union-attr]
    # the produced input is filled: the consumer's value is there
    assert store.get("input.app_token").parts["value"] == app.token  # type: ignore[union-attr]
    assert hook.filled_pending() == ["app_token"]
    assert all(app.token not in " ".join(s) and password not in " ".join(s) for s in said)

    # second run: once steps are recorded; the check finds the item, the act is skipped
    app.requests.clear()
    again = SetupHook(manifest, store, _Local(), lambda *a: None)
    assert again("app") is None
    assert [(r.step, r.status) for r in again.results] == [
        ("wait_ready", "unchanged"),
        ("login", "unchanged"),
        ("find_item", "ran"),
        ("add_item", "skipped"),
        ("echo_key", "unchanged"),
    ]
    assert app.requests == ["GET /items/media"]


def test_recompiled_plan_has_no_question_and_the_consumer_gets_the_value(lab, tmp_path) -> None:
    app, server = lab
    store = SecretStore.in_memory()
    compiled = _compile(tmp_path, server.server_address[1], store)
    plan = build_plan(compiled.manifest)  # type: ignore[attr-defined]
    assert plan.pending_inputs == []
    assert [q.name for q in plan.produced_inputs] == ["app_token"]
    assert plan.held == ["consumer"]
    text = render_plan(plan)
    assert "app_token for consumer <- app.login.token" in text
    assert "then set up app: wait_ready, login, find_item, add_item, echo_key" in text

    hook = SetupHook(compiled.manifest, store, _Local(), lambda *a: None)  # type: ignore[attr-defined]
    _fast(hook)
    assert hook("app") is None
    again = _compile(tmp_path, server.server_address[1], store)
    consumer = again.manifest.services["consumer"]  # type: ignore[attr-defined]
    assert consumer.pending_inputs == []
    material = consumer.environment["TOKEN"].secret
    assert again.material[material] == app.token  # type: ignore[attr-defined]
    assert build_plan(again.manifest).held == []  # type: ignore[attr-defined]


def test_a_failing_step_reports_method_url_status_and_a_redacted_body(lab, tmp_path) -> None:
    app, server = lab
    app.late = 0
    store = SecretStore.in_memory()
    compiled = _compile(tmp_path, server.server_address[1], store)
    hook = SetupHook(compiled.manifest, store, _Local(), lambda *a: None)  # type: ignore[attr-defined]
    _fast(hook)
    assert hook("app") is None
    # the app forgets the token: the act step gets 401 with a body that echoes the form
    store.remove("setup.app.echo_key")
    app.items.clear()
    app.token = "tok-rotated-0000"
    t = _fast(hook)
    problem = hook.executor.run_service(compiled.manifest.services["app"])  # type: ignore[attr-defined]
    failed = [r for r in problem if r.status == "failed"]
    assert [r.step for r in failed] == ["find_item"]
    detail = failed[0].detail
    port = server.server_address[1]
    assert f"GET http://app:{port}/items/media: status 401" in detail
    assert '{"error": "no", "got": "Bearer [secret]"}' in detail
    old = store.get("setup.app.login.token").parts["value"]  # type: ignore[union-attr]
    assert old not in detail
    assert "failed after 60s" in detail and sum(t.slept) <= 60  # retried until the timeout


def test_redaction_covers_every_value_of_the_site(lab, tmp_path) -> None:
    _app, server = lab
    store = SecretStore.in_memory()
    _compile(tmp_path, server.server_address[1], store)
    password = store.get("admin_password").parts["value"]  # type: ignore[union-attr]
    ex = Executor(store, _Local())
    assert ex.redact(f"body: {{'echo': '{password}'}}") == "body: {'echo': '[secret]'}"
