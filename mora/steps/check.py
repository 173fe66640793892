"""Checks of `setup` blocks and of inputs that name their producer (docs/micromanagers.md).

Called once by the checker after its own passes, with the checker itself: ordinary references
inside a step (`param.x`, `secret.y`, `self.internal_url`, `args.z`) go through the checker's
own typing, so they get the same diagnostics as anywhere else. What is new here: the step
settings, the response (`status`, `body`, `stdout`), references to step outputs, the taint rule
for URLs, argv and descriptions, ordering and cycles, and `from` on inputs.
"""

from __future__ import annotations

from mora import ast
from mora import types as T
from mora.check.walk import find
from mora.diagnostics import Label, did_you_mean
from mora.record import Record, field

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.checker import Checker, ServiceSym, TemplateSym

E_STEP = "E0931"
E_STEP_REF = "E0932"
E_STEP_LEAK = "E0933"
E_STEP_CYCLE = "E0934"
E_STEP_OUTPUT = "E0935"
E_PRODUCER = "E0936"
E_PUBLIC = "E0937"
E_OUTSIDE = "E0938"
E_EACH_LIST = "E0939"
E_EACH = "E0940"
E_PICK = "E0941"

STEP_ATTRS = (
    "description",
    "run",
    "method",
    "url",
    "manager",
    "headers",
    "auth",
    "json",
    "form",
    "exec",
    "stdin",
    "expect",
    "until",
    "when",
    "output",
    "public",
    "base",
    "outside_hosts",
    "timeout",
    "for_each",
)
RESPONSE = ("status", "body", "stdout", "cookie")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class _StepDecl(Record):
    name: str
    block: ast.Block
    index: int
    outputs: dict[str, ast.Key] = field(default_factory=dict)
    public: set[str] = field(default_factory=set)  # outputs declared in `public { }`


def setup_blocks(body: ast.Body) -> list[ast.Block | ast.Attr]:
    """The top-level `setup` entries of a service body."""
    return [
        e for e in body.entries if isinstance(e, ast.Attr | ast.Block) and e.key.text == "setup"
    ]


def step_decls(body: ast.Body) -> dict[str, _StepDecl]:
    """The steps a service body declares, in order (the first `setup` block only)."""
    found: dict[str, _StepDecl] = {}
    blocks = [b for b in setup_blocks(body) if isinstance(b, ast.Block)]
    if not blocks:
        return found
    for entry in blocks[0].body.entries:
        if isinstance(entry, ast.Block) and entry.key.text not in found:
            step = _StepDecl(entry.key.text, entry, len(found))
            for item in entry.body.entries:
                if isinstance(item, ast.Block) and item.key.text in ("output", "public"):
                    for out in item.body.entries:
                        if isinstance(out, ast.Attr) and out.key.text not in step.outputs:
                            step.outputs[out.key.text] = out.key
                            if item.key.text == "public":
                                step.public.add(out.key.text)
            found[entry.key.text] = step
    return found


