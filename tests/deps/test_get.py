"""`require` + `mora get` + `mora.lock`: resolve, lock, offline check, tamper, update, escape.

Every remote is a local Git repository the test makes; `check`/`compile` run after the remote
is deleted, so a test passes only if they never fetch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mora.api import check_project, compile_project
from mora.deps.get import get, report
from mora.deps.git import FetchError, parse_repository
from mora.deps.lock import module_dir, read_lock
from mora.secrets.provider import MemoryProvider
from tests.cli import run_mora
from tests.deps.conftest import Remote

VIEWER_V1 = """\
template viewer(tag: string = "10.10.7") {
  image = "docker.io/jellyfin/jellyfin:${args.tag}"
  user = "1000:1000"
  ports { http = 8096 }
}
service library {
  image = "docker.io/library/nginx:1.27.3"
  user = "101:101"
  ports { http = 8080 }
}
"""

VIEWER_V2 = """\
template viewer(tag: string = "10.10.7") {
  image = "docker.io/jellyfin/jellyfin:${args.tag}"
  user = "1000:1000"
  ports { http = 8096 }
}
service library {
  image = "docker.io/library/nginx:1.27.4"
  user = "101:101"
  ports { http = { target: 8080, published: 8080 } }
  volumes { "/data" = bind("/srv/media", readonly: true) }
}
"""


def _codes(path: Path) -> list[str]:
    return [d.code for d in check_project(path).diagnostics if d.is_error]


def _require(project: Path, remote: Remote, version: str, body: str = "") -> None:
    (project / "main.mora").write_text(
        f'require media = "{remote.path}//projects/media" version "{version}"\n'
        "import media\n" + body
    )


def test_resolve_lock_and_check_offline(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    remote.write("secret.mora", "# outside the required directory: never fetched\n")
    commit = remote.release("v1.0.0")
    _require(project, remote, "v1.0.0", "service watch = viewer()\n")

    done = run_mora(["get", str(project)])
    assert done.returncode == 0, done.stderr
    assert "media: " in done.stdout and "(new, commit " + commit[:12] in done.stdout
    assert "service library (docker.io/library/nginx:1.27.3): nothing on the host" in done.stdout

    lock = json.loads((project / "mora.lock").read_text())
    entry = lock["requires"]["media"]
    assert entry["commit"] == commit and entry["version"] == "v1.0.0"
    cached = module_dir(entry["hash"])
    assert sorted(p.name for p in cached.rglob("*")) == ["media.mora"]  # only what mora reads

    shutil.rmtree(remote.path)  # check and compile must not need the remote
    assert _codes(project) == []
    compiled = compile_project(project, domain="example.org", provider=MemoryProvider(b"t"))
    services = compiled.compiled.manifest.services  # type: ignore[union-attr]
    assert services["watch"].image == "docker.io/jellyfin/jellyfin:10.10.7"
    assert "library" in services

    again = get(project)  # nothing changed: no fetch needed, the lock's bytes stay the same
    assert not again.diagnostics.has_errors and not again.lock_written
    assert [f.status for f in again.fetched] == ["locked"]


def test_missing_or_stale_lock_tells_to_run_get(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    remote.release("v1.0.0")
    _require(project, remote, "v1.0.0")
    diags = list(check_project(project).diagnostics)
    (unlocked,) = [d for d in diags if d.code == "E0131"]
    assert "not in mora.lock" in unlocked.message and "mora get" in (unlocked.help or "")

    assert not get(project).diagnostics.has_errors
    _require(project, remote, "v2.0.0")  # edited without `mora get`
    stale = [d for d in check_project(project).diagnostics if d.code == "E0131"]
    assert stale and "locked at" in stale[0].message and "v2.0.0" in stale[0].message


def test_tampered_copy_is_refused_until_get(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    remote.release("v1.0.0")
    _require(project, remote, "v1.0.0", "service watch = viewer()\n")
    assert not get(project).diagnostics.has_errors
    cached = module_dir(read_lock(project)["media"].hash) / "media.mora"
    cached.write_text(VIEWER_V1.replace("10.10.7", "evil"))

    diags = [d for d in check_project(project).diagnostics if d.code == "E0130"]
    assert diags and "does not match the hash" in diags[0].message
    assert "mora get" in (diags[0].help or "")

    refetched = get(project)
    assert [f.status for f in refetched.fetched] == ["refetched"]
    assert _codes(project) == []
    assert "evil" not in cached.read_text()


def test_update_shows_what_changed_on_the_host(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    remote.release("v1.0.0")
    _require(project, remote, "v1.0.0")
    assert not get(project).diagnostics.has_errors

    remote.write("projects/media/media.mora", VIEWER_V2)
    remote.release("v2.0.0")
    _require(project, remote, "v2.0.0")
    result = get(project)
    assert not result.diagnostics.has_errors and result.lock_written
    lines = report(result)
    assert "  changed since the locked version:" in lines
    assert (
        "    ~ library: image docker.io/library/nginx:1.27.3 -> docker.io/library/nginx:1.27.4"
        in lines
    )
    assert "    + library: host binds /srv/media -> /data (ro)" in lines
    assert "    + library: host ports 8080/tcp" in lines
    assert read_lock(project)["media"].version == "v2.0.0"


def test_dependency_cannot_escape_its_tree(remote: Remote, project: Path) -> None:
    remote.write("secret.mora", 'secret stolen = "x"\n')
    remote.write("projects/media/media.mora", 'import "../../secret.mora"\n' + VIEWER_V1)
    remote.release("v1.0.0")
    (project / "secret.mora").write_text('param home_only: string = "mine"\n')
    _require(project, remote, "v1.0.0")
    assert not get(project).diagnostics.has_errors
    diags = [d for d in check_project(project).diagnostics if d.is_error]
    assert [d.code for d in diags] == ["E0104"]
    assert "outside the project" in diags[0].message


def test_dependency_cannot_import_a_sibling(remote: Remote, project: Path) -> None:
    """`import other` inside a dependency names the stdlib, never another locked module."""
    remote.write("projects/media/media.mora", "import tools\n" + VIEWER_V1)
    remote.write("projects/tools/tools.mora", 'param tool: string = "x"\n')
    remote.release("v1.0.0")
    (project / "main.mora").write_text(
        f'require media = "{remote.path}//projects/media" version "v1.0.0"\n'
        f'require tools = "{remote.path}//projects/tools" version "v1.0.0"\n'
        "import media\nimport tools\n"
    )
    assert not get(project).diagnostics.has_errors
    assert _codes(project) == ["E0102"]


def test_stdlib_required_at_a_version(tmp_path: Path, project: Path) -> None:
    """A locked stdlib replaces the bundled one: its Postgres image, not the compiler's."""
    mora_repo = Remote(tmp_path / "mora-repo")
    mora_repo.write(
        "stdlib/postgres.mora",
        'template postgres(database: string) {\n  image = "docker.io/library/postgres:15.8"\n'
        '  user = "999:999"\n  ports { postgres = 5432 }\n}\n',
    )
    mora_repo.release("v0.1.0")
    (project / "main.mora").write_text(
        f'require stdlib = "{mora_repo.path}//stdlib" version "v0.1.0"\n'
        'import postgres\nservice db = postgres(database: "app")\n'
    )
    assert not get(project).diagnostics.has_errors
    compiled = compile_project(project, domain="example.org", provider=MemoryProvider(b"s"))
    manifest = compiled.compiled.manifest  # type: ignore[union-attr]
    assert manifest.services["db"].image == "docker.io/library/postgres:15.8"

    (project / "main.mora").write_text('import postgres\nservice db = postgres(database: "a")\n')
    (project / "mora.lock").unlink()  # no requirement: the bundled stdlib again
    bundled = compile_project(project, domain="example.org", provider=MemoryProvider(b"s"))
    assert bundled.compiled.manifest.services["db"].image != "docker.io/library/postgres:15.8"  # type: ignore[union-attr]


