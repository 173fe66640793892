"""A setup step that reads a contract-typed argument (`args.sonarr.api_key`, issue 17).

Seerr and Prowlarr take `sonarr: optional(arr) = none`: their link steps run `when = args.sonarr
!= none`, and inside such a step the fields are known to exist (narrowing). The secret field is
the provider's own secret: the manifest names it (`secret.api_key`), the executor sends its
value to the request, and it never reaches the manifest, a URL or an error. Without a provider,
the step is not built at all (its body would read a field of `none`).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mora.api import check_project, compile_project
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.model import manifest_json
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

PROJECT = """\
project lab

contract keyed {
  host: hostname
  port: port
  api_key: secret
}

service tv {
  image = "localhost/tv:1"
  user = "1000"
  ports { http = 8989 }
  secret api_key = hex(16)
  provides keyed {
    host = self.internal_host
    port = self.ports.http
    api_key = secret.api_key
  }
}

template portal(upstream: optional(keyed) = none, subdomain: string = "portal") {
  image = "localhost/portal:1"
  user = "1000"
  subdomain = args.subdomain
  ports { http = PORT }
  setup {
    link {
      when = args.upstream != none
      method = "POST"
      url = "${self.internal_url}/link"
      headers { "X-Api-Key" = args.upstream.api_key }
      json = { host: args.upstream.host, port: args.upstream.port, apiKey: args.upstream.api_key }
      description = "link the upstream"
    }
  }
}

service app = portal(upstream: tv)
service bare = portal(subdomain: "bare")
"""


def _write(tmp: Path, text: str) -> Path:
    folder = tmp / f"p{len(list(tmp.iterdir()))}"  # a folder per text: no cached parse
    folder.mkdir()
    (folder / "main.mora").write_text(text)
    return folder


def _errors(tmp: Path, text: str) -> list[str]:
    result = check_project(_write(tmp, text))
    return [d.code for d in result.diagnostics if d.code.startswith("E")]


def test_the_step_checks_and_the_narrowing_is_the_steps_own(tmp_path: Path) -> None:
    assert _errors(tmp_path, PROJECT.replace("PORT", "80")) == []
    # without the `when`, a field of the optional argument may be none
    unguarded = PROJECT.replace("PORT", "80").replace("      when = args.upstream != none\n", "")
    assert set(_errors(tmp_path, unguarded)) == {"E0354"}
    # the narrowing is the step's: a sibling step without the `when` is still refused
    sibling = PROJECT.replace("PORT", "80").replace(
        "  setup {\n",
        '  setup {\n    early {\n      url = "${self.internal_url}/x"\n'
        '      headers { "X-Api-Key" = args.upstream.api_key }\n    }\n',
    )
    assert _errors(tmp_path, sibling) == ["E0354"]
    # the field is still a secret: refused in a URL (it would be shown in progress and errors)
    leak = PROJECT.replace("PORT", "80").replace("/link", "/link/${args.upstream.api_key}")
    assert "E0933" in _errors(tmp_path, leak)


def test_a_plain_text_secret_field_is_not_folded_into_a_step(tmp_path: Path) -> None:
    record = PROJECT.replace("PORT", "80").replace(
        "portal(upstream: tv)",
        'portal(upstream: { host: "tv.lan", port: 8989, api_key: "written-out-key" })',
    )
    provider = StoreProvider(SecretStore.in_memory())
    result = compile_project(_write(tmp_path, record), domain="example.org", provider=provider)
    assert result.compiled is None
    found = [d for d in result.diagnostics if d.code.startswith("E")]
    assert [d.code for d in found] == ["E0505"]
    assert "a secret written out as text" in found[0].message
    assert "written-out-key" not in "\n".join(str(d) for d in result.diagnostics)


class _Portal:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, dict[str, object]]] = []


def _serve(portal: _Portal) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            portal.calls.append((self.path, self.headers.get("X-Api-Key"), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_providers_key_goes_to_the_request_and_nowhere_else(tmp_path: Path) -> None:
    portal = _Portal()
    server = _serve(portal)
    try:
        store = SecretStore.in_memory()
        folder = _write(tmp_path, PROJECT.replace("PORT", str(server.server_address[1])))
        result = compile_project(folder, domain="example.org", provider=StoreProvider(store))
        assert result.compiled is not None, [str(d) for d in result.diagnostics]
        manifest = result.compiled.manifest
        # the provider is waited for; the instance without one has no step
        assert manifest.services["app"].depends_on == ["tv"]
        assert [s.name for s in manifest.services["app"].setup] == ["link"]
        assert manifest.services["bare"].setup == []
        key = store.get("api_key").parts["value"]  # type: ignore[union-attr]
        assert key and key not in manifest_json(manifest)
        step = manifest.services["app"].setup[0]
        assert step.headers["X-Api-Key"].ref == "secret.api_key"
        local = HttpTransport(lambda host: "127.0.0.1" if host == "app" else None)
        hook = SetupHook(manifest, store, local, lambda *a: None)
        hook("app")
        assert [(r.step, r.status) for r in hook.results] == [("link", "ran")]
        assert portal.calls == [("/link", key, {"host": "tv", "port": 8989, "apiKey": key})]
    finally:
        server.shutdown()