class _StepChecker:
    def __init__(self, checker: Checker) -> None:
        self.c = checker
        self.diags = checker.diags
        p = checker.program
        # The instances of a template share its body: read each body once, not once per
        # service (docs/performance.md, fourteenth round); nothing below changes a _StepDecl.
        self._by_body: dict[int, tuple[ast.Body, dict[str, _StepDecl]]] = {}
        self.steps: dict[str, dict[str, _StepDecl]] = {
            name: self._step_decls(svc.body) for name, svc in p.services.items()
        }
        # body -> (the body, the `SVC.setup...` references of its steps, as (SVC, ref))
        self._setup_refs: dict[int, tuple[ast.Body, list[tuple[str, ast.Ref]]]] = {}
        # body -> (the body, the plain service names of its `depends_on` entries)
        self._depends: dict[int, tuple[ast.Body, set[str]]] = {}
        # service -> services it waits for because of steps or produced inputs (with a span)
        self.edges: dict[str, dict[str, ast.Ref]] = {}

    # --- entry -------------------------------------------------------------------------------
    def run(self) -> None:
        from mora.checker import _Ctx

        p = self.c.program
        reuse = self.c.reuse  # a template's steps: kept like the rest of its check
        for name, tmpl in p.templates.items():
            if reuse is None:
                self._body(tmpl.decl.body, _Ctx(template=tmpl), None, tmpl)
            else:
                reuse.run(
                    "steps",
                    name,
                    tmpl,
                    lambda t=tmpl: self._body(t.decl.body, _Ctx(template=t), None, t),
                )
        for name, svc in p.services.items():
            if svc.decl.instance is None:
                self._body(svc.body, _Ctx(service=svc), name, None)
            elif svc.template is not None:  # expressions were checked with the template
                self._edges_of_instance(name, svc)
        for inp in p.inputs.values():
            self._producer(inp)
        self._cycles()

    def _body(
        self, body: ast.Body, ctx: object, service: str | None, tmpl: TemplateSym | None
    ) -> None:
        self._no_setup_in_if(body)
        blocks = setup_blocks(body)
        for extra in blocks[1:]:
            self.diags.error(
                E_STEP,
                "`setup` is set more than once",
                extra.key.span,
                "set again here",
                labels=[Label(blocks[0].key.span, "first set here")],
                help="put every step in one `setup` block",
            )
        if not blocks:
            return
        first = blocks[0]
        if not isinstance(first, ast.Block):
            self.diags.error(
                E_STEP, "`setup` is a block of steps", first.key.span, "write `setup { ... }`"
            )
            return
        own = self._step_decls(body)
        seen: set[str] = set()
        for entry in first.body.entries:
            if not isinstance(entry, ast.Block):
                span = entry.key.span if isinstance(entry, ast.Attr) else entry.span
                self.diags.error(
                    E_STEP,
                    "a `setup` block holds steps: `NAME { ... }`",
                    span,
                    "not a step",
                    help="write each step as a block named after what it does, "
                    'e.g. `create_key { method = "POST" url = ... }`',
                )
                continue
            if entry.key.text in seen:
                self.diags.error(
                    E_STEP,
                    f"step `{entry.key.text}` is declared twice",
                    entry.key.span,
                    "declared again here",
                    labels=[Label(own[entry.key.text].block.key.span, "first declared here")],
                )
                continue
            seen.add(entry.key.text)
            _OneStep(self, own[entry.key.text], own, ctx, service, tmpl).check()

    def _no_setup_in_if(self, body: ast.Body) -> None:
        def walk(entry: ast.IfEntry) -> None:
            for branch in (entry.then, entry.otherwise):
                if isinstance(branch, ast.IfEntry):
                    walk(branch)
                elif isinstance(branch, ast.Body):
                    for e in branch.entries:
                        if isinstance(e, ast.IfEntry):
                            walk(e)
                        elif isinstance(e, ast.Attr | ast.Block) and e.key.text == "setup":
                            self.diags.error(
                                E_STEP,
                                "`setup` cannot be inside `if`",
                                e.key.span,
                                "declared conditionally",
                                help="declare the steps in the service body; a step's `when` "
                                "makes it conditional",
                            )

        for entry in body.entries:
            if isinstance(entry, ast.IfEntry):
                walk(entry)

    def _step_decls(self, body: ast.Body) -> dict[str, _StepDecl]:
        """`step_decls(body)`, once per body."""
        seen = self._by_body.get(id(body))
        if seen is None:
            seen = self._by_body[id(body)] = (body, step_decls(body))
        return seen[1]

    def _edges_of_instance(self, name: str, svc: ServiceSym) -> None:
        """A template's steps reading another service's outputs: an edge per instance."""
        body = svc.body
        seen = self._setup_refs.get(id(body))
        if seen is None:  # the references are the template's: found once per body
            found = [
                (ref.parts[0].text, ref)
                for step in self._step_decls(body).values()
                for ref in _refs(step.block.body)
                if len(ref.parts) >= 2 and ref.parts[1].text == "setup"
            ]
            seen = self._setup_refs[id(body)] = (body, found)
        services = self.c.program.services
        for other, ref in seen[1]:
            if other in services and other != name:
                self.edges.setdefault(name, {}).setdefault(other, ref)

    # --- producers -----------------------------------------------------------------------------
    def _producer(self, inp: object) -> None:
        decl: ast.InputDecl = inp.decl  # type: ignore[attr-defined]
        source = next(
            (e for e in decl.body.entries if isinstance(e, ast.Attr) and e.key.text == "from"),
            None,
        )
        if source is None:
            return
        value = source.value
        ok_form = (
            isinstance(value, ast.Ref)
            and len(value.parts) == 4
            and value.parts[1].text == "setup"
            and value.parts[0].text not in ("param", "secret", "input", "site", "args", "self")
        )
        if not ok_form:
            self.diags.error(
                E_PRODUCER,
                f"input `{decl.name.text}` must come from a step output",
                value.span,
                "not a step output",
                help="write `from = SERVICE.setup.STEP.OUTPUT`, naming an output of a step",
            )
            return
        assert isinstance(value, ast.Ref)
        itype: T.Type = inp.type  # type: ignore[attr-defined]
        if not itype.secret:
            self.diags.error(
                E_PRODUCER,
                f"input `{decl.name.text}` is produced by a step, so it is a secret",
                decl.type.span,
                f"declared `{itype}`",
                help="declare it `secret`: every step output comes from a response",
            )
        producer = value.parts[0].text
        if producer not in self.c.program.services:
            self.diags.error(
                E_STEP_REF,
                f"unknown service `{producer}`",
                value.parts[0].span,
                "not defined in this project",
                help=did_you_mean(producer, self.c.program.services),
            )
            return
        if not self._output_ref(value, producer, None, None):
            return
        consumer = inp.service  # type: ignore[attr-defined]
        if consumer == producer:
            self.diags.error(
                E_STEP_CYCLE,
                f"service `{producer}` would wait for its own step output",
                value.span,
                "produced by the service that needs it",
                help="a service's own steps run after it starts; read the output in a later "
                "step (`setup.STEP.OUTPUT`) instead of through an input",
            )
        elif consumer is not None:
            self.edges.setdefault(consumer, {}).setdefault(producer, value)

    def _output_ref(
        self, ref: ast.Ref, service: str, own: dict[str, _StepDecl] | None, before: int | None
    ) -> bool:
        """`SVC.setup.STEP.OUT` / `setup.STEP.OUT`: the step exists (and comes earlier in its
        own service), the output is declared. Reports and returns False otherwise."""
        at = 2 if ref.parts[0].text != "setup" else 1
        parts = ref.parts[at:]
        steps = own if own is not None else self.steps.get(service, {})
        if len(parts) != 2:
            self.diags.error(
                E_STEP_REF,
                "name a step and one of its outputs",
                ref.span,
                "like `setup.STEP.OUTPUT`" if at == 1 else f"like `{service}.setup.STEP.OUTPUT`",
            )
            return False
        step_name, out = parts
        step = steps.get(step_name.text)
        if step is None:
            self.diags.error(
                E_STEP_REF,
                f"unknown step `{step_name.text}` of `{service}`"
                if at == 2
                else f"unknown step `{step_name.text}`",
                step_name.span,
                "no such step",
                help=did_you_mean(step_name.text, steps)
                or (f"steps: {', '.join(steps)}" if steps else "it declares no setup steps"),
            )
            return False
        if before is not None and step.index >= before:
            self.diags.error(
                E_STEP_CYCLE,
                f"step `{step_name.text}` does not run before this one",
                step_name.span,
                "runs later" if step.index > before else "this step itself",
                help="steps run in the order written: move the step that produces the "
                "value above the one that reads it",
            )
            return False
        if out.text not in step.outputs:
            self.diags.error(
                E_STEP_OUTPUT,
                f"step `{step_name.text}` produces no output `{out.text}`",
                out.span,
                "never produced",
                help=did_you_mean(out.text, step.outputs)
                or (
                    f"its outputs: {', '.join(step.outputs)}"
                    if step.outputs
                    else "declare it: `output { NAME = body.FIELD }`"
                ),
            )
            return False
        return True

    def _cycles(self) -> None:
        from mora.checker import find_cycles, iter_entries

        p = self.c.program
        graph: dict[str, list[str]] = {}
        for name, svc in p.services.items():
            deps = set(self.edges.get(name, {}))
            seen = self._depends.get(id(svc.body))
            if seen is None:  # an instance's `depends_on` is its template's: read once
                named: set[str] = set()
                for entry in iter_entries(svc.body):
                    if isinstance(entry, ast.Attr) and entry.key.text == "depends_on":
                        named |= {r.parts[0].text for r in _refs(entry.value) if len(r.parts) == 1}
                seen = self._depends[id(svc.body)] = (svc.body, named)
            deps |= seen[1]
            graph[name] = sorted(d for d in deps if d in p.services)
        for cycle in find_cycles(graph):
            members = set(cycle)
            setup_edges = [
                (a, b, ref)
                for a in sorted(members)
                for b, ref in sorted(self.edges.get(a, {}).items())
                if b in members
            ]
            if not setup_edges:
                continue  # a plain depends_on cycle: the checker reports it
            a, b, ref = setup_edges[0]
            self.diags.error(
                E_STEP_CYCLE,
                "services wait for each other through setup steps: "
                + " -> ".join([*cycle, cycle[0]]),
                ref.span,
                f"`{a}` waits for the steps of `{b}` here",
                help="a service's steps run after it and the services it depends on are set "
                "up; break the cycle by moving one step to the other service",
            )


