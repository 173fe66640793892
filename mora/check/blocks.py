"""Block attributes item by item: environment, ports, volumes, files, labels, settings blocks.

Literal values that a rule can judge without a site (paths, devices, sysctls, ulimits, modes, CPU
quantities) are checked here; computed ones are the evaluator's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mora import ast
from mora import types as T
from mora.check import routes as check_routes
from mora.check.context import (
    CheckState,
    _Ctx,
)
from mora.check.program import (
    E_DUPLICATE,
    E_HOST_MOUNT,
    E_LITERAL,
    E_MISSING_ATTR,
    E_PATH,
    E_RESERVED_LABEL,
    E_TYPE,
    E_VALUE,
    HEALTHCHECK_KEYS,
    HOST_MOUNT_HELP,
    PORT_KEYS,
    RESOURCE_KEYS,
    SECURITY_KEYS,
    SECURITY_RELAXING,
    host_mount_message,
    iter_entries,
    static_keys,
)
from mora.diagnostics import Label, did_you_mean
from mora.reserved import normal_path, path_problem, reserved_label, system_dir
from mora.source import Span
from mora.vocabulary import service as V


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


_SYSCTL = T.LazyPattern(r"[a-z0-9_]+(\.[a-z0-9_*-]+)+")


# A host name /etc/hosts can hold (letter case allowed there).
_HOST = T.LazyPattern(
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


_SIGNAL = T.LazyPattern(r"(SIG)?[A-Z][A-Z0-9]*(\+[0-9]+)?|[0-9]+")


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


class BlocksPass(CheckState):
    """Block items (environment, ports, volumes, files, labels, settings) and literal rules."""

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
            if isinstance(entry, ast.Provides):
                from mora.contracts.check import misplaced

                misplaced(self, entry)  # type: ignore[arg-type]
                continue
            if isinstance(entry, ast.Request):
                from mora.contracts.requests import misplaced as request_misplaced

                request_misplaced(self, entry)  # type: ignore[arg-type]
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
            check_routes.check_route(self, key, value, ctx)  # mora/check/routes.py
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
