"""The syntax tree: immutable nodes, every one with a span.

Built by `mora.parser`, read by the loader and the checker. No pass mutates it.

Nodes are declared like dataclasses (fields by annotation) but built by the small `Node` base
below instead of `@dataclass`: generating methods for two dozen classes cost about 20 ms of
`mora check` start-up, a sixth of its budget. `dataclass_transform` keeps type checkers seeing
the same constructor signatures a dataclass would have.
"""

from __future__ import annotations

from operator import attrgetter

from mora.source import SourceFile, Span

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, TypeVar, dataclass_transform
else:
    from mora.record import dataclass_transform  # a no-op at run time

_set = object.__setattr__  # nodes are immutable: their own __setattr__ refuses


class _NodeMeta(type):
    """Gives every node class `__slots__` for its fields, so a node carries no `__dict__`.

    A service's tree is a few hundred nodes; without a `__dict__` each is about a third the size
    (10,000 services must fit in 300 MiB). Slots have to exist when the class is created, hence
    a metaclass rather than `__init_subclass__`."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any) -> type:
        if "__slots__" not in ns:
            annotations = ns.get("__annotations__", {})
            ns["__slots__"] = tuple(k for k in annotations if not k.startswith("_"))
        return super().__new__(mcls, name, bases, ns, **kw)


@dataclass_transform(frozen_default=True)
class Node(metaclass=_NodeMeta):
    """Fields in annotation order; positional or keyword construction; immutable; value equality."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _values: ClassVar[Callable[[Node], tuple[object, ...]]]  # the fields' values, in order

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The class's own annotations, in order (inspect is not imported here: start-up cost).
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        own = tuple(k for k in annotations if not k.startswith("_"))
        cls._fields = own
        cls.__match_args__ = own  # type: ignore[misc]
        cls._values = _values_getter(own)
        # Unpickling rebuilds a node through this, filling the slots directly (`positional`)
        # instead of `__init__` with its argument checks: a media compile's check-cache entry
        # is ~4,700 nodes. Named after the class so pickle finds it as `Class._unpickle`.
        rebuild = positional(cls)
        rebuild.__qualname__ = f"{cls.__qualname__}._unpickle"
        rebuild.__module__ = cls.__module__
        cls._unpickle = staticmethod(rebuild)  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs and len(args) == len(fields):  # the parser and the parse cache's load
            for name, value in zip(fields, args):  # noqa: B905 - the lengths are equal
                _set(self, name, value)
            return
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields")
        for name, value in zip(fields, args, strict=False):
            object.__setattr__(self, name, value)
        for name in fields[len(args) :]:
            if name not in kwargs:
                raise TypeError(f"{type(self).__name__} is missing `{name}`")
            object.__setattr__(self, name, kwargs.pop(name))
        if kwargs:
            raise TypeError(f"{type(self).__name__} has no field `{next(iter(kwargs))}`")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, f) for f in self._fields)))

    def __reduce__(self) -> tuple[Callable[..., Node], tuple[object, ...]]:
        # Rebuilt by the class's `_unpickle` from the fields' values: the default slot state is
        # restored with setattr, which an immutable node refuses (and a tuple of field values is
        # also the smaller pickle). The tuple comes from one attrgetter call: a parse cache entry
        # pickles every node.
        return self._unpickle, self._values(self)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"


def _values_getter(fields: tuple[str, ...]) -> Callable[[Node], tuple[object, ...]]:
    """A function from a node to its fields' values, as a tuple (an attrgetter of two or more
    names returns one; it is not a descriptor, so it is called unbound through the class)."""
    if len(fields) > 1:
        return attrgetter(*fields)
    if fields:
        one = attrgetter(fields[0])
        return staticmethod(lambda node: (one(node),))  # type: ignore[return-value]
    return staticmethod(lambda node: ())  # type: ignore[return-value]


if TYPE_CHECKING:
    N = TypeVar("N", bound=Node)


def positional(cls: type[N]) -> Callable[..., N]:
    """A constructor for the parser's own use: every field, in order, stored straight into the
    slots (their descriptors' `__set__`), without `__init__`'s argument checks. A cold
    `mora check` builds a node for about every token; this is a third of `__init__`'s cost
    (docs/performance.md, twelfth round). The node is the same: same slots, equality, pickle."""
    new = object.__new__
    sets = tuple(cls.__dict__[f].__set__ for f in cls._fields)
    if len(sets) == 1:
        (s0,) = sets

        def make1(a: Any) -> N:
            node = new(cls)
            s0(node, a)
            return node

        return make1
    if len(sets) == 2:
        s0, s1 = sets

        def make2(a: Any, b: Any) -> N:
            node = new(cls)
            s0(node, a)
            s1(node, b)
            return node

        return make2
    if len(sets) == 3:
        s0, s1, s2 = sets

        def make3(a: Any, b: Any, c: Any) -> N:
            node = new(cls)
            s0(node, a)
            s1(node, b)
            s2(node, c)
            return node

        return make3
    if len(sets) == 4:
        s0, s1, s2, s3 = sets

        def make4(a: Any, b: Any, c: Any, d: Any) -> N:
            node = new(cls)
            s0(node, a)
            s1(node, b)
            s2(node, c)
            s3(node, d)
            return node

        return make4

    def make(*values: Any) -> N:
        if len(values) != len(sets):
            raise TypeError(f"{cls.__name__} takes {len(sets)} fields")
        node = new(cls)
        for put, value in zip(sets, values):  # noqa: B905 - the lengths are equal
            put(node, value)
        return node

    return make


class Name(Node):
    text: str
    span: Span


# --- expressions ---------------------------------------------------------------------------------


class StringLit(Node):
    """A string; `parts` alternates literal text and interpolated `${...}` expressions."""

    parts: tuple[str | Expr, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def plain(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))


