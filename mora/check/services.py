"""Service bodies: each attribute against the service vocabulary, `if` branches, unknown users."""

from __future__ import annotations

from collections.abc import Callable

from mora import ast
from mora import types as T
from mora.check.blocks import (
    _ip_problem,
    _signal_problem,
)
from mora.check.context import (
    CheckState,
    _Ctx,
)
from mora.check.program import (
    _BLOCK_ATTRS,
    E_DUPLICATE,
    E_IMAGE,
    E_LITERAL,
    E_MISSING_ATTR,
    E_TYPE,
    E_UNKNOWN_ATTR,
    E_UNKNOWN_SERVICE,
    E_VALUE,
    N_USER_UNKNOWN,
    SERVICE_ATTRS,
    W_IMAGE_TAG,
    has_attr,
    static_keys,
)
from mora.diagnostics import Label, did_you_mean
from mora.reserved import path_problem
from mora.source import Span
from mora.vocabulary import service as V


class ServicesPass(CheckState):
    """Service bodies: entries, `if` branches, each attribute by its vocabulary row."""

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
            elif isinstance(entry, ast.Provides):
                from mora.contracts.check import check_provides

                check_provides(self, entry, ctx, seen, in_if)  # type: ignore[arg-type]
            elif isinstance(entry, ast.Request):
                from mora.contracts.requests import check_request

                check_request(self, entry, ctx)  # type: ignore[arg-type]
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
        # The generic rule: the attribute's row in the vocabulary says its type and whether a
        # secret may go there; only what a row cannot say is a rule of its own (`RULES`).
        row = V.SERVICE[key]
        t = None
        if row.type is not None:
            t = self.expect(entry.value, row.type, ctx, f"`{key}`", secret_ok=row.secret_ok)
        rule = RULES.get(key)
        if rule is not None:
            rule(self, entry, ctx, t)

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


# --- the attributes whose rules go beyond their vocabulary row -----------------------------------
# Each runs after the row's own check with the type that check found (None: the row has no type,
# or the value did not fit it).

Rule = Callable[[ServicesPass, ast.Attr, _Ctx, T.Type | None], None]


def _image(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """A literal image must parse as a reference, and should name a tag."""
    value = entry.value
    if t is not None and isinstance(value, ast.StringLit) and value.is_plain:
        problem = T.check_image(value.plain)
        if problem:
            ck.diags.error(E_IMAGE, "invalid image reference", value.span, problem)
        elif not T.image_has_tag(value.plain):
            ck.diags.warning(
                W_IMAGE_TAG,
                "image has no tag",
                value.span,
                "will pull whatever `latest` is today",
                help="pin a version, e.g. `" + value.plain + ":1.2.3`, so deploys repeat",
            )


def _command(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """A string split like a shell, or a list of words (no one type says that)."""
    ck._check_command(entry.value, ctx, f"`{entry.key.text}`")


def _user(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """A string like "1000:1000" or a number: either type, never a secret."""
    value = entry.value
    t = ck.type_of(value, ctx)
    ck._no_secret(t, value, "`user`")
    if not (T.assignable(t, T.STRING) or T.assignable(t, T.INT)):
        ck._mismatch(value, 'a string like "1000:1000" or a number', t)


def _devices(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """Each literal device path must be a device node the container may be given."""
    if isinstance(entry.value, ast.ListExpr):
        for item in entry.value.items:
            if isinstance(item.value, ast.StringLit) and item.value.is_plain:
                ck._check_device(item.value.plain, item.value.span)


def _dns(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """Each literal DNS server must be an IP address."""
    if isinstance(entry.value, ast.ListExpr):
        for item in entry.value.items:
            ck._check_literal_rule(item.value, _ip_problem)


def _stop_signal(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    ck._check_literal_rule(entry.value, _signal_problem)


def _network_mode(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    ck._check_network_mode(entry, ctx)


def _subdomain(ck: ServicesPass, entry: ast.Attr, ctx: _Ctx, t: T.Type | None) -> None:
    """A DNS label path, and a port to route to: `http`, or the only one the service has."""
    value = entry.value
    if t is not None and isinstance(value, ast.StringLit) and value.is_plain:
        if not T.is_dns_label_path(value.plain):
            ck.diags.error(
                E_VALUE,
                f"`{value.plain}` is not a valid subdomain",
                value.span,
                "lower-case letters, digits and `-`, labels separated by `.`",
            )
    has_ports = static_keys(ctx.service.body if ctx.service else ctx.template.decl.body, "ports")  # type: ignore[union-attr]
    names = [k.text for k in has_ports]
    if names and "http" not in names and len(set(names)) > 1:
        ck.diags.error(
            E_MISSING_ATTR,
            "which port does the subdomain route to?",
            entry.key.span,
            f"the service has ports {', '.join(sorted(set(names)))}",
            help="name the web port `http`; the subdomain routes there",
        )
    elif not names:
        ck.diags.error(
            E_MISSING_ATTR,
            "a service with a subdomain needs a port",
            entry.key.span,
            "nothing to route to",
            help="add `ports { http = 8080 }` with the port the web UI listens on",
        )


RULES: dict[str, Rule] = {
    "image": _image,
    "command": _command,
    "entrypoint": _command,
    "user": _user,
    "devices": _devices,
    "dns": _dns,
    "stop_signal": _stop_signal,
    "network_mode": _network_mode,
    "subdomain": _subdomain,
}
