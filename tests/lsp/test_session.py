"""`mora lsp` driven as an editor drives it: a separate process, framed JSON-RPC on its pipes.

One session per test: initialize, didOpen, didChange, the feature requests, shutdown, exit.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mora.api import check_project
from mora.fmt import format_source
from tests.lsp.client import Client

MAIN = """\
project demo

import postgres

# The timezone of every container.
param timezone: string = "Etc/UTC"

secret api_key = hex(16)

service db = postgres(user: "app")

service web {
  image = "nginx:1.27"
  environment {
    TZ = param.timezone
    KEY = secret.api_key
    DB = secret.db_password
  }
  resources {
    memory = 256Mi
  }
  depends_on = [db, cache]
}
"""

OTHER = """\
service cache {
  image = "redis:7.4"
}

service proxy {
  image = "caddy:2.8"
  depends_on = [web]
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "main.mora").write_text(MAIN)
    (root / "other.mora").write_text(OTHER)
    return root


@pytest.fixture
def client(project: Path) -> Iterator[Client]:
    c = Client(cwd=project)
    try:
        yield c
    finally:
        c.kill()


def pos(text: str, needle: str, delta: int = 0) -> dict[str, int]:
    """The LSP position of `needle` (plus `delta` characters) in `text`."""
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def errors(diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in diagnostics if d["severity"] == 1]


def at(uri: str, text: str, needle: str, delta: int = 0) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": pos(text, needle, delta)}


def test_initialize_announces_the_features(client: Client, project: Path) -> None:
    caps = client.initialize(project)["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"]
    assert caps["documentSymbolProvider"] and caps["documentFormattingProvider"]
    assert "." in caps["completionProvider"]["triggerCharacters"]
    assert caps["textDocumentSync"]["change"] == 2
    assert client.close() == 0


def test_diagnostics_follow_the_edits_across_files(client: Client, project: Path) -> None:
    client.initialize(project)
    main = client.open(project / "main.mora")
    assert errors(client.diagnostics(main)) == []
    other_uri = (project / "other.mora").resolve().as_uri()
    assert errors(client.diagnostics(other_uri)) == []  # every file of the project is published

    # Rename `web` in main.mora (an incremental change): other.mora's reference breaks.
    start = pos(MAIN, "service web", len("service "))
    end = dict(start, character=start["character"] + 3)
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": main, "version": 2},
            "contentChanges": [{"range": {"start": start, "end": end}, "text": "www"}],
        },
    )
    assert errors(client.diagnostics(main)) == []
    problems = errors(client.diagnostics(other_uri))
    # The same codes and spans as `mora check` on the same files.
    (project / "main.mora").write_text(MAIN.replace("service web", "service www"))
    expected = [d for d in check_project(project).diagnostics if d.is_error]
    assert [p["code"] for p in problems] == [d.code for d in expected] == ["E0204"]
    assert problems[0]["range"]["start"] == pos(OTHER, "web]")
    assert problems[0]["range"]["end"] == pos(OTHER, "web]", 3)
    assert problems[0]["severity"] == 1 and "unknown service `web`" in problems[0]["message"]

    # A whole-text change fixes it again; the syntax error of a broken text is reported too.
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": main, "version": 3}, "contentChanges": [{"text": MAIN}]},
    )
    assert errors(client.diagnostics(main)) == []
    assert errors(client.diagnostics(other_uri)) == []
    broken = MAIN.replace('image = "nginx:1.27"', "image = ")
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": main, "version": 4}, "contentChanges": [{"text": broken}]},
    )
    codes = [d["code"] for d in client.diagnostics(main)]
    assert codes and codes[0] == "E0001"
    assert client.close() == 0


