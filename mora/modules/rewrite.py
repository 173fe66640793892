"""Aliased modules into one flat program: prefix their declarations, resolve `alias.member`.

Runs once after loading (`mora.loader.load_project`), before the checker, over the trees the
loader read per scope. Every scope (an alias; "" is the project) is handled parents first:
- its declarations get the scope's prefix (`watch` -> `media-watch`), and its own unqualified
  references follow them (inside a module nothing is written differently);
- `param.P` of a param the import passes (or the importing file's `defaults {}` fills) becomes
  the argument's expression, already resolved in the importing file's scope; a param nobody
  passes stays a (prefixed) site param;
- `alias.name...`, `alias.secret.x`, `alias.param.x`, `alias.input.x` and `alias.template(...)`
  in the importing scope become references to the prefixed declarations, or E0106 with the
  names the module does declare.
The project's own declarations keep their names (its prefix is empty), so a project without an
aliased import is never rewritten.
"""

from __future__ import annotations

from typing import Any

from mora import ast
from mora.diagnostics import Diagnostics, Label, did_you_mean
from mora.modules import (
    E_ALIAS,
    E_ARGUMENT,
    E_ARGUMENT_TYPE,
    E_MEMBER,
    Scope,
)
from mora.source import Span

_KINDS = ("param", "secret", "input")


class _Declared:
    """What a scope's files declare, by original name."""

    def __init__(self) -> None:
        self.services: dict[str, ast.Name] = {}
        self.params: dict[str, ast.ParamDecl] = {}
        self.secrets: dict[str, ast.Name] = {}
        self.inputs: dict[str, ast.Name] = {}
        self.templates: dict[str, ast.Name] = {}


def _collect(module: ast.Module, found: _Declared) -> None:
    for decl in module.decls:
        if isinstance(decl, ast.ServiceDecl):
            found.services.setdefault(decl.name.text, decl.name)
            for entry in decl.body.entries if decl.body is not None else ():
                if isinstance(entry, ast.SecretDecl):
                    found.secrets.setdefault(entry.name.text, entry.name)
                elif isinstance(entry, ast.InputDecl):
                    found.inputs.setdefault(entry.name.text, entry.name)
        elif isinstance(decl, ast.ParamDecl):
            found.params.setdefault(decl.name.text, decl)
        elif isinstance(decl, ast.SecretDecl):
            found.secrets.setdefault(decl.name.text, decl.name)
        elif isinstance(decl, ast.InputDecl):
            found.inputs.setdefault(decl.name.text, decl.name)
        elif isinstance(decl, ast.TemplateDecl):
            found.templates.setdefault(decl.name.text, decl.name)


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.start, b.end)


# Which literal a param type takes, coarsely: enough to say "a list where a bool is wanted".
_TYPE_KIND = {"bool": "bool", "int": "number", "port": "number", "list": "list", "map": "map"}
_TEXT_TYPES = ("string", "path", "hostname", "url", "email", "enum", "secret", "cron")


def _param_kind(t: ast.TypeExpr) -> str | None:
    if t.name.text in _TYPE_KIND:
        return _TYPE_KIND[t.name.text]
    return "text" if t.name.text in _TEXT_TYPES else None


def _literal_kind(e: ast.Expr) -> str | None:
    match e:
        case ast.StringLit():
            return "text"
        case ast.BoolLit():
            return "bool"
        case ast.IntLit():
            return "number"
        case ast.ListExpr():
            return "list"
        case ast.MapExpr():
            return "map"
    return None


_KIND_WORDS = {"text": "a string", "bool": "a bool", "number": "a number", "list": "a list"}


