"""Audiobookshelf's setup steps (root user, sign-in, OpenID settings) against a small real HTTP
server that answers as Audiobookshelf 2.36.0 does.

Audiobookshelf publishes no API description, so `audiobookshelf-routes.json` is one written by
hand from its server source at the tag (the provenance names the files and their digests), for
the four routes the steps use. The server below follows it, and is stricter than Audiobookshelf
in one way: a body key the route does not read is refused (Audiobookshelf ignores it, so such a
step would silently do nothing). The steps are compiled from `tests/cases/sso-oidc-apps` and run
by mora's own executor (`SetupHook`) over HTTP.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mora.api import compile_project
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore
from tests.json_http import JsonHandler

HERE = Path(__file__).resolve().parent
CASE = HERE.parent / "cases" / "sso-oidc-apps" / "input"
ROUTES = json.loads((HERE / "audiobookshelf-routes.json").read_text())["routes"]


class _Abs:
    """What the fake keeps: the root user, the session token, the authentication settings."""

    def __init__(self) -> None:
        self.root: tuple[str, str] | None = None
        self.token = "jwt-" + "a1b2c3d4" * 4
        self.settings: dict[str, Any] = {"authActiveAuthMethods": ["local"]}
        self.requests: list[str] = []


def _type_problems(spec: Any, value: Any, where: str) -> list[str]:
    """A body value against the fixture's description of it."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        problems = [f"{where}.{k}: not read by the route" for k in value if k not in spec]
        for key, sub in spec.items():
            if key in value:
                problems += _type_problems(sub, value[key], f"{where}.{key}")
        return problems
    if isinstance(spec, list):  # a list of allowed words
        ok = isinstance(value, list) and value and all(v in spec for v in value)
        return [] if ok else [f"{where}: not a list of {spec}"]
    if spec == "string":
        return [] if isinstance(value, str) else [f"{where}: not a string"]
    if spec == "string|null":
        return [] if value is None or isinstance(value, str) else [f"{where}: not a string"]
    if spec == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: not a boolean"]
    if spec == "list of URIs":
        ok = isinstance(value, list) and all(
            isinstance(v, str) and "://" in v and " " not in v for v in value
        )
        return [] if ok else [f"{where}: not a list of URIs"]
    raise AssertionError(f"unknown fixture type {spec!r}")


