"""Record classes: what `@dataclass` gives a class that only holds fields, without its start-up cost.

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__` ... as source text and compiles
it with `exec` when the module is imported, and `import dataclasses` brings in `inspect`, `ast`,
`dis` and `tokenize`: about 25 ms of a `mora check` that must start in well under 0.1 s
(docs/performance.md). A record class is declared the same way (annotated fields, defaults,
`field(default_factory=..., repr=False, compare=False)`, `__post_init__`), and behaves the same:
positional or keyword construction, field-wise equality, the dataclass `repr`, and with
`frozen=True` immutability and a hash. `tests/unit/test_record.py` runs both side by side.

    class Span(Record, frozen=True):
        line: int
        col: int = 1

`order=True` compares the fields as a tuple, as dataclasses do. Not supported (no record needs
them): `kw_only` (keyword construction works, positional is not refused), `InitVar`,
`init=False` fields.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from typing import Any, ClassVar, dataclass_transform
else:

    def dataclass_transform(**_: object) -> object:
        """At run time a no-op: the decorator only tells type checkers how a record's class
        is constructed (`mora.ast` uses it too)."""
        return lambda cls: cls


__all__ = ["FrozenRecordError", "Record", "field", "replace"]

_MISSING: Any = object()


class FrozenRecordError(AttributeError):
    """Assigning to a field of a frozen record (dataclasses' FrozenInstanceError)."""


class _Field:
    """A field's declaration: its default (or factory) and whether repr and == read it."""

    __slots__ = ("compare", "default", "default_factory", "name", "repr")

    def __init__(
        self,
        default: Any = _MISSING,
        default_factory: Any = _MISSING,
        repr: bool = True,
        compare: bool = True,
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    repr: bool = True,
    compare: bool = True,
) -> Any:
    """A field with a factory for its default, or left out of `repr` or `==`."""
    return _Field(default, default_factory, repr, compare)


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and text.replace("typing.", "").startswith("ClassVar")


@dataclass_transform(field_specifiers=(field,))
class Record:
    """Fields in annotation order (a base record's first); see the module's docstring."""

    __slots__ = ()
    _fields: ClassVar[tuple[_Field, ...]] = ()
    _names: ClassVar[tuple[str, ...]] = ()
    _template: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _required: ClassVar[tuple[str, ...]] = ()
    _frozen: ClassVar[bool] = False
    _post_init: ClassVar[bool] = False
    # the compared fields' values, a tuple, from an instance's __dict__ (one C call for two
    # fields or more: `==`, `hash` and the order methods of many records, fourteenth round)
    _cmp: ClassVar[Any] = staticmethod(lambda d: ())

    def __init_subclass__(
        cls, frozen: bool = False, eq: bool = True, order: bool = False, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        fields = {f.name: f for f in cls._fields}
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        for name, annotation in annotations.items():
            if _is_classvar(annotation):
                continue
            value = cls.__dict__.get(name, _MISSING)
            spec = value if isinstance(value, _Field) else _Field(default=value)
            spec.name = name
            if spec.default is _MISSING:
                if name in cls.__dict__:
                    delattr(cls, name)  # a factory field: no class attribute, as dataclasses
            else:
                setattr(cls, name, spec.default)
            fields.pop(name, None)
            fields[name] = spec
        cls._fields = tuple(fields.values())
        cls._names = tuple(fields)
        cls._template = {f.name: f.default for f in cls._fields}  # _MISSING: no default
        cls._factories = tuple(
            (f.name, f.default_factory) for f in cls._fields if f.default_factory is not _MISSING
        )
        cls._required = tuple(
            f.name for f in cls._fields if f.default is _MISSING and f.default_factory is _MISSING
        )
        cls._cmp = _getter(tuple(f.name for f in cls._fields if f.compare))
        cls._frozen = frozen or cls._frozen
        cls._post_init = hasattr(cls, "__post_init__")
        cls.__match_args__ = cls._names  # type: ignore[misc]
        if frozen:
            cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign,assignment]
            cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign,assignment]
        if not eq:
            cls.__eq__ = object.__eq__  # type: ignore[method-assign,assignment]
            cls.__hash__ = object.__hash__  # type: ignore[method-assign,assignment]
        elif "__hash__" not in cls.__dict__ or cls.__dict__["__hash__"] is None:
            # dataclasses: eq and frozen hash the fields; eq alone makes instances unhashable
            cls.__hash__ = Record._field_hash if cls._frozen else None  # type: ignore[assignment]
        if order:
            for name, compare in _ORDER.items():
                setattr(cls, name, compare)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._names
        if not kwargs and len(args) == len(names):  # every field given in order: the common case
            self.__dict__.update(zip(names, args))  # noqa: B905 (lengths equal; strict costs)
            if self._post_init:
                self.__post_init__()  # type: ignore[attr-defined]
            return
        # Otherwise start from the class's template (every field in order, its default or
        # _MISSING) and fill it with C-level dict operations: a loop over every field cost
        # about three times what a dataclass's generated __init__ does (eighth round).
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments")
        values = self._template.copy()
        if args:
            values.update(zip(names, args, strict=False))
        if kwargs:
            if not kwargs.keys() <= values.keys():
                unknown = next(k for k in kwargs if k not in values)
                raise TypeError(f"{type(self).__name__} got an unexpected argument `{unknown}`")
            if args and not kwargs.keys().isdisjoint(names[: len(args)]):
                twice = next(k for k in kwargs if k in names[: len(args)])
                raise TypeError(f"{type(self).__name__} got `{twice}` twice")
            values.update(kwargs)
        for name, factory in self._factories:
            if values[name] is _MISSING:
                values[name] = factory()
        for name in self._required:
            if values[name] is _MISSING:
                raise TypeError(f"{type(self).__name__} is missing `{name}`")
        self.__dict__.update(values)
        if self._post_init:
            self.__post_init__()  # type: ignore[attr-defined]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        cmp = self._cmp
        return bool(cmp(self.__dict__) == cmp(other.__dict__))

    def _compared(self) -> tuple[object, ...]:
        return self._cmp(self.__dict__)  # type: ignore[no-any-return]

    def _field_hash(self) -> int:
        return hash(self._cmp(self.__dict__))

    def __repr__(self) -> str:
        d = self.__dict__
        inner = ", ".join(f"{f.name}={d[f.name]!r}" for f in self._fields if f.repr)
        return f"{type(self).__qualname__}({inner})"


def _getter(names: tuple[str, ...]) -> Any:
    """A function from an instance's __dict__ to the tuple of `names`' values."""
    if len(names) > 1:
        from operator import itemgetter  # a builtin module: no start-up cost

        return staticmethod(itemgetter(*names))
    if names:
        name = names[0]
        return staticmethod(lambda d: (d[name],))
    return staticmethod(lambda d: ())


def _ordered(op: Any) -> Any:
    def compare(self: Record, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        cmp = self._cmp
        return bool(op(cmp(self.__dict__), cmp(other.__dict__)))

    return compare


def _order_methods() -> dict[str, Any]:
    """`<`, `<=`, `>`, `>=` on the compared fields' tuple (dataclasses' `order=True`)."""
    from operator import ge, gt, le, lt  # a builtin module: no start-up cost

    return {f"__{op.__name__}__": _ordered(op) for op in (lt, le, gt, ge)}


_ORDER = _order_methods()


def _frozen_setattr(self: Record, name: str, value: object) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Record, name: str) -> None:
    raise FrozenRecordError(f"cannot delete field {name!r}")


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of record `obj` with some fields changed (dataclasses.replace)."""
    values = {name: obj.__dict__[name] for name in obj._names}
    values.update(changes)
    return type(obj)(**values)