def test_hover(client: Client, project: Path) -> None:
    client.initialize(project)
    uri = client.open(project / "main.mora")

    def hover(needle: str, delta: int = 1) -> str:
        result = client.request("textDocument/hover", at(uri, MAIN, needle, delta))
        assert result is not None, needle
        return str(result["contents"]["value"])

    param = hover("param.timezone", len("param.t"))
    assert 'param timezone: string = "Etc/UTC"' in param
    assert "The timezone of every container." in param
    assert "hex(16)" in hover("secret.api_key", len("secret.a"))
    assert "Declared by the template of service `db`" in hover("secret.db_password", 8)
    image = hover('image = "nginx')
    assert "image = string" in image and "the container image" in image
    assert "memory = size" in hover("memory = 256Mi")
    template = hover('postgres(user: "app")')
    assert "template postgres(" in template and 'user: string = "postgres",' in template
    assert 'user: string = "postgres"' in hover('user: "app"')
    assert "service cache" in hover("cache]")
    assert client.request("textDocument/hover", at(uri, MAIN, "\n\nservice db", 1)) is None
    assert client.close() == 0


def test_definition(client: Client, project: Path) -> None:
    client.initialize(project)
    uri = client.open(project / "main.mora")

    def definition(needle: str, delta: int = 1) -> dict[str, Any]:
        (loc,) = client.request("textDocument/definition", at(uri, MAIN, needle, delta))
        return loc

    here = definition("param.timezone", len("param.t"))
    assert here["uri"] == uri and here["range"]["start"] == pos(MAIN, "timezone: string")
    there = definition("cache]")
    assert there["uri"] == (project / "other.mora").resolve().as_uri()
    assert there["range"]["start"] == {"line": 0, "character": 8}
    stdlib = definition('postgres(user: "app")')
    assert stdlib["uri"].endswith("/stdlib/postgres.mora")
    assert "template postgres(" in Path(stdlib["uri"][len("file://") :]).read_text()
    secret = definition("secret.db_password", 8)
    assert secret["uri"].endswith("/stdlib/postgres.mora")
    module = definition("import postgres", len("import p"))
    assert module["uri"].endswith("/stdlib/postgres.mora")
    assert definition("db, cache")["range"]["start"] == pos(MAIN, "db = postgres")
    assert client.close() == 0


def test_completion(client: Client, project: Path) -> None:
    client.initialize(project)
    uri = client.open(project / "main.mora")

    def labels(text: str, needle: str, delta: int) -> set[str]:
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri}, "contentChanges": [{"text": text}]},
        )
        result = client.request("textDocument/completion", at(uri, text, needle, delta))
        return {item["label"] for item in result["items"]}

    # Attributes of the block the cursor is in.
    service = labels(MAIN.replace("  image =", "  \n  image ="), "  \n  image", 2)
    assert {"image", "ports", "environment", "volumes", "healthcheck"} <= service
    resources = labels(MAIN.replace("memory = 256Mi", "m"), "    m\n", 5)
    assert {"memory", "cpu", "memory_limit"} <= resources and "image" not in resources
    # Names after `param.` / `secret.`, template arguments, stdlib modules.
    assert labels(MAIN.replace("param.timezone", "param."), "param.\n", 6) == {"timezone"}
    assert {"api_key", "db_password"} <= labels(MAIN, "secret.api_key", 7)
    arguments = labels(MAIN.replace('user: "app"', ""), "postgres()", 9)
    assert {"user", "database", "databases", "image"} <= arguments
    modules = labels(MAIN.replace("import postgres", "import po"), "import po", 9)
    assert {"postgres", "redis", "authelia"} <= modules
    values = labels(MAIN.replace("[db, cache]", "[db, ]"), "[db, ]", 5)
    assert {"db", "web", "cache", "param", "secret"} <= values
    assert client.close() == 0


def test_document_symbols_and_formatting(client: Client, project: Path) -> None:
    client.initialize(project)
    uri = client.open(project / "main.mora")
    symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    assert [(s["name"], s["kind"]) for s in symbols] == [
        ("demo", 2),
        ("postgres", 3),
        ("timezone", 13),
        ("api_key", 20),
        ("db", 5),
        ("web", 5),
    ]
    web = symbols[-1]
    assert [c["name"] for c in web["children"]] == [
        "image",
        "environment",
        "resources",
        "depends_on",
    ]
    assert web["selectionRange"]["start"] == pos(MAIN, "web {")

    messy = MAIN.replace('image = "nginx:1.27"', 'image="nginx:1.27"   # pinned')
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri}, "contentChanges": [{"text": messy}]},
    )
    (edit,) = client.request(
        "textDocument/formatting",
        {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}},
    )
    assert edit["range"]["start"] == {"line": 0, "character": 0}
    assert edit["range"]["end"] == pos(messy, messy[-1], len(messy) - messy.index(messy[-1]))
    assert edit["newText"] == format_source(messy).text
    assert '  image = "nginx:1.27"  # pinned\n' in edit["newText"]
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri}, "contentChanges": [{"text": "service {"}]},
    )
    assert client.request("textDocument/formatting", {"textDocument": {"uri": uri}}) is None
    assert client.close() == 0


