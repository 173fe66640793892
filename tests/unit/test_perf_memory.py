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
from mora import model as M
from mora.api import compile_project
from mora.diagnostics import Diagnostics
from mora.eval.compact import EMPTY_DICT, EMPTY_LIST
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


def _all_empty_fields(obj: Any, found: list[object]) -> None:
    if isinstance(obj, M._Model):
        for name in type(obj).__slots__:
            value = getattr(obj, name)
            if type(value) in (list, dict) and not value:
                found.append(value)
            _all_empty_fields(value, found)
    elif isinstance(obj, list):
        for item in obj:
            _all_empty_fields(item, found)
    elif isinstance(obj, dict):
        for item in obj.values():
            _all_empty_fields(item, found)


def test_the_model_keeps_one_copy_of_repeated_texts_and_empties(tmp_path: Path) -> None:
    """Services made from templates repeat texts, step constants and empty lists; the evaluator
    keeps one of each (mora/eval/compact.py) instead of a copy per service."""
    services = _compiled(tmp_path).manifest.services
    found: list[object] = []
    _all_empty_fields(services, found)
    assert len(found) > 100
    assert all(x is EMPTY_LIST or x is EMPTY_DICT for x in found)
    step_lits: dict[object, list[M.StepExpr]] = {}
    for svc in services.values():
        for step in svc.setup:
            for expr in (step.url, step.body, *step.headers.values()):
                if expr is not None and expr.lit is not None:
                    step_lits.setdefault((type(expr.lit), expr.lit), []).append(expr)
    repeated = [exprs for exprs in step_lits.values() if len(exprs) > 1]
    assert repeated
    assert all(e is exprs[0] for exprs in repeated for e in exprs)


@pytest.mark.parametrize("project", ["media", "homelab"])
def test_no_backend_changes_the_shared_empties(tmp_path: Path, project: str) -> None:
    """Every empty field of the model is one shared list or map: a backend that changed one in
    place would change every service's; after all targets they are still empty."""
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(
        REPO / "projects" / project, site_file=site, provider=MemoryProvider(seed=b"memory")
    )
    assert result.compiled is not None
    diags = Diagnostics()
    written, _ = write_outputs(result.compiled, tmp_path / "out", ("all",), False, diags)
    assert written
    assert EMPTY_LIST == [] and EMPTY_DICT == {}
    result.compiled.manifest.model_dump()
    assert EMPTY_LIST == [] and EMPTY_DICT == {}


def test_quadlet_writes_each_unit_as_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quadlet backend does not hold every unit of a host before writing (17 MB of text at
    10,000 services): units are written while later ones are still to be made."""
    from mora.backends import quadlet

    compiled = _compiled(tmp_path)
    events: list[str] = []
    make, write = quadlet._container_unit, quadlet.write_file

    def made(*args: Any, **kwargs: Any) -> str:
        events.append("make")
        return make(*args, **kwargs)

    def wrote(*args: Any, **kwargs: Any) -> Path:
        events.append("write")
        return write(*args, **kwargs)

    monkeypatch.setattr(quadlet, "_container_unit", made)
    monkeypatch.setattr(quadlet, "write_file", wrote)
    out = tmp_path / "out"
    paths = mora.backends.write_target(
        "quadlet", compiled, out, mora.backends.Options(), Diagnostics()
    )
    assert events.count("make") > 2
    last_make = len(events) - 1 - events[::-1].index("make")
    assert events.index("write") < last_make
    on_disk = sorted(p for p in (out / "quadlet").rglob("*") if p.is_file())
    assert sorted(paths) == on_disk
