"""The stdlib templates' check kept across processes (mora/check/reuse.py): a check that replays
it gives what a check without it gives, to the byte, in every project and case folder."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from mora.check import reuse
from mora.checker import check
from mora.diagnostics import Diagnostics, render_text
from mora.loader import load_project

ROOT = Path(__file__).resolve().parents[2]


def _folders() -> list[tuple[Path, str]]:
    """(working folder, project as given) of every project, golden case and example."""
    found = [(p, ".") for p in sorted((ROOT / "projects").iterdir()) if p.is_dir()]
    found += [
        (c, "input") for c in sorted((ROOT / "tests" / "cases").iterdir()) if (c / "input").exists()
    ]
    found += [(e, ".") for e in sorted((ROOT / "examples").iterdir()) if e.is_dir()]
    return found


def _checked(project: str) -> tuple[list[str], bytes]:
    """Every diagnostic as rendered, in the order reported, and the pickled program."""
    diags = Diagnostics()
    loaded = load_project(Path(project), diags)
    program = check(loaded, diags) if loaded.modules else None
    return [render_text(d) for d in diags.items], pickle.dumps(program)


def _replays(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The templates replayed from here on (their names, a phase each)."""
    seen: list[str] = []
    replay = reuse.Reuse._replay

    def spy(self: reuse.Reuse, tmpl: object, blob: bytes) -> None:
        seen.append(tmpl.decl.name.text)  # type: ignore[attr-defined]
        replay(self, tmpl, blob)  # type: ignore[arg-type]

    monkeypatch.setattr(reuse.Reuse, "_replay", spy)
    return seen


def _without_reuse(project: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], bytes]:
    """A check that keeps and replays no template's check. Run twice: the first fills the parse
    cache, so that both sides' trees come from it (a tree parsed afresh pickles its shared
    strings differently from an unpickled one)."""
    with monkeypatch.context() as m:
        m.setattr("mora.check.passes.enabled", lambda: False)
        _checked(project)
        return _checked(project)


@pytest.mark.parametrize(
    ("folder", "project"), _folders(), ids=lambda v: v.name if isinstance(v, Path) else ""
)
def test_a_replayed_check_is_the_check(
    folder: Path, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folder)  # diagnostics show paths relative to the folder
    expected = _without_reuse(project, monkeypatch)
    assert _checked(project) == expected  # the first: checked and kept
    assert _checked(project) == expected  # the second: replayed where kept


def test_the_media_projects_stdlib_templates_are_replayed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "projects" / "media")
    _checked(".")
    replayed = _replays(monkeypatch)
    _checked(".")
    assert {"postgres", "jellyfin", "sonarr", "radarr", "prowlarr", "seerr"} <= set(replayed)


def test_no_cache_turns_the_reuse_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "projects" / "media")
    _checked(".")
    monkeypatch.setenv("MORA_NO_CACHE", "1")
    replayed = _replays(monkeypatch)
    _checked(".")
    assert replayed == []


# A locked dependency (what a project edit never changes) whose template's check reports:
# an unknown attribute (an error) and no `user` (a note when the project is otherwise clean).
LIB = """\
template web(port: port = 8080) {
  image = "docker.io/library/nginx:1.27"
  colour = "blue"
}
"""
MAIN = (
    'project home\nrequire lib = "https://example.org/lib" version "v1"\nimport lib\n'
    "service site = web()\n"
)


def _locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    from mora.deps.lock import LockEntry, store_module, write_lock

    monkeypatch.setenv("MORA_MODULE_CACHE", str(tmp_path / "modules"))
    digest, _ = store_module({"lib.mora": text.encode()})
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    (project / "main.mora").write_text(MAIN)
    lock = {"lib": LockEntry("lib", "https://example.org/lib", "v1", "a" * 40, digest)}
    write_lock(project, lock)
    return project


def test_a_kept_diagnostic_is_replayed_at_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _locked(tmp_path, monkeypatch, LIB)
    monkeypatch.chdir(tmp_path)
    expected = _without_reuse("proj", monkeypatch)
    assert any("colour" in d for d in expected[0])
    assert _checked("proj") == expected
    replayed = _replays(monkeypatch)
    assert _checked("proj") == expected
    assert replayed == ["web", "web"]  # its body, then its steps


def test_a_changed_dependency_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _locked(tmp_path, monkeypatch, LIB)
    monkeypatch.chdir(tmp_path)
    first = _checked("proj")
    _locked(tmp_path, monkeypatch, LIB.replace("colour", "flavour"))
    replayed = _replays(monkeypatch)
    again = _checked("proj")
    assert replayed == []
    assert again == _without_reuse("proj", monkeypatch) != first
    assert any("flavour" in d for d in again[0])


def test_a_template_that_reads_the_project_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A template of the dependency naming the project's `param`: its check is the project's."""
    lib = LIB.replace('colour = "blue"', "environment {\n    COLOUR = param.colour\n  }")
    _locked(tmp_path, monkeypatch, lib)
    (tmp_path / "proj" / "main.mora").write_text(MAIN + "param colour: string\n")
    monkeypatch.chdir(tmp_path)
    first = _checked("proj")
    replayed = _replays(monkeypatch)
    (tmp_path / "proj" / "main.mora").write_text(MAIN)
    again = _checked("proj")
    assert replayed == ["web"]  # its steps; not its body, which read the project's param
    assert again == _without_reuse("proj", monkeypatch) != first
