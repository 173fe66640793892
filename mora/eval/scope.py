"""The state one evaluation shares (`EvalState`), where an expression sits (`_Scope`), and the
codes the pass reports.
"""

from __future__ import annotations

from collections.abc import Mapping

from mora import ast
from mora.check.program import Program, ServiceSym
from mora.diagnostics import Diagnostics
from mora.eval.compact import Compactor
from mora.record import Record, field
from mora.site import Site
from mora.source import Span

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

    from mora.eval.secrets import Provider


E_MISSING_PARAM = "E0502"


E_NO_DOMAIN = "E0503"


E_SECRETS = "E0504"


E_EVAL = "E0505"


E_SITE_VALUE = "E0506"


E_SUBDOMAIN_DOMAIN = "E0509"


W_UNKNOWN_SITE_PARAM = "W0501"


W_ORPHANED_SECRET = "W0502"


W_STALE_SECRET = "W0503"


INPUT_PREFIX = "input."  # inputs live in the site store as `input.NAME`


STATE_PREFIX = "setup."  # setup steps keep `setup.SVC.STEP` (ran) and `setup.SVC.STEP.OUT`


class _Scope(Record):
    service: ServiceSym | None = None
    args: Mapping[str, ast.Expr] = field(default_factory=dict)  # a template instance's arguments


class EvalState:
    """What the passes share while one program is evaluated against one site."""

    def __init__(
        self, program: Program, site: Site, provider: Provider | None, diags: Diagnostics
    ) -> None:
        self.program = program
        self.site = site
        self.provider = provider
        self.diags = diags
        self.params: dict[str, object] = {}
        self.secret_values: dict[str, Mapping[str, str]] = {}
        self.inputs: dict[str, str] = {}
        self.material: dict[str, str] = {}
        self._routing: dict[str, tuple[str | None, dict[str, int], str | None]] = {}
        self._routing_busy: set[str] = set()
        self._ports: dict[str, dict[str, int]] = {}
        self._ports_busy: set[str] = set()
        self._template_args: dict[str, dict[str, ast.Expr]] = {}
        self._params_busy: set[str] = set()
        self._params_failed: set[str] = set()
        self._arg_values: dict[tuple[str, str], object] = {}
        self._arg_busy: set[tuple[str, str]] = set()
        self.domain = site.domain or ""
        self._inputs_index: dict[str | None, list[str]] | None = None
        self.route_spans: dict[tuple[str, str, str], Span] = {}  # (service, host, path) -> key
        # mora/steps/evaluate.py, by the id of a template's syntax node (alive with `program`):
        # each step block's `for_each` and `when`, which expressions read nothing of an
        # instance, and those expressions' step values, built once and shared by every copy
        self._units: dict[str, Any] = {}  # eval/expressions.py: a size or duration by its text
        self.compactor = Compactor()  # repeated texts and step constants kept once
        self._scopes: dict[str, _Scope] = {}  # eval/services.py, by service name
        # by the id of a body (kept in the entry, so the id is never another's): its attributes
        # and blocks when it has no `if` entry (None when it has one)
        self._plain_bodies: dict[int, tuple[ast.Body, tuple[ast.Attr | ast.Block, ...] | None]]
        self._plain_bodies = {}
        self._step_controls: dict[int, tuple[ast.Attr | None, ast.Expr | None]] = {}
        self._step_static: dict[int, bool] = {}
        self._step_shared: dict[int, Any] = {}
