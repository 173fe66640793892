"""A body built from an earlier response plus changes (`base` with `json`): the *arr apps' host
config, read with GET and sent back whole with the login fields set (a partial PUT would reset
the others). Against a real HTTP server here that stores what it is sent, so the second run
finds the user and sends nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mora.api import check_project, compile_project
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

PROJECT = """\
project lab

secret admin_password = password(length: 24)

service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = {port} }}
  setup {{
    host_config {{
      run = "always"
      url = "${{self.internal_url}}/api/v3/config/host"
      output {{
        config = body
        has_user = body.username != ""
      }}
      public {{ id = body.id }}
    }}
    login {{
      run = "always"
      when = !setup.host_config.has_user
      method = "PUT"
      url = "${{self.internal_url}}/api/v3/config/host/${{setup.host_config.id}}"
{base}      json = {{ authenticationMethod: "forms", username: "admin", password: secret.admin_password }}
    }}
  }}
}}
"""


class _App:
    def __init__(self) -> None:
        self.config: dict[str, Any] = {
            "id": 1,
            "port": 8989,
            "urlBase": "/tv",
            "authenticationMethod": "none",
            "username": "",
            "password": "",
        }
        self.puts: list[tuple[str, dict[str, Any]]] = []


def _serve(app: _App) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200 if body is not None else 202)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send({**app.config, "password": ""})  # as the *arr apps: never the password

        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            app.puts.append((self.path, body))
            app.config = body
            self._send(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_resource_goes_back_whole_with_the_fields_set(tmp_path: Path) -> None:
    app = _App()
    server = _serve(app)
    try:
        store = SecretStore.in_memory()
        (tmp_path / "p").mkdir()
        text = PROJECT.format(
            port=server.server_address[1], base="      base = setup.host_config.config\n"
        )
        (tmp_path / "p" / "main.mora").write_text(text)
        result = compile_project(
            tmp_path / "p", domain="example.org", provider=StoreProvider(store)
        )
        assert result.compiled is not None, [str(d) for d in result.diagnostics]
        local = HttpTransport(lambda host: "127.0.0.1" if host == "app" else None)
        manifest = result.compiled.manifest
        hook = SetupHook(manifest, store, local, lambda *_: None)
        assert hook("app") is None
        password = store.get("admin_password").parts["value"]  # type: ignore[union-attr]
        assert app.puts == [
            (
                "/api/v3/config/host/1",
                {
                    "id": 1,
                    "port": 8989,
                    "urlBase": "/tv",  # kept as the app gave it
                    "authenticationMethod": "forms",
                    "username": "admin",
                    "password": password,
                },
            )
        ]
        again = SetupHook(manifest, store, local, lambda *_: None)
        assert again("app") is None
        assert [r.status for r in again.results] == ["ran", "skipped"]
        assert len(app.puts) == 1
    finally:
        server.shutdown()


def test_base_is_checked(tmp_path: Path) -> None:
    def errors(base: str, drop_json: bool = False) -> list[tuple[str, str]]:
        folder = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        text = PROJECT.format(port=80, base=base)
        if drop_json:
            text = "\n".join(line for line in text.splitlines() if "json =" not in line) + "\n"
        (folder / "main.mora").write_text(text)
        diags = check_project(folder).diagnostics
        return [(d.code, d.message) for d in diags if d.code.startswith("E")]

    assert errors("      base = setup.host_config.config\n") == []
    not_output = "`base` names an earlier output of this service: `setup.STEP.OUTPUT`"
    assert errors("      base = secret.admin_password\n") == [("E0931", not_output)]
    assert errors("      base = setup.host_config.nope\n")[0][0] == "E0935"
    assert errors("      base = setup.host_config.config\n", drop_json=True) == [
        ("E0931", "`base` goes with `json`: the fields set over it")
    ]
