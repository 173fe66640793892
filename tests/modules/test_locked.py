"""A pinned dependency (`require` + `mora get`) used as a module, twice, from its locked copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mora.api import compile_project
from mora.secrets.provider import MemoryProvider
from tests.cli import run_mora
from tests.deps.conftest import Remote

MEDIA = """\
project media

param port: port = 8096

service library {
  image = "docker.io/library/nginx:1.27.3"
  user = "101:101"
  ports { http = param.port }
}
"""


def test_a_locked_dependency_under_two_aliases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MORA_GET_ALLOW_FILE", "1")  # a local repository stands for GitHub
    monkeypatch.setenv("MORA_NO_CACHE", "1")
    remote = Remote(tmp_path / "remote")
    remote.write("projects/media/media.mora", MEDIA)
    remote.release("v1.0.0")
    project = tmp_path / "lab"
    project.mkdir()
    (project / "main.mora").write_text(
        f'project lab\nrequire media = "{remote.path}//projects/media" version "v1.0.0"\n'
        "import media as tv (port: 8097)\nimport media as films\n"
    )
    done = run_mora(["get", str(project)])
    assert done.returncode == 0, done.stderr
    shutil.rmtree(remote.path)  # compile reads the locked copy only
    result = compile_project(project, domain="example.org", provider=MemoryProvider(b"t"))
    assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics.sorted()]
    services = result.compiled.manifest.services  # type: ignore[union-attr]
    assert sorted(services) == ["films-library", "tv-library"]
    assert services["tv-library"].internal_url == "http://tv-library:8097"
    assert services["films-library"].internal_url == "http://films-library:8096"
    assert services["tv-library"].module_name == "tv.library"