def test_bare_stdlib_requirement_uses_the_mora_repository(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mora_repo = Remote(tmp_path / "mora-repo")
    mora_repo.write("stdlib/redis.mora", 'template redis() {\n  image = "r:1"\n}\n')
    mora_repo.release("v0.2.0")
    monkeypatch.setenv("MORA_STDLIB_REPOSITORY", f"{mora_repo.path}//stdlib")
    (project / "main.mora").write_text('require stdlib version "v0.2.0"\nimport redis\n')
    assert not get(project).diagnostics.has_errors
    assert read_lock(project)["stdlib"].repository == f"{mora_repo.path}//stdlib"
    assert _codes(project) == []


def test_unknown_version_is_an_error_and_keeps_the_lock(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    remote.release("v1.0.0")
    _require(project, remote, "v9.9.9")
    result = get(project)
    (err,) = list(result.diagnostics)
    assert err.code == "E0134" and "no tag or branch `v9.9.9`" in err.message
    assert not (project / "mora.lock").exists()


def test_local_repositories_only_in_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MORA_GET_ALLOW_FILE")
    with pytest.raises(FetchError, match="only fetched in tests"):
        parse_repository("/srv/repo//projects/media")
    source = parse_repository("github.com/alice/lab//projects/media")
    assert (source.url, source.subdir) == ("https://github.com/alice/lab", "projects/media")
    with pytest.raises(FetchError, match="not a directory inside"):
        parse_repository("github.com/alice/lab//../x")


def test_update_follows_a_moved_branch(remote: Remote, project: Path) -> None:
    remote.write("projects/media/media.mora", VIEWER_V1)
    first = remote.release("v1.0.0")
    _require(project, remote, "main")
    assert not get(project).diagnostics.has_errors
    remote.write("projects/media/media.mora", VIEWER_V2)
    second = remote.release("v2.0.0")

    kept = get(project)  # without --update the locked commit stays
    assert [f.status for f in kept.fetched] == ["locked"]
    assert read_lock(project)["media"].commit == first

    moved = get(project, update=True)
    assert [f.status for f in moved.fetched] == ["updated"]
    assert read_lock(project)["media"].commit == second
    assert "+ library: host ports 8080/tcp" in moved.fetched[0].changes


def test_a_dependencys_own_requirement_must_be_the_projects(remote: Remote, project: Path) -> None:
    remote.write(
        "projects/media/media.mora",
        'require tools = "github.com/bob/tools" version "v1"\n' + VIEWER_V1,
    )
    remote.release("v1.0.0")
    _require(project, remote, "v1.0.0")
    assert not get(project).diagnostics.has_errors
    diags = [d for d in check_project(project).diagnostics if d.is_error]
    assert [d.code for d in diags] == ["E0133"]
    assert "add the same `require` line" in (diags[0].help or "")


def test_a_project_that_requires_nothing_gets_no_lock(tmp_path: Path) -> None:
    """Found by a new user's review: `mora get` wrote an empty mora.lock and said to commit it."""
    (tmp_path / "main.mora").write_text('project p\nservice a { image = "busybox:1.36" }\n')
    result = get(tmp_path)
    assert result.nothing_required and not result.lock_written
    assert not (tmp_path / "mora.lock").exists()
    assert not result.diagnostics.has_errors
