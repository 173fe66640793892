"""Declarations: collect params, secrets, inputs, templates and services into the `Program`.

Duplicates, reserved names, param and input types and template instances are checked here, before
any body is; the tables this fills are what every later pass looks names up in.
"""

from __future__ import annotations

import os

from mora import ast
from mora import types as T
from mora.check.context import (
    TOP_LEVEL,
    CheckState,
    _Ctx,
    _ParamView,
)
from mora.check.expressions import (
    _holds_secret,
)
from mora.check.program import (
    E_DUPLICATE,
    E_PROJECT,
    E_RESERVED,
    E_UNKNOWN_FUNCTION,
    E_UNKNOWN_TYPE,
    PARAM_TYPES,
    RESERVED,
    InputSym,
    ParamSym,
    SecretSym,
    ServiceSym,
    TemplateSym,
)
from mora.diagnostics import Label, did_you_mean

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from typing import Any


def _name_from_path(path: str) -> str:
    name = "".join(c if c.isalnum() else "-" for c in os.path.basename(path).lower()).strip("-")
    return name or "project"


class DeclarationsPass(CheckState):
    """Collects the declarations into the program and types params and template args."""

    def _collect(self) -> None:
        p = self.program
        from mora.contracts.check import collect  # before templates: types may name them
        from mora.contracts.defaults import collect as collect_defaults  # by file

        collect(self)  # type: ignore[arg-type]
        collect_defaults(self)  # type: ignore[arg-type]
        # a `defaults` entry a module import took is used (mora.modules), not W0006
        self.__dict__.setdefault("_defaults_used", set()).update(self.loaded.defaults_used)
        seen: dict[str, tuple[str, ast.Name]] = {}
        project_decl: ast.ProjectDecl | None = None
        from mora.check.bases import resolve  # `template a = b(...)`: built before collecting

        based = resolve(self.loaded.modules, self.diags)
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
                if isinstance(
                    decl,
                    ast.RequireDecl
                    | ast.MovedDecl
                    | ast.ContractDecl
                    | ast.DefaultsDecl
                    | ast.AmendDecl,
                ):
                    continue  # mora.deps (loader), mora.moved and mora.amend check these
                if isinstance(decl, ast.ImportDecl):
                    continue  # an aliased one was resolved by mora.modules when loading
                if isinstance(decl, ast.TemplateBase):
                    if id(decl) not in based:
                        continue  # reported by mora.check.bases
                    decl = based[id(decl)]
                self._declare(decl, seen)
                if isinstance(decl, ast.ServiceDecl) and decl.body and decl.instance is None:
                    for entry in decl.body.entries:
                        if isinstance(entry, ast.InputDecl | ast.SecretDecl):
                            self._declare(entry, seen, service=decl.name.text)
                if isinstance(decl, ast.TemplateDecl) and decl.name.text in p.templates:
                    self._collect_template_locals(p.templates[decl.name.text])
        p.modules = self.loaded.scopes  # aliased imports (mora.modules), for eval and tools
        if project_decl is not None:
            p.name = project_decl.name.text
        else:
            p.name = _name_from_path(self.loaded.root)
        for svc in p.services.values():
            if svc.decl.instance is not None:
                tname = svc.decl.instance.func.dotted
                tmpl = p.templates.get(tname)
                if tmpl is None and ("template", tname) in self.broken:
                    continue  # `alias.template` the module lacks: E0106 already (mora.modules)
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
                help="rename one of them"
                + (  # a second definition is often meant as a change (mora/amend)
                    f", or change the first with `amend {name.text} {{ ... }}` (only what "
                    "differs)"
                    if kind == "service"
                    else ""
                ),
            )
            if isinstance(decl, ast.ServiceDecl) and decl.body and decl.instance is None:
                self._shadowed.append(ServiceSym(decl, decl.body))
            return
        seen[key] = (kind, name)
        if isinstance(decl, ast.ParamDecl):
            from mora.contracts.params import param_decl_type  # also optional(T)

            p.params[name.text] = ParamSym(decl, param_decl_type(self, decl.type))  # type: ignore[arg-type]
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

    def _param_type(self, texpr: ast.TypeExpr, template: bool = False) -> T.Type:
        name = texpr.name.text
        allowed = (*PARAM_TYPES, "secret", "service") if template else PARAM_TYPES
        if template and name not in allowed:
            from mora.contracts.check import type_of_name  # optional(T), a contract

            if (t := type_of_name(self, texpr)) is not None:  # type: ignore[arg-type]
                return t
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

    def _check_instance(self, svc: ServiceSym) -> None:
        call = svc.decl.instance
        assert call is not None
        if svc.template is None:
            for arg in call.args:
                self.type_of(arg.value, _Ctx())
            return
        from mora.contracts.defaults import check_instance, for_instance

        given = for_instance(self.program, svc)  # the file's `defaults` this template takes
        # The views depend on the template and on which parameters the file's defaults give:
        # made once per pair, not once per instance (frozen, so shared; fourteenth round)
        key = (id(svc.template), frozenset(given))
        seen = self._param_views.get(key)
        if seen is None:
            views = [
                _ParamView(n, t, tp.default is None and n not in given)
                for n, (t, tp) in svc.template.params.items()
            ]
            seen = self._param_views[key] = (svc.template, views)
        params = seen[1]
        bound = self._bind_args(call, params, f"template `{svc.template.decl.name.text}`")
        for pname, arg in bound.items():
            ptype, tp = svc.template.params[pname]
            self._expect_param(arg.value, ptype, tp, f"argument `{pname}`")
        if given:
            check_instance(self, svc, bound)  # type: ignore[arg-type]

    def _expect_param(
        self, value: ast.Expr, ptype: T.Type, tp: ast.TemplateParam, what: str
    ) -> None:
        """A value for a template parameter (a default or an argument) against its type."""
        if ptype.kind in ("contract", "optional"):
            from mora.contracts.check import contract_of, expect_arg

            if contract_of(ptype) is not None:  # a provider, a record or `none`
                expect_arg(self, value, ptype, what, tp.type.span)  # type: ignore[arg-type]
                return
        self.expect(
            value, ptype, TOP_LEVEL, what, secret_ok=_holds_secret(ptype), declared=tp.type.span
        )
