"""examples/overlay: the media project unchanged, plus one `amend` of its `watch`.

Compiled against the same site, the overlay's manifest is the media project's with exactly the
amended entries of `watch` changed: nothing else moves."""

from __future__ import annotations

import json
from pathlib import Path

from mora.api import compile_project
from mora.diagnostics import render_text
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]


def _manifest(project: Path) -> dict:  # type: ignore[type-arg]
    result = compile_project(project, domain="example.org", provider=MemoryProvider(seed=b"ex"))
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    assert not result.diagnostics.has_errors
    loaded: dict = json.loads(manifest_json(result.compiled.manifest))  # type: ignore[type-arg]
    return loaded


def test_the_overlay_changes_only_what_it_amends() -> None:
    upstream = _manifest(REPO / "projects" / "media")
    overlay = _manifest(REPO / "examples" / "overlay")
    before, after = upstream["services"].pop("watch"), overlay["services"].pop("watch")
    assert overlay == upstream  # every other service, volume, route... byte for byte
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"placement", "resources", "environment"}
    assert after["placement"] == ["gpu"]
    assert after["resources"] == {**before["resources"], "memory_limit": "4Gi"}
    assert after["environment"] == {
        **before["environment"],
        "JELLYFIN_FFmpeg__probesize": {"value": "50M"},
    }