class IntLit(Node):
    value: int
    span: Span


class BoolLit(Node):
    value: bool
    span: Span


class NoneLit(Node):
    """`none`: the absent value of an `optional(T)`."""

    span: Span


class UnitLit(Node):
    """A number with a unit (`10Gi`, `30s`); whether it is a size or a duration is the checker's call."""

    text: str
    span: Span


class ListItem(Node):
    value: Expr
    condition: Expr | None
    span: Span


class ListExpr(Node):
    items: tuple[ListItem, ...]
    span: Span


class Key(Node):
    """A block or map key: a bare name or a quoted string."""

    text: str
    quoted: bool
    span: Span


class MapEntry(Node):
    key: Key
    value: Expr
    span: Span


class MapExpr(Node):
    entries: tuple[MapEntry, ...]
    span: Span


class Ref(Node):
    """A dotted reference: `param.x`, `secret.db`, `jellyfin.url`, `db.ports.http`."""

    parts: tuple[Name, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(p.text for p in self.parts)


class Arg(Node):
    name: Name | None
    value: Expr
    span: Span


class Call(Node):
    func: Ref
    args: tuple[Arg, ...]
    span: Span


class Unary(Node):
    op: str
    operand: Expr
    span: Span


class Binary(Node):
    op: str
    left: Expr
    right: Expr
    span: Span


Expr = StringLit | IntLit | BoolLit | NoneLit | UnitLit | ListExpr | MapExpr | Ref | Call | Unary | Binary


# --- types ---------------------------------------------------------------------------------------


class TypeExpr(Node):
    """`string`, `list(port)`, `enum("a", "b")`, `map(string)`."""

    name: Name
    args: tuple[TypeExpr | StringLit, ...]
    span: Span


# --- blocks --------------------------------------------------------------------------------------


class Attr(Node):
    key: Key
    value: Expr
    span: Span


class Block(Node):
    key: Key
    body: Body
    span: Span


class IfEntry(Node):
    condition: Expr
    then: Body
    otherwise: Body | IfEntry | None
    span: Span


class Body(Node):
    entries: tuple[Entry, ...]
    span: Span


class Provides(Node):
    """`provides CONTRACT { field = value ... }` in a template or service body."""

    contract: Name
    body: Body
    span: Span


# --- declarations --------------------------------------------------------------------------------


class ProjectDecl(Node):
    name: Name
    span: Span


class ImportDecl(Node):
    """`import "../common"` (a path, relative to the file) or `import postgres` (a stdlib module)."""

    target: str
    is_path: bool
    alias: Name | None
    span: Span
    args: tuple[Arg, ...] | None  # `as NAME (param: value, ...)`: the module's arguments


class ParamDecl(Node):
    name: Name
    type: TypeExpr
    default: Expr | None
    span: Span


class SecretDecl(Node):
    name: Name
    value: Expr | None
    span: Span


class InputDecl(Node):
    name: Name
    type: TypeExpr
    body: Body
    span: Span


class ServiceDecl(Node):
    """`service x { ... }`, or `service x = template(args)` when `instance` is set; an instance
    may have a body too (`service x = t(...) { ... }`), merged into the template's (mora/amend)."""

    name: Name
    body: Body | None
    instance: Call | None
    span: Span


class TemplateParam(Node):
    name: Name
    type: TypeExpr
    default: Expr | None
    span: Span


class TemplateDecl(Node):
    name: Name
    params: tuple[TemplateParam, ...]
    body: Body
    span: Span


class RequireDecl(Node):
    """`require NAME = "REPO//DIR" version "TAG"`: a pinned dependency, read from `mora.lock`.

    `repository` is None for `require stdlib version "..."` (the mora repository's stdlib)."""

    name: Name
    repository: str | None
    version: str
    span: Span


class MovedDecl(Node):
    """`moved old -> new`: the service `new` was called `old`; its state keeps the old keys."""

    old: Name
    new: Name
    span: Span


class ContractField(Node):
    name: Name
    type: TypeExpr
    default: Expr | None
    span: Span


class ContractDecl(Node):
    """`contract NAME [unordered] { field: type [= default] ... }`."""

    name: Name
    unordered: bool
    fields: tuple[ContractField, ...]
    span: Span


class DefaultsDecl(Node):
    """`defaults { NAME = value ... }`: arguments for this file's template instances."""

    body: Body
    span: Span


class AmendDecl(Node):
    """`amend TARGET { ... }`: entries merged into a service declared elsewhere (mora/amend).
    `target` is dotted so a module's service (`media.watch`) can be named."""

    target: Ref
    body: Body
    span: Span


class Request(Node):
    """`request args.X CONTRACT { field = value ... }`: a record registered with the provider
    passed as `args.X`, which reads every registration with `self.requests(CONTRACT)`."""

    target: Ref
    contract: Name
    body: Body
    span: Span


class TemplateBase(Node):
    """`template NAME = BASE(arg: value, ...)`: BASE's parameters and body, with the arguments
    given as the new template's defaults (mora/templates/bases.py)."""

    name: Name
    base: Call
    span: Span


Entry = Attr | Block | IfEntry | InputDecl | ServiceDecl | Provides | Request
Decl = (
    ProjectDecl
    | ImportDecl
    | ParamDecl
    | SecretDecl
    | InputDecl
    | ServiceDecl
    | TemplateDecl
    | RequireDecl
    | MovedDecl
    | ContractDecl
    | DefaultsDecl
    | AmendDecl
    | TemplateBase
)


class Module(Node):
    """One parsed file. `broken` names the declarations lost to syntax errors, (kind, name), so
    later passes do not report their uses as unknown."""

    file: SourceFile
    decls: tuple[Decl, ...]
    broken: tuple[tuple[str, str], ...]
