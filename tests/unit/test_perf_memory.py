"""What a large compile keeps alive (docs/performance.md, twelfth round).

Memory is not asserted by size (no figure that depends on the machine); these tests pin the
structure that keeps the peak down: what is let go before the next phase runs.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import pytest

import mora.backends
from mora.api import compile_project
from mora.diagnostics import Diagnostics
from mora.main import write_outputs
from mora.output import RECORD
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]


class _Tracked(type(Path())):  # type: ignore[misc]
    """A path a weak reference can follow (plain `Path`s have no `__weakref__` slot)."""


def _compiled(tmp_path: Path) -> Any:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(
        REPO / "projects" / "media", site_file=site, provider=MemoryProvider(seed=b"memory")
    )
    assert result.compiled is not None
    return result.compiled


def test_write_outputs_keeps_a_count_not_every_backends_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mora compile` only counts the files: one backend's list of paths (~30,000 `Path`s per
    backend at 10,000 services) is gone before the next backend builds its documents."""
    compiled = _compiled(tmp_path)
    real = mora.backends.write_target
    earlier: list[weakref.ref[Path]] = []
    alive_at_start: list[int] = []

    def tracked(*args: Any, **kwargs: Any) -> list[Path]:
        alive_at_start.append(sum(1 for ref in earlier if ref() is not None))
        paths = [_Tracked(p) for p in real(*args, **kwargs)]
        earlier.extend(weakref.ref(p) for p in paths)
        return paths

    monkeypatch.setattr(mora.backends, "write_target", tracked)
    out = tmp_path / "out"
    written, not_built = write_outputs(compiled, out, ("all",), False, Diagnostics())
    assert not_built == []
    assert len(alive_at_start) == len(mora.backends.TARGETS)
    assert alive_at_start == [0] * len(alive_at_start)
    on_disk = [p for p in out.rglob("*") if p.is_file() and p.name != RECORD]
    assert written == len(on_disk) == len(earlier)
