"""A short slice of the fuzz harness (`python -m fuzz.harness` runs the full one).

Random bytes, token soup, mutations of the projects, stdlib and cases, and deep nesting: mora
must answer every one with diagnostics, never an internal error or a hang.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import harness


def test_every_kind_of_input_is_made_and_every_seed_file_is_used() -> None:
    seeds = harness.corpus()
    made = list(harness.inputs(7, len(seeds) + 8, seeds))
    assert {k for k, _ in made[len(seeds) :]} == set(harness.KINDS)
    assert len({name for name, _ in seeds}) > 100  # projects, stdlib and cases


def test_a_short_slice_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    counts = harness.run_library(
        seed=11, count=160, timeout=30, save=tmp_path / "found", plain_seeds=False
    )
    assert (counts.internal_errors, counts.hangs) == (0, 0), counts.failures
    assert counts.inputs == {"bytes": 40, "soup": 40, "mutation": 40, "deep": 40}
    assert "E0008" in counts.codes  # the deep inputs did reach the nesting limit


def test_a_short_slice_through_the_cli(tmp_path: Path) -> None:
    counts = harness.run_cli(seed=12, count=4, timeout=60, save=tmp_path / "found")
    assert (counts.internal_errors, counts.hangs) == (0, 0), counts.failures
    assert sum(counts.inputs.values()) == 4
