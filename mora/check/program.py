"""What the check pass hands on: symbol tables over the AST, the codes both passes report.

The evaluator, `mora lsp` and the satellites read `Program` and the body helpers from here, so
they need none of the checking passes' internals.
"""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.record import Record, field
from mora.reserved import normal_path
from mora.vocabulary import service as V

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

# Diagnostic codes, one place, so the reference in docs/ can list them.
E_IMPORT_ALIAS = "E0103"
E_DUPLICATE = "E0201"
E_UNKNOWN_NAME = "E0202"
E_UNKNOWN_PARAM = "E0203"
E_UNKNOWN_SERVICE = "E0204"
E_UNKNOWN_SECRET = "E0205"
E_UNKNOWN_INPUT = "E0206"
E_UNKNOWN_ATTR = "E0207"
E_UNKNOWN_FUNCTION = "E0208"
E_UNKNOWN_TYPE = "E0209"
E_BAD_REF = "E0210"
E_TYPE = "E0301"
E_SECRET_LEAK = "E0302"
E_IMAGE = "E0303"
E_PORT = "E0304"
E_VALUE = "E0305"
E_ARGS = "E0306"
E_MISSING_ATTR = "E0307"
E_LITERAL = "E0308"
E_RESERVED = "E0211"
E_CYCLE = "E0401"
E_SUBDOMAIN_CLASH = "E0402"
E_PORT_CLASH = "E0403"
E_PROJECT = "E0404"
E_RESERVED_LABEL = "E0320"
E_PATH = "E0321"
E_HOST_MOUNT = "E0322"
W_UNUSED_PARAM = "W0001"
W_UNUSED_SECRET = "W0002"
W_UNUSED_INPUT = "W0003"
W_IMAGE_TAG = "W0004"
N_USER_UNKNOWN = "W0005"  # a note

HOST_MOUNT_HELP = (
    'mount a directory of your own (like "/srv/app"), or say why the service needs this one: '
    '`bind(path, reason: "...")` (docs/security.md, "Host mounts")'
)


def host_mount_message(path: str, exposed: str) -> str:
    """E0322's message: which system directory a bind would hand to the container."""
    if exposed == "/" or normal_path(path) == exposed:
        return f"binding `{path}` exposes the host's `{exposed}`"
    return f"binding `{path}` exposes part of the host's `{exposed}`"


_LEAK_HELP = (
    "secrets reach a container only through `environment` or `files`, where mora delivers "
    "them as a Kubernetes Secret or a podman secret"
)

RESERVED = {
    "param": "site's params",
    "secret": "project's secrets",
    "input": "project's inputs",
    "site": "site",
    "args": "template's arguments",
    "self": "service itself",
}
# The service vocabulary is declared once, in mora/vocabulary/service.py; these names stay for the
# modules that import them from here.
RESTART_POLICIES = V.RESTART_POLICIES
SERVICE_ATTRS = V.SERVICE_ATTRS
_BLOCK_ATTRS = V.BLOCK_ATTRS
RESOURCE_KEYS = V.RESOURCE_KEYS
SECURITY_KEYS = V.SECURITY_KEYS
# Settings that loosen the secure defaults: each needs a `reason` next to it in the source.
SECURITY_RELAXING = V.SECURITY_RELAXING
HEALTHCHECK_KEYS = V.HEALTHCHECK_KEYS
PORT_KEYS = V.PORT_KEYS
INPUT_ATTRS = ("after", "prompt", "description", "from")  # `from`: mora/steps/check.py
SERVICE_FIELDS = ("name", "host", "url", "internal_host", "internal_url", "ports")
PARAM_TYPES = (*T.SCALARS, "enum", "list", "map")


# --- symbols -------------------------------------------------------------------------------------


class ParamSym(Record):
    decl: ast.ParamDecl
    type: T.Type