def test_a_secret_value_written_in_the_source_is_not_shown(client: Client, project: Path) -> None:
    """A secret may not be a literal (E0301), but the hover must not repeat it either."""
    text = MAIN.replace("secret api_key = hex(16)", 'secret api_key = "literal-never-shown"')
    client.initialize(project)
    uri = client.open(project / "main.mora", text)
    assert [d["code"] for d in errors(client.diagnostics(uri))] == ["E0301"]
    for needle, delta in (("secret.api_key", 8), ("api_key =", 1)):
        value = client.request("textDocument/hover", at(uri, text, needle, delta))
        assert "secret api_key" in value["contents"]["value"]
        assert "literal-never-shown" not in str(value)
    assert client.close() == 0


def test_protocol_errors_are_answered(client: Client) -> None:
    early = client.request_raw("textDocument/hover", {})
    assert early["error"]["code"] == -32002  # before initialize
    client.initialize()
    unknown = client.request_raw("mora/unknown", {})
    assert unknown["error"]["code"] == -32601
    assert client.close() == 0


def test_exit_without_shutdown_is_exit_code_1(client: Client) -> None:
    client.initialize()
    client.notify("exit", {})
    assert client.proc.wait(timeout=60) == 1


def test_stdlib_is_browsable(client: Client, tmp_path: Path) -> None:
    """A stdlib module opened in the editor checks clean and hovers like any file."""
    copy = tmp_path / "std"
    copy.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "stdlib" / "redis.mora", copy)
    client.initialize()
    uri = client.open(copy / "redis.mora")
    assert errors(client.diagnostics(uri)) == []
    assert client.close() == 0


TEMPLATED = """\
project tpl

# A web app behind the proxy.
template app(port: port = 8080, tag: string = "1.0") {
  image = "example.org/app:${args.tag}"
  ports { http = args.port }
}

input admin_email: email {
  prompt = "Which address should receive alerts?"
}

service portal = app(port: 9000)

service mailer {
  image = "example.org/mailer:2.1"
  environment { TO = input.admin_email }
}
"""


def test_inputs_templates_and_arguments(client: Client, tmp_path: Path) -> None:
    root = tmp_path / "tpl"
    root.mkdir()
    (root / "main.mora").write_text(TEMPLATED)
    client.initialize(root)
    uri = client.open(root / "main.mora")
    assert errors(client.diagnostics(uri)) == []

    def request(method: str, needle: str, delta: int) -> Any:
        return client.request(method, at(uri, TEMPLATED, needle, delta))

    hover = request("textDocument/hover", "input.admin_email", 8)["contents"]["value"]
    assert "input admin_email: email" in hover
    (loc,) = request("textDocument/definition", "input.admin_email", 8)
    assert loc["range"]["start"] == pos(TEMPLATED, "admin_email: email")
    hover = request("textDocument/hover", "args.port", 6)["contents"]["value"]
    assert "port: port = 8080" in hover
    (loc,) = request("textDocument/definition", "args.tag", 6)
    assert loc["range"]["start"] == pos(TEMPLATED, "tag: string")
    hover = request("textDocument/hover", "app(port: 9000)", 1)["contents"]["value"]
    assert "template app(" in hover and "A web app behind the proxy." in hover
    (loc,) = request("textDocument/definition", "app(port: 9000)", 1)
    assert loc["range"]["start"] == pos(TEMPLATED, "app(port: port")
    labels = {i["label"] for i in request("textDocument/completion", "args.port", 5)["items"]}
    assert labels == {"port", "tag"}
    labels = {i["label"] for i in request("textDocument/completion", "input.admin", 6)["items"]}
    assert labels == {"admin_email"}
    assert client.close() == 0
