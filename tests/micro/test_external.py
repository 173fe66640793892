"""An external micromanager (docs/micromanager-protocol.yaml): a tiny HTTP server run here.

It answers `healthy` with a token (a step output that fills another service's input), asks for
an input it was not sent, and hears `input_answered` and `removed`. Every request it receives
is validated against the protocol document's `Event` schema and every reply against `Reply`,
so the document and the executor cannot drift apart.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest
import yaml

from mora.api import compile_project
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "micromanager-protocol.yaml"

PROJECT = """\
project ext

param admin_email: email = "admin@example.org"
secret admin_password = password(length: 20)

service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = 8080 }}
  setup {{
    configure {{
      manager = "http://127.0.0.1:{port}"
      outside_hosts = ["127.0.0.1"]  # the test's micromanager runs here, not in the project
      json = {{ email: param.admin_email, password: secret.admin_password {extra} }}
      output {{ token = body.outputs.token }}
      timeout = 5s
    }}
  }}
}}

service consumer {{
  image = "localhost/app:1"
  user = "1000"
  input app_token: secret {{ from = app.setup.configure.token }}
  environment {{ TOKEN = input.app_token }}
}}
"""


def _schemas() -> dict[str, object]:
    doc = yaml.safe_load(PROTOCOL.read_text())
    assert doc["openapi"].startswith("3.1")
    comps = doc["components"]["schemas"]
    return {
        name: {
            "$defs": comps,
            **json.loads(json.dumps(s).replace("#/components/schemas/", "#/$defs/")),
        }
        for name, s in comps.items()
    }


class _Manager:
    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.want_timezone = False


def _serve(mm: _Manager, schemas: dict[str, object]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            assert self.path == "/events"
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            jsonschema.validate(event, schemas["Event"])
            mm.events.append(event)
            reply: dict[str, object] = {"outputs": {"token": "mm-token-0123456789"}}
            if mm.want_timezone and "timezone" not in event["inputs"]:  # type: ignore[operator]
                reply = {"ask": [{"name": "timezone", "prompt": "Which time zone?"}]}
            jsonschema.validate(reply, schemas["Reply"])
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def manager() -> Iterator[tuple[_Manager, int]]:
    mm = _Manager()
    server = _serve(mm, _schemas())
    yield mm, server.server_address[1]
    server.shutdown()


def _compile(tmp: Path, port: int, store: SecretStore, extra: str = "") -> object:
    (tmp / "p").mkdir(exist_ok=True)
    (tmp / "p" / "main.mora").write_text(PROJECT.format(port=port, extra=extra))
    result = compile_project(tmp / "p", domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    return result.compiled


def test_lifecycle_events_outputs_and_asks(manager, tmp_path: Path) -> None:
    mm, port = manager
    store = SecretStore.in_memory()
    compiled = _compile(tmp_path, port, store)
    manifest = compiled.manifest  # type: ignore[attr-defined]
    said: list[tuple[str, str, str]] = []
    hook = SetupHook(manifest, store, HttpTransport(), lambda *a: said.append(a))

    assert hook("app") is None
    assert [e["event"] for e in mm.events] == ["healthy"]
    first = mm.events[0]
    password = store.get("admin_password").parts["value"]  # type: ignore[union-attr]
    assert first["project"] == "ext" and first["service"] == "app"
    assert first["internal_url"] == "http://app:8080"
    assert first["inputs"] == {"email": "admin@example.org", "password": password}
    assert store.get("input.app_token").parts["value"] == "mm-token-0123456789"  # type: ignore[union-attr]

    # same inputs: a once step does not call again
    assert SetupHook(manifest, store, HttpTransport(), lambda *a: None)("app") is None
    assert len(mm.events) == 1

    # a value it is sent changes (the password set anew), the step does not: `input_answered`
    store.set_value("admin_password", "a-new-password-4567")
    hook = SetupHook(manifest, store, HttpTransport(), lambda *a: None)
    assert hook("app") is None
    assert [e["event"] for e in mm.events] == ["healthy", "input_answered"]
    assert mm.events[-1]["inputs"]["password"] == "a-new-password-4567"  # type: ignore[index]

    # the step itself changes: it is new to the micromanager again, `healthy`
    changed = _compile(tmp_path, port, store, extra=', site: "changed"')
    hook = SetupHook(changed.manifest, store, HttpTransport(), lambda *a: None)  # type: ignore[attr-defined]
    assert hook("app") is None
    assert [e["event"] for e in mm.events] == ["healthy", "input_answered", "healthy"]

    # it asks for an input nobody sent: the step fails, naming it (secrets redacted)
    mm.want_timezone = True
    store.remove("setup.app.configure")
    hook = SetupHook(changed.manifest, store, HttpTransport(), lambda *a: None)  # type: ignore[attr-defined]
    problem = hook("app")
    assert problem is not None
    assert "asks for inputs: timezone (Which time zone?)" in problem
    assert password not in problem and "a-new-password-4567" not in problem

    # removed from the project: it hears `removed`; what the step recorded is forgotten
    hook.executor.removed(changed.manifest.services["app"])  # type: ignore[attr-defined]
    assert mm.events[-1]["event"] == "removed"
    assert store.get("setup.app.configure.token") is None


def test_the_protocol_document_is_openapi_with_both_schemas() -> None:
    schemas = _schemas()
    assert set(schemas) == {"Event", "Reply"}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
