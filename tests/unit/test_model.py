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
from typing import Any

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
