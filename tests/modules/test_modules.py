"""Namespaced modules end to end: syntax, copies, site params, the store, dotted names."""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.api import check_project, compile_project
from mora.fmt import format_source
from mora.modules.resolve import dotted_name, resolve_service
from mora.secrets.provider import MemoryProvider
from tests.cli import run_mora

LIB = """\
param gpu: bool
param uid: int = 1000

secret api_key = password()

service watch {
  image = "docker.io/library/nginx:1.27"
  user = "${param.uid}:${param.uid}"
  ports { http = 8096 }
  environment {
    GPU = "${param.gpu}"
    KEY = secret.api_key
  }
}
"""


def _project(tmp: Path, main: str) -> Path:
    root = tmp / "lab"
    (root / "lib").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "lib" / "lib.mora").write_text(LIB)
    (root / "main.mora").write_text(main)
    return root


def test_import_arguments_format_and_round_trip() -> None:
    text = 'import  "../media"  as media (uid:1000,gpu: param.gpu )\nimport immich as photos\n'
    once = format_source(text, "main.mora").text
    assert (
        once == 'import "../media" as media (uid: 1000, gpu: param.gpu)\nimport immich as photos\n'
    )
    assert once is not None and format_source(once, "main.mora").text == once


def test_flat_and_aliased_are_two_copies(tmp_path: Path) -> None:
    root = _project(tmp_path, 'project lab\nimport "./lib"\nimport "./lib" as media\n')
    result = compile_project(
        root, domain="example.org", sets=["gpu=true", "media.gpu=false"], provider=MemoryProvider()
    )
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics.sorted()]
    services = result.compiled.manifest.services  # type: ignore[union-attr]
    assert set(services) == {"watch", "media-watch"}
    env = {n: {k: v.value for k, v in s.environment.items()} for n, s in services.items()}
    assert env["watch"]["GPU"] == "true" and env["media-watch"]["GPU"] == "false"


def test_site_file_gives_a_module_param_under_its_alias(tmp_path: Path) -> None:
    root = _project(tmp_path, 'project lab\nimport "./lib" as media (uid: 2000)\n')
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\nparams:\n  media:\n    gpu: true\n")
    result = compile_project(root, site_file=site, provider=MemoryProvider())
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics.sorted()]
    watch = result.compiled.manifest.services["media-watch"]  # type: ignore[union-attr]
    assert watch.environment["GPU"].value == "true"
    assert watch.user == "2000:2000"


def test_resolve_service_by_dotted_name(tmp_path: Path) -> None:
    root = _project(tmp_path, 'project lab\nimport "./lib" as media (gpu: true)\n')
    program = check_project(root).program
    svc, _ = resolve_service(program, "media.watch")
    assert svc is not None and svc.name == "media-watch"
    assert dotted_name(program, "media-watch") == "media.watch"
    assert resolve_service(program, "media.wach") == (None, ["media.watch"])
    assert resolve_service(program, "medai.watch") == (None, ["media"])
    assert resolve_service(program, "watch") == (None, [])


def test_secrets_list_counts_aliased_keys_as_declared(tmp_path: Path) -> None:
    root = _project(tmp_path, 'project lab\nimport "./lib" as media (gpu: true)\n')
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    store = tmp_path / "store"
    out = str(tmp_path / "out")
    where = ["--site", str(site), "--secrets", str(store)]
    done = run_mora(["compile", str(root), *where, "--out", out], tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = run_mora(["secrets", "list", str(root), *where], tmp_path, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "media-api_key" in listed.stdout
    assert "orphan" not in listed.stdout + listed.stderr


@pytest.mark.parametrize("alias", ["param", "site"])
def test_a_reserved_alias_is_refused(tmp_path: Path, alias: str) -> None:
    root = _project(tmp_path, f'project lab\nimport "./lib" as {alias}\n')
    codes = [d.code for d in check_project(root).diagnostics.sorted()]
    assert "E0103" in codes


def test_the_editor_resolves_aliases_and_lists_the_module(tmp_path: Path) -> None:
    """The language server loads like `mora check`: `media.watch` is no unknown name there, and
    the outline lists the import by its alias."""
    from mora.lsp.analysis import LineIndex, analyse
    from mora.lsp.features import symbols

    main = (
        'project lab\nimport "./lib" as media (gpu: true)\n\nservice home {\n'
        '  image = "docker.io/library/nginx:1.27"\n  user = "101:101"\n'
        "  environment { W = media.watch.internal_url }\n}\n"
    )
    root = _project(tmp_path, main)
    analysis = analyse(root / "main.mora", main, {})
    assert [d.message for d in analysis.diagnostics if d.severity == "error"] == []
    module = analysis.modules[(root / "main.mora").resolve()]
    names = [s["name"] for s in symbols(module, LineIndex(main))]
    assert names == ["lab", "./lib as media", "home"]


def test_a_templates_own_secret_stays_its_own_in_a_module(tmp_path: Path) -> None:
    """`secret.db_password` inside a template is the instance's, even when the module also has
    a service `db` (whose instance secrets are named `db_...`) and a secret of that name."""
    root = tmp_path / "lab"
    (root / "lib").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "lib" / "lib.mora").write_text(
        "secret db_password = password()\n\n"
        "template app() {\n"
        '  image = "docker.io/library/nginx:1.27"\n'
        '  user = "1:1"\n'
        "  secret db_password = password()\n"
        "  environment { P = secret.db_password }\n"
        "}\n\n"
        "service db = app()\n"
        "service other {\n"
        '  image = "docker.io/library/nginx:1.27"\n'
        '  user = "1:1"\n'
        "  environment { P = secret.db_password }\n"
        "}\n"
    )
    (root / "main.mora").write_text('project lab\nimport "./lib" as m\n')
    result = compile_project(root, domain="example.org", provider=MemoryProvider())
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics.sorted()]
    services = result.compiled.manifest.services  # type: ignore[union-attr]
    assert services["m-db"].environment["P"].sources == ["secret.m-db_db_password"]
    assert services["m-other"].environment["P"].sources == ["secret.m-db_password"]
