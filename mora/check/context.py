"""The state every check pass shares, and where an expression sits (`_Ctx`).

One `CheckState` is made per `check()` call: the program being built, the diagnostics, what has
been used (for the unused warnings) and what syntax errors hid. The passes in the sibling modules
are classes over it, one per concern, that hold no state of their own.
"""

from __future__ import annotations

from mora import types as T
from mora.check.program import Program, ServiceSym, TemplateSym
from mora.diagnostics import Diagnostics
from mora.record import Record
from mora.source import Span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mora.check.reuse import Reuse
    from mora.loader import LoadedProject


class _Ctx(Record, frozen=True):
    """Where an expression sits: which service (for `self`), which template (for `args`).
    Frozen, so one instance can stand for every place outside services and templates."""

    service: ServiceSym | None = None
    template: TemplateSym | None = None


# An expression outside any service or template (a template's argument, a param default):
# shared, not made again for each of the 60,000 arguments of 10,000 instances.
TOP_LEVEL = _Ctx()


class _ParamView(Record, frozen=True):
    name: str
    type: T.Type
    required: bool
    positional: bool = True


class CheckState:
    """What the passes share while one project is checked."""

    def __init__(self, loaded: LoadedProject, diags: Diagnostics) -> None:
        self.loaded = loaded
        self.diags = diags
        self.program = Program(name="", root=loaded.root)
        self.used: set[tuple[str, str]] = set()
        # Bodies of duplicate services: not in the tables, but still checked for mistakes.
        self._shadowed: list[ServiceSym] = []
        # Declarations lost to syntax errors: their uses are not reported as unknown.
        self.broken: set[tuple[str, str]] = {b for m in loaded.modules for b in m.broken}
        self._generators: dict[str, object] | None = None
        # Services whose user is not declared: a note each, unless there are errors to fix first.
        self._unknown_users: list[tuple[str, Span]] = []
        # (template, the parameters the file's defaults give) -> (the template, its
        # parameters as the argument binding sees them): `DeclarationsPass._check_instance`
        self._param_views: dict[tuple[int, frozenset[str]], tuple[TemplateSym, list[_ParamView]]]
        self._param_views = {}
        # body -> (the body, its port names): `ExpressionsPass._port_names`
        self._ports: dict[int, tuple[object, list[str]]] = {}
        # The templates' checks kept from earlier checks (mora.check.reuse), when caches are on.
        self.reuse: Reuse | None = None
