"""What a `mora check` of projects/media loads when the checker runs (an edit, `--no-cache`):
each fresh process pays for every module it imports, so a pass a project does not need stays
unimported (docs/performance.md, fifteenth round). Reads module lists, never times."""

from __future__ import annotations

from pathlib import Path

from tests.probe import loaded

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "projects" / "media"


def _modules_of_a_check(cwd: Path) -> set[str]:
    cache = {"XDG_CACHE_HOME": str(cwd / "cache")}
    for _ in range(2):  # the first run fills the parse cache; the second is an edit's check
        _, found = loaded(["check", "--no-cache", str(MEDIA)], cwd, env=cache)
    assert "mora.checker" in found or "mora.check.passes" in found
    return found


def test_a_check_without_amends_does_not_import_the_amend_pass(tmp_path: Path) -> None:
    """projects/media has no instance body and no `amend`: the merge pass is not imported
    (`has_amends` lives with the passes)."""
    modules = _modules_of_a_check(tmp_path)
    assert sorted(m for m in modules if m == "mora.amend" or m.startswith("mora.amend.")) == []