def _refs(node: object) -> list[ast.Ref]:
    """The references under `node`, in source order (the first one to a service is the one a
    cycle's diagnostic points at)."""
    return find(node, (ast.Ref,), source_order=True)


class _OneStep:
    """One step's settings and expressions."""

    def __init__(
        self,
        owner: _StepChecker,
        step: _StepDecl,
        own: dict[str, _StepDecl],
        ctx: object,
        service: str | None,
        tmpl: TemplateSym | None,
    ) -> None:
        self.o = owner
        self.c = owner.c
        self.diags = owner.diags
        self.step = step
        self.own = own
        self.ctx = ctx
        self.service = service
        self.tmpl = tmpl
        # `for_each = LIST`: the step runs once per item, and may read `each`
        self.per_item = any(
            isinstance(e, ast.Attr) and e.key.text == "for_each" for e in step.block.body.entries
        )
        # `for_each = self.requests(C)`: one item per request, `each.value.FIELD` its fields
        from mora.contracts.requests import each_contract

        self.each_contract = next(
            (
                each_contract(self.c, e.value)  # type: ignore[arg-type]
                for e in step.block.body.entries
                if isinstance(e, ast.Attr) and e.key.text == "for_each"
            ),
            None,
        )

    def check(self) -> None:
        seen: dict[str, ast.Key] = {}
        for entry in self.step.block.body.entries:
            if isinstance(
                entry,
                ast.IfEntry
                | ast.InputDecl
                | ast.SecretDecl
                | ast.ServiceDecl
                | ast.Provides
                | ast.Request,
            ):
                self.diags.error(
                    E_STEP,
                    "a step holds settings only",
                    entry.span,
                    "not a step setting",
                    help="steps: " + ", ".join(STEP_ATTRS),
                )
                continue
            key = entry.key.text
            if key not in STEP_ATTRS:
                self.diags.error(
                    E_STEP,
                    f"unknown step setting `{key}`",
                    entry.key.span,
                    "not a step setting",
                    help=did_you_mean(key, STEP_ATTRS) or "settings: " + ", ".join(STEP_ATTRS),
                )
                continue
            if key in seen:
                self.diags.error(
                    E_STEP,
                    f"`{key}` is set more than once",
                    entry.key.span,
                    "set again here",
                    labels=[Label(seen[key].span, "first set here")],
                )
                continue
            seen[key] = entry.key
            block = key in ("headers", "output", "public")
            if block != isinstance(entry, ast.Block):
                self.diags.error(
                    E_STEP,
                    f"`{key}` is a block" if block else f"`{key}` is a value, not a block",
                    entry.key.span,
                    f"write `{key} {{ ... }}`" if block else f"write `{key} = ...`",
                )
                continue
            self._setting(key, entry)
        name_span = self.step.block.key.span
        kinds = [k for k in ("url", "exec", "manager") if k in seen]
        if len(kinds) != 1:
            self.diags.error(
                E_STEP,
                f"step `{self.step.name}` needs one of `url` (an HTTP request), `exec` "
                "(a command in the container) or `manager` (an external micromanager)"
                + (f", not {' and '.join(f'`{k}`' for k in kinds)}" if kinds else ""),
                name_span,
                "what does it do?",
            )
        if "manager" in seen and "method" in seen:
            self.diags.error(
                E_STEP,
                "a micromanager is called with POST /events",
                seen["method"].span,
                "no method here",
            )
        if "manager" in seen and "form" in seen:
            self.diags.error(
                E_STEP,
                "a micromanager takes `json` (the inputs it is sent)",
                seen["form"].span,
                "not a form",
            )
        http_only = ("method", "headers", "auth", "json", "form")
        for key in http_only:
            if key in seen and "exec" in seen:
                self.diags.error(
                    E_STEP, f"`{key}` is for HTTP steps", seen[key].span, "this step runs a command"
                )
        if "stdin" in seen and "exec" not in seen:
            self.diags.error(
                E_STEP, "`stdin` is for command steps", seen["stdin"].span, "use `json` or `form`"
            )
        if "json" in seen and "form" in seen:
            self.diags.error(
                E_STEP, "a request has one body: `json` or `form`", seen["form"].span, "both set"
            )
        if "base" in seen and "json" not in seen:
            self.diags.error(
                E_STEP,
                "`base` goes with `json`: the fields set over it",
                seen["base"].span,
                "no `json` here",
            )
        if self.per_item:
            for key in ("output", "public"):
                if key in seen:
                    self.diags.error(
                        E_EACH_LIST,
                        "a step repeated per item produces no outputs",
                        seen[key].span,
                        "one value per item: no later step could name it",
                        help="read what the items made in one later step (a list request) "
                        'and pick from it with `pick(body.LIST, FIELD == VALUE, "FIELD")`',
                    )
        self._hosts()

    def _for_each(self, value: ast.Expr) -> None:
        """`for_each`: a list or map of text known when compiling (template arguments,
        params, literals), never a secret: each item's key names its record in the store."""
        from mora.contracts.requests import check_each

        if check_each(self.c, value, self.ctx, E_EACH_LIST):  # type: ignore[arg-type]
            return  # the requests sent to this provider (mora/contracts/requests.py)
        late = [
            r
            for r in _leaves(value)
            if isinstance(r, ast.Ref)
            and (
                r.parts[0].text in (*RESPONSE, "setup", "each")
                or (len(r.parts) > 1 and r.parts[1].text == "setup")
            )
        ]
        if late or any(isinstance(r, ast.Call) for r in _leaves(value)):
            self.diags.error(
                E_EACH_LIST,
                "`for_each` is known when compiling",
                value.span,
                "known only when a step runs" if late else "not a list",
                help="repeat a step over a template argument, a param or a literal list; "
                "check what exists in an earlier step and skip items with `when`",
            )
            return
        t = self.c.type_of(value, self.ctx)  # type: ignore[arg-type]
        item = t.args[0] if t.kind in ("list", "map") and t.args else None
        if t.secret or (item is not None and item.secret):
            self.diags.error(
                E_EACH_LIST,
                "`for_each` cannot be a secret: each item's key is shown in progress, "
                "the plan and the store",
                value.span,
                "a secret list",
                help="repeat over public values; send secrets in `json`, `form` or `stdin`",
            )
        elif t.kind not in ("list", "map", "any", "string") or (
            item is not None and item.kind not in ("string", "int", "any", "hostname", "email")
        ):
            self.diags.error(
                E_EACH_LIST,
                f"`for_each` is a list, a map of text or a string of words, not `{t}`",
                value.span,
                "not a list of text",
                help='write `for_each = args.groups` (a `list(string)`) or `["a", "b"]`',
            )

    def _hosts(self) -> None:
        """A step reaches the project's own services (`X.internal_url`, or a service's name as
        the host) or a host it declares in `outside_hosts`; the host must be written out."""
        values = {
            e.key.text: e.value
            for e in self.step.block.body.entries
            if isinstance(e, ast.Attr) and e.key.text in ("url", "manager", "outside_hosts")
        }
        declared: set[str] = set()
        listed = values.get("outside_hosts")
        if listed is not None:
            items = listed.items if isinstance(listed, ast.ListExpr) else None
            for item in items if items is not None else [None]:
                v = item.value if item is not None else listed
                ok = isinstance(v, ast.StringLit) and v.is_plain and _HOST.fullmatch(v.plain)
                if not ok:
                    self.diags.error(
                        E_STEP,
                        '`outside_hosts` is a list of host names, like ["api.github.com"]',
                        v.span,
                        "not a host name",
                    )
                else:
                    declared.add(v.plain.lower())  # type: ignore[union-attr]
        services = self.c.program.services
        for key in ("url", "manager"):
            value = values.get(key)
            if value is None:
                continue
            kind, host = _url_host(value)
            if kind == "service" or (host is not None and (host in services or host in declared)):
                continue
            if host is None:
                self.diags.error(
                    E_OUTSIDE,
                    f"the host of a step's `{key}` must be known when compiling",
                    value.span,
                    "the host is not written out",
                    help="start the URL with a service's `internal_url` "
                    '(`"${self.internal_url}/..."`), or write an outside host out '
                    '(`"https://api.example.com/..."`) and declare it in `outside_hosts`',
                )
            else:
                self.diags.error(
                    E_OUTSIDE,
                    f"`{host}` is outside the project: a step may reach it only when declared",
                    value.span,
                    "not a service of this project",
                    help=f'declare it: `outside_hosts = ["{host}"]` (`mora plan` lists it); '
                    "for a service of the project use its `internal_url`",
                )

    # --- settings ------------------------------------------------------------------------------
    def _setting(self, key: str, entry: ast.Attr | ast.Block) -> None:
        if isinstance(entry, ast.Block):
            for item in entry.body.entries:
                if not isinstance(item, ast.Attr):
                    self.diags.error(
                        E_STEP, f"`{key}` holds `NAME = value` entries", item.span, "here"
                    )
                    continue
                first = self.step.outputs.get(item.key.text)
                if key != "headers" and first is not None and first is not item.key:
                    self.diags.error(
                        E_STEP,
                        f"output `{item.key.text}` is declared twice",
                        item.key.span,
                        "declared again here",
                        labels=[Label(first.span, "first declared here")],
                        help="an output is either secret (`output { }`) or public (`public { }`)",
                    )
                if key == "headers":
                    self._expr(item.value, "header")
                elif key == "public":
                    self._public(item)
                else:
                    self._expr(item.value, "output")
            return
        value = entry.value
        if key == "for_each":
            self._for_each(value)
        elif key == "description":
            self._literal_string(value, key)
            if not self._expr(value, "shown"):
                for ref in _leaves(value):
                    names = [p.text for p in ref.parts] if isinstance(ref, ast.Ref) else []
                    if "setup" in names[:2]:
                        self.diags.error(
                            E_STEP,
                            "a description is known when compiling: it cannot hold a step output",
                            ref.span,
                            "known only when the step runs",
                            help="progress shows a public output's value when its step ran",
                        )
        elif key == "run":
            if not (isinstance(value, ast.StringLit) and value.plain in ("once", "always")):
                self.diags.error(
                    E_STEP,
                    '`run` is "once" (per site) or "always" (every apply)',
                    value.span,
                    "not a run mode",
                )
        elif key == "method":
            if not (isinstance(value, ast.StringLit) and value.is_plain):
                self.diags.error(E_STEP, "`method` is a plain string", value.span, "here")
            elif value.plain.upper() not in METHODS:
                self.diags.error(
                    E_STEP,
                    f"unknown HTTP method `{value.plain}`",
                    value.span,
                    "not a method",
                    help=did_you_mean(value.plain.upper(), METHODS)
                    or "methods: " + ", ".join(METHODS),
                )
        elif key in ("url", "manager"):
            self._expr(value, "url")
        elif key == "exec":
            if not isinstance(value, ast.ListExpr) or not value.items:
                self.diags.error(
                    E_STEP,
                    "`exec` is a list of strings: the program and its arguments",
                    value.span,
                    "not an argv list",
                )
                return
            self._expr(value, "argv")
        elif key in ("stdin", "json"):
            self._expr(value, "value")
        elif key == "base":
            own = (
                isinstance(value, ast.Ref)
                and len(value.parts) == 3
                and value.parts[0].text == "setup"
            )
            if not own:
                self.diags.error(
                    E_STEP,
                    "`base` names an earlier output of this service: `setup.STEP.OUTPUT`",
                    value.span,
                    "not a step output",
                    help="read the resource first (`output { config = body }`), then send it "
                    "back with `base = setup.STEP.config` and the fields to change in `json`",
                )
            else:
                self._expr(value, "value")
        elif key == "form":
            if not isinstance(value, ast.MapExpr):
                self.diags.error(E_STEP, "`form` is a map of fields", value.span, "not a map")
                return
            self._expr(value, "value")
        elif key == "auth":
            self._auth(value)
        elif key == "expect":
            items = value.items if isinstance(value, ast.ListExpr) else None
            values = [i.value for i in items] if items is not None else [value]
            for v in values:
                if not isinstance(v, ast.IntLit) or not 0 <= v.value <= 599:
                    self.diags.error(
                        E_STEP,
                        "`expect` is a status (or exit code) or a list of them",
                        v.span,
                        "not a status number",
                    )
        elif key == "until":
            self._expr(value, "cond-after")
        elif key == "when":
            self._expr(value, "cond-before")
        elif key == "timeout":
            if not (isinstance(value, ast.UnitLit) and T.parse_duration(value.text)):
                self.diags.error(
                    E_STEP, "`timeout` is a duration, like `2m`", value.span, "not a duration"
                )

    def _public(self, item: ast.Attr) -> None:
        """A public output: read from the response (not its `cookie`, a session), literals,
        params and other public outputs; never from a secret, an input or a secret output."""
        tainted = self._expr(item.value, "public")
        cookie = [
            r for r in _leaves(item.value) if isinstance(r, ast.Ref) and r.parts[0].text == "cookie"
        ]
        if tainted or cookie:
            self.diags.error(
                E_PUBLIC,
                f"public output `{item.key.text}` would hold a secret",
                item.value.span,
                "a session cookie" if cookie and not tainted else "derived from a secret",
                help="a public output may appear in URLs, logs and the plan, so it is read from "
                "the response (`body.FIELD`, `stdout`, `status`) or from public values only; "
                "keep it in `output { }` (a secret) otherwise. When it runs, a value that "
                "contains a secret of the site fails the step",
            )

    def _literal_string(self, value: ast.Expr, key: str) -> None:
        if not isinstance(value, ast.StringLit):
            self.diags.error(E_STEP, f"`{key}` is a string", value.span, "not a string")

    def _auth(self, value: ast.Expr) -> None:
        if not isinstance(value, ast.Call) or value.func.dotted not in ("basic", "bearer"):
            self.diags.error(
                E_STEP,
                "`auth` is `bearer(TOKEN)` or `basic(USER, PASSWORD)`",
                value.span,
                "not an authentication",
            )
            return
        want = 1 if value.func.dotted == "bearer" else 2
        if len(value.args) != want or any(a.name is not None for a in value.args):
            self.diags.error(
                E_STEP,
                f"`{value.func.dotted}` takes {want} value{'s' if want > 1 else ''}",
                value.span,
                "wrong arguments",
            )
            return
        for arg in value.args:
            self._expr(arg.value, "header")

    # --- expressions ---------------------------------------------------------------------------
    def _expr(self, expr: ast.Expr, where: str) -> bool:
        """Check `expr` where it sits; True when it holds a secret (or a response value)."""
        tainted = False
        leaves = _leaves(expr)
        tested: set[int] = set()  # only a call among the leaves is looked up in it
        if any(isinstance(node, ast.Call) for node in leaves):
            from mora.contracts.requests import emptiness_calls

            tested = emptiness_calls(expr)  # `self.requests(C) != []`: known when compiling
        for node in leaves:
            if isinstance(node, ast.Call) and node.func.dotted == "pick":
                tainted |= self._pick(node, where)
                continue
            if isinstance(node, ast.Call) and id(node) in tested:
                self.c.type_of(node, self.ctx)  # type: ignore[arg-type]
                continue
            if isinstance(node, ast.Call):
                self.diags.error(
                    E_STEP,
                    f"`{node.func.dotted}()` cannot be used in a step",
                    node.span,
                    "not here",
                    help="steps take strings, numbers, lists, maps, references and comparisons; "
                    "`bearer()` and `basic()` go in `auth`",
                )
                continue
            if isinstance(node, ast.Ref):
                tainted |= self._ref(node, where)
        if tainted and where in ("url", "argv", "shown"):
            what = {"url": "a URL", "argv": "a command's arguments", "shown": "a description"}[
                where
            ]
            self.diags.error(
                E_STEP_LEAK,
                f"a secret in {what}: it would be shown in logs and error reports",
                expr.span,
                "holds a secret or a step output",
                help="send secrets in `headers`, `auth`, `json`/`form` or `stdin`; a step "
                "output is a secret (it comes from a response) unless declared in `public { }`",
            )
        return tainted

    def _pick(self, call: ast.Call, where: str) -> bool:
        """`pick(LIST, FIELD == VALUE, "PATH")`: the first item of a list (a response's
        `body...` or an earlier output holding JSON) whose FIELD equals VALUE, then PATH in
        it. True when the result is a secret (the list or the value is)."""
        args = call.args
        usage = 'write `pick(body.Items, AppName == "janitorr", "AccessToken")`'
        if len(args) not in (2, 3) or any(a.name is not None for a in args):
            self.diags.error(
                E_PICK,
                "`pick` takes a list, a comparison and (optionally) a field path",
                call.span,
                "wrong arguments",
                help=usage,
            )
            return True
        source, cond = args[0].value, args[1].value
        ok_source = isinstance(source, ast.Ref) and (
            source.parts[0].text == "body" or "setup" in (p.text for p in source.parts[:2])
        )
        if not ok_source:
            self.diags.error(
                E_PICK,
                "`pick` chooses from a response's list (`body.FIELD`) or an earlier output",
                source.span,
                "not a list read when the step runs",
                help=usage,
            )
            return True
        tainted = self._ref(source, where)  # type: ignore[arg-type]
        ok_cond = (
            isinstance(cond, ast.Binary)
            and cond.op == "=="
            and isinstance(cond.left, ast.Ref)
            and all(_FIELD.fullmatch(p.text) for p in cond.left.parts)
        )
        if not ok_cond:
            self.diags.error(
                E_PICK,
                "`pick` selects an item by one field: `FIELD == VALUE`",
                cond.span,
                "not a field comparison",
                help=usage,
            )
            return True
        assert isinstance(cond, ast.Binary)
        tainted |= self._expr(cond.right, where)
        if len(args) == 3:
            path = args[2].value
            ok_path = (
                isinstance(path, ast.StringLit)
                and path.is_plain
                and all(_FIELD.fullmatch(p) for p in path.plain.split("."))
            )
            if not ok_path:
                self.diags.error(
                    E_PICK,
                    'the field to read from the item is a dotted path, like `"User.Id"`',
                    path.span,
                    "not a field path",
                    help=usage,
                )
        return tainted

    def _ref(self, ref: ast.Ref, where: str) -> bool:
        head = ref.parts[0].text
        if head == "each" and self.per_item and self.each_contract is not None:
            from mora.contracts.requests import each_field_error

            return each_field_error(self.c, self.each_contract, ref, E_EACH)[1]  # type: ignore[arg-type]
        if head == "each":
            if not self.per_item:
                self.diags.error(
                    E_EACH,
                    "`each` is the item of a step repeated per item",
                    ref.span,
                    "this step has no `for_each`",
                    help="add `for_each = LIST` to the step to run it once per item",
                )
            elif len(ref.parts) > 2 or (
                len(ref.parts) == 2 and ref.parts[1].text not in ("key", "value")
            ):
                bad = ref.parts[1] if ref.parts[1].text not in ("key", "value") else ref.parts[2]
                self.diags.error(
                    E_EACH,
                    f"`each` has no field `{bad.text}`",
                    bad.span,
                    "unknown field",
                    help=did_you_mean(bad.text, ("key", "value"))
                    or "`each.key` is the item's key (a list's item, a map's key), "
                    "`each.value` (or `each`) its value",
                )
            return False  # a secret list is refused at `for_each`
        if head in RESPONSE:
            if where == "public":
                return False  # checked when it runs: a value holding a secret fails the step
            if where not in ("output", "cond-after"):
                self.diags.error(
                    E_STEP_REF,
                    f"`{head}` is this step's response: it exists only in `output` and `until`",
                    ref.span,
                    "no response here",
                    help="to act on an earlier response, give that step an output and read "
                    "`setup.STEP.OUTPUT`",
                )
                return True
            if head != "body" and len(ref.parts) > 1:
                self.diags.error(
                    E_STEP_REF, f"`{head}` has no fields", ref.parts[1].span, "nothing here"
                )
            return True
        if head == "setup" or (
            head == "self" and len(ref.parts) > 1 and ref.parts[1].text == "setup"
        ):
            if head == "self":
                ref = ast.Ref(ref.parts[1:], ref.span)
            if self._output_ref_own(ref):
                return not self._is_public(self.own, ref.parts[1:])
            return True
        if (
            len(ref.parts) > 1
            and ref.parts[1].text == "setup"
            and head not in ("param", "secret", "input", "site", "args")
        ):
            if head == self.service:
                if self._output_ref_own(ast.Ref(ref.parts[1:], ref.span)):
                    return not self._is_public(self.own, ref.parts[2:])
                return True
            if head not in self.c.program.services:
                self.diags.error(
                    E_STEP_REF,
                    f"unknown service `{head}`",
                    ref.parts[0].span,
                    "not defined in this project",
                    help=did_you_mean(head, self.c.program.services),
                )
                return True
            if self.o._output_ref(ref, head, None, None):
                if self.service is not None:
                    self.o.edges.setdefault(self.service, {}).setdefault(head, ref)
                return not self._is_public(self.o.steps.get(head, {}), ref.parts[2:])
            return True
        t = self.c.type_of(ref, self.ctx)  # type: ignore[arg-type]
        return t.secret

    @staticmethod
    def _is_public(steps: dict[str, _StepDecl], parts: tuple[ast.Name, ...] | list) -> bool:  # type: ignore[type-arg]
        """`STEP.OUT` names an output declared in `public { }` (not a secret)."""
        if len(parts) != 2:
            return False
        step = steps.get(parts[0].text)
        return step is not None and parts[1].text in step.public

    def _output_ref_own(self, ref: ast.Ref) -> bool:
        return self.o._output_ref(ref, self.service or "self", self.own, self.step.index)


