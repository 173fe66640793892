"""The syntax tree: frozen dataclasses, every node with a span.

Built by `mora.parser`, read by the loader and the checker. No pass mutates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mora.source import SourceFile, Span


@dataclass(frozen=True, slots=True)
class Name:
    text: str
    span: Span


# --- expressions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringLit:
    """A string; `parts` alternates literal text and interpolated `${...}` expressions."""

    parts: tuple[str | Expr, ...]
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def plain(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class UnitLit:
    """A number with a unit (`10Gi`, `30s`); whether it is a size or a duration is the checker's call."""

    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class ListItem:
    value: Expr
    condition: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[ListItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Key:
    """A block or map key: a bare name or a quoted string."""

    text: str
    quoted: bool
    span: Span


@dataclass(frozen=True, slots=True)
class MapEntry:
    key: Key
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class MapExpr:
    entries: tuple[MapEntry, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Ref:
    """A dotted reference: `param.x`, `secret.db`, `jellyfin.url`, `db.ports.http`."""

    parts: tuple[Name, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(p.text for p in self.parts)


@dataclass(frozen=True, slots=True)
class Arg:
    name: Name | None
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: Ref
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    span: Span


Expr = StringLit | IntLit | BoolLit | UnitLit | ListExpr | MapExpr | Ref | Call | Unary | Binary


# --- types ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """`string`, `list(port)`, `enum("a", "b")`, `map(string)`."""

    name: Name
    args: tuple[TypeExpr | StringLit, ...]
    span: Span


# --- blocks --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attr:
    key: Key
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Block:
    key: Key
    body: Body
    span: Span


@dataclass(frozen=True, slots=True)
class IfEntry:
    condition: Expr
    then: Body
    otherwise: Body | IfEntry | None
    span: Span


@dataclass(frozen=True, slots=True)
class Body:
    entries: tuple[Entry, ...]
    span: Span


# --- declarations --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectDecl:
    name: Name
    span: Span


@dataclass(frozen=True, slots=True)
class ImportDecl:
    """`import "../common"` (a path, relative to the file) or `import postgres` (a stdlib module)."""

    target: str
    is_path: bool
    alias: Name | None
    span: Span


@dataclass(frozen=True, slots=True)
class ParamDecl:
    name: Name
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class SecretDecl:
    name: Name
    value: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class InputDecl:
    name: Name
    type: TypeExpr
    body: Body
    span: Span


@dataclass(frozen=True, slots=True)
class ServiceDecl:
    """`service x { ... }`, or `service x = template(args)` when `instance` is set."""

    name: Name
    body: Body | None
    instance: Call | None
    span: Span


@dataclass(frozen=True, slots=True)
class TemplateParam:
    name: Name
    type: TypeExpr
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class TemplateDecl:
    name: Name
    params: tuple[TemplateParam, ...]
    body: Body
    span: Span


Entry = Attr | Block | IfEntry | InputDecl | ServiceDecl
Decl = ProjectDecl | ImportDecl | ParamDecl | SecretDecl | InputDecl | ServiceDecl | TemplateDecl


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed file."""

    file: SourceFile
    decls: tuple[Decl, ...]
