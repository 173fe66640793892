"""Checking: declarations, names, types, taint and graph rules, with no site and no secrets.

Input: the parsed modules of one project. Output: a `Program` (symbol tables over the untouched
AST) that the evaluator walks, plus diagnostics. The checker never evaluates site-dependent
values, never touches secrets and never writes files; `mora check` is exactly this pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from mora import ast, check_routes
from mora import types as T
from mora.builtins import FUNCTIONS
from mora.check.context import (
    CheckState,
    _Ctx,
    _ParamView,
)
from mora.check.graph import (
    GraphPass,
    _refs_in,
    _static_port_entries,
    find_cycles,
    report_clashes,
)
from mora.check.program import (
    _BLOCK_ATTRS,
    _LEAK_HELP,
    E_ARGS,
    E_BAD_REF,
    E_CYCLE,
    E_DUPLICATE,
    E_HOST_MOUNT,
    E_IMAGE,
    E_IMPORT_ALIAS,
    E_LITERAL,
    E_MISSING_ATTR,
    E_PATH,
    E_PORT,
    E_PORT_CLASH,
    E_PROJECT,
    E_RESERVED,
    E_RESERVED_LABEL,
    E_SECRET_LEAK,
    E_SUBDOMAIN_CLASH,
    E_TYPE,
    E_UNKNOWN_ATTR,
    E_UNKNOWN_FUNCTION,
    E_UNKNOWN_INPUT,
    E_UNKNOWN_NAME,
    E_UNKNOWN_PARAM,
    E_UNKNOWN_SECRET,
    E_UNKNOWN_SERVICE,
    E_UNKNOWN_TYPE,
    E_VALUE,
    HEALTHCHECK_KEYS,
    HOST_MOUNT_HELP,
    INPUT_ATTRS,
    N_USER_UNKNOWN,
    PARAM_TYPES,
    PORT_KEYS,
    RESERVED,
    RESOURCE_KEYS,
    RESTART_POLICIES,
    SECURITY_KEYS,
    SECURITY_RELAXING,
    SERVICE_ATTRS,
    SERVICE_FIELDS,
    W_IMAGE_TAG,
    W_UNUSED_INPUT,
    W_UNUSED_PARAM,
    W_UNUSED_SECRET,
    InputSym,
    ParamSym,
    Program,
    SecretSym,
    ServiceSym,
    TemplateSym,
    _iter_if,
    has_attr,
    host_mount_message,
    iter_entries,
    secret_names_in,
    static_keys,
)
from mora.diagnostics import Diagnostics, Label, closest, did_you_mean
from mora.loader import LoadedProject
from mora.reserved import normal_path, path_problem, reserved_label, system_dir
from mora.source import Span
from mora.vocabulary import service as V

__all__ = [  # the re-exported names (own definitions are importable as ever)
    "E_ARGS",
    "E_BAD_REF",
    "E_CYCLE",
    "E_DUPLICATE",
    "E_HOST_MOUNT",
    "E_IMAGE",
    "E_IMPORT_ALIAS",
    "E_LITERAL",
    "E_MISSING_ATTR",
    "E_PATH",
    "E_PORT",
    "E_PORT_CLASH",
    "E_PROJECT",
    "E_RESERVED",
    "E_RESERVED_LABEL",
    "E_SECRET_LEAK",
    "E_SUBDOMAIN_CLASH",
    "E_TYPE",
    "E_UNKNOWN_ATTR",
    "E_UNKNOWN_FUNCTION",
    "E_UNKNOWN_INPUT",
    "E_UNKNOWN_NAME",
    "E_UNKNOWN_PARAM",
    "E_UNKNOWN_SECRET",
    "E_UNKNOWN_SERVICE",
    "E_UNKNOWN_TYPE",
    "E_VALUE",
    "HEALTHCHECK_KEYS",
    "HOST_MOUNT_HELP",
    "INPUT_ATTRS",
    "N_USER_UNKNOWN",
    "PARAM_TYPES",
    "PORT_KEYS",
    "RESERVED",
    "RESOURCE_KEYS",
    "RESTART_POLICIES",
    "SECURITY_KEYS",
    "SECURITY_RELAXING",
    "SERVICE_ATTRS",
    "SERVICE_FIELDS",
    "W_IMAGE_TAG",
    "W_UNUSED_INPUT",
    "W_UNUSED_PARAM",
    "W_UNUSED_SECRET",
    "_BLOCK_ATTRS",
    "_LEAK_HELP",
    "CheckState",
    "GraphPass",
    "InputSym",
    "ParamSym",
    "Program",
    "SecretSym",
    "ServiceSym",
    "TemplateSym",
    "_Ctx",
    "_ParamView",
    "_iter_if",
    "_refs_in",
    "_static_port_entries",
    "find_cycles",
    "has_attr",
    "host_mount_message",
    "iter_entries",
    "report_clashes",
    "secret_names_in",
    "static_keys",
]

# --- the checker ---------------------------------------------------------------------------------


class Checker(GraphPass):
    # --- entry point -----------------------------------------------------------------------------
    def run(self) -> Program:
        self._collect()
        from mora.moved import collect_moved

        self.program.moved = collect_moved(self.loaded, self.program, self.diags)
        p = self.program
        for sym in p.params.values():
            self._check_param(sym)
        for sym in p.secrets.values():
            if sym.instance is None:
                self._check_secret(sym)
        for tmpl in p.templates.values():
            for ptype, tp in tmpl.params.values():
                if tp.default is not None:
                    self._expect_param(tp.default, ptype, tp, f"the default of `{tp.name.text}`")
            for sym in tmpl.secrets.values():
                self._check_secret(sym, _Ctx(template=tmpl))
            self._check_body(tmpl.decl.body, _Ctx(template=tmpl), service_name=None)
            for isym in tmpl.inputs.values():
                self._check_input(isym, _Ctx(template=tmpl))
        for sym in p.secrets.values():
            if sym.instance is not None:  # a copy: same generator and parts as its template's
                self._check_secret_early(sym)
        for svc in p.services.values():
            if svc.decl.instance is not None:
                self._check_instance(svc)
            else:
                self._check_body(svc.body, _Ctx(service=svc), service_name=svc.name)
        for dup in self._shadowed:
            self._check_body(dup.body, _Ctx(service=dup), service_name=dup.name)
        for inp in p.inputs.values():
            if not inp.instance:
                self._check_input(inp, _Ctx())
        self._check_graph()
        from mora.steps.check import check_setup

        check_setup(self)
        self._check_static_clashes()
        self._report_unused()
        self._note_unknown_users()
        return p

    # --- declarations ----------------------------------------------------------------------------
    def _collect(self) -> None:
        p = self.program
        seen: dict[str, tuple[str, ast.Name]] = {}
        project_decl: ast.ProjectDecl | None = None
        for module in self.loaded.modules:
            is_stdlib = module.file.path in self.loaded.stdlib_modules
            is_stdlib = is_stdlib or module.file.path in self.loaded.dependency_modules  # own name
            for decl in module.decls:
                if isinstance(decl, ast.ProjectDecl):
                    if is_stdlib:
                        continue
                    if project_decl is not None and project_decl.name.text != decl.name.text:
                        self.diags.error(
                            E_PROJECT,
                            "the project is named twice",
                            decl.name.span,
                            f"named `{decl.name.text}` here",
                            labels=[Label(project_decl.name.span, "first named here")],
                        )
                    project_decl = project_decl or decl
                    continue
                if isinstance(decl, ast.RequireDecl | ast.MovedDecl):
                    continue  # mora.deps (loader) and mora.moved check these
                if isinstance(decl, ast.ImportDecl):
                    if decl.alias is not None:
                        self.diags.error(
                            E_IMPORT_ALIAS,
                            "`import ... as NAME` is not supported yet",
                            decl.alias.span,
                            "no effect",
                            help="imported declarations keep their own names; remove `as "
                            f"{decl.alias.text}`",
                        )
                    continue
                self._declare(decl, seen)
                if isinstance(decl, ast.ServiceDecl) and decl.body is not None:
                    for entry in decl.body.entries:
                        if isinstance(entry, ast.InputDecl | ast.SecretDecl):
                            self._declare(entry, seen, service=decl.name.text)
                if isinstance(decl, ast.TemplateDecl) and decl.name.text in p.templates:
                    self._collect_template_locals(p.templates[decl.name.text])
        if project_decl is not None:
            p.name = project_decl.name.text
        else:
            p.name = _name_from_path(self.loaded.root)
        for svc in p.services.values():
            if svc.decl.instance is not None:
                tname = svc.decl.instance.func.dotted
                tmpl = p.templates.get(tname)
                if tmpl is None:
                    self.diags.error(
                        E_UNKNOWN_FUNCTION,
                        f"unknown template `{tname}`",
                        svc.decl.instance.func.span,
                        "no template of this name",
                        help=did_you_mean(tname, p.templates)
                        or "define it with `template NAME(...) { ... }` or import a module",
                    )
                else:
                    svc.template = tmpl
                    svc.body = tmpl.decl.body
                    for entry in tmpl.decl.body.entries:
                        if isinstance(entry, ast.InputDecl | ast.SecretDecl):
                            self._declare(entry, seen, service=svc.name, instance=True)

    def _collect_template_locals(self, tmpl: TemplateSym) -> None:
        for entry in tmpl.decl.body.entries:
            name = getattr(entry, "name", None)
            if isinstance(entry, ast.SecretDecl):
                table: dict[str, Any] = tmpl.secrets
            elif isinstance(entry, ast.InputDecl):
                table = tmpl.inputs
            else:
                continue
            assert name is not None
            if name.text in table:
                self.diags.error(
                    E_DUPLICATE,
                    f"`{name.text}` is declared twice in this template",
                    name.span,
                    "declared again here",
                    labels=[Label(table[name.text].decl.name.span, "first declared here")],
                )
            elif isinstance(entry, ast.SecretDecl):
                tmpl.secrets[name.text] = SecretSym(entry, None)
            else:
                tmpl.inputs[name.text] = InputSym(entry, self._input_type(entry.type), None, True)

    def _declare(
        self,
        decl: ast.Decl,
        seen: dict[str, tuple[str, ast.Name]],
        service: str | None = None,
        instance: bool = False,
    ) -> None:
        """Add a declaration to the tables; a template's secrets and inputs are added once per
        instance, as `<instance>_<name>`."""
        p = self.program
        kind, _table = {
            ast.ParamDecl: ("param", p.params),
            ast.SecretDecl: ("secret", p.secrets),
            ast.InputDecl: ("input", p.inputs),
            ast.ServiceDecl: ("service", p.services),
            ast.TemplateDecl: ("template", p.templates),
        }[type(decl)]
        name: ast.Name = decl.name  # type: ignore[union-attr]
        if instance:
            name = ast.Name(f"{service}_{name.text}", name.span)
        key = f"{kind}:{name.text}"  # templates and services have separate namespaces
        if kind in ("service", "template") and name.text in RESERVED:
            self.diags.error(
                E_RESERVED,
                f"`{name.text}` is a reserved word and cannot name a {kind}",
                name.span,
                "reserved",
                help=f"`{name.text}.x` always means the {RESERVED[name.text]}; pick another name",
            )
            return
        if key in seen:
            _first_kind, first = seen[key]
            if instance:
                self.diags.error(
                    E_DUPLICATE,
                    f"{kind} `{name.text}` is defined more than once",
                    first.span,
                    "defined here",
                    labels=[
                        Label(
                            decl.name.span,
                            f"the template's `{decl.name.text}` "  # type: ignore[union-attr]
                            f"becomes `{name.text}` for service `{service}`",
                        )
                    ],
                    help=f"a template's {kind}s are named `<service>_<name>` per instance; "
                    "rename one of them",
                )
                return
            self.diags.error(
                E_DUPLICATE,
                f"{kind} `{name.text}` is defined more than once",
                name.span,
                "defined again here",
                labels=[Label(first.span, "first defined here")],
                help="rename one of them",
            )
            if isinstance(decl, ast.ServiceDecl) and decl.body is not None:
                self._shadowed.append(ServiceSym(decl, decl.body))
            return
        seen[key] = (kind, name)
        if isinstance(decl, ast.ParamDecl):
            p.params[name.text] = ParamSym(decl, self._param_type(decl.type))
        elif isinstance(decl, ast.SecretDecl):
            p.secrets[name.text] = SecretSym(decl, None, instance=service if instance else None)
        elif isinstance(decl, ast.InputDecl):
            p.inputs[name.text] = InputSym(decl, self._input_type(decl.type), service, instance)
        elif isinstance(decl, ast.ServiceDecl):
            p.services[name.text] = ServiceSym(decl, decl.body or ast.Body((), decl.span))
        elif isinstance(decl, ast.TemplateDecl):
            tmpl = TemplateSym(decl)
            for tp in decl.params:
                if tp.name.text in tmpl.params:
                    self.diags.error(
                        E_DUPLICATE,
                        f"template parameter `{tp.name.text}` is declared twice",
                        tp.name.span,
                        "declared again here",
                        labels=[Label(tmpl.params[tp.name.text][1].name.span, "first here")],
                    )
                    continue
                tmpl.params[tp.name.text] = (self._param_type(tp.type, template=True), tp)
            p.templates[name.text] = tmpl

    # --- types -----------------------------------------------------------------------------------
    def _param_type(self, texpr: ast.TypeExpr, template: bool = False) -> T.Type:
        name = texpr.name.text
        allowed = (*PARAM_TYPES, "secret", "service") if template else PARAM_TYPES
        if name == "secret" and not template:
            self.diags.error(
                E_UNKNOWN_TYPE,
                "a param cannot be a secret",
                texpr.span,
                "site params are plain values",
                help="declare `secret NAME` (generated, or set with `mora secrets set NAME`)",
            )
            return T.ANY
        if name not in allowed:
            self.diags.error(
                E_UNKNOWN_TYPE,
                f"unknown type `{name}`",
                texpr.name.span,
                "not a type",
                help=did_you_mean(name, allowed) or "types: " + ", ".join(allowed),
            )
            return T.ANY
        if name == "secret":
            return T.SECRET_STRING
        if name == "enum":
            values = tuple(a.plain for a in texpr.args if isinstance(a, ast.StringLit))
            if not values or len(values) != len(texpr.args):
                self.diags.error(
                    E_UNKNOWN_TYPE,
                    "`enum` takes its allowed values as strings",
                    texpr.span,
                    'like enum("debug", "info")',
                )
                return T.ANY
            return T.Type("enum", values=values)
        if name in ("list", "map"):
            if len(texpr.args) != 1 or not isinstance(texpr.args[0], ast.TypeExpr):
                self.diags.error(
                    E_UNKNOWN_TYPE,
                    f"`{name}` takes one element type",
                    texpr.span,
                    f"like {name}(string)",
                )
                return T.Type(name, (T.ANY,))
            return T.Type(name, (self._param_type(texpr.args[0], template),))
        if texpr.args:
            self.diags.error(
                E_UNKNOWN_TYPE, f"`{name}` takes no arguments", texpr.span, "remove the brackets"
            )
        return T.SERVICE if name == "service" else T.Type(name)

    def _input_type(self, texpr: ast.TypeExpr) -> T.Type:
        if texpr.name.text == "secret" and not texpr.args:
            return T.SECRET_STRING
        return self._param_type(texpr)

    def _check_param(self, sym: ParamSym) -> None:
        if sym.decl.default is not None:
            self.expect(sym.decl.default, sym.type, _Ctx(), "a param default", secret_ok=False)

    def _check_secret(self, sym: SecretSym, ctx: _Ctx | None = None) -> None:
        ctx = ctx or _Ctx()
        value = sym.decl.value
        if value is None:
            return  # set by hand: `mora secrets set NAME`
        if not isinstance(value, ast.Call):
            self.diags.error(
                E_TYPE,
                "a secret's value is a generator call",
                value.span,
                "not a generator call",
                help="like `password(length: 32)`, `hex(16)` or `bcrypt(secret.admin)`; "
                "to set a value by hand, declare `secret NAME` and run `mora secrets set NAME`",
            )
            return
        gens = self.generators()
        gname = value.func.dotted
        gen = gens.get(gname)
        if gen is None:
            self.diags.error(
                E_UNKNOWN_FUNCTION,
                f"unknown secret generator `{gname}`",
                value.func.span,
                "not a generator",
                help=did_you_mean(gname, gens) or "generators: " + ", ".join(sorted(gens)),
            )
            return
        sym.generator = gname
        sym.parts = tuple(gen.parts)  # type: ignore[attr-defined]
        sym.public_parts = frozenset(gen.public_parts)  # type: ignore[attr-defined]
        params = [
            _ParamView(p.name, _generator_param_type(p.type), p.required)  # type: ignore[attr-defined]
            for p in gen.params  # type: ignore[attr-defined]
        ]
        bound = self._bind_args(value, params, f"`{gname}()`")
        literal: dict[str, object] = {}
        all_literal = True
        before = len(self.diags)
        for pname, arg in bound.items():
            ptype = next(p.type for p in params if p.name == pname)
            if ptype.secret:
                self._expect_secret_ref(arg.value, sym, ctx)
                continue
            self.expect(arg.value, ptype, ctx, f"argument `{pname}`", secret_ok=False)
            lit = _literal_value(arg.value)
            if lit is None:
                all_literal = False
            else:
                literal[pname] = lit
        if all_literal and len(self.diags) == before:
            # Literal arguments can be checked now, so `mora check` catches `password(length: 3)`.
            from mora.secrets.errors import GeneratorError

            try:
                gen.normalize_args(literal)  # type: ignore[attr-defined]
            except GeneratorError as err:
                self.diags.error(E_VALUE, str(err), value.span, "invalid arguments", help=err.help)

    def _expect_secret_ref(self, expr: ast.Expr, sym: SecretSym, ctx: _Ctx) -> None:
        if (
            isinstance(expr, ast.Ref)
            and len(expr.parts) in (2, 3)
            and expr.parts[0].text == "secret"
        ):
            if len(expr.parts) == 3:
                self.type_of(expr, ctx)
            else:  # the whole secret, all its parts (e.g. a CA for tls_cert)
                name = expr.parts[1]
                if self._local(ctx, "secrets", name.text) is None:
                    if name.text not in self.program.secrets:
                        self._unknown(E_UNKNOWN_SECRET, "secret", name, self.program.secrets)
                    else:
                        self.used.add(("secret", name.text))
            if expr.parts[1].text == sym.decl.name.text:
                self.diags.error(
                    E_CYCLE, "a secret cannot be derived from itself", expr.span, "this is itself"
                )
            return
        self.diags.error(
            E_TYPE,
            "expected a reference to another secret",
            expr.span,
            "not `secret.NAME`",
            help="derived secrets take their source as `secret.NAME` (or `secret.NAME.part`)",
        )

    def generators(self) -> dict[str, object]:
        if self._generators is None:
            try:
                from mora.secrets.generators import GENERATORS

                self._generators = dict(GENERATORS)
            except ImportError:  # the secrets package is optional for the core
                self._generators = {}
        return self._generators

    # --- services --------------------------------------------------------------------------------
    def _check_instance(self, svc: ServiceSym) -> None:
        call = svc.decl.instance
        assert call is not None
        if svc.template is None:
            for arg in call.args:
                self.type_of(arg.value, _Ctx())
            return
        params = [
            _ParamView(n, t, tp.default is None) for n, (t, tp) in svc.template.params.items()
        ]
        bound = self._bind_args(call, params, f"template `{svc.template.decl.name.text}`")
        for pname, arg in bound.items():
            ptype, tp = svc.template.params[pname]
            self._expect_param(arg.value, ptype, tp, f"argument `{pname}`")

    def _expect_param(
        self, value: ast.Expr, ptype: T.Type, tp: ast.TemplateParam, what: str
    ) -> None:
        """A value for a template parameter (a default or an argument) against its type."""
        self.expect(
            value, ptype, _Ctx(), what, secret_ok=_holds_secret(ptype), declared=tp.type.span
        )

    def _check_body(self, body: ast.Body, ctx: _Ctx, service_name: str | None) -> None:
        seen: dict[str, Span] = {}
        self._check_entries(body, ctx, seen)
        if "image" in seen and (service_name is not None or ctx.template is not None):
            self._note_unknown_user(body, ctx, service_name)
        if "image" not in seen and (service_name is not None or ctx.template is not None):
            what = f"service `{service_name}`" if service_name else "this template"
            name_span = (
                ctx.service.decl.name.span if ctx.service else ctx.template.decl.name.span  # type: ignore[union-attr]
            )
            self.diags.error(
                E_MISSING_ATTR,
                f"{what} has no `image`",
                name_span,
                "needs an image",
                help='add `image = "registry/name:tag"`',
            )

    def _note_unknown_user(self, body: ast.Body, ctx: _Ctx, service_name: str | None) -> None:
        """Remember a service that does not say which user its image runs as."""
        declared = {k.text for k in static_keys(body, "security")}
        if has_attr(body, "user") or declared & {"run_as_user", "run_as_root", "privileged"}:
            return
        what = f"service `{service_name}`" if service_name else "this template's service"
        name_span = (
            ctx.service.decl.name.span if ctx.service else ctx.template.decl.name.span  # type: ignore[union-attr]
        )
        self._unknown_users.append((what, name_span))

    def _note_unknown_users(self) -> None:
        """Without a declared user mora cannot tighten the container (docs/security.md, case c):
        say so once per service, with the fix; not while there are errors to fix first."""
        if self.diags.has_errors:
            return
        for what, span in self._unknown_users:
            self.diags.note(
                N_USER_UNKNOWN,
                f"{what} does not say which user its image runs as: it gets settings that start "
                "any image (the runtime's default capabilities, root allowed)",
                span,
                "user not declared",
                help='declare it: `user = "1000:1000"` for an image that runs as that user, or '
                '`security { run_as_root = true reason = "..." }` for one that starts as root '
                "and switches user itself (see docs/security.md)",
            )

    def _check_entries(
        self, body: ast.Body, ctx: _Ctx, seen: dict[str, Span], in_if: bool = False
    ) -> None:
        for entry in body.entries:
            if isinstance(entry, ast.IfEntry):
                self._check_if(entry, ctx, seen)
            elif isinstance(entry, ast.InputDecl | ast.SecretDecl):
                if in_if:
                    kind = "input" if isinstance(entry, ast.InputDecl) else "secret"
                    self.diags.error(
                        E_TYPE,
                        f"{'an' if kind == 'input' else 'a'} {kind} cannot be declared inside `if`",
                        entry.name.span,
                        "declared conditionally",
                        help=f"declare the {kind} in the service body itself; only its uses "
                        "can depend on a condition",
                    )
                # else: declared at collection, checked with the inputs and secrets
            else:
                self._check_service_attr(entry, ctx, seen)

    def _check_if(self, entry: ast.IfEntry, ctx: _Ctx, seen: dict[str, Span]) -> None:
        self.expect(entry.condition, T.BOOL, ctx, "an `if` condition", secret_ok=False)
        branch_seen = dict(seen)
        self._check_entries(entry.then, ctx, branch_seen, in_if=True)
        other_seen = dict(seen)
        if isinstance(entry.otherwise, ast.Body):
            self._check_entries(entry.otherwise, ctx, other_seen, in_if=True)
        elif isinstance(entry.otherwise, ast.IfEntry):
            self._check_if(entry.otherwise, ctx, other_seen)
        seen.update(branch_seen)
        seen.update(other_seen)

    def _known(
        self, name: str, span: Span, known: tuple[str, ...], what: str, code: str = ""
    ) -> bool:
        """Whether `name` is one of `known`; if not, an error with a did-you-mean or the list."""
        if name in known:
            return True
        self.diags.error(
            code or E_UNKNOWN_ATTR,
            f"unknown {what} `{name}`",
            span,
            f"not a known {what}",
            help=did_you_mean(name, known) or f"{what}s: " + ", ".join(known),
        )
        return False

    def _check_service_attr(
        self, entry: ast.Attr | ast.Block, ctx: _Ctx, seen: dict[str, Span]
    ) -> None:
        key = entry.key.text
        if key == "setup":  # setup steps: checked by mora/steps/check.py
            return
        if not self._known(key, entry.key.span, SERVICE_ATTRS, "service attribute"):
            return
        if key in seen:
            self.diags.error(
                E_DUPLICATE,
                f"`{key}` is set more than once",
                entry.key.span,
                "set again here",
                labels=[Label(seen[key], "first set here")],
                help=f"to add entries only in some cases, put the `if` inside one `{key}` block"
                if key in _BLOCK_ATTRS
                else None,
            )
        else:
            seen[key] = entry.key.span
        if isinstance(entry, ast.Block) and key not in _BLOCK_ATTRS:
            self.diags.error(
                E_TYPE,
                f"`{key}` is a value, not a block",
                entry.key.span,
                f"write `{key} = ...`",
            )
            return
        if key in _BLOCK_ATTRS:
            paths: dict[str, ast.Key] = {}
            for k, value, span in self._map_items(entry, ctx):
                self._check_block_item(key, k, value, span, ctx)
                if key in ("volumes", "files") and not path_problem(k.text):
                    self._same_path(k, paths)
            if key == "security":
                self._check_security_reason(entry)
            return
        assert isinstance(entry, ast.Attr)
        value = entry.value
        if key == "image":
            t = self.expect(value, T.STRING, ctx, "`image`", secret_ok=False)
            if t is not None and isinstance(value, ast.StringLit) and value.is_plain:
                problem = T.check_image(value.plain)
                if problem:
                    self.diags.error(E_IMAGE, "invalid image reference", value.span, problem)
                elif not T.image_has_tag(value.plain):
                    self.diags.warning(
                        W_IMAGE_TAG,
                        "image has no tag",
                        value.span,
                        "will pull whatever `latest` is today",
                        help="pin a version, e.g. `" + value.plain + ":1.2.3`, so deploys repeat",
                    )
        elif key in ("command", "entrypoint"):
            self._check_command(value, ctx, f"`{key}`")
        elif key == "user":
            t = self.type_of(value, ctx)
            self._no_secret(t, value, "`user`")
            if not (T.assignable(t, T.STRING) or T.assignable(t, T.INT)):
                self._mismatch(value, 'a string like "1000:1000" or a number', t)
        elif key == "devices":
            self.expect(value, T.list_of(T.PATH), ctx, "`devices`", secret_ok=False)
            if isinstance(value, ast.ListExpr):
                for item in value.items:
                    if isinstance(item.value, ast.StringLit) and item.value.is_plain:
                        self._check_device(item.value.plain, item.value.span)
        elif key not in ("image", "subdomain") and (typ := V.SERVICE[key].type) is not None:
            # a plain typed value: its row in the vocabulary says the type
            self.expect(value, typ, ctx, f"`{key}`", secret_ok=V.SERVICE[key].secret_ok)
            if key == "dns" and isinstance(value, ast.ListExpr):
                for item in value.items:
                    self._check_literal_rule(item.value, _ip_problem)
            elif key == "stop_signal":
                self._check_literal_rule(value, _signal_problem)
            elif key == "network_mode":
                self._check_network_mode(entry, ctx)
        elif key == "subdomain":
            t = self.expect(value, T.STRING, ctx, "`subdomain`", secret_ok=False)
            if t is not None and isinstance(value, ast.StringLit) and value.is_plain:
                if not T.is_dns_label_path(value.plain):
                    self.diags.error(
                        E_VALUE,
                        f"`{value.plain}` is not a valid subdomain",
                        value.span,
                        "lower-case letters, digits and `-`, labels separated by `.`",
                    )
            has_ports = static_keys(
                ctx.service.body if ctx.service else ctx.template.decl.body, "ports"
            )  # type: ignore[union-attr]
            names = [k.text for k in has_ports]
            if names and "http" not in names and len(set(names)) > 1:
                self.diags.error(
                    E_MISSING_ATTR,
                    "which port does the subdomain route to?",
                    entry.key.span,
                    f"the service has ports {', '.join(sorted(set(names)))}",
                    help="name the web port `http`; the subdomain routes there",
                )
            elif not names:
                self.diags.error(
                    E_MISSING_ATTR,
                    "a service with a subdomain needs a port",
                    entry.key.span,
                    "nothing to route to",
                    help="add `ports { http = 8080 }` with the port the web UI listens on",
                )

    def _map_items(
        self, entry: ast.Attr | ast.Block, ctx: _Ctx
    ) -> Iterator[tuple[ast.Key, ast.Expr | ast.Body, Span]]:
        """Items of a block-like attribute, written as a block or as a map expression."""
        if isinstance(entry, ast.Block):
            yield from self._block_items(entry.body, ctx)
            return
        if isinstance(entry.value, ast.MapExpr):
            for me in entry.value.entries:
                yield me.key, me.value, me.span
            return
        t = self.type_of(entry.value, ctx)
        if t.kind not in ("map", "any"):
            self._mismatch(entry.value, f"a block `{entry.key.text} {{ ... }}` or a map", t)

    def _block_items(
        self, body: ast.Body, ctx: _Ctx
    ) -> Iterator[tuple[ast.Key, ast.Expr | ast.Body, Span]]:
        seen: dict[str, Span] = {}
        for entry in body.entries:
            if isinstance(entry, ast.IfEntry):
                self.expect(entry.condition, T.BOOL, ctx, "an `if` condition", secret_ok=False)
                yield from self._block_items(entry.then, ctx)
                other = entry.otherwise
                while isinstance(other, ast.IfEntry):
                    self.expect(other.condition, T.BOOL, ctx, "an `if` condition", False)
                    yield from self._block_items(other.then, ctx)
                    other = other.otherwise
                if isinstance(other, ast.Body):
                    yield from self._block_items(other, ctx)
                continue
            if isinstance(entry, ast.InputDecl | ast.SecretDecl):
                kind = "input" if isinstance(entry, ast.InputDecl) else "secret"
                self.diags.error(
                    E_TYPE,
                    f"`{kind}` belongs in a service body or at the top level",
                    entry.name.span,
                    "not allowed in this block",
                )
                continue
            if entry.key.text in seen:
                self.diags.error(
                    E_DUPLICATE,
                    f"`{entry.key.text}` is set more than once",
                    entry.key.span,
                    "set again here",
                    labels=[Label(seen[entry.key.text], "first set here")],
                )
                continue
            seen[entry.key.text] = entry.key.span
            yield entry.key, entry.value if isinstance(entry, ast.Attr) else entry.body, entry.span

    def _check_block_item(
        self, block: str, key: ast.Key, value: ast.Expr | ast.Body, span: Span, ctx: _Ctx
    ) -> None:
        if block == "jobs":  # a block of blocks: its rules live with the jobs (mora/jobs)
            from mora.jobs.check import check_job

            check_job(self, key, value, ctx)
            return
        if isinstance(value, ast.Body):
            if block == "ports":
                self._check_port_map(key, list(self._block_items(value, ctx)), ctx)
                return
            self.diags.error(
                E_TYPE,
                f"`{key.text}` is a value, not a block",
                key.span,
                f"write `{key.text} = ...`",
            )
            return
        if block == "environment":
            t = self.type_of(value, ctx)
            if not T.is_stringy(t):
                self._mismatch(value, "a string, number or bool", t)
            if not _is_env_name(key.text):
                self.diags.error(
                    E_VALUE,
                    f"`{key.text}` is not a valid environment variable name",
                    key.span,
                    "letters, digits and `_`, not starting with a digit",
                )
        elif block == "init_only":
            # `NAME = "how a running instance takes a new value"`: NAME is an environment
            # variable the image reads only when its data is first created (a database password).
            t = self.type_of(value, ctx)
            self._no_secret(t, value, "an `init_only` note")
            if not T.is_stringy(t):
                self._mismatch(value, "a string: how to change the value in a running instance", t)
            body = ctx.service.body if ctx.service else ctx.template.decl.body  # type: ignore[union-attr]
            env = [k.text for k in static_keys(body, "environment")]
            if env and key.text not in env:
                self.diags.error(
                    E_VALUE,
                    f"`init_only` names `{key.text}`, which this service's environment does not set",
                    key.span,
                    "not in `environment`",
                    help=did_you_mean(key.text, env),
                )
        elif block == "labels":
            self._check_label_key(key)
            t = self.type_of(value, ctx)
            self._no_secret(t, value, "a label")
            if not T.is_stringy(t):
                self._mismatch(value, "a string", t)
        elif block == "ports":
            if isinstance(value, ast.MapExpr):
                self._check_port_map(key, [(e.key, e.value, e.span) for e in value.entries], ctx)
            else:
                self.expect(value, T.PORT, ctx, f"port `{key.text}`", secret_ok=False)
            if not _is_port_name(key.text):
                self.diags.error(
                    E_VALUE,
                    f"`{key.text}` is not a valid port name",
                    key.span,
                    "lower-case letters, digits and `-`, at most 15 characters",
                )
        elif block == "volumes":
            self._check_container_path(key)
            self.expect(value, T.MOUNT, ctx, f"volume `{key.text}`", secret_ok=False)
        elif block == "routes":
            check_routes.check_route(self, key, value, ctx)  # mora/check_routes.py
        elif block == "files":
            self._check_container_path(key)
            t = self.type_of(value, ctx)
            if not (t.kind in ("file", "any") or T.assignable(t, T.STRING)):
                self._mismatch(value, "file contents (a string, or yaml()/json()/toml()/ini())", t)
        elif block == "extra_hosts":
            if not _HOST.fullmatch(key.text):
                self.diags.error(
                    E_VALUE,
                    f"`{key.text}` is not a host name",
                    key.span,
                    "letters, digits, `-` and `.`",
                )
            self.expect(value, T.STRING, ctx, f"the address of `{key.text}`", secret_ok=False)
            self._check_literal_rule(value, _ip_problem)
        elif block == "sysctls":
            if not _SYSCTL.fullmatch(key.text):
                self.diags.error(
                    E_VALUE,
                    f"`{key.text}` is not a kernel parameter name",
                    key.span,
                    "dotted lower-case words, like `net.core.somaxconn`",
                )
            t = self.type_of(value, ctx)
            self._no_secret(t, value, "a sysctl")
            if not T.is_stringy(t):
                self._mismatch(value, "a string or a number", t)
        elif block == "ulimits":
            self._known(key.text, key.span, V.ULIMITS, "ulimit")
            t = self.type_of(value, ctx)
            self._no_secret(t, value, "a ulimit")
            if not (T.assignable(t, T.INT) or T.assignable(t, T.STRING)):
                self._mismatch(value, 'a number or "SOFT:HARD"', t)
            self._check_literal_rule(value, _ulimit_problem)
        elif block == "healthcheck":
            self._check_healthcheck_item(key, value, ctx)
        elif block == "resources":
            self._check_setting(key, value, ctx, RESOURCE_KEYS, "resource")
        elif block == "security":
            self._check_setting(key, value, ctx, SECURITY_KEYS, "security")

    def _check_port_map(
        self, name: ast.Key, items: list[tuple[ast.Key, ast.Expr | ast.Body, Span]], ctx: _Ctx
    ) -> None:
        keys = {k.text for k, _, _ in items}
        for k, v, _ in items:
            if not self._known(k.text, k.span, PORT_KEYS, "port setting"):
                continue
            if isinstance(v, ast.Body):
                self.diags.error(E_TYPE, f"`{k.text}` is a value", k.span, "not a block")
            else:
                setting = V.SERVICE["ports"].setting(k.text)
                assert setting is not None and setting.type is not None, k.text
                self.expect(v, setting.type, ctx, f"`{k.text}`", secret_ok=False)
        if "target" not in keys:
            self.diags.error(
                E_MISSING_ATTR,
                f"port `{name.text}` has no `target`",
                name.span,
                "the container port is missing",
                help='like `{ target: 53, published: 53, protocol: "udp" }`',
            )

    def _check_setting(
        self, key: ast.Key, value: ast.Expr, ctx: _Ctx, known: tuple[str, ...], what: str
    ) -> None:
        """A setting of a closed block, typed by its row in the vocabulary."""
        k = key.text
        if not self._known(k, key.span, known, f"{what} setting"):
            return
        block = V.SERVICE["resources" if what == "resource" else "security"]
        setting = block.setting(k)
        assert setting is not None and setting.type is not None, k
        t = self.expect(value, setting.type, ctx, f"`{k}`", secret_ok=False)
        if setting.extra == "cpu_quantity":
            if t is not None and isinstance(value, ast.StringLit) and value.is_plain:
                if not _is_cpu_quantity(value.plain):
                    self.diags.error(
                        E_LITERAL,
                        f"`{value.plain}` is not a CPU amount",
                        value.span,
                        'like "500m" (half a core) or "2"',
                    )

    def _check_security_reason(self, entry: ast.Attr | ast.Block) -> None:
        """Loosening a secure default must say why, in the source, next to it."""
        keys: dict[str, ast.Attr | ast.Block | ast.MapEntry]
        if isinstance(entry, ast.Block):
            keys = {
                e.key.text: e
                for e in iter_entries(entry.body)
                if isinstance(e, ast.Attr | ast.Block)
            }
        elif isinstance(entry.value, ast.MapExpr):
            keys = {e.key.text: e for e in entry.value.entries}
        else:
            return
        relaxed = [k for k in SECURITY_RELAXING if k in keys]
        if relaxed and "reason" not in keys:
            self.diags.error(
                E_MISSING_ATTR,
                "relaxing a secure default needs a `reason`",
                keys[relaxed[0]].key.span,
                "relaxed here",
                help='add `reason = "why this image needs it"` to the security block',
            )

    def _check_healthcheck_item(self, key: ast.Key, value: ast.Expr, ctx: _Ctx) -> None:
        k = key.text
        if not self._known(k, key.span, HEALTHCHECK_KEYS, "healthcheck setting"):
            return
        setting = V.SERVICE["healthcheck"].setting(k)
        assert setting is not None, k
        if setting.type is None:  # the command: a rule of its own
            self._check_command(value, ctx, "a healthcheck command")
        else:
            self.expect(value, setting.type, ctx, f"`{k}`", secret_ok=False)

    def _check_network_mode(self, entry: ast.Attr, ctx: _Ctx) -> None:
        """`"host"` only (the others are not expressible yet), and, as every loosening of
        isolation, with a `reason` in the security block."""
        value = entry.value
        text = value.plain if isinstance(value, ast.StringLit) and value.is_plain else None
        if text is not None and text.startswith("service:"):
            other = text.removeprefix("service:")
            own = ctx.service.name if ctx.service else None
            if other not in self.program.services or other == own:
                self.diags.error(
                    E_UNKNOWN_SERVICE,
                    f"`{other}` is not another service of the project",
                    value.span,
                    "whose network namespace?",
                    help=did_you_mean(other, [n for n in self.program.services if n != own]),
                )
            return  # sharing a service's namespace loosens nothing: no reason needed
        if text is not None and text != "host":
            self.diags.error(
                E_VALUE,
                f"network mode `{text}` is not supported",
                value.span,
                '"host" or "service:NAME"',
                help="a service shares the project network by default; `none` cannot be "
                "expressed yet",
            )
            return
        body = ctx.service.body if ctx.service else ctx.template.decl.body  # type: ignore[union-attr]
        if "reason" not in {k.text for k in static_keys(body, "security")}:
            self.diags.error(
                E_MISSING_ATTR,
                "the host's network needs a `reason`",
                entry.key.span,
                "leaves the project network here",
                help='add `security { reason = "why it needs the host network" }` '
                "(it sees every interface of the host and binds its ports directly)",
            )

    def _check_literal_rule(self, value: ast.Expr, rule: Callable[[str], str | None]) -> None:
        """A rule over a plain literal (an address, a signal); computed values pass here and
        are the backends' to refuse."""
        text: str | None = None
        if isinstance(value, ast.StringLit) and value.is_plain:
            text = value.plain
        elif isinstance(value, ast.IntLit):
            text = str(value.value)
        problem = rule(text) if text is not None else None
        if problem:
            self.diags.error(E_LITERAL, f"`{text}` {problem[0]}", value.span, problem[1])

    def _check_command(self, value: ast.Expr, ctx: _Ctx, what: str) -> None:
        """A command line: a list of words (numbers allowed), or a string split into words the
        way a shell would split it (no shell runs it: write ["sh", "-c", "..."] for that)."""
        items = value.items if isinstance(value, ast.ListExpr) else None
        if items is None:
            t = self.type_of(value, ctx)
            self._no_secret(t, value, what)
            if t.kind == "list" and t.args and T.is_stringy(t.args[0]):
                return
            if not T.is_stringy(t):
                self._mismatch(value, "a string or a list of strings", t)
            return
        for item in items:
            if item.condition is not None:
                self.expect(item.condition, T.BOOL, ctx, "a list condition", secret_ok=False)
            t = self.type_of(item.value, ctx)
            if t.secret:
                self._leak(item.value, what)
            elif not T.is_stringy(t):
                self._mismatch(item.value, "a string (one word of the command)", t)

    def _check_label_key(self, key: ast.Key) -> None:
        """A project's label may not replace a key mora (or checkov) reads: never an override."""
        why = reserved_label(key.text)
        if why:
            self.diags.error(
                E_RESERVED_LABEL,
                f"label `{key.text}` is reserved",
                key.span,
                why,
                help="mora writes this key itself; name the label under your own prefix, "
                f'like "org.example/{re.split("[/.]", key.text)[-1]}"',
            )

    def _check_container_path(self, key: ast.Key) -> None:
        if not key.text.startswith("/"):
            self.diags.error(
                E_VALUE,
                f"`{key.text}` is not an absolute path in the container",
                key.span,
                "must start with `/`",
                help=f'write "/{key.text}"' if key.text else None,
            )
        elif path_problem(key.text):
            self.diags.error(
                E_PATH,
                f"`{key.text}` has a `..` segment",
                key.span,
                "`..` is not allowed in a container path",
                help=f'write the path it means, like "{normal_path(key.text)}"',
            )

    def _same_path(self, key: ast.Key, paths: dict[str, ast.Key]) -> None:
        """`/data` and `/data/` (or `/./data`) are one place: mounted twice is a mistake."""
        normal = normal_path(key.text)
        first = paths.setdefault(normal, key)
        if first is not key and first.text != key.text:
            self.diags.error(
                E_DUPLICATE,
                f"`{key.text}` is the same path as `{first.text}`",
                key.span,
                f"also `{normal}`",
                labels=[Label(first.span, "first here")],
            )

    def _check_device(self, path: str, span: Span) -> None:
        """A device is a node under /dev: anything else would be a host mount without a reason."""
        problem = path_problem(path)
        if problem and path.startswith("/"):
            self.diags.error(E_PATH, f"device `{path}`: {problem}", span, "here")
        elif path.startswith("/") and not normal_path(path).startswith("/dev/"):
            self.diags.error(
                E_HOST_MOUNT,
                f"device `{path}` is not under /dev",
                span,
                "not a device",
                help="`devices` passes device nodes like /dev/dri; mount directories with `bind()`",
            )

    def _check_bind(self, call: ast.Call, bound: dict[str, ast.Arg]) -> None:
        """A literal host path: no `..`, and a system directory only with a `reason`."""
        path = bound.get("path")
        if path is None or not isinstance(path.value, ast.StringLit) or not path.value.is_plain:
            return  # computed: the evaluator checks the value
        text = path.value.plain
        if not text.startswith("/"):
            return  # E0308 already
        if path_problem(text):
            self.diags.error(
                E_PATH,
                f"host path `{text}` has a `..` segment",
                path.value.span,
                "`..` is not allowed in a host path",
                help=f'write the directory it means, like "{normal_path(text)}"',
            )
            return
        ro_arg = bound.get("readonly")
        readonly: bool | None = False
        if ro_arg is not None:
            readonly = ro_arg.value.value if isinstance(ro_arg.value, ast.BoolLit) else None
        exposed = system_dir(text, readonly=bool(readonly))
        if exposed is None or (readonly is None and system_dir(text, readonly=True) is None):
            return  # ordinary, or decided by a readonly computed at compile time
        reason = bound.get("reason")
        blank = (
            reason is not None
            and isinstance(reason.value, ast.StringLit)
            and reason.value.is_plain
            and not reason.value.plain.strip()
        )
        if reason is not None and not blank:
            return
        self.diags.error(
            E_HOST_MOUNT,
            host_mount_message(text, exposed),
            path.value.span,
            "a system path of the host",
            help=HOST_MOUNT_HELP,
        )

    # --- inputs ----------------------------------------------------------------------------------
    def _check_input(self, inp: InputSym, ctx: _Ctx) -> None:
        seen: dict[str, Span] = {}
        for entry in inp.decl.body.entries:
            if not isinstance(entry, ast.Attr):
                self.diags.error(
                    E_TYPE, "an input takes `after`, `prompt` and `description`", entry.span, "here"
                )
                continue
            k = entry.key.text
            if not self._known(k, entry.key.span, INPUT_ATTRS, "input setting"):
                continue
            if k in seen:
                self.diags.error(
                    E_DUPLICATE,
                    f"`{k}` is set more than once",
                    entry.key.span,
                    "set again here",
                    labels=[Label(seen[k], "first set here")],
                )
                continue
            seen[k] = entry.key.span
            if k == "after":
                value = entry.value
                if isinstance(value, ast.ListExpr):
                    self.expect(value, T.list_of(T.SERVICE), ctx, "`after`", secret_ok=False)
                elif isinstance(value, ast.StringLit) and value.is_plain:
                    self._expect_items(
                        ast.ListExpr((ast.ListItem(value, None, value.span),), value.span),
                        T.list_of(T.SERVICE),
                        ctx,
                        "`after`",
                        False,
                        None,
                    )
                else:
                    t = self.type_of(value, ctx)
                    if not (T.assignable(t, T.SERVICE) or T.assignable(t, T.list_of(T.SERVICE))):
                        self._mismatch(value, "a service or a list of services", t)
            elif k != "from":  # `from`: checked with the steps (mora/steps/check.py)
                self.expect(entry.value, T.STRING, ctx, f"`{k}`", secret_ok=False)
        if "prompt" not in seen and "from" not in seen:
            self.diags.error(
                E_MISSING_ATTR,
                f"input `{inp.decl.name.text}` has no `prompt`",
                inp.decl.name.span,
                "the person answering needs to know what to do",
                help='add `prompt = "Open ${svc.url}/settings, create an API key, paste it here"`',
            )

    # --- expressions -----------------------------------------------------------------------------
    def expect(
        self,
        expr: ast.Expr,
        expected: T.Type,
        ctx: _Ctx,
        what: str,
        secret_ok: bool,
        declared: Span | None = None,
    ) -> T.Type | None:
        """Check `expr` against `expected`; returns its type, or None after reporting."""
        if isinstance(expr, ast.ListExpr) and expected.kind == "list" and expected.args:
            return self._expect_items(expr, expected, ctx, what, secret_ok, declared)
        t = self.type_of(expr, ctx, expected)
        if t.kind == "any":
            return t
        if not secret_ok and t.secret:
            self._leak(expr, what)
            return None
        if not T.assignable(t, expected) and not self._literal_fits(expr, expected):
            labels = [Label(declared, "expected because of this")] if declared else []
            self._mismatch(expr, f"`{expected.public()}`", t, labels=labels)
            return None
        self._check_literal_value(expr, expected)
        return t

    def _expect_items(
        self,
        expr: ast.ListExpr,
        expected: T.Type,
        ctx: _Ctx,
        what: str,
        secret_ok: bool,
        declared: Span | None,
    ) -> T.Type | None:
        """A list literal against `list(T)`: every item on its own, so one bad item is named."""
        elem = expected.args[0]
        ok = True
        secret = False
        found: list[T.Type] = []
        for item in expr.items:
            if item.condition is not None:
                self.expect(item.condition, T.BOOL, ctx, "a list condition", secret_ok=False)
            if (
                isinstance(item.value, ast.StringLit)
                and item.value.is_plain
                and elem.kind == "service"
            ):
                name = item.value.plain
                self.diags.error(
                    E_TYPE,
                    f'type mismatch: expected a service, found the string "{name}"',
                    item.value.span,
                    "this is `string`",
                    help=f"refer to the service by name, without quotes: `{name}`"
                    if name in self.program.services
                    else did_you_mean(name, self.program.services),
                )
                ok = False
                continue
            t = self.expect(item.value, elem, ctx, what, secret_ok, declared)
            ok = ok and t is not None
            secret = secret or bool(t and t.secret)
            if t is not None:
                found.append(t)
        if not ok:
            return None
        # What the items are (e.g. maps passed where any value is allowed), not just what fits.
        actual = _unify(found) if found and elem.kind == "any" else elem
        return T.list_of(actual).tainted(secret)

    def _literal_fits(self, expr: ast.Expr, expected: T.Type) -> bool:
        """String literals stand for paths, e-mails, enums...; their format is checked apart."""
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            return expected.kind in ("path", "email", "hostname", "url", "enum", "size", "duration")
        if isinstance(expr, ast.IntLit):
            return expected.kind == "port"
        return False

    def _check_literal_value(self, expr: ast.Expr, expected: T.Type) -> None:
        value: object
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            value = expr.plain
        elif isinstance(expr, ast.IntLit):
            value = expr.value
        else:
            return
        if expected.kind == "enum":
            if value not in expected.values:
                self.diags.error(
                    E_VALUE,
                    f"`{value}` is not one of " + ", ".join(f"`{v}`" for v in expected.values),
                    expr.span,
                    "not an allowed value",
                    help=did_you_mean(str(value), expected.values),
                )
            return
        problem = T.check_literal(expected.kind, value)
        if problem:
            code = E_PORT if expected.kind == "port" else E_LITERAL
            self.diags.error(code, problem, expr.span, f"not a valid {expected.kind}")

    def type_of(self, expr: ast.Expr, ctx: _Ctx, hint: T.Type | None = None) -> T.Type:
        if isinstance(expr, ast.StringLit):
            secret = False
            first: T.Type | None = None
            for i, part in enumerate(expr.parts):
                if isinstance(part, str):
                    continue
                t = self.type_of(part, ctx)
                if i == 0:
                    first = t
                secret = secret or t.secret
                if not T.is_stringy(t):
                    self._mismatch(part, "something that reads as text", t)
            return _interpolated_type(expr, first).tainted(secret)
        if isinstance(expr, ast.IntLit):
            return T.INT
        if isinstance(expr, ast.BoolLit):
            return T.BOOL
        if isinstance(expr, ast.UnitLit):
            seconds = T.parse_duration(expr.text)
            if seconds is not None:
                if seconds > T.MAX_DURATION_SECONDS:
                    self.diags.error(
                        E_LITERAL,
                        f"`{expr.text}` is too long a duration",
                        expr.span,
                        f"at most {T.MAX_DURATION_SECONDS // 86400} days",
                    )
                    return T.ANY
                return T.DURATION
            if T.parse_size(expr.text) is not None:
                return T.SIZE
            self.diags.error(
                E_LITERAL,
                f"`{expr.text}` is neither a size nor a duration",
                expr.span,
                "unknown unit",
                help="sizes: Ki Mi Gi Ti (or k M G T), like `10Gi`; durations: ms s m h d, like `30s`",
            )
            return T.ANY
        if isinstance(expr, ast.ListExpr):
            elem_hint = hint.args[0] if hint and hint.kind == "list" and hint.args else None
            types = []
            for item in expr.items:
                types.append(self.type_of(item.value, ctx, elem_hint))
                if item.condition is not None:
                    self.expect(item.condition, T.BOOL, ctx, "a list condition", secret_ok=False)
            elem = _unify(types)
            return T.list_of(elem).tainted(any(t.secret for t in types))
        if isinstance(expr, ast.MapExpr):
            types = []
            seen: dict[str, Span] = {}
            for e in expr.entries:
                if e.key.text in seen:
                    self.diags.error(
                        E_DUPLICATE,
                        f"key `{e.key.text}` appears twice",
                        e.key.span,
                        "again here",
                        labels=[Label(seen[e.key.text], "first here")],
                    )
                seen[e.key.text] = e.key.span
                types.append(self.type_of(e.value, ctx))
            return T.map_of(_unify(types)).tainted(any(t.secret for t in types))
        if isinstance(expr, ast.Ref):
            return self._type_of_ref(expr, ctx)
        if isinstance(expr, ast.Call):
            return self._type_of_call(expr, ctx)
        if isinstance(expr, ast.Unary):
            self.expect(expr.operand, T.BOOL, ctx, "`!`", secret_ok=False)
            return T.BOOL
        if isinstance(expr, ast.Binary):
            if expr.op in ("&&", "||"):
                self.expect(expr.left, T.BOOL, ctx, f"`{expr.op}`", secret_ok=False)
                self.expect(expr.right, T.BOOL, ctx, f"`{expr.op}`", secret_ok=False)
                return T.BOOL
            left = self.type_of(expr.left, ctx)
            right = self.type_of(expr.right, ctx)
            if left.kind == "enum":
                self._check_literal_value(expr.right, left)
            if right.kind == "enum":
                self._check_literal_value(expr.left, right)
            if left.secret or right.secret:
                self._leak(expr, "a comparison")
            elif not (T.assignable(left, right) or T.assignable(right, left)):
                if not (
                    self._literal_fits(expr.right, left) or self._literal_fits(expr.left, right)
                ):
                    self.diags.error(
                        E_TYPE,
                        f"cannot compare `{left}` with `{right}`",
                        expr.span,
                        "these never compare equal",
                    )
            return T.BOOL
        return T.ANY

    def _type_of_ref(self, ref: ast.Ref, ctx: _Ctx) -> T.Type:
        p = self.program
        head = ref.parts[0].text
        rest = ref.parts[1:]

        def need_member(kind: str) -> bool:
            if not rest:
                self.diags.error(
                    E_BAD_REF,
                    f"`{head}` needs a name after it",
                    ref.span,
                    f"like `{head}.NAME`",
                )
                return False
            return True

        if head == "param":
            if not need_member("param"):
                return T.ANY
            name = rest[0]
            sym = p.params.get(name.text)
            if sym is None:
                return self._unknown(E_UNKNOWN_PARAM, "param", name, p.params)
            self.used.add(("param", name.text))
            return self._no_more(ref, 2, sym.type)
        if head == "secret":
            if not need_member("secret"):
                return T.ANY
            name = rest[0]
            ssym = self._local(ctx, "secrets", name.text) or p.secrets.get(name.text)
            if ssym is None:
                return self._unknown(E_UNKNOWN_SECRET, "secret", name, p.secrets)
            self.used.add(("secret", name.text))
            if ssym.decl.value is not None and ssym.generator is None:
                self._check_secret_early(ssym)
            if len(rest) == 1:
                if len(ssym.parts) > 1:
                    self.diags.error(
                        E_BAD_REF,
                        f"secret `{name.text}` has several parts; pick one",
                        ref.span,
                        "which part?",
                        help="parts: " + ", ".join(f"`secret.{name.text}.{x}`" for x in ssym.parts),
                    )
                    return T.ANY
                return T.SECRET_STRING
            part = rest[1]
            if part.text not in ssym.parts:
                self.diags.error(
                    E_BAD_REF,
                    f"secret `{name.text}` has no part `{part.text}`",
                    part.span,
                    "unknown part",
                    help=did_you_mean(part.text, ssym.parts) or "parts: " + ", ".join(ssym.parts),
                )
                return T.ANY
            t = T.STRING if part.text in ssym.public_parts else T.SECRET_STRING
            return self._no_more(ref, 3, t)
        if head == "input":
            if not need_member("input"):
                return T.ANY
            name = rest[0]
            isym = self._local(ctx, "inputs", name.text) or p.inputs.get(name.text)
            if isym is None:
                return self._unknown(E_UNKNOWN_INPUT, "input", name, p.inputs)
            self.used.add(("input", name.text))
            return self._no_more(ref, 2, isym.type)
        if head == "site":
            if not need_member("site"):
                return T.ANY
            if rest[0].text != "domain":
                self.diags.error(
                    E_BAD_REF,
                    f"unknown site value `{rest[0].text}`",
                    rest[0].span,
                    "the site provides `site.domain`",
                    help="other site values are params: declare `param NAME: TYPE`",
                )
                return T.ANY
            return self._no_more(ref, 2, T.HOSTNAME)
        if head == "args":
            if ctx.template is None:
                self.diags.error(
                    E_BAD_REF, "`args` is only defined inside a template", ref.span, "not here"
                )
                return T.ANY
            if not need_member("args"):
                return T.ANY
            name = rest[0]
            entry = ctx.template.params.get(name.text)
            if entry is None:
                params = list(ctx.template.params)
                return self._unknown(
                    E_UNKNOWN_NAME,
                    "template parameter",
                    name,
                    params,
                    where="not a parameter of this template",
                    listing="its parameters: " + ", ".join(params) if params else "it has none",
                )
            if entry[0].kind == "service" and len(rest) > 1:
                return self._any_service_field(ref, rest[1:])
            return self._no_more(ref, 2, entry[0].tainted(_holds_secret(entry[0])))
        if head == "self":
            body = (
                ctx.service.body
                if ctx.service
                else ctx.template.decl.body
                if ctx.template
                else None
            )
            if body is None:
                self.diags.error(
                    E_BAD_REF, "`self` is only defined inside a service", ref.span, "not here"
                )
                return T.ANY
            if not rest:
                return T.SERVICE
            return self._service_field(ref, rest, body, "self")
        svc = p.services.get(head)
        if svc is not None:
            if not rest:
                return T.SERVICE
            return self._service_field(ref, rest, svc.body, head)
        if ("service", head) in self.broken or ("template", head) in self.broken:
            return T.ANY
        candidates = [*p.services, "param", "secret", "input", "site"]
        if ctx.template is not None:
            candidates += ["args", "self"]
        self.diags.error(
            E_UNKNOWN_SERVICE if not rest or rest[0].text in SERVICE_FIELDS else E_UNKNOWN_NAME,
            f"unknown service `{head}`"
            if not rest or rest[0].text in SERVICE_FIELDS
            else f"unknown name `{head}`",
            ref.parts[0].span,
            "not defined in this project",
            help=_kind_hint(head, p) or did_you_mean(head, candidates),
        )
        return T.ANY

    def _local(self, ctx: _Ctx, table: str, name: str) -> Any:
        """A template's own secret or input, when checking inside that template."""
        if ctx.template is None:
            return None
        found = getattr(ctx.template, table).get(name)
        if found is not None:
            self.used.add((table[:-1], f"{ctx.template.decl.name.text}.{name}"))
        return found

    def _check_secret_early(self, sym: SecretSym) -> None:
        """A secret referenced before its own check ran: resolve its parts first."""
        value = sym.decl.value
        if isinstance(value, ast.Call):
            gen = self.generators().get(value.func.dotted)
            if gen is not None:
                if sym.instance is not None:
                    sym.generator = value.func.dotted
                sym.parts = tuple(gen.parts)  # type: ignore[attr-defined]
                sym.public_parts = frozenset(gen.public_parts)  # type: ignore[attr-defined]

    def _any_service_field(self, ref: ast.Ref, rest: tuple[ast.Name, ...]) -> T.Type:
        """A field of a service passed to a template: which service is known per instance only,
        so the field name is checked here and its presence when the instance is evaluated."""
        field_ = rest[0]
        if not self._known(field_.text, field_.span, SERVICE_FIELDS, "service field", E_BAD_REF):
            return T.ANY
        if field_.text == "ports":
            if len(rest) != 2:
                self.diags.error(E_BAD_REF, "name the port", ref.span, "like `.ports.http`")
                return T.ANY
            return T.PORT
        if len(rest) > 1:
            return self._no_more(ref, len(ref.parts) - len(rest) + 1, T.ANY)
        return {
            "name": T.STRING,
            "host": T.HOSTNAME,
            "url": T.URL,
            "internal_host": T.HOSTNAME,
            "internal_url": T.URL,
        }[field_.text]

    def _service_field(
        self, ref: ast.Ref, rest: tuple[ast.Name, ...], body: ast.Body, owner: str
    ) -> T.Type:
        field_ = rest[0]
        if not self._known(field_.text, field_.span, SERVICE_FIELDS, "service field", E_BAD_REF):
            return T.ANY
        if field_.text in ("url", "host") and not has_attr(body, "subdomain"):
            self.diags.error(
                E_BAD_REF,
                f"`{owner}` has no subdomain, so it has no `{field_.text}`",
                ref.span,
                "not reachable from outside",
                help=f"use `{owner}.internal_url` inside the project, or give it a `subdomain`",
            )
            return T.ANY
        if field_.text == "ports":
            names = [k.text for k in static_keys(body, "ports")]
            if len(rest) != 2:
                self.diags.error(
                    E_BAD_REF,
                    "name the port",
                    ref.span,
                    f"like `{owner}.ports.{names[0] if names else 'http'}`",
                )
                return T.ANY
            if rest[1].text not in names:
                self.diags.error(
                    E_BAD_REF,
                    f"`{owner}` has no port `{rest[1].text}`",
                    rest[1].span,
                    "unknown port",
                    help=did_you_mean(rest[1].text, names)
                    or ("its ports: " + ", ".join(names) if names else "it declares no ports"),
                )
                return T.ANY
            return T.PORT
        if field_.text == "internal_url" and not static_keys(body, "ports"):
            self.diags.error(
                E_BAD_REF,
                f"`{owner}` has no ports, so it has no `internal_url`",
                ref.span,
                "nothing to connect to",
            )
            return T.ANY
        result = {
            "name": T.STRING,
            "host": T.HOSTNAME,
            "url": T.URL,
            "internal_host": T.HOSTNAME,
            "internal_url": T.URL,
        }
        return self._no_more(ref, 2, result[field_.text])

    def _no_more(self, ref: ast.Ref, length: int, t: T.Type) -> T.Type:
        if len(ref.parts) > length:
            extra = ref.parts[length]
            self.diags.error(
                E_BAD_REF,
                f"`{'.'.join(p.text for p in ref.parts[:length])}` has no field `{extra.text}`",
                extra.span,
                "nothing to look up here",
            )
            return T.ANY
        return t

    def _unknown(
        self,
        code: str,
        kind: str,
        name: ast.Name,
        known: Iterable[str],
        where: str = "not defined in this project",
        listing: str | None = None,
    ) -> T.Type:
        if (kind, name.text) in self.broken:
            return T.ANY  # its declaration has a syntax error, reported already
        self.diags.error(
            code,
            f"unknown {kind} `{name.text}`",
            name.span,
            where,
            help=did_you_mean(name.text, known) or listing,
        )
        return T.ANY

    def _type_of_call(self, call: ast.Call, ctx: _Ctx) -> T.Type:
        fname = call.func.dotted
        fn = FUNCTIONS.get(fname)
        if fn is None:
            if fname in self.generators():
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"`{fname}()` generates a secret; declare it",
                    call.span,
                    "generators belong in a `secret` declaration",
                    help=f"write `secret NAME = {call.span.text()}` and use `secret.NAME` here",
                )
            elif fname in self.program.templates:
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"`{fname}` is a template; instantiate it as a service",
                    call.span,
                    "not a value",
                    help=f"write `service NAME = {call.span.text()}`",
                )
            else:
                self.diags.error(
                    E_UNKNOWN_FUNCTION,
                    f"unknown function `{fname}`",
                    call.func.span,
                    "not a function",
                    help=did_you_mean(fname, FUNCTIONS)
                    or "functions: " + ", ".join(sorted(FUNCTIONS)),
                )
            for arg in call.args:
                self.type_of(arg.value, ctx)
            return T.ANY
        params = [_ParamView(p.name, p.type, p.required, p.positional) for p in fn.params]
        bound = self._bind_args(call, params, f"`{fname}()`")
        if fn.returns.kind == "file":
            for arg in bound.values():
                self._check_renderable(arg.value, fname)
        if fname == "bind":
            self._check_bind(call, bound)
        if fname == "volume":
            check_routes.check_volume_call(self, call)
        if fname == "tmpfs" and "mode" in bound:
            self._check_literal_rule(bound["mode"].value, _mode_problem)
        secret = False
        for pname, arg in bound.items():
            param = next(p for p in fn.params if p.name == pname)
            t = self.expect(arg.value, param.type, ctx, f"argument `{pname}`", param.secret_ok)
            secret = secret or bool(t and t.secret)
            if fname == "join" and pname == "items" and t is not None and t.args:
                if not T.is_stringy(t.args[0]):
                    self._mismatch(arg.value, "a list of strings, numbers or booleans", t)
        return fn.returns.tainted(secret and fn.taints)

    def _check_renderable(self, expr: ast.Expr, fname: str) -> None:
        """Config files hold data: a mount or another file inside yaml()/json()... is a mistake."""
        for node in _walk(expr):
            if isinstance(node, ast.Call) and node.func.dotted in FUNCTIONS:
                inner = FUNCTIONS[node.func.dotted].returns.kind
                if inner in ("mount", "file"):
                    what = "a volume" if inner == "mount" else "a file"
                    self.diags.error(
                        E_TYPE,
                        f"{what} cannot be written into a {fname} file",
                        node.span,
                        "not data",
                        help=f"`{fname}()` takes strings, numbers, booleans, lists and maps",
                    )

    def _bind_args(self, call: ast.Call, params: list[_ParamView], what: str) -> dict[str, ast.Arg]:
        """Match positional and named arguments to parameters, reporting every mismatch."""
        bound: dict[str, ast.Arg] = {}
        misspelled: set[str] = set()  # parameters an unknown name was probably meant for
        names = [p.name for p in params]
        positional = True
        for i, arg in enumerate(call.args):
            if arg.name is None:
                if not positional:
                    self.diags.error(
                        E_ARGS,
                        "positional argument after a named one",
                        arg.span,
                        "name this argument",
                        help=f"{what} takes: " + ", ".join(names),
                    )
                    continue
                if i >= (npos := sum(p.positional for p in params)):
                    self.diags.error(
                        E_ARGS,
                        f"{what} takes at most {npos} argument{'s' if npos != 1 else ''}",
                        arg.span,
                        "one too many",
                    )
                    self.type_of(arg.value, _Ctx())
                    continue
                bound[params[i].name] = arg
                continue
            positional = False
            pname = arg.name.text
            if pname not in names:
                guess = closest(pname, [n for n in names if n not in bound])
                if guess is not None:
                    misspelled.add(guess)
                self.diags.error(
                    E_ARGS,
                    f"{what} has no parameter `{pname}`",
                    arg.name.span,
                    "unknown parameter",
                    help=f"did you mean `{guess}`?"
                    if guess
                    else (f"{what} takes: " + ", ".join(names) if names else f"{what} takes none"),
                )
                self.type_of(arg.value, _Ctx())
                continue
            if pname in bound:
                self.diags.error(
                    E_ARGS,
                    f"`{pname}` is given twice",
                    arg.span,
                    "given again here",
                    labels=[Label(bound[pname].span, "first given here")],
                )
                continue
            bound[pname] = arg
        missing = [
            p.name
            for p in params
            if p.required and p.name not in bound and p.name not in misspelled
        ]
        if missing:
            self.diags.error(
                E_ARGS,
                f"{what} is missing " + ", ".join(f"`{m}`" for m in missing),
                call.span,
                "required argument" + ("s" if len(missing) > 1 else "") + " missing",
            )
        return bound

    # --- reporting helpers -----------------------------------------------------------------------
    def _mismatch(
        self, expr: ast.Expr, expected: str, found: T.Type, labels: Iterable[Label] = ()
    ) -> None:
        self.diags.error(
            E_TYPE,
            f"type mismatch: expected {expected}, found `{found.public()}`",
            expr.span,
            f"this is `{found.public()}`",
            labels=labels,
        )

    def _no_secret(self, t: T.Type, expr: ast.Expr, what: str) -> None:
        if t.secret:
            self._leak(expr, what)

    def _leak(self, expr: ast.Expr, what: str) -> None:
        names = secret_names_in(expr)
        self.diags.error(
            E_SECRET_LEAK,
            f"secret value in {what}",
            expr.span,
            "contains " + ", ".join(f"`{n}`" for n in names) if names else "this is secret",
            help=_LEAK_HELP,
        )

    # --- graph rules -----------------------------------------------------------------------------

    def _report_unused(self) -> None:
        if self.broken or any(d.code.startswith("E000") for d in self.diags):
            return  # uses may sit in text a syntax error dropped: no false "never used"
        p = self.program
        for name, sym in p.params.items():
            if ("param", name) not in self.used:
                self.diags.warning(
                    W_UNUSED_PARAM,
                    f"param `{name}` is never used",
                    sym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `param." + name + "`",
                )
        derived_sources = {
            r.parts[1].text
            for s in p.secrets.values()
            if isinstance(s.decl.value, ast.Call)
            for a in s.decl.value.args
            for r in _refs_in(a.value, {})
            if r.parts[0].text == "secret" and len(r.parts) > 1
        }
        for name, ssym in p.secrets.items():
            if ssym.instance is not None:
                continue  # a template's secret: part of what the template sets up
            if ("secret", name) not in self.used and name not in derived_sources:
                self.diags.warning(
                    W_UNUSED_SECRET,
                    f"secret `{name}` is never used",
                    ssym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `secret." + name + "`",
                )
        for name, isym in p.inputs.items():
            if isym.instance:
                continue
            if ("input", name) not in self.used:
                self.diags.warning(
                    W_UNUSED_INPUT,
                    f"input `{name}` is never used",
                    isym.decl.name.span,
                    "declared here",
                    help="remove it, or use it as `input." + name + "`",
                )