def _serve(app: _Abs) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def _body(self, route: str) -> tuple[Any, list[str]]:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            return body, _type_problems(ROUTES[route]["body"], body, "body")

        def do_GET(self) -> None:
            app.requests.append(f"GET {self.path}")
            if self.path == "/status":
                self._send(200, {"app": "audiobookshelf", "isInit": app.root is not None})
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            app.requests.append(f"POST {self.path}")
            if self.path == "/init":
                body, problems = self._body("POST /init")
                if problems:
                    self._send(400, {"problems": problems})
                elif app.root is not None:
                    self._send(500, {})  # "attempt to init server when server already has a root"
                else:
                    new = body["newRoot"]
                    app.root = (new.get("username") or "root", new.get("password") or "")
                    self._send(200, {})
            elif self.path == "/login":
                body, problems = self._body("POST /login")
                if problems:
                    self._send(400, {"problems": problems})
                elif app.root != (body["username"], body["password"]):
                    self._send(401, {})
                else:
                    self._send(200, {"user": {"username": "root", "accessToken": app.token}})
            else:
                self._send(404, {})

        def do_PATCH(self) -> None:
            app.requests.append(f"PATCH {self.path}")
            if self.path != "/api/auth-settings":
                self._send(404, {})
                return
            if self.headers.get("Authorization") != f"Bearer {app.token}":
                self._send(401, {})
                return
            body, problems = self._body("PATCH /api/auth-settings")
            if problems:
                self._send(400, {"problems": problems})
                return
            app.settings.update(body)
            self._send(200, {"updated": True, "serverSettings": {}})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _ToFake(HttpTransport):
    """Every request goes to the fake server, whatever the host and port of its URL."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def _connection(
        self, parts: urllib.parse.SplitResult, timeout: float
    ) -> http.client.HTTPConnection:
        assert parts.hostname == "books" and parts.port == 13378, parts
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)


@pytest.fixture
def fake() -> Iterator[tuple[_Abs, ThreadingHTTPServer]]:
    app = _Abs()
    server = _serve(app)
    yield app, server
    server.shutdown()


def _hook(store: SecretStore, port: int, said: list[tuple[str, ...]]) -> SetupHook:
    result = compile_project(CASE, domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    hook = SetupHook(result.compiled.manifest, store, _ToFake(port), lambda *a: said.append(a))
    now = [0.0]  # a clock that moves only when the executor sleeps: retries without waiting
    hook.executor.clock = lambda: now[0]
    hook.executor.sleep = lambda s: now.__setitem__(0, now[0] + s)
    return hook


def _value(store: SecretStore, name: str) -> str:
    record = store.get(name)
    assert record is not None, name
    return record.parts["value"]


def test_the_steps_make_root_and_turn_openid_on_and_a_second_run_keeps_them(fake) -> None:
    app, server = fake
    store = SecretStore.in_memory()
    said: list[tuple[str, ...]] = []
    hook = _hook(store, server.server_address[1], said)
    assert hook("books") is None
    assert [(r.step, r.status) for r in hook.results] == [
        ("status", "ran"),
        ("init", "ran"),
        ("login", "ran"),
        ("oidc_settings", "ran"),
    ]
    root_password = _value(store, "books_root_password")
    assert app.root == ("root", root_password)
    secret = _value(store, "books_oidc_secret")
    s = app.settings
    assert s["authActiveAuthMethods"] == ["local", "openid"]
    assert s["authOpenIDClientID"] == "books" and s["authOpenIDClientSecret"] == secret
    assert s["authOpenIDIssuerURL"] == "https://auth.example.org"
    assert s["authOpenIDAuthorizationURL"] == "https://auth.example.org/api/oidc/authorization"
    assert s["authOpenIDTokenURL"] == "https://auth.example.org/api/oidc/token"
    assert s["authOpenIDUserInfoURL"] == "https://auth.example.org/api/oidc/userinfo"
    assert s["authOpenIDJwksURL"] == "https://auth.example.org/jwks.json"
    assert s["authOpenIDAutoRegister"] is True and s["authOpenIDSubfolderForRedirectURLs"] == ""
    needed = ROUTES["PATCH /api/auth-settings"]["x-openid-valid-when-set"]
    assert all(s.get(k) for k in needed)  # Audiobookshelf turns the strategy on only then
    assert "authOpenIDGroupClaim" not in s  # it would refuse groups other than admin/user/guest
    shown = " ".join(" ".join(x) for x in said)
    assert secret not in shown and root_password not in shown and app.token not in shown

    # again: the once-steps are recorded (init, settings); status and login run every time
    app.requests.clear()
    again = _hook(store, server.server_address[1], [])
    assert again("books") is None
    assert [(r.step, r.status) for r in again.results] == [
        ("status", "ran"),
        ("init", "unchanged"),
        ("login", "ran"),
        ("oidc_settings", "unchanged"),
    ]
    assert app.requests == ["GET /status", "POST /login"]


def test_a_root_made_by_hand_fails_the_sign_in_without_showing_the_password(fake) -> None:
    """A root user someone made in the web UI has another password: the sign-in step fails
    (and says where), the settings are left alone, and no secret is in the report."""
    app, server = fake
    app.root = ("root", "made-by-hand")
    store = SecretStore.in_memory()
    said: list[tuple[str, ...]] = []
    hook = _hook(store, server.server_address[1], said)
    error = hook("books")
    assert error is not None and "books.login" in error and "401" in error
    assert app.settings == {"authActiveAuthMethods": ["local"]}
    root_password = _value(store, "books_root_password")
    assert root_password not in error and root_password not in " ".join(" ".join(x) for x in said)


def test_the_fixture_refuses_what_audiobookshelf_would_not_read() -> None:
    """The fake's check can fail: a misspelt key and a wrong type are problems."""
    spec = ROUTES["PATCH /api/auth-settings"]["body"]
    assert _type_problems(spec, {"authOpenIDClientId": "x"}, "body") == [
        "body.authOpenIDClientId: not read by the route"
    ]
    assert _type_problems(spec, {"authOpenIDAutoRegister": "true"}, "body") == [
        "body.authOpenIDAutoRegister: not a boolean"
    ]
    assert _type_problems(spec, {"authActiveAuthMethods": ["ldap"]}, "body") != []
