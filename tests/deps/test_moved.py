"""`moved db -> mediadb`: the password in the real (encrypted, on-disk) site store survives.

Without the `moved` line the rename is reported with the `moved` line as help, never `prune`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.api import check_project, compile_project, open_store
from tests.cli import run_mora

POSTGRES = 'import postgres\nservice {name} = postgres(database: "media")\n'


def _compile(project: Path, store: Path) -> object:
    """Compile against the real encrypted store file at `store` (key under XDG_CONFIG_HOME)."""
    result = compile_project(project, domain="example.org", secrets_path=store)
    errors = [d for d in result.diagnostics if d.is_error]
    assert not errors, errors
    return result


def _value(store: Path, name: str) -> str | None:
    """A value as `mora secrets show` reads it: the project's namespace of the site store."""
    program = check_project(Path("home")).program
    assert program is not None
    entry = open_store(program, None, store).get(name)  # type: ignore[attr-defined]
    return None if entry is None else str(entry.value())


def _volumes(result: object) -> list[str]:
    manifest = result.compiled.manifest  # type: ignore[attr-defined]
    return [m.name for s in manifest.services.values() for m in s.volumes if m.kind == "volume"]


def test_password_and_volume_survive_a_moved_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, store = tmp_path / "home", tmp_path / "site.secrets"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    (project / "main.mora").write_text(POSTGRES.format(name="db"))
    before = _volumes(_compile(project, store))
    password = _value(store, "db_password")
    assert password

    (project / "main.mora").write_text("moved db -> mediadb\n" + POSTGRES.format(name="mediadb"))
    after = _compile(project, store)
    assert _value(store, "mediadb_password") == password
    assert _value(store, "db_password") is None  # re-keyed, not copied: nothing to prune
    assert _volumes(after) == before == ["db-var-lib-postgresql-data"]
    assert not [d for d in after.diagnostics if d.code in ("W0140", "W0502")]  # type: ignore[attr-defined]


def test_old_value_wins_over_one_made_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renamed, compiled (a new password made), then `moved` added: the data's password wins."""
    project, store = tmp_path / "home", tmp_path / "site.secrets"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    (project / "main.mora").write_text(POSTGRES.format(name="db"))
    _compile(project, store)
    password = _value(store, "db_password")
    (project / "main.mora").write_text(POSTGRES.format(name="mediadb"))
    renamed = _compile(project, store)
    assert _value(store, "mediadb_password") != password

    (warning,) = [d for d in renamed.diagnostics if d.code == "W0140"]  # type: ignore[attr-defined]
    assert "`mediadb` looks like `db` renamed" in warning.message
    assert "add `moved db -> mediadb`" in (warning.help or "")
    assert "prune" not in (warning.help or "").replace("do not prune", "")
    assert not [d for d in renamed.diagnostics if d.code == "W0502"]  # type: ignore[attr-defined]

    (project / "main.mora").write_text("moved db -> mediadb\n" + POSTGRES.format(name="mediadb"))
    _compile(project, store)
    assert _value(store, "mediadb_password") == password


def test_prune_never_deletes_a_renamed_services_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, store = tmp_path / "home", tmp_path / "site.secrets"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    (project / "main.mora").write_text(POSTGRES.format(name="db"))
    _compile(project, store)
    password = _value(store, "db_password")

    (project / "main.mora").write_text(POSTGRES.format(name="mediadb"))
    args = ["secrets", "prune", "home", "--secrets", str(store), "--yes"]
    kept = run_mora(args, tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "keeping db_password: add `moved db -> mediadb`" in kept.stderr
    assert _value(store, "db_password") == password

    (project / "main.mora").write_text("moved db -> mediadb\n" + POSTGRES.format(name="mediadb"))
    moved = run_mora(args, tmp_path)  # before the compile that re-keys: still declared
    assert "nothing to prune" in moved.stderr
    _compile(project, store)
    assert _value(store, "mediadb_password") == password


def test_a_service_moved_into_a_module_keeps_its_password_and_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """homelab's upgrade: `db` was declared flat, now it is `media.db` (`media-db`)."""
    project, store = tmp_path / "home", tmp_path / "site.secrets"
    (project / "media").mkdir(parents=True)
    (tmp_path / ".git").mkdir()  # one repository: the project may import its own folders
    monkeypatch.chdir(tmp_path)
    (project / "main.mora").write_text(POSTGRES.format(name="db"))
    before = _volumes(_compile(project, store))
    password = _value(store, "db_password")
    assert password

    (project / "media" / "media.mora").write_text(POSTGRES.format(name="db"))
    (project / "main.mora").write_text('import "./media" as media\n')
    renamed = _compile(project, store)
    (warning,) = [d for d in renamed.diagnostics if d.code == "W0140"]  # type: ignore[attr-defined]
    assert "`moved db -> media.db`" in str(warning.help)  # the dotted name, as it is written

    (project / "main.mora").write_text('import "./media" as media\nmoved db -> media.db\n')
    after = _compile(project, store)
    assert _value(store, "media-db_password") == password
    assert _volumes(after) == before == ["db-var-lib-postgresql-data"]
    assert not [d for d in after.diagnostics if d.code in ("W0140", "W0502")]  # type: ignore[attr-defined]


def test_each_old_service_is_guessed_once_as_its_likest_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two old services and two new ones with the same slots: two warnings, not four."""
    project, store = tmp_path / "home", tmp_path / "site.secrets"
    project.mkdir()
    monkeypatch.chdir(tmp_path)
    two = POSTGRES.format(name="{a}") + 'service {b} = postgres(database: "photos")\n'
    (project / "main.mora").write_text(two.format(a="db", b="photosdb"))
    _compile(project, store)
    (project / "main.mora").write_text(two.format(a="mediadb", b="photos_db"))
    renamed = _compile(project, store)
    helps = sorted(str(d.help) for d in renamed.diagnostics if d.code == "W0140")  # type: ignore[attr-defined]
    assert len(helps) == 2
    assert "`moved db -> mediadb`" in helps[0]
    assert "`moved photosdb -> photos_db`" in helps[1]