class SecretSym(Record):
    decl: ast.SecretDecl
    generator: str | None
    parts: tuple[str, ...] = ("value",)
    public_parts: frozenset[str] = frozenset()
    instance: str | None = None  # set for a template's secret: the instance that owns this copy


class InputSym(Record):
    decl: ast.InputDecl
    type: T.Type
    service: str | None  # the service that declared (and needs) it
    instance: bool = False  # declared in a template: named `<service>_<name>`


class TemplateSym(Record):
    decl: ast.TemplateDecl
    params: dict[str, tuple[T.Type, ast.TemplateParam]] = field(default_factory=dict)
    # Secrets and inputs declared in the body: each instance gets its own `<service>_<name>`.
    secrets: dict[str, SecretSym] = field(default_factory=dict)
    inputs: dict[str, InputSym] = field(default_factory=dict)


class ServiceSym(Record):
    decl: ast.ServiceDecl
    body: ast.Body  # its own body, or its template's
    template: TemplateSym | None = None

    @property
    def name(self) -> str:
        return self.decl.name.text


class Program(Record):
    """The checked project: symbol tables in source order, over the AST."""

    name: str
    root: str  # the project directory, resolved (a `str`: a check never imports pathlib)
    params: dict[str, ParamSym] = field(default_factory=dict)
    secrets: dict[str, SecretSym] = field(default_factory=dict)
    inputs: dict[str, InputSym] = field(default_factory=dict)
    services: dict[str, ServiceSym] = field(default_factory=dict)
    templates: dict[str, TemplateSym] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)  # `moved old -> new`: new -> old
    contracts: dict[str, Any] = field(default_factory=dict)  # mora/contracts: name -> ContractSym
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> `defaults` entries
    modules: dict[str, Any] = field(default_factory=dict)  # alias path -> mora.modules.Scope


# --- body helpers shared with the evaluator ------------------------------------------------------


def iter_entries(
    body: ast.Body,
) -> Iterator[ast.Attr | ast.Block | ast.InputDecl | ast.SecretDecl]:
    """Every entry of a body, descending into both branches of `if` (for static questions)."""
    for entry in body.entries:
        if isinstance(entry, ast.IfEntry):
            yield from _iter_if(entry)
        else:
            yield entry


def _iter_if(
    entry: ast.IfEntry,
) -> Iterator[ast.Attr | ast.Block | ast.InputDecl | ast.SecretDecl]:
    yield from iter_entries(entry.then)
    if isinstance(entry.otherwise, ast.Body):
        yield from iter_entries(entry.otherwise)
    elif isinstance(entry.otherwise, ast.IfEntry):
        yield from _iter_if(entry.otherwise)


def static_keys(body: ast.Body, attr: str) -> list[ast.Key]:
    """Keys of a block attribute (e.g. the port names), over every branch."""
    keys: list[ast.Key] = []
    for entry in iter_entries(body):
        if isinstance(entry, ast.Block) and entry.key.text == attr:
            keys += [e.key for e in iter_entries(entry.body) if isinstance(e, ast.Attr | ast.Block)]
        elif isinstance(entry, ast.Attr) and entry.key.text == attr:
            if isinstance(entry.value, ast.MapExpr):
                keys += [e.key for e in entry.value.entries]
    return keys


def has_attr(body: ast.Body, attr: str) -> bool:
    return any(
        isinstance(e, ast.Attr | ast.Block) and e.key.text == attr for e in iter_entries(body)
    )


def secret_names_in(expr: ast.Expr | ast.Body | None) -> list[str]:
    """Names of secrets and inputs an expression mentions (for diagnostics that name them)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, ast.Ref):
            if len(node.parts) >= 2 and node.parts[0].text in ("secret", "input", "args"):
                out.append(f"{node.parts[0].text}.{node.parts[1].text}")
        elif isinstance(node, tuple | list):
            for n in node:
                walk(n)
        elif isinstance(node, ast.Node):
            for name in node._fields:
                if name != "span":
                    walk(getattr(node, name))

    walk(expr)
    return sorted(set(out))
