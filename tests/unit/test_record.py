"""`mora.record.Record` behaves as the `@dataclass` it replaces on `mora check`'s import path.

Each record class is declared twice, once as a record and once as a dataclass with the same
options, and both are driven with the same random arguments: construction (or the error),
field values, defaults and factories, `repr`, `==`, `hash`, immutability and `replace`.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mora.record import Record, field, replace
from mora.source import SourceFile, Span


class RFrozen(Record, frozen=True):
    name: str
    size: int = 3
    tags: tuple[str, ...] = ()
    hidden: object = field(default=None, repr=False, compare=False)
    LIMIT: ClassVar[int] = 9


@dataclasses.dataclass(frozen=True)
class DFrozen:
    name: str
    size: int = 3
    tags: tuple[str, ...] = ()
    hidden: object = dataclasses.field(default=None, repr=False, compare=False)
    LIMIT: ClassVar[int] = 9


class RMutable(Record):
    name: str
    items: list[int] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)


@dataclasses.dataclass
class DMutable:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)
    seen: dict[str, int] = dataclasses.field(default_factory=dict)


class RIdentity(Record, eq=False):
    text: str
    _cache: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._cache = [len(self.text)]


@dataclasses.dataclass(eq=False)
class DIdentity:
    text: str
    _cache: list[int] = dataclasses.field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._cache = [len(self.text)]


PAIRS = [(RFrozen, DFrozen), (RMutable, DMutable), (RIdentity, DIdentity)]

_VALUES = st.one_of(
    st.text(max_size=3), st.integers(-2, 2), st.none(), st.tuples(st.text(max_size=2))
)
_NAMES = st.sampled_from(["name", "size", "tags", "hidden", "items", "seen", "text", "_cache", "x"])
_CALLS = st.tuples(st.lists(_VALUES, max_size=5), st.dictionaries(_NAMES, _VALUES, max_size=3))


def _build(cls: type, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", cls(*args, **kwargs)
    except TypeError:
        return "TypeError", None


def _state(obj: Any, cls: type) -> dict[str, Any]:
    names = [f.name for f in dataclasses.fields(cls)]
    return {n: getattr(obj, n) for n in names}


@given(st.sampled_from(PAIRS), _CALLS, _CALLS)
def test_a_record_behaves_as_the_dataclass(pair: tuple[type, type], one: Any, two: Any) -> None:
    rcls, dcls = pair
    r1, d1 = _build(rcls, *one), _build(dcls, *one)
    assert r1[0] == d1[0]  # both accept, or both refuse
    if r1[0] != "ok":
        return
    r, d = r1[1], d1[1]
    assert _state(r, dcls) == _state(d, dcls)
    assert repr(r).replace("RFrozen", "X").replace("RMutable", "X").replace("RIdentity", "X") == (
        repr(d).replace("DFrozen", "X").replace("DMutable", "X").replace("DIdentity", "X")
    )
    r2, d2 = _build(rcls, *two), _build(dcls, *two)
    if r2[0] == d2[0] == "ok":
        assert (r == r2[1]) == (d == d2[1])
        assert (r == r) == (d == d)
    assert (type(r).__hash__ is None) == (type(d).__hash__ is None)
    if type(d).__hash__ is not None and dcls is DFrozen:
        try:
            expected: object = hash(d) == hash(dcls(**_state(d, dcls)))
        except TypeError:
            expected = TypeError
        try:
            got: object = hash(r) == hash(rcls(**_state(d, dcls)))
        except TypeError:
            got = TypeError
        assert got == expected
    if dcls is DFrozen:
        with pytest.raises(AttributeError):
            r.name = "other"
        with pytest.raises(AttributeError):
            del r.size
        assert replace(r, size=7) == rcls(**{**_state(r, dcls), "size": 7})
    else:
        r.name = "changed"
        assert r.name == "changed"


def test_defaults_and_factories_are_class_attributes_as_dataclasses_leaves_them() -> None:
    assert RFrozen.size == DFrozen.size == 3
    assert RFrozen.LIMIT == 9
    assert not hasattr(RMutable, "items") and not hasattr(DMutable, "items")
    a, b = RMutable("a"), RMutable("b")
    a.items.append(1)
    assert b.items == []  # one list per instance
    assert RFrozen.__match_args__ == DFrozen.__match_args__


def test_records_pickle_and_a_frozen_one_hashes_by_its_compared_fields() -> None:
    r = RFrozen("a", 1, ("x",), hidden=object())
    assert hash(r) == hash(RFrozen("a", 1, ("x",)))
    back = pickle.loads(pickle.dumps(RMutable("a", [1], {"k": 2})))
    assert back == RMutable("a", [1], {"k": 2})


def test_a_span_is_the_frozen_value_the_dataclass_was() -> None:
    f = SourceFile("a.mora", "one\ntwo\n")
    s = Span(f, 1, 5)
    assert s == Span(f, 1, 5) and s != Span(f, 1, 6) and s != Span(SourceFile("a.mora", ""), 1, 5)
    assert hash(s) == hash(Span(f, 1, 5))
    assert s.__eq__(object()) is NotImplemented
    with pytest.raises(AttributeError):
        s.start = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.extra = 1  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(s))
    assert (back.start, back.end, back.file.text) == (1, 5, f.text)
    assert f != SourceFile("a.mora", "one\ntwo\n")  # files compare by identity
    assert f._line_starts == []  # indexed on the first position asked (mora.source)
    assert f.line_col(5) == (2, 2) and f._line_starts == [0, 4, 8]
    match s:
        case Span(file, start, end):
            assert (file, start, end) == (f, 1, 5)


@dataclasses.dataclass(frozen=True)
class DType:
    kind: str
    args: tuple[Any, ...] = ()
    values: tuple[str, ...] = ()
    secret: bool = False


_KINDS = st.sampled_from(["string", "int", "list", "enum"])
_TYPES = st.tuples(_KINDS, st.sampled_from([(), ("x",)]), st.booleans())


@given(_TYPES, _TYPES)
def test_the_written_out_type_behaves_as_the_frozen_dataclass(one: Any, two: Any) -> None:
    from mora.types import Type

    def both(spec: Any) -> tuple[Type, DType]:
        kind, values, secret = spec
        inner = (Type("int"),) if kind == "list" else ()
        dinner = (DType("int"),) if kind == "list" else ()
        return Type(kind, inner, values, secret=secret), DType(kind, dinner, values, secret)

    (t1, d1), (t2, d2) = both(one), both(two)
    assert (t1 == t2) == (d1 == d2)
    assert (hash(t1) == hash(t2)) == (hash(d1) == hash(d2)) or t1 != t2
    assert repr(t1).replace("Type(", "X(") == repr(d1).replace("DType(", "X(")
    assert t1.tainted(secret=False) == t1 and t1.tainted().secret and not t1.public().secret
    assert pickle.loads(pickle.dumps(t1)) == t1
    with pytest.raises(AttributeError):
        t1.kind = "int"  # type: ignore[misc]
    assert Type("string") == Type(kind="string", args=(), values=(), secret=False)


class ROrdered(Record, frozen=True, order=True):
    major: int
    minor: int = 0
    note: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True, order=True)
class DOrdered:
    major: int
    minor: int = 0
    note: str = dataclasses.field(default="", compare=False)


_ORDERED = st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["", "a", "b"]))


@given(st.lists(_ORDERED, max_size=6))
def test_an_ordered_record_compares_and_sorts_as_the_ordered_dataclass(specs: list[Any]) -> None:
    """`order=True` (podman versions, Caddy routes): the compared fields as a tuple."""
    rs, ds = [ROrdered(*s) for s in specs], [DOrdered(*s) for s in specs]
    for r1, d1 in zip(rs, ds, strict=True):
        for r2, d2 in zip(rs, ds, strict=True):
            assert (r1 < r2, r1 <= r2, r1 > r2, r1 >= r2) == (d1 < d2, d1 <= d2, d1 > d2, d1 >= d2)
    by_record = [(r.major, r.minor, r.note) for r in sorted(rs)]
    assert by_record == [(d.major, d.minor, d.note) for d in sorted(ds)]
    with pytest.raises(TypeError):
        ROrdered(1) < DOrdered(1)  # noqa: B015 - another class does not compare, as dataclasses


class ROne(Record, frozen=True, order=True):
    rank: int
    note: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True, order=True)
class DOne:
    rank: int
    note: str = dataclasses.field(default="", compare=False)


class RNone(Record, frozen=True, order=True):
    note: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True, order=True)
class DNone:
    note: str = dataclasses.field(default="", compare=False)


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["", "a"])), max_size=4))
def test_one_and_no_compared_field_compare_and_hash_as_the_dataclass(specs: list[Any]) -> None:
    """The compared fields are read as one tuple (an itemgetter for two or more fields); with
    one field or none the tuple is made by hand: `==`, `hash` and order as dataclasses."""
    for make_r, make_d, args in (
        (ROne, DOne, lambda s: s),
        (RNone, DNone, lambda s: s[1:]),
    ):
        rs = [make_r(*args(s)) for s in specs]
        ds = [make_d(*args(s)) for s in specs]
        for r1, d1 in zip(rs, ds, strict=True):
            assert hash(r1) == hash(d1)
            for r2, d2 in zip(rs, ds, strict=True):
                assert (r1 == r2, r1 != r2, r1 < r2, r1 <= r2, r1 > r2, r1 >= r2) == (
                    d1 == d2,
                    d1 != d2,
                    d1 < d2,
                    d1 <= d2,
                    d1 > d2,
                    d1 >= d2,
                )


def test_tainting_or_clearing_a_type_that_already_is_so_makes_no_new_type() -> None:
    """A `Type` is an immutable value: `tainted` and `public` hand back the same object when its
    secrecy would not change (the checker calls them ~500 times a media check), and an equal
    new value when it does."""
    from mora.types import Type

    plain = Type("list", (Type("string"),))
    secret = plain.tainted()
    assert secret == Type("list", (Type("string"),), (), True) and secret is not plain
    assert plain.tainted(False) is plain and plain.public() is plain
    assert secret.tainted() is secret and secret.tainted(False) is secret
    assert secret.public() == plain and secret.public() is not secret
