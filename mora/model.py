"""The resolved model: what the evaluator produces and the only thing backends and the plan read.

Plain slotted classes (`_Model` below): a compile must not pay pydantic's import and schema
building at start-up (about 170 ms of a small compile, docs/performance.md). They keep the part of
pydantic's behaviour the compiler relies on: keyword construction that checks and coerces each
field like pydantic's lax mode (an `int` for a `float` field becomes a float, so the JSON stays
the same), frozen instances, `model_copy`, `model_dump`, `model_validate` and `model_fields`. The
published JSON Schema comes from a pydantic mirror generated from these same classes
(`manifest_schema`), so it cannot drift from them.

Secret *values* are never part of these models: a value that contains a secret appears as a
`secret` reference (the name of a piece of secret material) plus the declared secrets it was made
from. The material itself travels beside the manifest in `Compiled.material`, for the backends
that must deliver it (Kubernetes Secrets, podman secrets), and is never serialized here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from mora.record import Record

# `typing` (with `contextlib`, ~2 ms of a compile's start-up) is not imported: the fields' checks
# read the annotations through `_Literal` and `_Either` below; `model_fields` imports it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

MANIFEST_FORMAT = "mora-manifest"
MANIFEST_VERSION = 1

_MISSING: Any = object()


class ValidationError(ValueError):
    """A value the model refuses; `errors()` lists each problem as pydantic does (loc, msg)."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self.title = title
        self._errors = errors
        first = errors[0] if errors else {"loc": (), "msg": "rejected"}
        where = ".".join(str(p) for p in first["loc"])
        super().__init__(f"{len(errors)} validation error(s) for {title}: {where}: {first['msg']}")

    def errors(self) -> list[dict[str, Any]]:
        return list(self._errors)


class _Invalid(Exception):
    """One refused value inside a field's check: its path below the field, and the message."""

    def __init__(self, loc: tuple[Any, ...], msg: str, kind: str) -> None:
        self.loc, self.msg, self.kind = loc, msg, kind


class FieldInfo:
    """What a field declares: its default (or factory), description and constraints."""

    __slots__ = (
        "annotation",
        "default",
        "default_factory",
        "description",
        "ge",
        "le",
        "name",
        "pattern",
        "source",
    )

    def __init__(
        self,
        default: Any = _MISSING,
        default_factory: Callable[[], Any] | None = None,
        description: str | None = None,
        ge: int | None = None,
        le: int | None = None,
        pattern: str | None = None,
    ) -> None:
        self.name = ""
        self.source = ""  # the annotation as written
        self.annotation: Any = None  # resolved on first use (forward references)
        self.default = default
        self.default_factory = default_factory
        self.description = description
        self.ge, self.le, self.pattern = ge, le, pattern

    def is_required(self) -> bool:
        return self.default is _MISSING and self.default_factory is None


