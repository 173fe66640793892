"""Public step outputs (`public { NAME = body.Id }`): an id a later step puts into its URL.

The checker refuses a public output derived from a secret (E0937) and still refuses a secret
output in a URL (E0933); the executor, against a real HTTP server here, percent-encodes an
output in a URL (a response cannot add a path, a query or a host), shows a public value in
progress, and fails a step whose public output turns out to hold a secret of the site.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mora.api import check_project, compile_project
from mora.micro.hook import SetupHook
from mora.micro.progress import render_states, step_states
from mora.micro.transport import HttpTransport
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

PROJECT = """\
project lab

secret api_key = hex(16)

service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = {port} }}
  setup {{
    find_user {{
      url = "${{self.internal_url}}/Users"
      headers {{ "X-Api-Key" = secret.api_key }}
      public {{ user_id = body.{field} }}
      output {{ name = body.0.Name }}
    }}
    allow_delete {{
      description = "allow deletion"
      method = "POST"
      url = "${{self.internal_url}}/Users/${{setup.find_user.user_id}}/Policy"
      headers {{ "X-Api-Key" = secret.api_key }}
      json = {{ EnableContentDeletion: true }}
    }}
  }}
}}
"""


def _check(tmp: Path, text: str) -> list[tuple[str, str]]:
    folder = tmp / f"p{len(list(tmp.iterdir()))}"  # a folder per text: no cached parse
    folder.mkdir()
    (folder / "main.mora").write_text(text)
    result = check_project(folder)
    return [(d.code, d.message) for d in result.diagnostics if d.code.startswith("E")]


def test_public_outputs_are_checked(tmp_path: Path) -> None:
    assert _check(tmp_path, PROJECT.format(port=80, field="0.Id")) == []
    leaks = {
        "secret.api_key": "derived from a secret",
        '"${secret.api_key}-x"': "derived from a secret",
        "setup.find_user.name": "derived from a secret",  # a secret output
        "cookie": "a session cookie",
    }
    for value, _why in leaks.items():
        text = PROJECT.format(port=80, field="0.Id").replace(
            "allow_delete {",
            f'more {{\n      url = "${{self.internal_url}}/x"\n      public {{ bad = {value} }}\n'
            "    }\n    allow_delete {",
        )
        errors = _check(tmp_path, text)
        assert ("E0937", "public output `bad` would hold a secret") in errors, (value, errors)
    # a secret output in a URL is still refused
    secret_url = PROJECT.format(port=80, field="0.Id").replace(
        "/Users/${setup.find_user.user_id}/Policy", "/Users/${setup.find_user.name}/Policy"
    )
    assert [c for c, _ in _check(tmp_path, secret_url)] == ["E0933"]
    # a description is compile-time text: a step output (even a public one) is refused there
    described = PROJECT.format(port=80, field="0.Id").replace(
        '"allow deletion"', '"allow deletion for ${setup.find_user.user_id}"'
    )
    msg = "a description is known when compiling: it cannot hold a step output"
    assert _check(tmp_path, described) == [("E0931", msg)]
    twice = PROJECT.format(port=80, field="0.Id").replace(
        "output { name = body.0.Name }", "output { user_id = body.0.Name }"
    )
    assert ("E0931", "output `user_id` is declared twice") in _check(tmp_path, twice)


class _App:
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.seen: list[str] = []


def _serve(app: _App) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            app.seen.append(f"GET {self.path}")
            self._send([{"Id": app.user_id, "Name": "janitorr"}])

        def do_POST(self) -> None:
            app.seen.append(f"POST {self.path}")
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._send({})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _run(tmp: Path, user_id: str | None) -> tuple[_App, SetupHook, list[tuple[str, str, str]]]:
    app = _App(user_id or "")
    server = _serve(app)
    try:
        store = SecretStore.in_memory()
        (tmp / "p").mkdir(exist_ok=True)
        text = PROJECT.format(port=server.server_address[1], field="0.Id")
        (tmp / "p" / "main.mora").write_text(text)
        result = compile_project(tmp / "p", domain="example.org", provider=StoreProvider(store))
        assert result.compiled is not None, [str(d) for d in result.diagnostics]
        if user_id is None:  # the app echoes the API key it was sent as the user's id
            app.user_id = store.get("api_key").parts["value"]  # type: ignore[union-attr]
        said: list[tuple[str, str, str]] = []
        local = HttpTransport(lambda host: "127.0.0.1" if host == "app" else None)
        hook = SetupHook(result.compiled.manifest, store, local, lambda *a: said.append(a))
        hook("app")
        return app, hook, said
    finally:
        server.shutdown()


def test_a_public_id_goes_into_the_url_encoded_and_shows(tmp_path: Path) -> None:
    app, hook, said = _run(tmp_path, "4f/../x?admin=1")
    assert [r.status for r in hook.results] == ["ran", "ran"]
    # one path segment: the id cannot climb the path or add a query
    assert app.seen[-1] == "POST /Users/4f%2F..%2Fx%3Fadmin%3D1/Policy"
    assert ("app.find_user", "ran", "user_id=4f/../x?admin=1") in said
    stored = hook.store.get("setup.app.find_user.user_id")
    assert stored.parts["value"] == "4f/../x?admin=1"  # type: ignore[union-attr]
    # `mora plan`'s "setup steps so far" shows the public value, never the secret `name`
    states = step_states(hook.manifest, hook.store)  # type: ignore[arg-type]
    assert states[0].to_json()["public"] == {"user_id": "4f/../x?admin=1"}
    shown = render_states(states)
    assert "user_id=4f/../x?admin=1" in shown and "janitorr" not in shown


def test_a_public_output_holding_a_secret_fails_the_step(tmp_path: Path) -> None:
    app, hook, said = _run(tmp_path, None)
    failed = [r for r in hook.results if r.status == "failed"]
    assert failed and "public output `user_id` holds a secret value" in failed[0].detail
    assert app.user_id not in json.dumps(said)
    assert hook.store.get("setup.app.find_user.user_id") is None
    assert not [s for s in app.seen if s.startswith("POST")]  # never put into a URL


@pytest.mark.parametrize("where", ["output", "public"])
def test_manifest_marks_only_public_outputs(tmp_path: Path, where: str) -> None:
    text = PROJECT.format(port=80, field="0.Id")
    if where == "output":
        text = text.replace("public { user_id", "output { user_id").replace(
            "${setup.find_user.user_id}", "x"
        )
        text = text.replace(
            "output { user_id = body.0.Id }\n      output { name = body.0.Name }",
            "output {\n        user_id = body.0.Id\n        name = body.0.Name\n      }",
        )
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.mora").write_text(text)
    store = SecretStore.in_memory()
    result = compile_project(tmp_path / "p", domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    outputs = result.compiled.manifest.services["app"].setup[0].outputs
    assert outputs["user_id"].public is (where == "public")
    assert outputs["name"].public is False