def _interpolated_type(expr: ast.StringLit, first: T.Type | None) -> T.Type:
    """`"${param.root}/movies"` is a path and `"https://${x.host}/api"` a URL: an interpolated
    string keeps the kind its beginning gives it (a plain string is checked as a literal)."""
    if expr.is_plain:
        return T.STRING
    head = expr.parts[0]
    if isinstance(head, str):
        if head.startswith("/"):
            return T.PATH
        if re.match(r"[a-z][a-z0-9+.-]*://", head):
            return T.URL
        return T.STRING
    if first is not None and first.kind in ("path", "url"):
        return T.Type(first.kind)
    return T.STRING


def _holds_secret(t: T.Type) -> bool:
    """`secret`, `list(secret)`, `map(secret)`...: a parameter declared to carry secrets."""
    return t.secret or any(_holds_secret(a) for a in t.args)


def _kind_hint(name: str, p: Program) -> str | None:
    """`timezone` where `param.timezone` was meant: say which kind of thing it is."""
    for kind, table in (("param", p.params), ("secret", p.secrets), ("input", p.inputs)):
        if name in table:
            return f"`{name}` is a {kind}: write `{kind}.{name}`"
    return None


def _walk(expr: ast.Expr) -> Iterator[ast.Expr]:
    """The expression and every expression inside it (not into interpolated strings' text)."""
    yield expr
    if isinstance(expr, ast.ListExpr):
        for item in expr.items:
            yield from _walk(item.value)
    elif isinstance(expr, ast.MapExpr):
        for e in expr.entries:
            yield from _walk(e.value)
    elif isinstance(expr, ast.Call):
        for a in expr.args:
            yield from _walk(a.value)


