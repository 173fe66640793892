"""The plain model classes behave as the pydantic models they replaced.

`mora.model` builds, checks and dumps without pydantic (start-up, docs/performance.md); its
pydantic mirror (`mora.model._mirror`, what `mora schema` uses) is generated from the same
declarations. Here the two are run side by side on the same inputs: they must accept and refuse
the same values, report the same first error (the evaluator turns it into E0505) and dump the same
data, so the manifest bytes and the diagnostics stay what they were.
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mora import model as M

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "manifest.schema.json"

_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=70_000),
    st.sampled_from([0.0, 1.0, 2.5, 30.0, -1.0]),
    st.sampled_from(["", "tcp", "udp", "x", "1", "0", "3", "yes", "off", "2.5", "RWO", "host"]),
    st.sampled_from(["service:db", "service:Bad", "volume", "nfs", "@daily", "before", "basic"]),
    st.text(max_size=4),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.sampled_from(["a", "b", "name", "target", "test"]), inner, max_size=3),
    ),
    max_leaves=6,
)

CLASSES = [
    M.Value,
    M.Port,
    M.Mount,
    M.Route,
    M.File,
    M.Healthcheck,
    M.Job,
    M.Resources,
    M.Security,
    M.StepExpr,
    M.StepAuth,
    M.StepOutput,
    M.SecretInfo,
    M.Input,
    M.Host,
]


def _outcome(cls: Any, data: dict[str, Any]) -> tuple[str, Any]:
    """What constructing `cls(**data)` gives: the dumped data, or the first error."""
    try:
        made = cls(**data)
    except (M.ValidationError, ValueError) as err:
        first = err.errors()[0]  # type: ignore[attr-defined]
        return "refused", (tuple(first["loc"]), first["msg"])
    return "made", json.dumps(made.model_dump(mode="json", exclude_defaults=True), sort_keys=True)


@st.composite
def _kwargs(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    cls = draw(st.sampled_from(CLASSES))
    names = [*cls.model_fields, "unknown"]
    keys = draw(st.lists(st.sampled_from(names), unique=True, max_size=5))
    required = [n for n, f in cls.model_fields.items() if f.is_required()]
    if draw(st.booleans()):
        keys = list(dict.fromkeys([*required, *keys]))
    return cls, {k: draw(_VALUES) for k in keys}


@settings(max_examples=1500, deadline=None)
@given(_kwargs())
def test_plain_classes_accept_refuse_and_dump_as_pydantic_does(case: tuple[Any, dict]) -> None:
    cls, data = case
    mirror = M._mirror()[cls.__name__]
    assert _outcome(cls, data) == _outcome(mirror, data)


def test_a_service_built_from_nested_data_dumps_as_pydantic_does() -> None:
    data: dict[str, Any] = {
        "name": "web",
        "image": "docker.io/library/nginx:1.27",
        "environment": {"A": {"value": "1"}, "B": {"secret": "web/env/B", "sources": ("pw",)}},
        "ports": [
            {"name": "http", "target": 80},
            {"name": "dns", "target": "53", "protocol": "udp"},
        ],
        "healthcheck": {"test": ["CMD", "true"], "interval_seconds": 10, "retries": 3.0},
        "security": {"run_as_user": 1000, "group_add": (44,)},
        "stop_grace_period_seconds": 5,
        "setup": [{"name": "s", "url": {"concat": [{"lit": "http://x/"}, {"ref": "input.a"}]}}],
    }
    plain, mirror = M.Service(**data), M._mirror()["Service"](**data)
    assert plain.model_dump(mode="json") == mirror.model_dump(mode="json")
    lean = plain.model_dump(mode="json", exclude_defaults=True)
    assert lean == mirror.model_dump(mode="json", exclude_defaults=True)
    assert lean["stop_grace_period_seconds"] == 5.0 and isinstance(
        lean["stop_grace_period_seconds"], float
    )


@pytest.mark.parametrize(
    ("data", "loc", "msg"),
    [
        ({"network_mode": "bridge"}, ("network_mode",), "String should match pattern"),
        ({"ports": [{"name": "a", "target": 0}]}, ("ports", 0, "target"), "greater than or equal"),
        ({"environment": {"A": 3}}, ("environment", "A"), "valid dictionary or instance of Value"),
        ({"restart": "sometimes"}, ("restart",), "Input should be 'no', 'always', 'on-failure'"),
        ({"colour": "red"}, ("colour",), "Extra inputs are not permitted"),
    ],
)
def test_errors_name_the_field_and_say_what_pydantic_said(data: dict, loc: tuple, msg: str) -> None:
    full = {"name": "web", "image": "nginx", **data}
    for cls in (M.Service, M._mirror()["Service"]):
        with pytest.raises(ValueError) as info:
            cls(**full)
        first = info.value.errors()[0]  # type: ignore[attr-defined]
        assert tuple(first["loc"]) == loc
        assert msg in first["msg"]
    with pytest.raises(M.ValidationError):
        M.Service(name="web")  # image is required


def test_the_mirror_declares_every_field_as_the_class_does() -> None:
    mirror = M._mirror()
    assert sorted(mirror) == sorted(c.__name__ for c in M._model_classes())
    for cls in M._model_classes():
        theirs = mirror[cls.__name__].model_fields
        assert list(theirs) == list(cls.model_fields), cls.__name__
        for name, ours in cls.model_fields.items():
            field = theirs[name]
            assert field.description == ours.description, (cls.__name__, name)
            assert field.is_required() == ours.is_required(), (cls.__name__, name)
            if not ours.is_required():
                wanted = ours.default_factory() if ours.default_factory else ours.default
                got = field.get_default(call_default_factory=True)
                if isinstance(wanted, M._Model):  # Security(): the mirror's own class
                    got, wanted = got.model_dump(), wanted.model_dump()
                assert got == wanted, (cls.__name__, name)


def test_the_published_schema_is_the_mirrors() -> None:
    assert M.manifest_schema() == SCHEMA.read_text()


def test_instances_are_frozen_hashable_and_copy_like_pydantic_models() -> None:
    port = M.Port(name="http", target=80)
    with pytest.raises(AttributeError):
        port.target = 81  # type: ignore[misc]
    assert port == M.Port(name="http", target=80) and hash(port) == hash(
        M.Port(name="http", target=80)
    )
    assert port != M.Port(name="http", target=81)
    moved = port.model_copy(update={"published": 8080})
    assert (moved.published, port.published) == (8080, None)
    assert pickle.loads(pickle.dumps(port)) == port == copy.deepcopy(port)
    assert repr(port) == "Port(name='http', target=80, published=None, protocol='tcp')"
    assert M.Port.model_validate({"name": "http", "target": "80"}) == port
    assert not hasattr(port, "__dict__")  # slotted: 10,000 services hold many of these


@pytest.mark.parametrize("value", [30.0, -1.0, 2.5, 1e300, float("inf"), 9.2e18, -(2.0**63), 0.0])
def test_a_float_given_for_a_boolean_is_refused_or_read_as_pydantic_does(value: float) -> None:
    """Hypothesis found `run_as_root = 30.0`: pydantic reads an integral float in int64 range as
    an int first ("unable to interpret input"), any other float as no boolean at all."""
    data = {"run_as_root": value}
    mirror = M._mirror()["Security"]
    assert _outcome(M.Security, data) == _outcome(mirror, data)


def _fields_of(obj: Any) -> Any:
    """Every field's value with its exact type, nested models and containers included: what
    `==` alone would not tell apart (1 and 1.0 and True, a tuple and a list)."""
    if isinstance(obj, M._Model):
        return (type(obj), tuple((f.name, _fields_of(getattr(obj, f.name))) for f in obj._fields))
    if isinstance(obj, list | tuple):
        return (type(obj), tuple(_fields_of(v) for v in obj))
    if isinstance(obj, dict):
        return (type(obj), tuple((k, _fields_of(v)) for k, v in obj.items()))
    return (type(obj), obj)


def _built(make: Any) -> tuple[str, Any]:
    try:
        return "made", _fields_of(make())
    except M.ValidationError as err:
        return "refused", err.errors()


def _checked(cls: Any, data: dict[str, Any]) -> Any:
    """`cls(**data)` through the field-by-field check only (no plan)."""
    made = object.__new__(cls)
    made._checked(data)
    return made


def _accepted(t: Any, field: Any = None, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values a field of annotation `t` accepts: of its own type, and of the types lax mode
    converts (an int for a float, a tuple for a list, a dict for a model, text for a number)."""
    origin, args = get_origin(t), get_args(t)
    if t is object:
        return _LEAVES
    if origin in (Union, UnionType):
        return st.one_of(*(_accepted(a, field, depth) for a in args))
    if t is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        inner = _accepted(args[0], None, depth + 1)
        return st.lists(inner, max_size=2) | st.tuples(inner)
    if origin is dict:
        return st.dictionaries(
            st.sampled_from(["a", "b"]), _accepted(args[1], None, depth + 1), max_size=2
        )
    if t is str:
        if field is not None and field.pattern:
            return st.sampled_from(["host", "service:db"])
        return st.text(max_size=3)
    if t is bool:
        return st.booleans() | st.sampled_from([0, 1, "yes", "off"])
    if t is int:
        low = field.ge if field is not None and field.ge is not None else -5
        high = field.le if field is not None and field.le is not None else 70_000
        number = st.integers(min_value=low, max_value=high)
        return number | number.map(str) | number.map(float) | st.just(True)
    if t is float:
        return st.floats(allow_nan=False, width=32) | st.integers(-5, 5) | st.just("2.5")
    if isinstance(t, M._ModelMeta):
        fields = t.model_fields
        required = {
            n: _accepted(f.annotation, f, depth + 1) for n, f in fields.items() if f.is_required()
        }
        optional = (
            {}
            if depth > 1
            else {
                n: _accepted(f.annotation, f, depth + 1)
                for n, f in fields.items()
                if not f.is_required()
            }
        )
        data = st.fixed_dictionaries(required, optional=optional)
        return data | data.map(lambda d: t(**d))
    raise AssertionError(f"no strategy for {t!r}")


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(M._model_classes()).flatmap(lambda c: st.tuples(st.just(c), _accepted(c))))
def test_the_planned_constructor_builds_what_the_field_by_field_check_builds(
    case: tuple[Any, Any],
) -> None:
    """`_Model.__init__` keeps a value of a type its check returns unchanged and sets the other
    fields' defaults from a plan per set of given names; `_checked` checks every field: the two
    must give the same fields with the same types (or the same errors), for every class."""
    cls, data = case
    if isinstance(data, M._Model):
        data = {f.name: getattr(data, f.name) for f in cls._fields}
    assert _built(lambda: cls(**data)) == _built(lambda: _checked(cls, data))
    assert _built(lambda: cls(**data)) == _built(lambda: cls(**data))  # the plan, kept, again


@settings(max_examples=400, deadline=None)
@given(_kwargs())
def test_the_planned_constructor_refuses_what_the_field_by_field_check_refuses(
    case: tuple[Any, dict],
) -> None:
    """Mostly refused data (unknown and missing fields, values of no field's type): the same
    errors, or the same fields."""
    cls, data = case
    assert _built(lambda: cls(**data)) == _built(lambda: _checked(cls, data))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([None, "x", 3, True, 2.5]),
    st.sampled_from([None, "secret.a", 7]),
    st.lists(st.sampled_from(["a", 1, None]), max_size=2) | st.none() | st.tuples(st.just("a")),
)
def test_the_planned_constructor_keeps_step_expressions_as_checked(
    lit: Any, ref: Any, items: Any
) -> None:
    """The evaluator's most frequent model (`StepExpr`, with nested items), both paths."""
    nested = None if items is None else [M.StepExpr(lit=v) for v in items]
    for data in ({"lit": lit}, {"ref": ref, "items": nested}, {"concat": items, "lit": lit}):
        assert _built(lambda d=data: M.StepExpr(**d)) == _built(
            lambda d=data: _checked(M.StepExpr, d)
        )