def Field(
    default: Any = _MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    description: str | None = None,
    ge: int | None = None,
    le: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A field's declaration (typed `Any` so `x: int = Field(...)` type-checks)."""
    return FieldInfo(default, default_factory, description, ge, le, pattern)


if TYPE_CHECKING:  # aliases for type checkers only (they name `Any`)
    _Check = Callable[[Any], Any]
    # name, check (None: anything), default, factory: one row per field, in declaration order
    _Row = tuple[str, "_Check | None", Any, "Callable[[], Any] | None"]


class _ModelMeta(type):
    """Turns the annotated class body into slots and field declarations."""

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> _ModelMeta:
        fields: list[FieldInfo] = []
        for base in bases:
            fields.extend(getattr(base, "_fields", ()))
        for fname, source in ns.get("__annotations__", {}).items():
            if fname.startswith("_"):  # the machinery's own class attributes
                continue
            declared = ns.pop(fname, _MISSING)
            info = declared if isinstance(declared, FieldInfo) else FieldInfo(declared)
            info.name, info.source = fname, source
            fields.append(info)
        ns["__slots__"] = tuple(f.name for f in fields if f.name not in _inherited(bases))
        ns["_fields"] = tuple(fields)
        ns["_rows"] = None
        ns["_plans"] = None
        ns["_values"] = _values_getter(tuple(f.name for f in fields))
        return super().__new__(mcs, name, bases, ns)

    @property
    def model_fields(cls) -> dict[str, FieldInfo]:
        """Field name -> declaration, with `annotation` resolved as `typing` spells it
        (pydantic's attribute: the schema and the tests, never a compile)."""
        import typing  # (see the module's imports)

        names = {"Literal": typing.Literal}
        fields: tuple[FieldInfo, ...] = cls._fields  # type: ignore[attr-defined]
        for f in fields:
            if f.annotation is None:
                f.annotation = eval(f.source, vars(sys.modules[cls.__module__]), names)
        return {f.name: f for f in fields}


class _Literal:
    """`Literal[...]` as the fields' checks read it, without `typing`: the values (`__args__`);
    `Literal[...] | None` is an `_Either`, as `int | None` is a `types.UnionType`."""

    __slots__ = ("__args__",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.__args__ = values

    def __class_getitem__(cls, values: Any) -> _Literal:
        return cls(values if isinstance(values, tuple) else (values,))

    def __or__(self, other: Any) -> _Either:
        return _Either((self, type(None) if other is None else other))

    def __ror__(self, other: Any) -> _Either:
        return _Either((type(None) if other is None else other, self))


class _Either:
    """A union with a `_Literal` member: its members (`__args__`)."""

    __slots__ = ("__args__",)

    def __init__(self, members: tuple[Any, ...]) -> None:
        self.__args__ = members


# The names an annotation is read with, beside its module's: `Literal` without `typing`
_NAMES = {"Literal": _Literal}


def _values_getter(names: tuple[str, ...]) -> Any:
    """`model._values(model)`: every field's value in declaration order, as one tuple (`==` and
    `hash`); an attrgetter reads two fields or more in one C call."""
    from operator import attrgetter  # a builtin module

    if len(names) > 1:
        return staticmethod(attrgetter(*names))
    if names:
        one = attrgetter(names[0])
        return staticmethod(lambda obj: (one(obj),))
    return staticmethod(lambda obj: ())


def _inherited(bases: tuple[type, ...]) -> set[str]:
    return {f.name for b in bases for f in getattr(b, "_fields", ())}


# (module, annotation as written, ge, le, pattern) -> (annotation, check): 158 fields spell only
# 48 annotations, so each is `eval`ed and its check built once per process, not once per field
_RESOLVED: dict[tuple[str, str, Any, Any, Any], tuple[Any, _Check | None]] = {}


def _rows(cls: Any) -> tuple[_Row, ...]:
    """The class's field checks, built on first use (every model class exists by then)."""
    rows = cls._rows
    if rows is None:
        module = cls.__module__
        built = []
        for f in cls._fields:
            key = (module, f.source, f.ge, f.le, f.pattern)
            resolved = _RESOLVED.get(key)
            if resolved is None:
                annotation = eval(f.source, vars(sys.modules[module]), _NAMES)
                resolved = (annotation, _checker(annotation, f.ge, f.le, f.pattern))
                _RESOLVED[key] = resolved
            check = resolved[1]
            built.append((f.name, check, f.default, f.default_factory))
        rows = cls._rows = tuple(built)
    return rows  # type: ignore[no-any-return]


# A plan for the fields given in one order: per given field (its exact types, its check, its
# slot's setter), then per other field (its slot's setter, its default, its factory). `exact`
# None: any value is kept; a value whose type is in `exact` is one the check returns unchanged.
if TYPE_CHECKING:
    _Given = tuple["frozenset[type] | None", "_Check", Callable[[Any, Any], None]]
    _Rest = tuple[Callable[[Any, Any], None], Any, "Callable[[], Any] | None"]
    _Plan = tuple[dict[str, _Given], tuple[_Rest, ...]]

# (module, annotation as written, ge, le, pattern) -> the types its check keeps unchanged
_EXACT: dict[tuple[str, str, Any, Any, Any], frozenset[type] | None] = {}
_MAX_PLANS = 64  # per class: the evaluator's and backends' call sites use a handful each


def _plan(cls: Any, keys: tuple[str, ...]) -> _Plan | None:
    """The plan for constructing `cls` from `keys`, kept on the class; None (also kept): a key
    that is not a field, or a required field left out, for `_checked` to report."""
    rows = cls._rows or _rows(cls)
    entries = _GIVEN.get(cls) or _given(cls, rows)
    plan: _Plan | None = None
    if set(keys) <= entries.keys() and all(
        name in keys for name, _, default, factory in rows if default is _MISSING and not factory
    ):
        given = {name: entries[name] for name in keys}
        rest = tuple(
            (entries[name][2], default, factory)
            for name, _, default, factory in rows
            if name not in keys
        )
        plan = (given, rest)
    plans = cls._plans
    if plans is None:
        plans = cls._plans = {}
    if len(plans) < _MAX_PLANS:
        plans[keys] = plan
    return plan


# class -> field name -> (exact types, check, slot setter): what every plan of the class uses
_GIVEN: dict[type, dict[str, _Given]] = {}


def _given(cls: Any, rows: tuple[_Row, ...]) -> dict[str, _Given]:
    """Each field's exact types, check and slot setter (the slot's descriptor, wherever in the
    classes it is), made once per class."""
    entries = {}
    for f, (name, check, _, _) in zip(cls._fields, rows, strict=True):
        slot = next(c.__dict__[name] for c in cls.__mro__ if name in c.__dict__)
        key = (cls.__module__, f.source, f.ge, f.le, f.pattern)
        if key not in _EXACT:
            _EXACT[key] = _kept(_RESOLVED[key][0], f.ge, f.le, f.pattern)
        entries[name] = (_EXACT[key], check, slot.__set__)
    _GIVEN[cls] = entries
    return entries


_UNION = type(int | None)  # types.UnionType


def _union_members(t: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """A union's members, and those that are not None; None when `t` is no union."""
    if type(t) is not _UNION and type(t) is not _Either:
        return None
    members = t.__args__
    return members, tuple(m for m in members if m is not type(None))


def _kept(t: Any, ge: int | None, le: int | None, pattern: str | None) -> frozenset[type] | None:
    """The types of the values `_checker(t, ...)` returns unchanged, as they are (None: every
    value, the field is not checked); a value of another type goes through the check."""
    if t is object:
        return None
    union = _union_members(t)
    if union is not None:
        members, rest = union
        if len(rest) == 1 and _kept(rest[0], ge, le, pattern) is None:
            return None  # `_checker` passes anything: the nullable member does not matter
        kept: set[type] = {type(None)} if len(rest) < len(members) else set()
        if len(rest) == 1:
            kept |= _kept(rest[0], ge, le, pattern) or set()
        else:  # `_union`: a value of exactly one of the member classes is kept
            kept |= {m for m in rest if isinstance(m, type)}
        return frozenset(kept)
    if t is str:
        return frozenset({str}) if pattern is None else frozenset()
    if t is int:
        return frozenset({int}) if ge is None and le is None else frozenset()
    if t in (bool, float) or isinstance(t, _ModelMeta):
        return frozenset({t})
    return frozenset()  # Literal (a value test), list and dict (always copied): checked


def _fail(msg: str, kind: str) -> Any:
    raise _Invalid((), msg, kind)


def _checker(t: Any, ge: int | None, le: int | None, pattern: str | None) -> _Check | None:
    """A function that returns the value as the field holds it or raises `_Invalid`; pydantic's
    lax mode for the types the model uses. None: any value passes unchanged."""
    if t is object:
        return None
    origin = getattr(t, "__origin__", None)  # list[X] and dict[K, V]: `types.GenericAlias`
    union = _union_members(t)
    if union is not None:
        members, rest = union
        nullable = len(rest) < len(members)
        if len(rest) == 1:
            inner = _checker(rest[0], ge, le, pattern)
            if inner is None:
                return None
            if not nullable:
                return inner
            return lambda v: None if v is None else inner(v)
        return _union(rest, nullable)
    if type(t) is _Literal:
        return _literal(t.__args__)
    if origin is list:
        return _list(_checker(t.__args__[0], None, None, None))
    if origin is dict:
        return _dict(_checker(t.__args__[1], None, None, None))
    if t is str:
        return _str(pattern)
    if t is bool:
        return _bool
    if t is int:
        return _int if ge is None and le is None else _bounded(ge, le)
    if t is float:
        return _float
    if isinstance(t, _ModelMeta):
        return _model(t)
    raise TypeError(f"mora.model: no check for {t!r}")


def _str(pattern: str | None) -> _Check:
    if pattern is None:
        return lambda v: (
            v if isinstance(v, str) else _fail("Input should be a valid string", "string_type")
        )
    import re

    def check(v: Any) -> Any:
        if not isinstance(v, str):
            _fail("Input should be a valid string", "string_type")
        if not re.search(pattern, v):  # compiled on first use (re's cache), not per model
            _fail(f"String should match pattern '{pattern}'", "string_pattern_mismatch")
        return v

    return check


_TRUE = frozenset({1, "1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({0, "0", "off", "f", "false", "n", "no"})


def _bool(v: Any) -> Any:
    if v is True or v is False:
        return v
    if isinstance(v, (int, str)):
        text = v.lower() if isinstance(v, str) else v
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        return _fail("Input should be a valid boolean, unable to interpret input", "bool_parsing")
    if isinstance(v, float) and v in (0.0, 1.0):
        return v == 1.0
    if isinstance(v, float) and v.is_integer() and -(2**63) < v < 2**63:  # read as an int first
        return _fail("Input should be a valid boolean, unable to interpret input", "bool_parsing")
    return _fail("Input should be a valid boolean", "bool_type")


def _int(v: Any) -> Any:
    if type(v) is int:
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        msg = "Input should be a valid integer, got a number with a fractional part"
        _fail(msg, "int_from_float")
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                number = float(v)
            except ValueError:
                number = 0.5
            if number.is_integer():
                return int(number)
            msg = "Input should be a valid integer, unable to parse string as an integer"
            _fail(msg, "int_parsing")
    return _fail("Input should be a valid integer", "int_type")


def _bounded(ge: int | None, le: int | None) -> _Check:
    def check(v: Any) -> Any:
        n = _int(v)
        if ge is not None and n < ge:
            _fail(f"Input should be greater than or equal to {ge}", "greater_than_equal")
        if le is not None and n > le:
            _fail(f"Input should be less than or equal to {le}", "less_than_equal")
        return n

    return check


def _float(v: Any) -> Any:
    if type(v) is float:
        return v
    if isinstance(v, (int, float)):  # bool included, as pydantic's lax mode
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            _fail(
                "Input should be a valid number, unable to parse string as a number",
                "float_parsing",
            )
    return _fail("Input should be a valid number", "float_type")


def _literal(choices: tuple[Any, ...]) -> _Check:
    allowed = {(type(c), c) for c in choices}
    shown = [repr(c) for c in choices]
    text = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"

    def check(v: Any) -> Any:
        try:
            if (type(v), v) in allowed:
                return v
        except TypeError:  # unhashable
            pass
        return _fail(f"Input should be {text}", "literal_error")

    return check


def _union(members: tuple[Any, ...], nullable: bool) -> _Check:
    """pydantic's smart union: a value of exactly a member's type is kept, else the first member
    that accepts it wins."""
    exact = tuple(m for m in members if isinstance(m, type))
    checks = [(_checker(m, None, None, None), getattr(m, "__name__", repr(m))) for m in members]

    def check(v: Any) -> Any:
        if v is None and nullable:
            return None
        if type(v) in exact:
            return v
        first: _Invalid | None = None
        for inner, name in checks:
            try:
                return v if inner is None else inner(v)
            except _Invalid as err:
                first = first or _Invalid((name, *err.loc), err.msg, err.kind)
        assert first is not None
        raise first

    return check


_SEQUENCES = (list, tuple, set, frozenset)


def _list(item: _Check | None) -> _Check:
    def check(v: Any) -> Any:
        if not isinstance(v, _SEQUENCES):
            _fail("Input should be a valid list", "list_type")
        if item is None:
            return list(v)
        out = []
        for i, x in enumerate(v):
            try:
                out.append(item(x))
            except _Invalid as err:
                raise _Invalid((i, *err.loc), err.msg, err.kind) from None
        return out

    return check


def _dict(value: _Check | None) -> _Check:
    def check(v: Any) -> Any:
        if not isinstance(v, dict):
            _fail("Input should be a valid dictionary", "dict_type")
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise _Invalid((k, "[key]"), "Input should be a valid string", "string_type")
            try:
                out[k] = x if value is None else value(x)
            except _Invalid as err:
                raise _Invalid((k, *err.loc), err.msg, err.kind) from None
        return out

    return check


def _model(cls: Any) -> _Check:
    def check(v: Any) -> Any:
        if isinstance(v, cls):
            return v
        if isinstance(v, dict):
            try:
                return cls(**v)
            except ValidationError as err:
                first = err.errors()[0]
                raise _Invalid(tuple(first["loc"]), first["msg"], first["type"]) from None
        return _fail(
            f"Input should be a valid dictionary or instance of {cls.__name__}", "model_type"
        )

    return check


class _Model(metaclass=_ModelMeta):
    """Frozen, slotted, keyword-constructed, checked: see the module docstring."""

    __slots__ = ()
    _fields: tuple[FieldInfo, ...]
    _rows: tuple[_Row, ...] | None
    _plans: dict[tuple[str, ...], _Plan | None] | None
    _values: Callable[[Any], tuple[Any, ...]]  # set per class: see `_values_getter`

    def __init__(self, **data: Any) -> None:
        # The fields given, in the order given, pick a plan (built on first use): each given
        # value is kept as it is when its type is one its check returns unchanged (most values
        # the evaluator and the backends pass), else checked; the others take their defaults.
        # Anything a plan does not cover (an unknown or missing field, a refused value) goes
        # through `_checked`, which reports every problem as before.
        plans = type(self)._plans
        keys = tuple(data)
        plan = plans.get(keys, _MISSING) if plans is not None else _MISSING
        if plan is _MISSING:
            plan = _plan(type(self), keys)
        if plan is None:
            self._checked(data)
            return
        given, rest = plan
        try:
            for name, value in data.items():
                exact, check, put = given[name]
                put(self, value if exact is None or type(value) in exact else check(value))
        except _Invalid:
            self._checked(data)
            raise AssertionError("unreachable: _checked raises") from None
        for put, default, factory in rest:
            put(self, default if factory is None else factory())

    def _checked(self, data: dict[str, Any]) -> None:
        """Every field checked one by one and every problem collected (pydantic's errors)."""
        rows = self._rows or _rows(type(self))
        errors: list[dict[str, Any]] = []
        put = object.__setattr__
        used = 0
        for name, check, default, factory in rows:
            if name in data:
                used += 1
                value = data[name]
                if check is not None:
                    try:
                        value = check(value)
                    except _Invalid as err:
                        errors.append({"loc": (name, *err.loc), "msg": err.msg, "type": err.kind})
                        continue
            elif factory is not None:
                value = factory()
            elif default is _MISSING:
                errors.append({"loc": (name,), "msg": "Field required", "type": "missing"})
                continue
            else:
                value = default
            put(self, name, value)
        if used < len(data):
            known = {row[0] for row in rows}
            for key in data:
                if key not in known:
                    msg = "Extra inputs are not permitted"
                    errors.append({"loc": (key,), "msg": msg, "type": "extra_forbidden"})
        if errors:
            raise ValidationError(type(self).__name__, errors)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: `{name}` cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: `{name}` cannot be deleted")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self) == other._values(other)  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._values(self)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self._fields)
        return f"{type(self).__name__}({shown})"

    def __getstate__(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in self._fields}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A shallow copy with `update` applied unchecked (pydantic's meaning)."""
        if deep:
            import copy

            return copy.deepcopy(self).model_copy(update=update)
        new = object.__new__(type(self))
        for f in self._fields:
            object.__setattr__(new, f.name, getattr(self, f.name))
        for name, value in (update or {}).items():
            object.__setattr__(new, name, value)
        return new

    def model_dump(self, *, mode: str = "python", exclude_defaults: bool = False) -> dict[str, Any]:
        """Plain data: nested models as dicts, sequences as lists (pydantic's JSON mode; the
        model holds nothing that the two modes write differently)."""
        del mode
        return _dump_model(self, exclude_defaults)

    @classmethod
    def model_validate(cls, obj: Any) -> Any:
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, dict):
            msg = f"Input should be a valid dictionary or instance of {cls.__name__}"
            raise ValidationError(cls.__name__, [{"loc": (), "msg": msg, "type": "model_type"}])
        return cls(**obj)

    @classmethod
    def _json_fields(cls) -> tuple[Callable[[Any], tuple[Any, ...]], tuple[_JsonField, ...]]:
        """How the manifest writes a model in one pass, without the plain dict `model_dump`
        makes first: a function giving the field values in name order, and per field its name,
        its default and whether it has one (`exclude_defaults`: a field equal to its default is
        left out)."""
        found = _JSON_FIELDS.get(cls)
        if found is None:
            from operator import attrgetter  # a builtin module

            fields = sorted(_defaults(cls))
            getter = attrgetter(*(name for name, _ in fields))
            values = getter if len(fields) > 1 else lambda obj: (getter(obj),)
            layout = tuple((name, default, default is not _MISSING) for name, default in fields)
            found = _JSON_FIELDS[cls] = (values, layout)
        return found

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The JSON Schema pydantic writes for this class (from the generated mirror)."""
        schema: dict[str, Any] = _mirror()[cls.__name__].model_json_schema()
        return schema


def _defaults(cls: Any) -> tuple[tuple[str, Any], ...]:
    """Each field with the value `exclude_defaults` compares against (factories called once)."""
    found = _DEFAULTS.get(cls)
    if found is None:
        found = _DEFAULTS[cls] = tuple(
            (f.name, f.default_factory() if f.default_factory else f.default) for f in cls._fields
        )
    return found


_DEFAULTS: dict[type, tuple[tuple[str, Any], ...]] = {}
if TYPE_CHECKING:
    _JsonField = tuple[str, Any, bool]
_JSON_FIELDS: dict[type, tuple[Callable[[Any], tuple[Any, ...]], tuple[_JsonField, ...]]] = {}


# Field values passed through as they are: most of a manifest's values, so they take no call of
# `_dump` and none of its isinstance tests (subclasses still go through `_dump`, unchanged).
_AS_IS = frozenset({str, int, float, bool, type(None)})


def _dump_model(obj: Any, exclude_defaults: bool) -> dict[str, Any]:
    out = {}
    for name, default in _defaults(type(obj)):
        value = getattr(obj, name)
        if exclude_defaults and default is not _MISSING and value == default:
            continue
        out[name] = value if type(value) in _AS_IS else _dump(value, exclude_defaults)
    return out


def _dump(value: Any, exclude_defaults: bool) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, _Model):
        return _dump_model(value, exclude_defaults)
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _AS_IS else _dump(v, exclude_defaults) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _AS_IS else _dump(v, exclude_defaults) for k, v in value.items()}
    return value


class Value(_Model):
    """A text value delivered to a container: plain, secret (by reference) or pending an input."""

    value: str | None = Field(None, description="the plain value; absent when secret or pending")
    secret: str | None = Field(None, description="name of the secret material holding the value")
    sources: list[str] = Field(
        default_factory=list, description="declared secrets and inputs the value is made from"
    )
    pending: list[str] = Field(
        default_factory=list, description="inputs not answered yet; the value is unknown"
    )


class Port(_Model):
    name: str
    target: int = Field(ge=1, le=65535, description="the port the container listens on")
    published: int | None = Field(None, ge=1, le=65535, description="the host port, if published")
    protocol: Literal["tcp", "udp"] = "tcp"


class Mount(_Model):
    path: str = Field(description="where it appears in the container")
    kind: Literal["volume", "bind", "tmpfs", "nfs"]
    name: str | None = Field(None, description="volume name (kind volume)")
    size: str | None = Field(None, description="requested size as a quantity, like 10Gi")
    host_path: str | None = Field(None, description="the host directory (kind bind)")
    readonly: bool = False
    reason: str | None = Field(None, description="why a bind needs a system directory of the host")
    mode: str | None = Field(None, description="a tmpfs's file mode, octal like 1777")
    storage_class: str | None = Field(
        None, description="the Kubernetes storage class of this volume (else the site's)"
    )
    access: Literal["RWO", "RWX", "ROX"] | None = Field(
        None, description="access mode: one node writes (RWO), many write (RWX), many read (ROX)"
    )
    external: bool = Field(
        False, description="an existing volume, used by `name`: never created nor deleted"
    )
    server: str | None = Field(None, description="the NFS server (kind nfs)")
    share: str | None = Field(None, description="the exported directory on the server (kind nfs)")


class Route(_Model):
    """One public host and path the service answers on, with its options."""

    host: str = Field(description="the public host name")
    subdomain: str | None = Field(None, description="below the site's domain; none: the apex")
    path: str = Field("/", description="the URL path prefix")
    port: str = Field(description="the name of the port it routes to")
    auth: str | None = Field(
        None, description="the identity provider service (Authelia) that must let requests in"
    )
    max_body: str | None = Field(None, description="the largest request body, as a quantity")
    timeout_seconds: float | None = Field(
        None, description="how long the proxy waits for the service to answer"
    )


class File(_Model):
    path: str = Field(description="where the file appears in the container")
    format: Literal["text", "yaml", "json", "toml", "ini"]
    content: str | None = Field(None, description="the file's text, when it holds no secret")
    secret: str | None = Field(None, description="secret material holding the text")
    sources: list[str] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)


class Healthcheck(_Model):
    test: list[str]
    interval_seconds: float | None = None
    timeout_seconds: float | None = None
    start_period_seconds: float | None = None
    retries: int | None = None


class Job(_Model):
    """A task run in its service's image, with its environment, secrets and volumes."""

    name: str = Field(description="the job's name, unique within its service")
    command: list[str] = Field(description="the command line (replaces the service's command)")
    schedule: str | None = Field(None, description="a cron schedule (five fields or @daily)")
    run: Literal["before", "after"] | None = Field(
        None, description="once per deploy: before the service starts, or after it is up"
    )


class Resources(_Model):
    cpu: str | None = Field(None, description="CPU request, like 250m")
    memory: str | None = Field(None, description="memory request, like 256Mi")
    cpu_limit: str | None = None
    memory_limit: str | None = None


class Security(_Model):
    """Secure defaults, and what a service loosens (always with a reason)."""

    run_as_root: bool = Field(False, description="the image must start as root")
    run_as_user: int | None = None
    run_as_group: int | None = Field(
        None, description="the primary group (also owns the volumes); default: the user's number"
    )
    group_add: list[int] = Field(
        default_factory=list, description="supplementary groups, e.g. render/video for /dev/dri"
    )
    read_only_root: bool = False
    privileged: bool = False
    capabilities_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(
        default_factory=list, description="capabilities removed from what the contract grants"
    )
    reason: str | None = Field(None, description="why the defaults are loosened")


# The memory ceiling of a service that declares none, on every backend (docs/reference.md,
# "Resources and security"); a larger declared request raises it to the request.
DEFAULT_MEMORY_LIMIT = "1Gi"

# The capabilities an entrypoint that starts as root needs to chown its data and switch to its
# user (gosu, su-exec, s6-setuidgid, setpriv): what `run_as_root` grants on every backend.
SWITCH_USER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")

# podman's default capability set (containers.conf `default_capabilities`, podman 4.x and 5.x),
# written out so that a service whose user mora does not know means the same on Kubernetes.
RUNTIME_DEFAULT_CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)


class RunAs(Record, frozen=True):
    """Who a container runs as and what it may do: one reading of the service for every backend.

    `mode` is `user` (a declared non-root user), `root` (`run_as_root`: starts as root and
    drops privileges itself), `privileged`, or `unknown` (nothing declared: settings that start
    any image). `uid`/`gid` are numbers only; a named user is kept in `name` (podman can use it,
    Kubernetes cannot verify it). docs/security.md is the contract this implements.
    """

    mode: Literal["user", "root", "privileged", "unknown"]
    uid: int | None = None
    gid: int | None = None
    name: str | None = None
    groups: tuple[int, ...] = ()
    capabilities: tuple[str, ...] = ()  # added after dropping ALL

    @property
    def numeric(self) -> bool:
        """A non-root user Kubernetes can verify (`runAsNonRoot` with a numeric `runAsUser`)."""
        return self.mode == "user" and self.uid is not None and self.uid != 0


def run_as(svc: Service) -> RunAs:
    """The service's security contract, from `user` and its `security` block."""
    sec = svc.security
    uid: int | None = None
    gid: int | None = None
    name: str | None = None
    if svc.user:
        user, _, group = svc.user.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            uid = int(user)
            gid = int(group) if group else None
        else:
            name = svc.user
    if sec.run_as_user is not None:
        uid, name = sec.run_as_user, None
    if sec.run_as_group is not None:
        gid = sec.run_as_group
    if uid is not None and gid is None:
        gid = uid  # postgres/redis 999:999, linuxserver and most rootless images 1000:1000
    groups = tuple(sorted(set(sec.group_add)))
    own = {_cap(c) for c in sec.capabilities_add}
    drop = {_cap(c) for c in sec.cap_drop}

    def keep(*sets: Iterable[str]) -> tuple[str, ...]:
        """The granted capabilities less `cap_drop` (compose's meaning: the drop wins)."""
        return () if "ALL" in drop else tuple(sorted(set().union(*sets) - drop))

    if sec.privileged:
        return RunAs("privileged", uid, gid, name, groups, keep(own))
    if sec.run_as_root:
        return RunAs("root", uid, gid, name, groups, keep(SWITCH_USER_CAPABILITIES, own))
    if uid is not None or name is not None:
        return RunAs("user", uid, gid, name, groups, keep(own))
    return RunAs("unknown", None, None, None, groups, keep(RUNTIME_DEFAULT_CAPABILITIES, own))


def _cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


class StepExpr(_Model):
    """A value a setup step computes when it runs, kept without secret values.

    Exactly one field is set: `lit` (text, number or flag known at compile time), `ref` (a
    name read at run time: `secret.NAME[.PART]`, `input.NAME`, `output.SVC.STEP.NAME`, or the
    step's own `response.status`, `response.body[.FIELD...]`, `response.stdout`), `concat`
    (an interpolated string), `items` (a list), `entries` (a map) or `op` with `args`.
    `op = "pick"` selects a list item by a field: `args` are the list, the field's path
    (a `lit`), the value it must equal and the path read from the item (a `lit`).
    """

    lit: str | int | bool | None = None
    ref: str | None = None
    concat: list[StepExpr] | None = None
    items: list[StepExpr] | None = None
    entries: dict[str, StepExpr] | None = None
    op: Literal["==", "!=", "&&", "||", "!", "pick"] | None = None
    args: list[StepExpr] | None = None


class StepAuth(_Model):
    kind: Literal["basic", "bearer"]
    user: StepExpr | None = Field(None, description="the user name (basic)")
    secret: StepExpr = Field(description="the password (basic) or the token (bearer)")


class StepOutput(_Model):
    type: Literal["string", "int", "bool"]
    value: StepExpr
    public: bool = Field(
        False, description="declared in `public { }`: not a secret (may go into URLs and logs)"
    )


class Step(_Model):
    """One setup step of a service: an HTTP request or a command in its container."""

    name: str = Field(description="the step's name; `STEP[KEY]` for one item of a `for_each`")
    each: str | None = Field(
        None, description="the item's key when the step is repeated per item (`for_each`)"
    )
    description: str | None = None
    run: Literal["once", "always"] = Field("once", description="once per site, or every apply")
    method: str | None = None
    url: StepExpr | None = Field(None, description="never holds a secret")
    manager: StepExpr | None = Field(
        None, description="an external micromanager's base URL (docs/micromanager-protocol.yaml)"
    )
    headers: dict[str, StepExpr] = Field(default_factory=dict)
    auth: StepAuth | None = None
    body: StepExpr | None = None
    body_format: Literal["json", "form"] | None = None
    base: StepExpr | None = Field(
        None, description="an earlier output holding a JSON object: `body` sets fields over it"
    )
    exec: list[StepExpr] | None = Field(None, description="argv in the container; no secret")
    stdin: StepExpr | None = None
    expect: list[int] = Field(
        default_factory=list, description="accepted statuses / exit codes; empty: 2xx / 0"
    )
    until: StepExpr | None = Field(None, description="retried until this holds")
    when: StepExpr | None = Field(None, description="skipped unless this holds")
    outputs: dict[str, StepOutput] = Field(default_factory=dict)
    timeout_seconds: float = 60.0
    outside_hosts: list[str] = Field(
        default_factory=list, description="hosts outside the project the step may reach"
    )
    needs: list[str] = Field(
        default_factory=list, description="services whose step outputs this step reads"
    )


class Service(_Model):
    name: str
    template: str | None = Field(None, description="the template it was made from, if any")
    module_name: str | None = Field(
        None,
        description="how the source names it when it comes from a module under an alias: "
        "`media.watch` for the service `media-watch` (absent otherwise)",
    )
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, Value] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    volumes: list[Mount] = Field(default_factory=list)
    files: list[File] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    user: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    devices: list[str] = Field(default_factory=list)
    subdomain: str | None = None
    host: str | None = Field(None, description="the public host name, subdomain.domain")
    url: str | None = Field(None, description="the public URL, https://host")
    internal_url: str | None = Field(None, description="URL inside the project network")
    route_port: str | None = Field(None, description="the port name the subdomain routes to")
    routes: list[Route] = Field(
        default_factory=list, description="more hosts and paths (`routes`), with their options"
    )
    resources: Resources | None = None
    security: Security = Field(default_factory=Security)
    stateful: bool = Field(False, description="keeps per-instance state: a StatefulSet")
    placement: list[str] = Field(
        default_factory=list, description="host tags this service may run on (podman hosts)"
    )
    auto_update: bool = Field(False, description="let podman auto-update pull new images")
    init_only: dict[str, str] = Field(
        default_factory=dict,
        description="environment variables the image reads only when its data is first "
        "created: name -> how to change the value in a running instance",
    )
    hostname: str | None = Field(None, description="the host name inside the container")
    extra_hosts: dict[str, str] = Field(
        default_factory=dict, description="host name -> IP address, added to /etc/hosts"
    )
    dns: list[str] = Field(default_factory=list, description="DNS servers (IP addresses)")
    working_dir: str | None = Field(None, description="the working directory of the command")
    stop_grace_period_seconds: float | None = Field(
        None, description="how long a stop waits before the container is killed"
    )
    stop_signal: str | None = Field(None, description="the signal that asks it to stop")
    init: bool = Field(False, description="run an init process that reaps zombies")
    shm_size: str | None = Field(None, description="the size of /dev/shm, as a quantity")
    sysctls: dict[str, str] = Field(
        default_factory=dict, description="namespaced kernel parameters: name -> value"
    )
    network_mode: str | None = Field(
        None,
        description="`host` (the host's network namespace) or `service:NAME` (that service's)",
        pattern=r"^(host|service:[a-z0-9_-]+)$",
    )
    ulimits: dict[str, str] = Field(
        default_factory=dict, description='resource limits: name -> "N" or "SOFT:HARD"'
    )
    jobs: list[Job] = Field(
        default_factory=list, description="one-off and scheduled tasks in this service's image"
    )
    inputs: list[str] = Field(
        default_factory=list, description="inputs this service declares (a person provides them)"
    )
    pending_inputs: list[str] = Field(
        default_factory=list, description="inputs it uses that are not answered yet"
    )
    setup: list[Step] = Field(
        default_factory=list, description="setup steps run after it is healthy, in order"
    )


def service_routes(svc: Service) -> list[Route]:
    """Every route of a service: its `subdomain` first (given the options of a `routes` entry
    for the same host and `/`, if any), then the other `routes`, in host and path order."""
    extra = sorted(svc.routes, key=lambda r: (r.host, r.path))
    if not (svc.host and svc.route_port):
        return extra
    same = next((r for r in extra if r.host == svc.host and r.path == "/"), None)
    primary = same or Route(host=svc.host, subdomain=svc.subdomain, port=svc.route_port)
    return [primary, *(r for r in extra if r is not same)]


class SecretInfo(_Model):
    """What the manifest says about a declared secret: never its value."""

    name: str
    generator: str | None = Field(None, description="the generator, or none when set by hand")
    parts: list[str]
    public_parts: list[str] = Field(default_factory=list)


class Input(_Model):
    name: str
    type: str
    service: str | None = Field(None, description="the service that declares it")
    after: list[str] = Field(default_factory=list, description="services that must run first")
    prompt: str | None = Field(None, description="what to tell the person, URLs filled in")
    description: str | None = None
    producer: str | None = Field(
        None, description="the step output that fills it (SERVICE.STEP.OUTPUT): not a person"
    )
    answered: bool


class Host(_Model):
    """A podman host of the site's inventory."""

    name: str
    address: str | None = None
    tags: list[str] = Field(default_factory=list)


class Manifest(_Model):
    """One project compiled against one site."""

    format: Literal["mora-manifest"] = MANIFEST_FORMAT
    version: Literal[1] = MANIFEST_VERSION
    project: str
    domain: str
    params: dict[str, object] = Field(
        default_factory=dict, description="the site's value of every param (none are secret)"
    )
    services: dict[str, Service] = Field(default_factory=dict)
    secrets: dict[str, SecretInfo] = Field(default_factory=dict)
    inputs: dict[str, Input] = Field(default_factory=dict)
    hosts: list[Host] = Field(default_factory=list, description="the site's podman hosts")
    targets: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="per-target site settings (kubernetes, podman), checked by each backend",
    )


def manifest_json(manifest: Manifest) -> str:
    """The canonical bytes of a manifest: sorted keys, two-space indent, trailing newline."""
    import json

    # Defaults (empty lists, false flags, tcp) are left out to keep diffs small; the format and
    # version always stay, so a reader can tell what it holds.
    data = manifest.model_dump(mode="json", exclude_defaults=True)
    data["format"] = manifest.format
    data["version"] = manifest.version
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def manifest_schema() -> str:
    """The published JSON Schema of the manifest."""
    import json

    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"mora-manifest-v{MANIFEST_VERSION}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


_MIRROR: dict[str, Any] = {}


def _mirror() -> dict[str, Any]:
    """pydantic classes written from the model classes (names, docstrings, annotations, defaults,
    descriptions, constraints), so the schema is pydantic's and says what the classes say. Only
    `mora schema` and tests load pydantic this way."""
    if not _MIRROR:
        import types

        lines = [
            "from __future__ import annotations",
            "from typing import Literal",
            "from pydantic import BaseModel, ConfigDict, Field",
            "class _Model(BaseModel):",
            "    model_config = ConfigDict(extra='forbid', frozen=True)",
        ]
        for cls in _model_classes():
            lines.append(f"class {cls.__name__}(_Model):")
            if cls.__doc__:
                lines.append(f"    __doc__ = {cls.__doc__!r}")
            for f in cls._fields:
                args = [] if f.default is _MISSING else [repr(f.default)]
                if f.default_factory is not None:
                    args.append(f"default_factory={f.default_factory.__name__}")
                for key in ("description", "ge", "le", "pattern"):
                    if getattr(f, key) is not None:
                        args.append(f"{key}={getattr(f, key)!r}")
                lines.append(f"    {f.name}: {f.source} = Field({', '.join(args)})")
            if not cls._fields:
                lines.append("    pass")
        module = types.ModuleType("mora._model_mirror")
        sys.modules[module.__name__] = module
        exec("\n".join(lines), vars(module))
        for cls in _model_classes():
            getattr(module, cls.__name__).model_rebuild()
            _MIRROR[cls.__name__] = getattr(module, cls.__name__)
    return _MIRROR


def _model_classes() -> list[Any]:
    """Every model class of this module, in the order they are declared."""
    return [v for v in globals().values() if isinstance(v, _ModelMeta) and v is not _Model]