class Modules:
    """The rewrite of one loaded project (see the module docstring)."""

    def __init__(self, project: Any, diags: Diagnostics) -> None:
        self.project = project
        self.diags = diags
        self.scopes: dict[str, Scope] = project.scopes
        self.declared: dict[str, _Declared] = {path: _Declared() for path in self.scopes}
        self.files: dict[str, list[int]] = {path: [] for path in self.scopes}
        for i, path in enumerate(project.module_scopes):
            self.files.setdefault(path, []).append(i)
            self.declared.setdefault(path, _Declared())
            _collect(project.modules[i], self.declared[path])
        self.args: dict[str, dict[str, ast.Expr]] = {}  # scope -> given params, as written
        self.resolved: dict[tuple[str, str], ast.Expr] = {}
        # `alias.name` reported as E0106, as (kind, "alias.name"): the checker's `broken` set,
        # so the name is not reported unknown a second time
        self.broken: set[tuple[str, str]] = set()
        self.busy: set[tuple[str, str]] = set()

    def run(self) -> None:
        for scope in self.scopes.values():
            self._fill(scope)
        for path, scope in self.scopes.items():
            self._check_aliases(scope)
            if path:
                self._check_args(scope)
        for path, scope in self.scopes.items():
            if not path and not scope.aliases:
                continue
            rw = _Rewriter(self, scope)
            for i in self.files.get(path, []):
                self.project.modules[i] = rw.module(self.project.modules[i])
        for path, scope in self.scopes.items():
            for name in self.args.get(path, {}):
                if name in self.declared[path].params:
                    scope.bound[name] = self.bound(scope, name)
        if self.broken and self.project.modules:
            first = self.project.modules[0]
            broken = (*first.broken, *sorted(self.broken))
            self.project.modules[0] = ast.Module(first.file, first.decls, broken)

    # --- tables ------------------------------------------------------------------------------

    def _fill(self, scope: Scope) -> None:
        """The prefixed names, and which params the import (or its file's defaults) gives."""
        found, p = self.declared[scope.path], scope.prefix
        scope.services.update({n: p + n for n in found.services})
        scope.secrets.update({n: p + n for n in found.secrets})
        scope.inputs.update({n: p + n for n in found.inputs})
        scope.templates.update({n: p + n for n in found.templates})
        given: dict[str, ast.Expr] = {}
        if scope.decl is not None:
            defaults = self._defaults_of(scope)
            for name, value in defaults.items():
                if name in found.params:
                    given[name] = value
                    self.project.defaults_used.add((scope.importer, name))
            for arg in scope.decl.args or ():
                if arg.name is not None:
                    given[arg.name.text] = arg.value
        self.args[scope.path] = given
        scope.params.update({n: p + n for n in found.params if n not in given})

    def _defaults_of(self, scope: Scope) -> dict[str, ast.Expr]:
        """The `defaults {}` entries of the importing file, as written there."""
        out: dict[str, ast.Expr] = {}
        for i in self.files.get(scope.parent, []):
            module = self.project.modules[i]
            if module.file.path != scope.importer:
                continue
            for decl in module.decls:
                if isinstance(decl, ast.DefaultsDecl):
                    for entry in decl.body.entries:
                        if isinstance(entry, ast.Attr):
                            out.setdefault(entry.key.text, entry.value)
        return out

    def _check_aliases(self, scope: Scope) -> None:
        found = self.declared[scope.path]
        for alias, child in scope.aliases.items():
            decl = self.scopes[child].decl
            assert decl is not None and decl.alias is not None
            taken = found.services.get(alias) or (
                found.params[alias].name if alias in found.params else None
            )
            if taken is None:
                continue
            kind = "service" if alias in found.services else "param"
            self.diags.error(
                E_ALIAS,
                f"`{alias}` is both a module alias and a {kind}",
                decl.alias.span,
                "the alias",
                labels=[Label(taken.span, f"the {kind}")],
                help=f"`{alias}.x` would mean both; rename the alias (`as {alias}2`) or the {kind}",
            )

    def _check_args(self, scope: Scope) -> None:
        assert scope.decl is not None
        params = self.declared[scope.path].params
        seen: dict[str, ast.Arg] = {}
        parent = self.declared[scope.parent]
        for arg in scope.decl.args or ():
            if arg.name is None:
                self.diags.error(
                    E_ARGUMENT,
                    "a module's arguments are named",
                    arg.span,
                    "no param name",
                    help="write `NAME: value` with one of the module's params: "
                    + (", ".join(params) or "it declares none"),
                )
                continue
            name = arg.name.text
            if name in seen:
                self.diags.error(
                    E_ARGUMENT,
                    f"argument `{name}` is given twice",
                    arg.name.span,
                    "given again here",
                    labels=[Label(seen[name].name.span, "first given here")],  # type: ignore[union-attr]
                )
                continue
            seen[name] = arg
            if name not in params:
                self.diags.error(
                    E_ARGUMENT,
                    f"module `{scope.path}` has no param `{name}`",
                    arg.name.span,
                    "not a param of the module",
                    help=did_you_mean(name, params)
                    or "a module's arguments are its params: "
                    + (", ".join(params) or "it declares none"),
                )
                continue
            want = _param_kind(params[name].type)
            got = _literal_kind(arg.value)
            value = arg.value
            if got is None and isinstance(value, ast.Ref) and len(value.parts) == 2:
                if value.parts[0].text == "param" and value.parts[1].text in parent.params:
                    got = _param_kind(parent.params[value.parts[1].text].type)
            if want and got and want != got:
                t = params[name].type
                type_text = t.span.file.text[t.span.start : t.span.end]
                self.diags.error(
                    E_ARGUMENT_TYPE,
                    f"param `{name}` of module `{scope.path}` is `{type_text}`, "
                    f"not {_KIND_WORDS.get(got, 'a ' + got)}",
                    arg.value.span,
                    f"{_KIND_WORDS.get(got, 'a ' + got)}",
                    labels=[Label(t.span, "declared here")],
                    help=f"pass a value of type `{type_text}`",
                )
                self.args[scope.path].pop(name, None)  # reported: the module keeps its param
                scope.params.setdefault(name, scope.prefix + name)

    # --- params given by the import ----------------------------------------------------------

    def bound(self, scope: Scope, name: str) -> ast.Expr:
        """The expression a given param stands for, resolved in the importing scope."""
        key = (scope.path, name)
        if key in self.resolved:
            return self.resolved[key]
        written = self.args[scope.path][name]
        if key in self.busy:  # `import m as a (x: a.param.x)`: reported as unknown instead
            return written
        self.busy.add(key)
        try:
            value = _Rewriter(self, self.scopes[scope.parent]).expr(written)
        finally:
            self.busy.discard(key)
        self.resolved[key] = value
        return value


