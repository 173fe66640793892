"""The real CLI: one store per site, a namespace per project (issue 9, defect 3)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from mora.secrets.store import SecretStore
from tests.cli import run_mora

from .helpers import v1_entry, write_v1_store

PROJECT = """project {name}

service app {{
  image = "docker.io/library/busybox:1.36"
  secret {secret} = password(length: 24)
  environment {{ PASSWORD = secret.{secret} }}
}}
"""


def make_project(where: Path, name: str, secret: str = "db_password") -> Path:
    where.mkdir(parents=True)
    (where / "main.mora").write_text(PROJECT.format(name=name, secret=secret))
    return where


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "MORA_SECRETS_KEY"}
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return environment


def compile_in(site: Path, project: Path, env: dict[str, str], *extra: str):  # type: ignore[no-untyped-def]
    return run_mora(
        ["compile", str(project), "--domain", "example.org", "--out", "build", *extra],
        site,
        env=env,
    )


def show(site: Path, project: Path, env: dict[str, str], name: str, *extra: str) -> str:
    proc = run_mora(["secrets", "show", name, str(project), *extra], site, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_foreign_project_calling_itself_media_cannot_read_medias_secrets(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    media = make_project(tmp_path / "media", "media")
    evil = make_project(tmp_path / "downloads" / "evil", "media")
    assert compile_in(site, media, env).returncode == 0
    proc = compile_in(site, evil, env)
    assert proc.returncode == 1
    assert "E0504" in proc.stderr and "belongs to another project" in proc.stderr
    assert str(media.resolve()) in proc.stderr and str(evil.resolve()) in proc.stderr
    password = show(site, media, env, "db_password")
    assert password not in proc.stdout + proc.stderr
    assert not (site / "build" / "manifest.json").read_text().count(password)
    # the owner of the evil checkout can still decide it is the same project
    adopt = run_mora(["secrets", "adopt", str(evil)], site, env=env)
    assert adopt.returncode == 0, adopt.stderr
    assert "moved from" in adopt.stderr
    assert compile_in(site, evil, env).returncode == 0
    assert compile_in(site, media, env).returncode == 1  # now the old place is the stranger


def test_a_first_compile_says_where_the_new_store_and_key_are_once(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    media = make_project(tmp_path / "media", "media")
    first = compile_in(site, media, env)
    assert first.returncode == 0, first.stderr
    assert "W0510" in first.stderr and "created a new secret store" in first.stderr
    assert str(site / ".mora" / "site.secrets") in first.stderr
    assert str(tmp_path / "config" / "mora" / "keys") in first.stderr
    second = compile_in(site, media, env)
    assert second.returncode == 0 and "W0510" not in second.stderr


def test_two_projects_sharing_a_site_file_see_no_orphans_and_prune_asks(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "home.yaml").write_text("domain: example.org\n")
    media = make_project(tmp_path / "media", "media", "db_password")
    notes = make_project(tmp_path / "notes", "notes", "notes_password")
    opts = ["--site", "home.yaml"]
    for project in (media, notes):
        proc = run_mora(["compile", str(project), "--out", "build", *opts], site, env=env)
        assert proc.returncode == 0, proc.stderr
        assert "W0502" not in proc.stderr  # the other project's secret is no orphan here
    listing = run_mora(["secrets", "list", str(media), *opts], site, env=env)
    assert "notes_password" not in listing.stdout and "orphaned" not in listing.stdout
    nothing = run_mora(["secrets", "prune", str(media), *opts], site, env=env)
    assert nothing.returncode == 0 and "nothing to prune" in nothing.stderr
    # media stops declaring its password: only media's own entry is a candidate
    (media / "main.mora").write_text(PROJECT.format(name="media", secret="other_password"))
    refused = run_mora(["secrets", "prune", str(media), *opts], site, env=env)  # no TTY
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert "db_password" in refused.stderr and "notes_password" not in refused.stderr
    assert "db_password" in SecretStore.open(site / "home.secrets", namespace="media")
    done = run_mora(["secrets", "prune", str(media), "--yes", *opts], site, env=env)
    assert done.returncode == 0 and "removed db_password" in done.stderr
    assert "db_password" not in SecretStore.open(site / "home.secrets", namespace="media")
    kept = SecretStore.open(site / "home.secrets", namespace="notes")
    assert kept.names() == ["notes_password"]


def test_a_store_from_before_namespaces_moves_into_the_site_store(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    media = make_project(tmp_path / "media", "media")
    raw = os.urandom(32)
    env = {**env, "MORA_SECRETS_KEY": base64.b64encode(raw).decode()}
    (site / ".mora").mkdir(mode=0o700)
    write_v1_store(site / ".mora" / "media.secrets", raw, {"db_password": v1_entry("kept")})
    proc = compile_in(site, media, env)
    assert proc.returncode == 0, proc.stderr
    assert "W0511" in proc.stderr
    assert show(site, media, env, "db_password") == "kept"
    assert (site / ".mora" / "media.secrets.migrated").exists()
    assert not (site / ".mora" / "media.secrets").exists()


def test_secrets_set_for_an_undeclared_input_is_a_diagnostic(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    media = make_project(tmp_path / "media", "media")
    proc = run_mora(["secrets", "set", "input.nope", str(media)], site, env=env, stdin="x\n")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "KeyError" not in proc.stderr
    assert "no secret or input named `input.nope`" in proc.stderr


def _prune_at_a_terminal(site: Path, project: Path, env: dict[str, str], answer: bytes) -> str:
    """`mora secrets prune` with a pseudo-terminal as stdin, answering the question."""
    import pty
    import subprocess
    import sys

    from tests.cli import REPO

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mora.cli", "secrets", "prune", str(project), "--site", "home.yaml"],
        cwd=site,
        env={**env, "PYTHONPATH": str(REPO)},
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    os.write(leader, answer)
    _, err = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0, err
    return err.decode()


def test_prune_at_a_terminal_asks_and_deletes_only_on_yes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "home.yaml").write_text("domain: example.org\n")
    media = make_project(tmp_path / "media", "media", "db_password")
    proc = run_mora(["compile", str(media), "--out", "b", "--site", "home.yaml"], site, env=env)
    assert proc.returncode == 0, proc.stderr
    (media / "main.mora").write_text(PROJECT.format(name="media", secret="other_password"))
    declined = _prune_at_a_terminal(site, media, env, b"n\n")
    assert "db_password" in declined and "delete 1 secret(s)?" in declined
    assert "nothing deleted" in declined
    assert "db_password" in SecretStore.open(site / "home.secrets", namespace="media")
    accepted = _prune_at_a_terminal(site, media, env, b"y\n")
    assert "removed db_password" in accepted
    assert "db_password" not in SecretStore.open(site / "home.secrets", namespace="media")


def test_an_unknown_name_with_no_close_match_points_at_secrets_list(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`mora secrets show nope` said only that `nope` is not declared: nothing said where the
    declared names are."""
    site = tmp_path / "site"
    site.mkdir()
    media = make_project(tmp_path / "media", "media")
    proc = run_mora(["secrets", "show", "zzzz", str(media)], site, env=env)
    assert proc.returncode == 1
    assert "no secret or input named `zzzz` is declared" in proc.stderr
    assert "`mora secrets list` names the declared ones" in proc.stderr


def test_list_shows_setup_step_rows_as_kind_step(tmp_path: Path, env: dict[str, str]) -> None:
    """A step's record and outputs were listed with kind `-` (or `set`, once run) among the
    secrets, so a new user read them as values missing or set by hand."""
    site = tmp_path / "site"
    site.mkdir()
    project = tmp_path / "app"
    project.mkdir()
    (project / "main.mora").write_text(
        'project app\n\nservice api {\n  image = "x/api:1"\n  user = "1000"\n'
        "  ports { http = 80 }\n  setup {\n    login {\n"
        '      url = "${self.internal_url}/login"\n      output { token = body.token }\n'
        "    }\n  }\n}\n"
    )
    proc = run_mora(["secrets", "list", str(project), "--domain", "example.org"], site, env=env)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[1:]}
    assert rows == {"setup.api.login": "step", "setup.api.login.token": "step"}
