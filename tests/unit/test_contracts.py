"""Contracts, optional values and optional services (issue 17), through the real library and CLI.

The golden cases (tests/cases/*contracts*, *enabled*) show every construct and error; these tests
pin the properties the cases only imply: a secret field never leaks, a provider is a dependency
on every backend, `enabled = false` leaves no trace in any backend's files, and a project that
uses none of it compiles as before.
"""

from __future__ import annotations

import json
from pathlib import Path

from mora.model import manifest_json
from tests.cli import run_mora
from tests.unit.helpers import compile_src, errors

CONTRACT = """
contract store {
  host: hostname
  port: port = 6379
  password: secret
}

secret pw = password(length: 20)

service cache {
  image = "docker.io/library/redis:7.4.5"
  user = "999:999"
  ports { redis = 6379 }
  environment { REDIS_PASSWORD = secret.pw }
  provides store {
    host = self.internal_host
    password = secret.pw
  }
}

template client(store: store) {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  ports { http = 80 }
  environment {
    STORE = "${args.store.host}:${args.store.port}"
    STORE_PASSWORD = args.store.password
  }
}

service app = client(store: cache)
"""


def test_a_secret_field_is_delivered_as_a_secret_and_never_in_the_manifest(tmp_path: Path) -> None:
    result = compile_src(tmp_path, CONTRACT)
    assert not errors(result.diagnostics), [d.message for d in errors(result.diagnostics)]
    compiled = result.compiled
    assert compiled is not None
    env = compiled.manifest.services["app"].environment
    assert env["STORE"].value == "cache:6379"
    assert env["STORE_PASSWORD"].secret == "app/env/STORE_PASSWORD"
    assert env["STORE_PASSWORD"].sources == ["secret.pw"]
    password = compiled.material["app/env/STORE_PASSWORD"]
    assert password and password not in manifest_json(compiled.manifest)


def test_a_secret_field_cannot_reach_a_label_or_a_command(tmp_path: Path) -> None:
    source = CONTRACT.replace(
        '    STORE_PASSWORD = args.store.password\n  }\n',
        "    STORE_PASSWORD = args.store.password\n  }\n"
        "  labels { pw = args.store.password }\n"
        '  command = ["run", "--password=${args.store.password}"]\n',
    )
    result = compile_src(tmp_path, source)
    assert [d.code for d in errors(result.diagnostics)] == ["E0302", "E0302"]
    assert result.compiled is None


def test_the_provider_is_a_dependency_on_every_backend(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.mora").write_text(CONTRACT)
    done = run_mora(
        ["compile", str(project), "--domain", "example.org", "--out", str(tmp_path / "out"),
         "--secrets", str(tmp_path / "site.secrets")],
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["services"]["app"]["depends_on"] == ["cache"]
    unit = next((tmp_path / "out" / "quadlet").rglob("*app.container")).read_text()
    assert "cache.service" in unit  # Requires=/After= the provider's unit


def test_enabled_false_leaves_no_trace_in_any_backend(tmp_path: Path) -> None:
    source = (
        "param with_extra: bool = false\n"
        "service main {\n  image = \"docker.io/library/busybox:1.36\"\n  user = \"1000:1000\"\n"
        "  ports { http = 80 }\n  subdomain = \"main\"\n}\n"
        "service extra {\n  image = \"docker.io/library/busybox:1.36\"\n  user = \"1000:1000\"\n"
        "  enabled = param.with_extra\n  ports { http = 81 }\n  subdomain = \"extra\"\n}\n"
    )
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.mora").write_text(source)
    for setting, present in (("false", False), ("true", True)):
        out = tmp_path / f"out-{setting}"
        done = run_mora(
            ["compile", str(project), "--domain", "example.org", "--out", str(out),
             "--secrets", str(tmp_path / "site.secrets"), "--set", f"with_extra={setting}"],
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        mentions = [
            p.relative_to(out).as_posix()
            for p in out.rglob("*")
            if p.is_file() and ("extra" in p.name or "extra.example.org" in p.read_text())
        ]
        assert bool(mentions) is present, mentions


def test_the_editor_outline_lists_contracts_and_skips_declarations_without_a_name() -> None:
    """documentSymbol raised KeyError on `moved`, `require`, `contract` and `defaults`."""
    from mora.diagnostics import Diagnostics
    from mora.lsp.analysis import LineIndex
    from mora.lsp.features import symbols
    from mora.parser import parse_module
    from mora.source import SourceFile

    text = (
        "moved a -> b\ncontract store {\n  host: hostname\n}\n"
        "defaults {\n  uid = 1\n}\nservice b {\n  image = \"x:1\"\n}\n"
    )
    diags = Diagnostics()
    module = parse_module(SourceFile("m.mora", text), diags)
    assert not list(diags)
    found = [(s["name"], s["kind"]) for s in symbols(module, LineIndex(text))]
    assert found == [("store", 23), ("b", 5)]