def _literal_value(expr: ast.Expr) -> object | None:
    """The Python value of a literal expression, or None when it is not a plain literal."""
    if isinstance(expr, ast.IntLit | ast.BoolLit):
        return expr.value
    if isinstance(expr, ast.StringLit) and expr.is_plain:
        return expr.plain
    if isinstance(expr, ast.ListExpr) and all(i.condition is None for i in expr.items):
        items = [_literal_value(i.value) for i in expr.items]
        return None if any(i is None for i in items) else items
    return None


def _generator_param_type(text: str) -> T.Type:
    return {
        "int": T.INT,
        "string": T.STRING,
        "bool": T.BOOL,
        "list(string)": T.list_of(T.STRING),
        "secret": T.SECRET_STRING,
    }.get(text, T.ANY)


def _unify(types: list[T.Type]) -> T.Type:
    kinds = {t.public() for t in types if t.kind != "any"}
    if not kinds:
        return T.ANY
    if len(kinds) == 1:
        return next(iter(kinds))
    if all(T.assignable(k, T.STRING) for k in kinds):
        return T.STRING
    if all(T.assignable(k, T.INT) for k in kinds):
        return T.INT
    return T.ANY


def _is_cpu_quantity(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"[0-9]+(\.[0-9]+)?m?", text)) and text not in ("0", "0m")


