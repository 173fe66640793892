"""A step repeated per item (`for_each`, `each`) and a list item picked by a field (`pick`).

The checker refuses a bad list (E0939), `each` where it means nothing (E0940) and a malformed
`pick` (E0941). Against a real HTTP server here, the executor records each item by itself
(`STEP[KEY]`): a re-run does nothing, a fourth item runs alone, an item that exists already is
skipped by check-then-act, and a failed item is named by its key with secrets redacted.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from mora.api import check_project, compile_project
from mora.eval.scope import W_ORPHANED_SECRET
from mora.micro.hook import SetupHook
from mora.micro.transport import HttpTransport
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore
from tests.json_http import JsonHandler

PROJECT = """\
project lab

secret api_key = hex(16)
param names: list(string) = NAMES

service app {
  image = "localhost/app:1"
  user = "1000"
  ports { http = PORT }
  setup {
    list_keys {
      run = "always"
      url = "${self.internal_url}/keys"
      headers { "X-Api-Key" = secret.api_key }
      output { apps = body.Items }
    }
    add_key {
      for_each = param.names
      when = pick(setup.list_keys.apps, AppName == each.key, "AppName") == ""
      method = "POST"
      url = "${self.internal_url}/keys/${each}"
      headers { "X-Api-Key" = secret.api_key }
      json = { app: each.value }
      description = "create the key of ${each.key}"
    }
    read_keys {
      url = "${self.internal_url}/keys"
      headers { "X-Api-Key" = secret.api_key }
      output { janitorr = pick(body.Items, AppName == "janitorr", "AccessToken") }
    }
  }
}
"""


def _project(port: int = 80, names: str = '["janitorr", "homepage", "seerr"]') -> str:
    return PROJECT.replace("PORT", str(port)).replace("NAMES", names)


def _check(tmp: Path, text: str) -> list[tuple[str, str]]:
    folder = tmp / f"p{len(list(tmp.iterdir()))}"  # a folder per text: no cached parse
    folder.mkdir()
    (folder / "main.mora").write_text(text)
    result = check_project(folder)
    return [(d.code, d.message) for d in result.diagnostics if d.code.startswith("E")]


def test_the_project_checks_and_bad_forms_are_refused(tmp_path: Path) -> None:
    assert _check(tmp_path, _project()) == []
    bad = {
        # the list: a secret, not a list, known only when a step runs
        "for_each = param.names": [
            ("for_each = secret.api_key", "E0939"),
            ("for_each = 3", "E0939"),
            ("for_each = setup.list_keys.apps", "E0939"),
        ],
        # `each` fields
        "json = { app: each.value }": [
            ("json = { app: each.name }", "E0940"),
            ("json = { app: each.key.x }", "E0940"),
        ],
        # `pick` forms
        'pick(body.Items, AppName == "janitorr", "AccessToken")': [
            ('pick(body.Items, AppName != "janitorr", "AccessToken")', "E0941"),
            ('pick(secret.api_key, AppName == "janitorr")', "E0941"),
            ('pick(body.Items, AppName == "janitorr", "Access Token")', "E0941"),
            ("pick(body.Items)", "E0941"),
        ],
    }
    for old, news in bad.items():
        for new, code in news:
            errors = _check(tmp_path, _project().replace(old, new))
            assert code in [c for c, _ in errors], (new, errors)
    # `each` in a step without `for_each`
    outside = _project().replace('AppName == "janitorr"', "AppName == each.key")
    assert ("E0940", "`each` is the item of a step repeated per item") in _check(tmp_path, outside)
    # a repeated step produces no outputs
    outputs = _project().replace(
        'description = "create', 'public { id = body.Id }\n      description = "create'
    )
    assert ("E0939", "a step repeated per item produces no outputs") in _check(tmp_path, outputs)
    # a picked secret is still a secret: refused in a URL
    leak = _project().replace(
        'url = "${self.internal_url}/keys/${each}"',
        'url = "${self.internal_url}/keys/${pick(setup.list_keys.apps, A == each)}"',
    )
    assert "E0933" in [c for c, _ in _check(tmp_path, leak)]


class _App:
    """A key store: GET /keys lists `{AppName, AccessToken}`, POST /keys/NAME creates one."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.posts: list[str] = []
        self.fail: str | None = None  # a name whose creation fails (echoing the API key)


