"""The manifest is written as it is made: the same bytes as `manifest_json`, never held whole.

`json_chunks` lays out the top object and the `Lazy` ones itself and leaves every other value to
`json.dumps`; hypothesis compares it with `json.dumps` on random JSON data. `write_chunks` writes
the pieces as `write_file` writes a text, keeping an unchanged file as it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mora import model as M
from mora.api import compile_project
from mora.backends import Options, write_target
from mora.backends._json import dumps
from mora.backends.manifest import Lazy, json_chunks, manifest_chunks
from mora.diagnostics import Diagnostics
from mora.model import manifest_json
from mora.output import UnsafeOutput, write_chunks, write_file
from mora.secrets.provider import MemoryProvider
from tests.unit.test_model import _accepted

REPO = Path(__file__).resolve().parents[2]

_text = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "a\nb", 'q"uote', "back\\slash", "\t", "\u2028", "é", "😀", "\x00", "\x7f"]
)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from([1e16, 30.0, -0.0, 1.5e-7])
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=25,
)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_text, _json, max_size=6), st.data())
def test_json_chunks_are_json_dumps(data: dict[str, Any], draw: st.DataObject) -> None:
    assert "".join(json_chunks(data)) == _dumps(data)
    # any object among the top's values may be lazy: its values are made plain as written
    lazy = {
        k: Lazy(v, lambda x: x) if isinstance(v, dict) and draw.draw(st.booleans()) else v
        for k, v in data.items()
    }
    assert "".join(json_chunks(lazy)) == _dumps(data)


@settings(max_examples=60, deadline=None)
@given(_json)
def test_json_chunks_of_any_value(value: Any) -> None:
    assert "".join(json_chunks(value)) == _dumps(value)


def test_lazy_values_are_made_plain_one_at_a_time() -> None:
    made: list[str] = []

    def plain(x: str) -> dict[str, str]:
        made.append(x)
        return {"v": x}

    pieces = json_chunks({"s": Lazy({"b": "2", "a": "1"}, plain)})
    assert made == []
    assert [next(pieces), next(pieces)] == ['{\n  "s": ', '{\n    "a": ']
    assert made == []
    next(pieces)
    assert made == ["1"]
    assert "".join(pieces) and made == ["1", "2"]


@st.composite
def _models(draw: st.DrawFn) -> Any:
    """A model of any class, made from values its fields accept (`test_model._accepted`)."""
    cls = draw(st.sampled_from(M._model_classes()))
    made = draw(_accepted(cls))
    return made if isinstance(made, M._Model) else cls(**made)


@settings(max_examples=300, deadline=None)
@given(_models(), st.sampled_from(["", "    "]))
def test_a_model_is_written_in_one_pass_as_its_plain_data_is(model: Any, indent: str) -> None:
    """`_json` writes a model's fields itself (defaults left out, names in order) instead of
    `model_dump(mode="json", exclude_defaults=True)` first: the same text."""
    plain = model.model_dump(mode="json", exclude_defaults=True)
    assert dumps(model, indent) == dumps(plain, indent)
    assert dumps(model) == _dumps(plain)


@settings(max_examples=100, deadline=None)
@given(st.lists(_accepted(M.Service).map(lambda d: M.Service.model_validate(d)), max_size=3))
def test_manifest_chunks_of_random_services_are_manifest_json(services: list[Any]) -> None:
    manifest = M.Manifest(
        project="p", domain="example.org", services={f"s{i}": s for i, s in enumerate(services)}
    )
    assert "".join(manifest_chunks(manifest)) == manifest_json(manifest)


@pytest.mark.parametrize("project", ["media", "homelab", "identity"])
def test_manifest_chunks_are_manifest_json(project: str, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(
        REPO / "projects" / project, site_file=site, provider=MemoryProvider(seed=b"chunks")
    )
    assert result.compiled is not None
    manifest = result.compiled.manifest
    assert "".join(manifest_chunks(manifest)) == manifest_json(manifest)
    empty = manifest.model_copy(update={"services": {}, "secrets": {}, "inputs": {}})
    assert "".join(manifest_chunks(empty)) == manifest_json(empty)
    out = tmp_path / "out"
    write_target("manifest", result.compiled, out, Options(), Diagnostics())
    assert (out / "manifest.json").read_text(encoding="utf-8") == manifest_json(manifest)


def test_write_chunks_writes_what_write_file_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mora.output as output

    monkeypatch.setattr(output, "_PIECE", 7)  # many writes, a character split nowhere
    pieces = ["{\n", '  "é😀": ', "1" * 20, "\n}\n"]
    write_file(tmp_path / "a", "x/f.json", "".join(pieces), 0o600)
    write_chunks(tmp_path / "b", "x/f.json", iter(pieces), 0o600)
    a, b = tmp_path / "a" / "x" / "f.json", tmp_path / "b" / "x" / "f.json"
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_mode & 0o777 == b.stat().st_mode & 0o777 == 0o600


def test_an_unchanged_file_is_kept_and_a_changed_one_replaced(tmp_path: Path) -> None:
    path = write_chunks(tmp_path, "m.json", ["a", "b"])
    os.utime(path, (1_000_000, 1_000_000))
    inode = path.stat().st_ino
    write_chunks(tmp_path, "m.json", ["ab"])
    assert path.stat().st_mtime == 1_000_000 and path.stat().st_ino == inode
    write_chunks(tmp_path, "m.json", ["ac"])  # same size, other bytes
    assert path.read_text() == "ac" and path.stat().st_mtime != 1_000_000
    write_chunks(tmp_path, "m.json", ["ac"], 0o600)  # same bytes, other mode
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # no temporary file left


def test_write_chunks_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").symlink_to(target)
    with pytest.raises(UnsafeOutput):
        write_chunks(out, "manifest.json", ["x"])
    assert target.read_text() == "keep"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
