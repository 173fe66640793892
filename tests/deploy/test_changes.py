"""Golden change sets: each case compiles `before/` and `after/` (a seeded in-memory store,
pre-set values from `before.yaml`/`after.yaml`), records `before` as deployed and compares.

`expected.json` and `expected.txt` are the change set as JSON and as text
(MORA_UPDATE_GOLDEN=1 rewrites them). No secret value may appear in either, nor in a record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mora.api import compile_project
from mora.deploy.changes import render
from mora.deploy.engine import prepare
from mora.deploy.state import Record, load_record, record_path, save_record
from mora.secrets.provider import MemoryProvider

CASES = Path(__file__).parent / "cases"
KEY = b"k" * 32
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


def compiled_from(case: Path, side: str) -> object:
    values_file = case / f"{side}.yaml"
    values = yaml.safe_load(values_file.read_text()) if values_file.exists() else {}
    result = compile_project(
        case / side, domain="example.org", provider=MemoryProvider(seed=b"deploy", values=values)
    )
    assert result.compiled is not None and not result.diagnostics.has_errors, [
        d.message for d in result.diagnostics
    ]
    return result.compiled


def change_set(case: Path) -> tuple[dict[str, object], str, Record, list[str]]:
    before = compiled_from(case, "before")
    after = compiled_from(case, "after")
    deployed = prepare(before, None, KEY, "podman").wanted
    prepared = prepare(after, deployed, KEY, "podman")
    values = [*before.material.values(), *after.material.values()]  # type: ignore[attr-defined]
    return prepared.changes.to_json(), render(prepared.changes), deployed, values


@pytest.mark.parametrize("name", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden_change_set(name: str, tmp_path: Path) -> None:
    case = CASES / name
    data, text, deployed, values = change_set(case)
    as_json = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if UPDATE:
        (case / "expected.json").write_text(as_json)
        (case / "expected.txt").write_text(text)
    assert as_json == (case / "expected.json").read_text()
    assert text == (case / "expected.txt").read_text()
    # the record round-trips through its file, which holds digests and never a value
    path = record_path(tmp_path / "site.secrets", "shop")
    save_record(path, deployed)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_record(path) == deployed
    on_disk = path.read_text()
    for value in values:
        assert value not in as_json and value not in text and value not in on_disk


def test_changed_secret_is_named_never_shown() -> None:
    case = CASES / "changed-secret"
    data, text, _, _ = change_set(case)
    for side in ("before", "after"):
        value = yaml.safe_load((case / f"{side}.yaml").read_text())["token"]
        assert value not in text and value not in json.dumps(data)
    assert data["secrets_changed"] == ["secret.token"]
    assert sorted(data["restart"]) == ["api"]  # type: ignore[arg-type]
    assert data["changed"] == {}


def test_same_project_twice_is_empty() -> None:
    case = CASES / "changed-secret"
    before = compiled_from(case, "before")
    deployed = prepare(before, None, KEY, "podman").wanted
    again = prepare(compiled_from(case, "before"), deployed, KEY, "podman").changes
    assert again.empty and "no changes" in render(again)


def test_digests_depend_on_the_key() -> None:
    before = compiled_from(CASES / "changed-secret", "before")
    one = prepare(before, None, KEY, "podman").wanted.secrets
    two = prepare(before, None, b"x" * 32, "podman").wanted.secrets
    assert one and one.keys() == two.keys() and not set(one.values()) & set(two.values())
