"""An amended service compiles to exactly what the merged body written by hand compiles to.

Each pair is two golden cases (tests/cases/amend-*): the first changes a service with an
instance body or `amend`, the second writes the result out. Every output file of every backend
(manifest, Kubernetes, quadlet, podman) must be byte-identical, not just the manifest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.api import compile_project
from mora.diagnostics import Diagnostics
from mora.main import write_outputs
from mora.secrets.provider import MemoryProvider

CASES = Path(__file__).resolve().parent.parent / "cases"

PAIRS = [
    ("amend-overlay", "amend-instance-body"),  # two `amend`s of an imported instance
    ("amend-plain", "amend-plain-handwritten"),  # an `amend` of a hand-written service
]


def _outputs(case: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.chdir(CASES / case)
    result = compile_project(
        Path("input"), site_file=Path("site.yaml"), provider=MemoryProvider(seed=b"pair")
    )
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    diags = Diagnostics()
    written, _ = write_outputs(result.compiled, out, ("all",), False, diags)
    assert not diags.has_errors
    assert written
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("amended", "written"), PAIRS)
def test_amended_equals_written_out(
    amended: str, written: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    left = _outputs(amended, tmp_path / "a", monkeypatch)
    right = _outputs(written, tmp_path / "b", monkeypatch)
    assert sorted(left) == sorted(right)
    for name in left:
        assert left[name] == right[name], name