def _is_env_name(text: str) -> bool:
    return bool(text) and not text[0].isdigit() and all(c.isalnum() or c == "_" for c in text)


def _is_port_name(text: str) -> bool:
    return (
        0 < len(text) <= 15
        and text[0].isalpha()
        and all(c.islower() or c.isdigit() or c == "-" for c in text)
    )


def _name_from_path(path: Path) -> str:
    name = "".join(c if c.isalnum() else "-" for c in path.name.lower()).strip("-")
    return name or "project"


def check(loaded: LoadedProject, diags: Diagnostics) -> Program:
    """Check a loaded project; problems go to `diags`."""
    return Checker(loaded, diags).run()


_SYSCTL = re.compile(r"[a-z0-9_]+(\.[a-z0-9_*-]+)+")
# A host name /etc/hosts can hold (letter case allowed there).
_HOST = re.compile(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
_SIGNAL = re.compile(r"(SIG)?[A-Z][A-Z0-9]*(\+[0-9]+)?|[0-9]+")


def _ip_problem(text: str) -> tuple[str, str] | None:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return ("is not an IP address", 'like "192.168.1.10" or "fd00::1"')
    return None


def _signal_problem(text: str) -> tuple[str, str] | None:
    if _SIGNAL.fullmatch(text):
        return None
    return ("is not a signal", 'like "SIGQUIT", "SIGINT" or "SIGRTMIN+3"')


def _ulimit_problem(text: str) -> tuple[str, str] | None:
    if re.fullmatch(r"-1|[0-9]+(:(-1|[0-9]+))?", text):
        soft, _, hard = text.partition(":")
        if not hard or int(hard) < 0 or int(soft) <= int(hard):
            return None
        return ("has a soft limit above its hard limit", "write SOFT:HARD with SOFT <= HARD")
    return ("is not a ulimit", 'a number, or "SOFT:HARD" like "1024:65536"')


def _mode_problem(text: str) -> tuple[str, str] | None:
    if re.fullmatch(r"0?[0-7]{3}|[0-7]{4}", text):
        return None
    return ("is not a file mode", 'octal, like "1777" (sticky, everyone writes) or "0700"')