class _Rewriter:
    """Rebuilds the trees of one scope with its names prefixed and `alias.x` resolved."""

    def __init__(self, modules: Modules, scope: Scope) -> None:
        self.m = modules
        self.scope = scope
        self.given = modules.args.get(scope.path, {})
        self.local: set[tuple[str, str]] = set()  # a template body's own secrets and inputs

    def module(self, module: ast.Module) -> ast.Module:
        decls: list[ast.Decl] = []
        for decl in module.decls:
            if self.scope.path and isinstance(decl, ast.ProjectDecl):
                continue  # a module's own `project` line: the importing project names it
            if isinstance(decl, ast.ParamDecl) and decl.name.text in self.given:
                continue  # given by the import: its uses read the argument
            if isinstance(decl, ast.ImportDecl):
                decls.append(decl)  # its arguments are resolved by the scope it opens
                continue
            decls.append(self.expr(decl))  # type: ignore[arg-type]
        return ast.Module(module.file, tuple(decls), module.broken)

    def _rename(self, name: ast.Name, table: dict[str, str]) -> ast.Name:
        new = table.get(name.text)
        return name if new is None or new == name.text else ast.Name(new, name.span)

    def expr(self, node: Any) -> Any:
        """Any node, rebuilt only where something changes."""
        s = self.scope
        match node:
            case ast.Ref():
                return self.ref(node.parts, 0, s, False, node.span)
            case ast.Call():
                func = self.func(node.func)
                args = tuple(self.expr(a) for a in node.args)
                return ast.Call(func, args, node.span)
            case ast.ServiceDecl():
                body = self.expr(node.body) if node.body is not None else None
                inst = self.expr(node.instance) if node.instance is not None else None
                return ast.ServiceDecl(self._rename(node.name, s.services), body, inst, node.span)
            case ast.ParamDecl():
                default = self.expr(node.default) if node.default is not None else None
                return ast.ParamDecl(
                    self._rename(node.name, s.params), node.type, default, node.span
                )
            case ast.SecretDecl():
                value = self.expr(node.value) if node.value is not None else None
                own = ("secret", node.name.text) in self.local  # a template's, per instance
                name = node.name if own else self._rename(node.name, s.secrets)
                return ast.SecretDecl(name, value, node.span)
            case ast.InputDecl():
                body = self.expr(node.body)
                own = ("input", node.name.text) in self.local
                name = node.name if own else self._rename(node.name, s.inputs)
                return ast.InputDecl(name, node.type, body, node.span)
            case ast.TemplateDecl():
                params = tuple(self.expr(p) for p in node.params)
                # its own `secret x` / `input x` are per instance: `secret.x` in it is not the
                # module's (nor a service's `<service>_x`)
                self.local = {
                    ("secret" if isinstance(e, ast.SecretDecl) else "input", e.name.text)
                    for e in node.body.entries
                    if isinstance(e, ast.SecretDecl | ast.InputDecl)
                }
                try:
                    body = self.expr(node.body)
                finally:
                    self.local = set()
                return ast.TemplateDecl(
                    self._rename(node.name, s.templates), params, body, node.span
                )
            case ast.MovedDecl():
                old = ast.Name(s.prefix + node.old.text, node.old.span)
                return ast.MovedDecl(old, self._rename(node.new, s.services), node.span)
            case ast.Name() | ast.Key() | ast.TypeExpr():
                return node
            case ast.Node():
                values = [self._value(getattr(node, f)) for f in node._fields]
                if all(v is getattr(node, f) for v, f in zip(values, node._fields, strict=True)):
                    return node
                return type(node)(*values)
        return node

    def _value(self, v: Any) -> Any:
        if isinstance(v, tuple):
            out = tuple(self._value(x) for x in v)
            return v if all(a is b for a, b in zip(out, v, strict=True)) else out
        if isinstance(v, ast.Node):
            return self.expr(v)
        return v

    def func(self, ref: ast.Ref) -> ast.Ref:
        """A called name: a template of this scope, or `alias.template` of a module."""
        parts, s = ref.parts, self.scope
        head = parts[0].text if parts else ""
        if len(parts) == 1 and head in s.templates:
            return ast.Ref((self._rename(parts[0], s.templates),), ref.span)
        if len(parts) >= 2 and head in s.aliases:
            child = self.m.scopes[s.aliases[head]]
            name = parts[1].text
            if len(parts) == 2 and name in child.templates:
                return ast.Ref((ast.Name(child.templates[name], ref.span),), ref.span)
            self.m.diags.error(
                E_MEMBER,
                f"module `{child.path}` has no template `{'.'.join(p.text for p in parts[1:])}`",
                _join(parts[0].span, parts[-1].span),
                "not declared by the module",
                help=did_you_mean(name, child.templates)
                or f"its templates: {', '.join(child.templates) or 'none'}",
            )
            self.m.broken.add(("template", ref.dotted))
            return ast.Ref((ast.Name(ref.dotted, ref.span),), ref.span)
        return ref

    def ref(
        self, parts: tuple[ast.Name, ...], i: int, scope: Scope, outside: bool, span: Span
    ) -> ast.Expr:
        """`parts[i:]` looked up in `scope` (`outside`: through its alias, so it must exist)."""
        head = parts[i].text
        rest = parts[i + 1 :]
        where = _join(parts[0].span, parts[i].span)
        if head in ("param", "secret", "input") and rest:
            return self.member(parts, i, scope, outside, span)
        if head in scope.services and (outside or head not in scope.aliases):
            name = ast.Name(scope.services[head], where)
            if not outside and name.text == head:
                return ast.Ref(parts, span) if i == 0 else ast.Ref((name, *rest), span)
            return ast.Ref((name, *rest), span)
        if head in scope.aliases:
            child = self.m.scopes[scope.aliases[head]]
            if not rest:
                self.m.diags.error(
                    E_MEMBER,
                    f"`{head}` is a module, not a value",
                    where,
                    "a module",
                    help=f"name something it declares: `{head}.SERVICE`, `{head}.param.NAME`",
                )
                return self._placeholder("service", parts, i, span)
            return self.ref(parts, i + 1, child, True, span)
        if outside:
            self._unknown(parts, i, scope, "service", scope.services)
            return self._placeholder("service", parts, i, span)
        return ast.Ref(parts[i:], span) if i else ast.Ref(parts, span)

    def member(
        self, parts: tuple[ast.Name, ...], i: int, scope: Scope, outside: bool, span: Span
    ) -> ast.Expr:
        """`param.x`, `secret.x` or `input.x` of `scope` (parts[i] is the kind)."""
        kind, name = parts[i].text, parts[i + 1].text
        rest = parts[i + 2 :]
        if kind == "param" and name in self.m.args.get(scope.path, {}):
            if name in self.m.declared[scope.path].params:
                value = self.m.bound(scope, name)
                if not rest:
                    return value
                if isinstance(value, ast.Ref):
                    return ast.Ref((*value.parts, *rest), span)
                return value
        if not outside and (kind, name) in self.local:
            return ast.Ref(parts[i:], span) if i else ast.Ref(parts, span)
        table = {"param": scope.params, "secret": scope.secrets, "input": scope.inputs}[kind]
        if name not in table and kind != "param":  # a template's, per instance: `<service>_<name>`
            owner = max(
                (n for n in scope.services if name.startswith(n + "_")), key=len, default=""
            )
            if owner:
                table = {name: scope.services[owner] + name[len(owner) :]}
        if name in table:
            head = ast.Name(kind, _join(parts[0].span, parts[i].span))
            return ast.Ref((head, ast.Name(table[name], parts[i + 1].span), *rest), span)
        if outside:
            self._unknown(parts, i + 1, scope, kind, table)
            return self._placeholder(kind, parts, i + 1, span)
        return ast.Ref(parts[i:], span) if i else ast.Ref(parts, span)

    def _placeholder(self, kind: str, parts: tuple[ast.Name, ...], i: int, span: Span) -> ast.Ref:
        """What stands for a reported `alias.name`: a name no declaration can have, marked
        broken so the checker says nothing more about it."""
        dotted = ".".join(p.text for p in parts[: i + 1])
        self.m.broken.add((kind, dotted))
        name = ast.Name(dotted, _join(parts[0].span, parts[i].span))
        if kind == "service":
            return ast.Ref((name, *parts[i + 1 :]), span)
        return ast.Ref((ast.Name(kind, parts[0].span), name, *parts[i + 1 :]), span)

    def _unknown(
        self, parts: tuple[ast.Name, ...], i: int, scope: Scope, kind: str, names: dict[str, str]
    ) -> None:
        name = parts[i].text
        declared = ", ".join(names) or "none"
        things = "services" if kind == "service" else f"{kind}s"
        self.m.diags.error(
            E_MEMBER,
            f"module `{scope.path}` has no {kind} `{name}`",
            _join(parts[0].span, parts[i].span),
            "not declared by the module",
            help=did_you_mean(name, names) or f"its {things}: {declared}",
        )


def rewrite(project: Any, diags: Diagnostics) -> None:
    """Rewrite the aliased modules of a loaded project in place (its `modules` list)."""
    Modules(project, diags).run()
