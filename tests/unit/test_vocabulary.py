"""The service vocabulary is declared once: the model, the backends, the checker and the docs
are tied to mora/vocabulary/service.py here, so none of them can drift from it."""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin

import pytest

from mora import model as M
from mora import types as T
from mora.backends import _podman_common, podman, quadlet
from mora.backends.kubernetes import workload
from mora.vocabulary import service as V
from tests.unit.helpers import check_src

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
BACKEND_TABLES = {V.KUBERNETES: workload, V.QUADLET: quadlet, V.PODMAN: podman}
IMG = 'image = "docker.io/library/busybox:1.36"'


def test_attributes_and_derived_fields_are_the_model() -> None:
    declared = [a.model_field for a in V.ATTRS if a.model_field]
    assert len(declared) == len(set(declared))
    assert not set(declared) & V.DERIVED.keys()
    assert set(declared) | V.DERIVED.keys() == set(M.Service.model_fields)


@pytest.mark.parametrize(
    ("attr", "model"),
    [("resources", M.Resources), ("security", M.Security), ("healthcheck", M.Healthcheck),
     ("ports", M.Port)],
)  # fmt: skip
def test_every_block_field_is_a_declared_setting(attr: str, model: type) -> None:
    fields = {s.field for s in V.SERVICE[attr].settings}
    assert fields == set(model.model_fields) - {"name"}  # a port's name is its key


@pytest.mark.parametrize("backend", V.BACKENDS)
def test_each_backend_routes_every_model_field(backend: str) -> None:
    """podlet's rule: a field a backend neither handles nor ignores (with a reason) fails."""
    module = BACKEND_TABLES[backend]
    handles, ignores = set(module.HANDLES), module.IGNORES
    assert not handles & ignores.keys()
    assert handles | ignores.keys() == set(M.Service.model_fields)
    assert all(len(why) > 10 for why in ignores.values())


def test_the_vocabulary_says_which_backends_honour_an_attribute() -> None:
    for attr in V.ATTRS:
        honoured = tuple(b for b in V.BACKENDS if attr.model_field in BACKEND_TABLES[b].HANDLES)
        assert attr.backends == honoured, attr.name


def test_podman_backends_share_the_container_routing() -> None:
    assert quadlet.HANDLES == podman.HANDLES == _podman_common.HANDLES | {"restart"}


def _table_names(section: str, header: str) -> set[str]:
    """The backticked names in the first column of the table under `header` in `section`."""
    text = REFERENCE.read_text(encoding="utf-8")
    body = text[text.index(section) :]
    rows = body[body.index(header) :].split("\n\n", 1)[0].splitlines()[2:]
    return {n for row in rows for n in re.findall(r"`([a-z_]+)`", row.split("|")[1])}


def test_reference_attribute_table_is_the_vocabulary() -> None:
    assert _table_names("### Attributes", "| attribute |") == set(V.SERVICE_ATTRS)


@pytest.mark.parametrize(
    ("section", "header", "attr"),
    [("### Resources and security", "| `resources` setting", "resources"),
     ("### Resources and security", "| `security` setting", "security"),
     ("### Healthcheck", "| setting |", "healthcheck")],
)  # fmt: skip
def test_reference_setting_tables_are_the_vocabulary(section: str, header: str, attr: str) -> None:
    assert _table_names(section, header) == {s.name for s in V.SERVICE[attr].settings}


@pytest.mark.parametrize(
    ("attr", "setting"),
    [(a.name, s) for a in V.ATTRS if a.name in ("resources", "security") for s in a.settings],
    ids=lambda x: getattr(x, "name", x),
)
def test_checker_types_each_setting_from_its_row(
    tmp_path: Path, attr: str, setting: V.Setting
) -> None:
    """Each setting gets the type its row declares: a value of it passes, a map does not."""
    assert setting.type is not None
    good = {"string": '"2"', "size": "1Gi", "bool": "false", "int": "1000", "list": "[]"}
    why = ' reason = "test"' if setting.relaxes else ""

    def errs(value: str) -> list[object]:
        src = f"service s {{ {IMG} {attr} {{ {setting.name} = {value}{why} }} }}"
        return [d for d in check_src(tmp_path, src).diagnostics.sorted() if d.is_error]

    assert errs(good[setting.type.kind]) == []
    (err,) = errs('{ a: "b" }')
    assert err.code == "E0301"  # type: ignore[attr-defined]
    assert err.span.text() == '{ a: "b" }'  # type: ignore[attr-defined]


def test_unknown_attribute_suggests_from_the_vocabulary(tmp_path: Path) -> None:
    result = check_src(tmp_path, f"service s {{ {IMG} auto_updat = true }}")
    (err,) = [d for d in result.diagnostics.sorted() if d.is_error]
    assert err.code == "E0207" and err.help == "did you mean `auto_update`?"


_PY = {"string": str, "size": str, "duration": float, "int": int, "bool": bool, "port": int}


def _python_type(t: object) -> object:
    assert isinstance(t, T.Type)
    return list[_PY[t.args[0].kind]] if t.kind == "list" else _PY[t.kind]  # type: ignore[index]


@pytest.mark.parametrize(
    ("attr", "model"),
    [("resources", M.Resources), ("security", M.Security), ("healthcheck", M.Healthcheck)],
)
def test_setting_types_agree_with_the_model(attr: str, model: type) -> None:
    """A setting's declared type is the type its model field holds (`None` aside)."""
    for s in V.SERVICE[attr].settings:
        if s.type is None:
            continue
        annotation = model.model_fields[s.field].annotation  # type: ignore[attr-defined]
        optional = get_origin(annotation) in (Union, UnionType)
        held = [a for a in get_args(annotation) if a is not type(None)]
        if not optional:
            held = [annotation]
        assert held == [_python_type(s.type)], s.name