def _serve(app: _App) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            items = [{"AppName": n, "AccessToken": t} for n, t in app.keys.items()]
            self._send(200, {"Items": items, "TotalRecordCount": len(items)})

        def do_POST(self) -> None:
            name = self.path.rsplit("/", 1)[-1]
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            app.posts.append(name)
            if name == app.fail:
                self._send(500, {"error": f"no key for {self.headers.get('X-Api-Key')}"})
                return
            app.keys[name] = f"token-of-{name}"
            self._send(200, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _apply(tmp: Path, port: int, store: SecretStore, names: str) -> SetupHook:
    folder = tmp / f"p{len(list(tmp.iterdir()))}"  # a folder per text: no cached parse
    folder.mkdir()
    (folder / "main.mora").write_text(_project(port, names))
    result = compile_project(folder, domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    local = HttpTransport(lambda host: "127.0.0.1" if host == "app" else None)
    hook = SetupHook(result.compiled.manifest, store, local, lambda *a: None)
    hook.executor.first_backoff = hook.executor.max_backoff = 0.0  # no waiting between tries
    hook("app")
    return hook


def _statuses(hook: SetupHook) -> dict[str, str]:
    return {r.step: r.status for r in hook.results}


def test_each_item_is_recorded_and_a_rerun_does_only_what_is_missing(tmp_path: Path) -> None:
    app = _App()
    app.keys["homepage"] = "made-by-hand"  # exists already: check-then-act skips it
    server = _serve(app)
    try:
        port = server.server_address[1]
        store = SecretStore.in_memory()
        three = '["janitorr", "homepage", "seerr"]'
        first = _apply(tmp_path, port, store, three)
        assert _statuses(first) == {
            "list_keys": "ran",
            "add_key[janitorr]": "ran",
            "add_key[homepage]": "skipped",
            "add_key[seerr]": "ran",
            "read_keys": "ran",
        }
        assert app.posts == ["janitorr", "seerr"]
        picked = store.get("setup.app.read_keys.janitorr")
        assert picked.parts["value"] == "token-of-janitorr"  # type: ignore[union-attr]
        assert store.get("setup.app.add_key[janitorr]") is not None
        # the same list again: nothing is created
        again = _apply(tmp_path, port, store, three)
        assert app.posts == ["janitorr", "seerr"]
        assert not [r for r in again.results if r.status == "ran" and r.step != "list_keys"]
        # a fourth item: only that one runs
        four = '["janitorr", "homepage", "seerr", "sonarr"]'
        more = _apply(tmp_path, port, store, four)
        assert app.posts == ["janitorr", "seerr", "sonarr"]
        assert [r.step for r in more.results if r.status == "ran"] == [
            "list_keys",
            "add_key[sonarr]",
        ]
        # the per-item records belong to the step: a compile calls none of them orphaned
        # (`mora secrets prune` would delete them, and the next apply redo every item)
        folder = tmp_path / "orphans"
        folder.mkdir()
        (folder / "main.mora").write_text(_project(port, four))
        done = compile_project(folder, domain="example.org", provider=StoreProvider(store))
        assert done.compiled is not None
        assert [d for d in done.diagnostics if d.code == W_ORPHANED_SECRET] == []
        assert store.get("setup.app.add_key[sonarr]") is not None
    finally:
        server.shutdown()


def test_a_failed_item_is_named_by_its_key_and_redacted(tmp_path: Path) -> None:
    app = _App()
    app.fail = "seerr"
    server = _serve(app)
    try:
        store = SecretStore.in_memory()
        text = _project(server.server_address[1]).replace(
            'description = "create', 'timeout = 1s\n      description = "create'
        )
        folder = tmp_path / "p"
        folder.mkdir()
        (folder / "main.mora").write_text(text)
        result = compile_project(folder, domain="example.org", provider=StoreProvider(store))
        assert result.compiled is not None
        local = HttpTransport(lambda host: "127.0.0.1" if host == "app" else None)
        said: list[tuple[str, str, str]] = []
        hook = SetupHook(result.compiled.manifest, store, local, lambda *a: said.append(a))
        hook.executor.first_backoff = hook.executor.max_backoff = 0.0
        hook("app")
        failed = [r for r in hook.results if r.status == "failed"]
        assert [r.step for r in failed] == ["add_key[seerr]"]
        assert "app.add_key[seerr] failed" in failed[0].detail
        assert "POST http://app:" in failed[0].detail and "/keys/seerr" in failed[0].detail
        key = store.get("api_key").parts["value"]  # type: ignore[union-attr]
        assert "no key for [secret]" in failed[0].detail
        assert key not in json.dumps(said) and key not in failed[0].detail
        assert store.get("setup.app.add_key[janitorr]") is not None  # done items stay done
        assert store.get("setup.app.add_key[seerr]:failed") is not None
    finally:
        server.shutdown()


def test_a_string_of_words_repeats_per_word_and_key_value_words_split(tmp_path: Path) -> None:
    """`for_each` over a template's string argument (`groups = "a b"`, `users = "id=email"`)."""
    text = _project().replace("for_each = param.names", 'for_each = "ann=ann@x.org bob"')
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "main.mora").write_text(text)
    result = compile_project(
        folder, domain="example.org", provider=StoreProvider(SecretStore.in_memory())
    )
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    steps = [s for s in result.compiled.manifest.services["app"].setup if s.each is not None]
    assert [(s.name, s.body.entries["app"].lit) for s in steps] == [  # type: ignore[union-attr]
        ("add_key[ann]", "ann@x.org"),
        ("add_key[bob]", "bob"),
    ]