_FIELD = T.LazyPattern(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")
_HOST = T.LazyPattern(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_ORIGIN = T.LazyPattern(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


def _url_host(value: ast.Expr) -> tuple[str, str | None]:
    """Where a URL goes: ("service", None) when it starts with an `internal_url`, ("host", H)
    when its host H is written out, ("unknown", None) otherwise (from a param, an input...)."""
    if not isinstance(value, ast.StringLit) or not value.parts:
        return "unknown", None
    first = value.parts[0]
    if isinstance(first, ast.Ref):
        known = first.parts[-1].text == "internal_url"
        return ("service", None) if known else ("unknown", None)
    if not isinstance(first, str):
        return "unknown", None
    m = _ORIGIN.match(first)
    # the authority must end inside the literal (`http://db:5432/`, or the whole URL)
    if m is None or (m.end() == len(first) and len(value.parts) > 1):
        return "unknown", None
    authority = m.group(1)
    if "@" in authority:  # user info: `http://db@elsewhere/` goes to `elsewhere`
        return "unknown", None
    host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return ("host", host.lower()) if _HOST.fullmatch(host) else ("unknown", None)


def _leaves(expr: ast.Expr) -> list[ast.Ref | ast.Call]:
    """References and calls inside `expr` (interpolations, lists, maps, operators)."""
    found: list[ast.Ref | ast.Call] = []

    def walk(e: object) -> None:
        if isinstance(e, ast.Ref | ast.Call):
            found.append(e)
        elif isinstance(e, ast.StringLit):
            for part in e.parts:
                if not isinstance(part, str):
                    walk(part)
        elif isinstance(e, ast.ListExpr):
            for item in e.items:
                walk(item.value)
                if item.condition is not None:
                    walk(item.condition)
        elif isinstance(e, ast.MapExpr):
            for entry in e.entries:
                walk(entry.value)
        elif isinstance(e, ast.Unary):
            walk(e.operand)
        elif isinstance(e, ast.Binary):
            walk(e.left)
            walk(e.right)

    walk(expr)
    return found


def state_names(program: object) -> list[tuple[str, bool]]:
    """The store entries setup steps keep: `setup.SVC.STEP` (what ran; True when the step is
    repeated per item, whose records are `setup.SVC.STEP[KEY]`) and each output."""
    names: list[tuple[str, bool]] = []
    for name, svc in program.services.items():  # type: ignore[attr-defined]
        for step in step_decls(svc.body).values():
            per_item = any(
                isinstance(e, ast.Attr) and e.key.text == "for_each"
                for e in step.block.body.entries
            )
            names.append((f"setup.{name}.{step.name}", per_item))
            names += [(f"setup.{name}.{step.name}.{out}", False) for out in step.outputs]
    return names


def check_setup(checker: Checker) -> None:
    """Every `setup` block and every input's `from`, once per project."""
    _StepChecker(checker).run()
