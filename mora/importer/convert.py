"""A compose model -> the text of a mora project.

Two passes: the first finds every secret (by name and by value, across all services, so one
value used by an app and its database becomes one `secret`) and picks stdlib templates; the second
writes each service, key by key. Keys mora expresses become attributes; every other key or value
is a diagnostic at its place in the compose file (codes.py), never silently dropped.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from mora.diagnostics import Diagnostics, did_you_mean
from mora.importer import codes, secrets
from mora.importer.compose import ComposeProject
from mora.importer.interpolate import PLACEHOLDER, Var, has_placeholder
from mora.importer.writer import Block, escape, key, mora_name, quote
from mora.importer.yamlnodes import Node
from mora.reserved import reserved_label, system_dir
from mora.source import Span

_RESERVED_NAMES = {"param", "secret", "input", "site", "args", "self"}
_WELL_KNOWN_PORTS = {
    80: "http",
    8080: "http",
    8000: "http",
    3000: "http",
    5000: "http",
    8081: "http",
    8888: "http",
    9000: "http",
    443: "https",
    8443: "https",
    5432: "postgres",
    3306: "mysql",
    6379: "redis",
    27017: "mongodb",
    53: "dns",
    22: "ssh",
    25: "smtp",
    1883: "mqtt",
    11211: "memcached",
    9090: "metrics",
}
_RESTART = {"no", "always", "on-failure", "unless-stopped"}
# The service keys of the Compose Specification (compose-spec 05-services.md), for did-you-mean.
COMPOSE_SERVICE_KEYS = (
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus",
    "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules",
    "devices", "dns", "dns_opt", "dns_search", "domainname", "driver_opts", "entrypoint",
    "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus",
    "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "labels",
    "label_file", "links", "logging", "mac_address", "mem_limit", "mem_reservation",
    "mem_swappiness", "memswap_limit", "models", "network_mode", "networks", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
    "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime",
    "scale", "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period",
    "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket",
    "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir",
)  # fmt: skip
_DROPPED_QUIETLY = {"container_name", "networks", "links", "version", "expose"}


@dataclass
class Param:
    name: str
    type: str
    default: str | None  # a mora expression
    origins: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class SecretGroup:
    """One secret: every compose place that held its value."""

    name: str
    gen: str
    value: str | None  # the compose value: only for matching, never written
    var: str | None  # the variable it came from, if any
    origins: list[str] = field(default_factory=list)
    declared: bool = True  # False when a stdlib template declares it


def where(span: Span | None, base: str = "") -> str:
    """file:line:column, the file relative to `base` (the first compose file's folder)."""
    if span is None:
        return "?"
    line, col = span.file.line_col(span.start)
    path = span.file.path
    if base:
        rel = os.path.relpath(path, base)
        path = rel if not rel.startswith("..") else path
    return f"{path}:{line}:{col}"


class Converter:
    def __init__(self, project: ComposeProject, name: str, diags: Diagnostics) -> None:
        self.p = project
        self.name = name
        self.diags = diags
        self.interp = project.interp
        self.params: dict[str, Param] = {}
        self.groups: list[SecretGroup] = []
        self.by_var: dict[str, SecretGroup] = {}
        self.by_value: dict[str, SecretGroup] = {}
        self.imports: set[str] = set()
        self.names: dict[str, str] = {}
        self.path_params: dict[str, str] = {}
        self.templated: dict[str, Any] = {}  # compose service -> templates.TemplateUse
        self.svc = ""
        self.base = (
            str(project.files[0].path).rsplit("/", 1)[0] if "/" in project.files[0].path else ""
        )
        self.secret_vars: set[str] = set()
        self.masks: list[Span] = []

    # --- helpers --------------------------------------------------------------------------------

    def at(self, span: Span | None) -> str:
        return where(span, self.base)

    def warn(
        self, code: str, message: str, span: Span | None, label: str = "", help: str | None = None
    ) -> None:
        self.diags.warning(code, message, span, label, help=help)

    def unsupported(self, node: Node, what: str, help: str | None = None) -> None:
        self.warn(
            codes.W_UNSUPPORTED,
            f"`{what}` of service `{self.svc}` is not imported",
            node.where,
            "mora cannot express this yet",
            help=help,
        )

    def resolved(self, node: Node) -> Any:
        v = node.value
        return self.interp.resolve(v) if isinstance(v, str) else v

    def param_for(self, var: Var, type_: str) -> str:
        """The mora reference for a variable: a secret when its name says so, else a param."""
        if secrets.secret_name(var.name) or var.name in self.secret_vars:
            return "secret." + self.secret_for_var(var).name
        name = mora_name(var.name)
        param = self.params.get(name)
        default = var.default()
        if param is None:
            kind, value = self._typed_default(type_, default)
            note = ""
            if var.op in (":+", "+"):
                self.warn(
                    codes.W_INTERPOLATION,
                    f"`${{{var.name}{var.op}...}}` is imported as its value for this environment",
                    var.span,
                    "a conditional value",
                    help="mora's `if` can choose a value from a bool param",
                )
            if default is None:
                note = (
                    f"required: {var.arg}"
                    if var.required and var.arg
                    else "required"
                    if var.required
                    else "unset when imported (compose would use an empty string)"
                )
            param = Param(name, kind, value, note=note)
            self.params[name] = param
        origin = self.at(var.span) + (f" (${{{var.name}}})")
        if origin not in param.origins:
            param.origins.append(origin)
        if var.env is not None and self.at(var.env.span) not in param.origins:
            param.origins.append(self.at(var.env.span))
        return "param." + name

    def _typed_default(self, type_: str, default: str | None) -> tuple[str, str | None]:
        if default is None:
            return type_, None
        if type_ == "port":
            if default.isdigit() and 1 <= int(default) <= 65535:
                return "port", default
            return "string", quote(default)
        if type_ == "path":
            if not default.startswith("/"):
                default = self.absolute(default)
            return "path", quote(default)
        return "string", quote(default)

    def absolute(self, host: str) -> str:
        """A host path as compose resolves it: relative to the project directory, `~` home."""
        if host.startswith("~"):
            return host  # the checker says it is not absolute; compose expands it per user
        base = (
            str(self.p.directory.resolve())
            if not self.p.directory.is_absolute()
            else str(self.p.directory)
        )
        return posixpath.normpath(posixpath.join(base, host))

    def secret_for_var(self, var: Var) -> SecretGroup:
        group = self.by_var.get(var.name)
        value = (
            var.env.value if var.env is not None else (var.arg if var.op in (":-", "-") else None)
        )
        if group is None and value and value in self.by_value:
            group = self.by_value[value]
        if group is None:
            group = self._new_group(mora_name(var.name), value, var.name)
        self.by_var[var.name] = group
        if var.env is not None:
            self._mask_value(var.env.span, var.env.span)
        origin = self.at(var.span) + f" (${{{var.name}}})"
        if origin not in group.origins:
            group.origins.append(origin)
        return group

    def _new_group(self, base: str, value: str | None, var: str | None) -> SecretGroup:
        taken = {g.name for g in self.groups}
        name = base
        n = 2
        while name in taken:
            name = f"{base}_{n}"
            n += 1
        group = SecretGroup(name, secrets.generator(value), value, var)
        self.groups.append(group)
        if value:
            self.by_value.setdefault(value, group)
        return group

    def text(
        self, node: Node | str, *, secret_ok: bool, what: str, span: Span | None = None
    ) -> str:
        """A mora string expression for compose text (placeholders -> params or secrets)."""
        raw = node if isinstance(node, str) else _scalar_text(node.value)
        span = span if span is not None or isinstance(node, str) else node.span
        var = self.interp.var(raw)
        if var is not None:
            ref = self.param_for(var, "string")
            if ref.startswith("secret.") and not secret_ok:
                return self._no_secret(what, span)
            return ref
        parts: list[str] = []
        pos = 0
        for m in PLACEHOLDER.finditer(raw):
            parts.append(self._literal(raw[pos : m.start()], secret_ok, what, span))
            ref = self.param_for(self.interp.uses[int(m.group(1))], "string")
            if ref.startswith("secret.") and not secret_ok:
                return self._no_secret(what, span)
            parts.append("${" + ref + "}")
            pos = m.end()
        parts.append(self._literal(raw[pos:], secret_ok, what, span))
        return '"' + "".join(parts) + '"'

    def _literal(self, text: str, secret_ok: bool, what: str, span: Span | None) -> str:
        """Literal text, with each place that holds a known secret value replaced by the secret.

        A value counts inside longer text where it is plainly a credential (a URL's password
        `://user:VALUE@`, after a word like `password` or `--requirepass`) or is long enough
        (12+ characters) not to be an ordinary word: `nextcloud` as a password must not turn
        the image `nextcloud:apache` into a secret.
        """
        if not text:
            return ""
        for value, group in sorted(self.by_value.items(), key=lambda kv: -len(kv[0])):
            at = _credential_at(text, value)
            if at < 0:
                continue
            before, after = text[:at], text[at + len(value) :]
            if not secret_ok:
                self.warn(
                    codes.W_SECRET,
                    f"a secret value in {what} of service `{self.svc}` is not written",
                    span,
                    "holds the value of a secret",
                    help="mora passes secrets only through `environment` and `files`; "
                    "the value is written as CHANGE_ME here",
                )
                return (
                    self._literal(before, secret_ok, what, span)
                    + "CHANGE_ME"
                    + self._literal(after, secret_ok, what, span)
                )
            return (
                self._literal(before, secret_ok, what, span)
                + "${secret."
                + group.name
                + "}"
                + self._literal(after, secret_ok, what, span)
            )
        return escape(self._renamed(text))

    def _renamed(self, text: str) -> str:
        """Host names of renamed services (`my-db` -> `my_db`) in literal text: the new name is
        the container's host name now. A name with `-` or `.` is replaced where it stands as a
        host (`my-db`, `http://my-db:5432`); a plain one (`self`) only as the whole value."""
        for cname, name in self.names.items():
            if cname == name or cname not in text:
                continue
            if "-" in cname or "." in cname:
                pattern = r"(?<![\w.-])" + re.escape(cname) + r"(?![\w.-])"
                text = re.sub(pattern, name, text)
            elif text == cname:
                text = name
        return text

    def _no_secret(self, what: str, span: Span | None) -> str:
        self.warn(
            codes.W_SECRET,
            f"a secret variable in {what} of service `{self.svc}` is not written",
            span,
            "a secret",
            help="mora passes secrets only through `environment` and `files`; written as CHANGE_ME",
        )
        return quote("CHANGE_ME")

    # --- pass 1: secrets and names -----------------------------------------------------------

    def collect(self) -> None:
        for cname in self.p.services:
            name = mora_name(cname)
            if name in _RESERVED_NAMES:
                name += "_svc"
            while name in self.names.values():
                name += "_2"
            self.names[cname] = name
        for cname, svc in self.p.services.items():
            self.svc = cname
            env = self.environment(svc)
            for k, v in env.items():
                if v.value is None or not isinstance(v.value, (str, int, float)):
                    continue
                raw = _scalar_text(v.value)
                var = self.interp.var(raw)
                if var is not None:
                    if secrets.secret_name(var.name) or (
                        secrets.secret_name(k) and not secrets.plain_value(var.resolved())
                    ):
                        self.secret_vars.add(var.name)  # `WEBPASSWORD=${PIHOLE_PW}`
                        self.secret_for_var(var)
                    continue
                if has_placeholder(raw):
                    continue
                if (
                    secrets.secret_name(k) and not secrets.plain_value(raw)
                ) or secrets.placeholder_value(raw):
                    group = self.by_value.get(raw) or self._new_group(mora_name(k), raw, None)
                    group.origins.append(f"{self.at(v.where)} ({k})")
                    self._mask_value(v.span, v.key_span)
            self._file_secrets(svc)
        from mora.importer.templates import match, stdlib_images

        images = stdlib_images()
        for cname, svc in self.p.services.items():
            self.svc = cname
            if svc.is_map():
                use = match(self, cname, svc, images)
                if use is not None:
                    self.templated[cname] = use
                    self.imports.add(use.module)
        self._rename_clashes()

    def _mask_value(self, span: Span | None, key_span: Span | None) -> None:
        """Remember where a secret value is written, to hide it from quoted source lines."""
        if span is None:
            return
        if span == key_span:  # an env file line: the value is what follows `=`
            line_end = span.file.text.find("\n", span.end)
            line_end = len(span.file.text) if line_end < 0 else line_end
            eq = span.file.text.find("=", span.end, line_end)
            if eq < 0:
                return
            span = Span(span.file, eq + 1, line_end)
        self.masks.append(span)

    def mask_secrets(self) -> None:
        """Hide every secret value in the text diagnostics quote (same length, so every span
        still points where it did): the compose file's passwords may be in use today, and
        import output ends up in terminals and CI logs."""
        values = sorted(
            {g.value for g in self.groups if g.value and len(g.value) >= 4 and "\n" not in g.value},
            key=len,
            reverse=True,
        )
        files = {id(sp.file): sp.file for sp in self.masks}
        for f in self.p.files:
            files[id(f)] = f
        for file in files.values():
            chars = list(file.text)
            for sp in self.masks:
                if sp.file is file:
                    for i in range(sp.start, min(sp.end, len(chars))):
                        if chars[i] not in "\n\"'":
                            chars[i] = "*"
            text = "".join(chars)
            for value in values:
                text = text.replace(value, "*" * len(value))
            file.text = text

    def _file_secrets(self, svc: Node) -> None:
        """Compose secrets read from a file: one generated secret each (the file is not read)."""
        for item in _items(svc.get("secrets")):
            src = _scalar_text(item.value) if item.is_scalar() else ""
            if item.is_map() and item.get("source") is not None:
                src = _scalar_text(item.get("source").value)
            decl = self.p.secrets.get(src)
            if decl is None or not decl.is_map() or decl.get("file") is None:
                continue
            group = self.by_var.get("file:" + src) or self._new_group(mora_name(src), None, None)
            self.by_var["file:" + src] = group
            origin = f"{self.at(decl.where)} (secrets.{src}; the file is not read)"
            if origin not in group.origins:
                group.origins.append(origin)

    def _rename_clashes(self) -> None:
        """A declared secret whose name a template instance's secret takes moves aside."""
        taken = {g.name for g in self.groups if not g.declared}
        for g in self.groups:
            if g.declared and g.name in taken:
                n = 2
                while f"{g.name}_{n}" in taken or any(
                    o.name == f"{g.name}_{n}" for o in self.groups
                ):
                    n += 1
                g.name = f"{g.name}_{n}"

    def environment(self, svc: Node) -> dict[str, Node]:
        """The service's environment: env_file values first, `environment` over them."""
        out: dict[str, Node] = {}
        files = svc.get("env_file")
        if files is not None:
            out.update(self._env_files(files))
        env = svc.get("environment")
        if env is not None and env.is_map():
            out.update(env.value)
        return out

    def _env_files(self, files: Node) -> dict[str, Node]:
        from mora.importer.compose import read_text
        from mora.importer.interpolate import read_env_file

        items = files.value if files.is_list() else [files]
        out: dict[str, Node] = {}
        for item in items:
            path_node = item.get("path") if item.is_map() else item
            required = not (
                item.is_map()
                and item.get("required") is not None
                and item.get("required").value is False
            )
            if path_node is None or not isinstance(path_node.value, str):
                continue
            rel = self.interp.resolve(path_node.value)
            path = self.p.source_dir / rel
            if not path.exists() and not required:
                continue
            sink = Diagnostics()
            text = read_text(path, sink, "env file")
            if text is None:
                if not getattr(self, "_env_warned", set()) & {str(path)}:
                    self.warn(
                        codes.W_VALUE,
                        f"env file `{rel}` cannot be read: its variables are not imported",
                        path_node.span,
                        "not found",
                        help="import from the directory the compose file expects",
                    )
                    self._env_warned = getattr(self, "_env_warned", set()) | {str(path)}
                continue
            for k, ev in read_env_file(path, str(path), text).items():
                out[k] = Node(self.interp.text(ev.value.replace("$", "$$"), None), ev.span, ev.span)
        return out

    # --- pass 2: services ---------------------------------------------------------------------

    def service(self, cname: str, svc: Node) -> Block:
        self.svc = cname
        name = self.names[cname]
        body = Block(1)
        if not svc.is_map():
            self.warn(codes.W_VALUE, f"service `{cname}` is not a mapping", svc.where)
            return body
        if name != cname:
            self.warn(
                codes.W_NAME,
                f"service `{cname}` is imported as `{name}`",
                svc.key_span,
                "not a mora name",
                help=f"other containers reach it as `{name}` now: the import changed `{cname}` where "
                "it stands as a host name in values; check the files your images read",
            )
        ports = self.ports(svc)
        subdomain, route_port = self.route(svc)
        ports = _name_ports(ports, route_port if subdomain else None)
        handled = {
            "image",
            "build",
            "ports",
            "expose",
            "labels",
            "environment",
            "env_file",
            "profiles",
        }
        image = svc.get("image")
        if image is not None and isinstance(image.value, str):
            body.line(f"image = {self.text(image, secret_ok=False, what='`image`')}")
            if svc.get("build") is not None:
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"`build` of service `{cname}` is not imported: its `image` is pulled instead",
                    svc.get("build").where,
                    "mora runs images only",
                    help="build and push the image yourself, or build it on the host with this tag",
                )
        else:
            build = svc.get("build")
            placeholder = f"localhost/{self.name}-{cname}:latest"
            self.warn(
                codes.W_UNSUPPORTED,
                f"service `{cname}` is built from source: mora runs images only",
                (build or svc).where,
                "no image to run",
                help=f"build it yourself (`podman build -t {placeholder} ...`); the import names that image",
            )
            body.line(f"image = {quote(placeholder.lower())}")
        if subdomain is not None:
            if ports:
                body.line(f"subdomain = {subdomain}")
            else:
                self.warn(
                    codes.W_VALUE,
                    f"the host rule of service `{cname}` is not imported: it has no port",
                    svc.get("labels").where if svc.get("labels") else svc.where,
                )
        if ports:
            body.open("ports")
            for pname, target, published, proto in ports:
                if published is None and proto == "tcp":
                    body.line(f"{key(pname)} = {target}")
                else:
                    fields = [f"target: {target}"]
                    if published is not None:
                        fields.append(f"published: {published}")
                    if proto != "tcp":
                        fields.append(f'protocol: "{proto}"')
                    body.line(f"{key(pname)} = {{ {', '.join(fields)} }}")
            body.close()
        self.env_block(svc, body)
        self.labels(svc, body)
        for k, node in svc.value.items():
            if k in handled or k.startswith("x-"):
                continue
            fn = getattr(self, "k_" + k, None)
            if fn is not None:
                fn(node, body)
            elif k in _DROPPED_QUIETLY:
                self.dropped(k, node)
            elif k not in COMPOSE_SERVICE_KEYS and (guess := did_you_mean(k, COMPOSE_SERVICE_KEYS)):
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"`{k}` of service `{self.svc}` is not a compose key: not imported",
                    node.where,
                    "unknown key",
                    help=guess,
                )
            else:
                self.unsupported(node, k)
        return body

    def dropped(self, k: str, node: Node) -> None:
        why = {
            "container_name": "mora names containers itself (`<project>-<service>`)",
            "networks": "every service of a mora project shares one network, where it is reached by its name",
            "links": "services reach each other by name on the project network",
            "expose": "",
        }.get(k, "")
        if k == "networks" and node.is_map():
            for net, cfg in node.value.items():
                if cfg.is_map() and cfg.get("aliases") is not None:
                    self.unsupported(cfg.get("aliases"), f"networks.{net}.aliases")
                if cfg.is_map() and (cfg.get("ipv4_address") or cfg.get("ipv6_address")):
                    self.unsupported(cfg, f"networks.{net} address")
        self.diags.note(
            codes.W_DROPPED,
            f"`{k}` of service `{self.svc}` is not needed in mora",
            node.where,
            help=why or None,
        )

    # ports ----------------------------------------------------------------------------------------

    def ports(self, svc: Node) -> list[tuple[int, Any, str]]:
        """(target, published expression or None, protocol) of `ports` and `expose`."""
        out: list[tuple[int, Any, str]] = []
        for item in _items(svc.get("ports")):
            out.extend(self._port(item))
        for item in _items(svc.get("expose")):
            text = str(self.resolved(item))
            target, _, proto = text.partition("/")
            if target.isdigit():
                out.append((int(target), None, proto or "tcp"))
            else:
                self.warn(
                    codes.W_VALUE,
                    f"`expose: {text}` of service `{self.svc}` is not imported",
                    item.span,
                    "not one port",
                )
        # One port per container port and protocol: a published entry wins over `expose`.
        unique: dict[tuple[int, str], tuple[int, Any, str]] = {}
        for p in out:
            k = (p[0], p[2])
            if k not in unique or (unique[k][1] is None and p[1] is not None):
                unique[k] = p
        return list(unique.values())

    def _port(self, item: Node) -> list[tuple[int, Any, str]]:
        if item.is_map():
            d = item.value
            target = self._int(d.get("target"))
            if target is None:
                self.warn(
                    codes.W_VALUE,
                    f"a port of service `{self.svc}` without a target is not imported",
                    item.span,
                )
                return []
            host_ip = d.get("host_ip")
            proto = str(self.resolved(d["protocol"])) if "protocol" in d else "tcp"
            pub = self._published(d.get("published"), item)
            if host_ip is not None and pub is not None:
                return self._host_ip(item, str(self.resolved(host_ip)), target, proto)
            for extra in ("mode", "app_protocol", "name"):
                if extra in d:
                    self.unsupported(d[extra], f"ports.{extra}")
            return [(target, pub, proto)]
        raw = _scalar_text(item.value)
        body, _, proto = raw.rpartition("/") if "/" in raw else (raw, "", "tcp")
        proto = proto or "tcp"
        parts = body.split(":")
        host_ip = None
        if len(parts) == 3:
            host_ip, published, target_text = parts
        elif len(parts) == 2:
            published, target_text = parts
        elif len(parts) == 1:
            published, target_text = None, parts[0]
        else:
            self.warn(
                codes.W_VALUE,
                f"port `{self.interp.resolve(raw)}` of service `{self.svc}` is not imported",
                item.span,
                "not understood (IPv6 addresses in ports are not imported)",
            )
            return []
        if "-" in self.interp.resolve(target_text) or (
            published and "-" in self.interp.resolve(published)
        ):
            self.warn(
                codes.W_VALUE,
                f"port range `{self.interp.resolve(raw)}` of service `{self.svc}` is not imported",
                item.span,
                "a range",
                help="mora names each port: write the ports of the range one by one",
            )
            return []
        target = self._int_text(target_text, item)
        if target is None:
            return []
        if published is None:
            self.diags.note(
                codes.W_VALUE,
                f"port {target} of service `{self.svc}` is not published",
                item.span,
                "compose publishes it on a random host port",
                help="other services reach it by name; add `published` for a fixed host port",
            )
        pub = self._published_text(published, item) if published else None
        if host_ip and pub is not None:
            return self._host_ip(item, self.interp.resolve(host_ip), target, proto)
        return [(target, pub, proto)]

    def _host_ip(self, item: Node, ip: str, target: int, proto: str) -> list[tuple[int, Any, str]]:
        if ip in ("0.0.0.0", "::", ""):
            return [
                (
                    target,
                    self._published_text(_published_part(_scalar_text(item.value)), item)
                    if not item.is_map()
                    else self._published(item.value.get("published"), item),
                    proto,
                )
            ]
        self.warn(
            codes.W_VALUE,
            f"port {target} of service `{self.svc}` is published only on {ip} in compose: not published",
            item.span,
            "mora publishes on every address or not at all",
            help="publishing it on every address would expose more than the compose file did; add `published` if you mean it",
        )
        return [(target, None, proto)]

    def _int(self, node: Node | None) -> int | None:
        if node is None:
            return None
        v = self.resolved(node)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if isinstance(v, str) and v.isdigit():
            return int(v)
        self.warn(codes.W_VALUE, f"`{v}` is not a port number", node.span)
        return None

    def _int_text(self, text: str, item: Node) -> int | None:
        resolved = self.interp.resolve(text)
        if has_placeholder(text):
            self.warn(
                codes.W_VALUE,
                f"a container port from a variable (`{resolved}`) is written as its value",
                item.span,
                "variable",
                help="mora's container ports are part of the project",
            )
        if resolved.isdigit() and 1 <= int(resolved) <= 65535:
            return int(resolved)
        self.warn(
            codes.W_VALUE,
            f"port `{resolved}` of service `{self.svc}` is not imported",
            item.span,
            "not a port number",
        )
        return None

    def _published(self, node: Node | None, item: Node) -> Any:
        if node is None:
            return None
        return self._published_text(_scalar_text(node.value), node)

    def _published_text(self, text: str | None, item: Node) -> Any:
        if text is None or text == "":
            return None
        var = self.interp.var(text)
        if var is not None:
            return self.param_for(var, "port")
        resolved = self.interp.resolve(text)
        if resolved.isdigit() and 1 <= int(resolved) <= 65535:
            return int(resolved)
        self.warn(
            codes.W_VALUE,
            f"host port `{resolved}` of service `{self.svc}` is not published",
            item.span,
            "not one port number",
        )
        return None

    # routing -------------------------------------------------------------------------------------

    def route(self, svc: Node) -> tuple[str | None, int | None]:
        """A subdomain from a Traefik `Host(...)` rule or a caddy-docker-proxy label."""
        labels = svc.get("labels")
        if labels is None or not labels.is_map():
            return None, None
        host_node, port = None, None
        for k, v in labels.value.items():
            text = _scalar_text(v.value) if v.value is not None else ""
            if re.fullmatch(r"traefik\.http\.routers\.[^.]+\.rule", k) and host_node is None:
                m = re.search(r"Host\(\s*`([^`]+)`", text)
                if m:
                    host_node = (m.group(1), v)
            elif re.fullmatch(r"traefik\.http\.services\.[^.]+\.loadbalancer\.server\.port", k):
                resolved = self.interp.resolve(text)
                port = int(resolved) if resolved.isdigit() else None
            elif k == "caddy" and host_node is None and text:
                host_node = (
                    text.split()[0].split(",")[0].removeprefix("https://").removeprefix("http://"),
                    v,
                )
            elif k == "caddy.reverse_proxy":
                m = re.search(r"upstreams\s+(\d+)", text)
                if m:
                    port = int(m.group(1))
        if host_node is None:
            return None, port
        host, node = host_node
        first = host.split(".", 1)[0]
        if has_placeholder(first) or not re.fullmatch(
            r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", first.lower()
        ):
            self.warn(
                codes.W_VALUE,
                f"the host `{self.interp.show(host)}` of service `{self.svc}` is not imported as a subdomain",
                node.span,
                "no literal first label",
                help="set `subdomain` by hand",
            )
            return None, port
        rest = self.interp.resolve(host.split(".", 1)[1]) if "." in host else ""
        self.diags.note(
            codes.W_DROPPED,
            f"service `{self.svc}` is served at `{first}.<domain>`",
            node.span,
            "its host rule",
            help=f"mora routes it itself: the site's domain replaces `{rest or host}`",
        )
        return quote(first.lower()), port

    # environment ---------------------------------------------------------------------------------

    def env_block(self, svc: Node, body: Block) -> None:
        env = self.environment(svc)
        if not env:
            return
        body.open("environment")
        for k, v in env.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                self.warn(
                    codes.W_VALUE,
                    f"environment variable `{k}` of service `{self.svc}` is not imported",
                    v.where,
                    "not a name mora accepts",
                    help="mora's environment names are letters, digits and `_`",
                )
                continue
            body.line(f"{key(k)} = {self.env_value(k, v)}")
        body.close()

    def env_value(self, k: str, v: Node) -> str:
        if v.value is None:
            var = Var(k, "", "", v.where, self.interp.env.get(k))
            return self.param_for(var, "string")
        if isinstance(v.value, bool):
            return quote("true" if v.value else "false")
        if isinstance(v.value, (int, float)):
            return quote(_scalar_text(v.value))
        raw = v.value if isinstance(v.value, str) else _scalar_text(v.value)
        if not has_placeholder(raw):
            group = self.by_value.get(raw)
            if group is not None and (
                secrets.secret_name(k) or secrets.placeholder_value(raw) or len(raw) >= 12
            ):
                return "secret." + group.name
        return self.text(raw, secret_ok=True, what="environment", span=v.span)

    # labels ----------------------------------------------------------------------------------------

    def labels(self, svc: Node, body: Block) -> None:
        labels = svc.get("labels")
        if labels is None or not labels.is_map():
            return
        kept = []
        proxy = [(k, v) for k, v in labels.value.items() if _proxy_label(k)]
        if proxy:
            names = ", ".join(f"`{k}`" for k, _ in proxy[:3]) + (", ..." if len(proxy) > 3 else "")
            self.diags.note(
                codes.W_DROPPED,
                f"{len(proxy)} reverse-proxy label(s) of service `{self.svc}` are not imported: {names}",
                proxy[0][1].where,
                "configures Traefik or Caddy",
                help="mora routes `subdomain` through its own proxy",
            )
        for k, v in labels.value.items():
            if _proxy_label(k):
                continue
            if reserved_label(k):
                self.warn(
                    codes.W_VALUE,
                    f"label `{k}` of service `{self.svc}` is not imported",
                    v.where,
                    "a key mora writes itself",
                    help="use a prefix of your own",
                )
                continue
            value = "" if v.value is None else _scalar_text(v.value)
            kept.append(
                f"{key(k)} = {self.text(value, secret_ok=False, what='a label', span=v.span)}"
            )
        if kept:
            body.open("labels")
            for line in kept:
                body.line(line)
            body.close()

    # the other keys ----------------------------------------------------------------------------

    def k_command(self, node: Node, body: Block) -> None:
        self._words("command", node, body)

    def k_entrypoint(self, node: Node, body: Block) -> None:
        self._words("entrypoint", node, body)

    def _words(self, name: str, node: Node, body: Block) -> None:
        if node.value is None:
            return
        if node.is_list():
            words = [self.text(w, secret_ok=False, what=f"`{name}`") for w in node.value]
            body.line(f"{name} = [{', '.join(words)}]")
        else:
            body.line(f"{name} = {self.text(node, secret_ok=False, what=f'`{name}`')}")

    def k_restart(self, node: Node, body: Block) -> None:
        value = str(self.resolved(node))
        if value == "False":
            value = "no"
        base, _, count = value.partition(":")
        if base in _RESTART:
            body.line(f"restart = {quote(base)}")
            if count:
                self.warn(
                    codes.W_VALUE,
                    f"the retry limit of `restart: {value}` is not imported",
                    node.span,
                    "mora restarts on failure without a limit",
                )
        else:
            self.warn(
                codes.W_VALUE,
                f"`restart: {value}` is not imported",
                node.span,
                "not a restart policy",
            )

    def k_user(self, node: Node, body: Block) -> None:
        body.line(
            f"user = {self.text(_scalar_text(node.value), secret_ok=False, what='`user`', span=node.span)}"
        )

    def k_devices(self, node: Node, body: Block) -> None:
        devs = []
        for item in _items(node):
            if item.is_map():
                src = _scalar_text(item.value.get("source").value) if item.get("source") else ""
                dst = _scalar_text(item.value.get("target").value) if item.get("target") else src
                perms = item.get("permissions")
            else:
                parts = _scalar_text(item.value).split(":")
                src, dst = parts[0], parts[1] if len(parts) > 1 else parts[0]
                perms = parts[2] if len(parts) > 2 else None
            src_r, dst_r = self.interp.resolve(src), self.interp.resolve(dst)
            if src_r != dst_r or perms:
                self.warn(
                    codes.W_VALUE,
                    f"device `{src_r}` of service `{self.svc}` is imported at its own path",
                    item.span,
                    "a device mapped to another path or with permissions",
                    help="mora passes a host device at the same path, read-write",
                )
            devs.append(self.text(src, secret_ok=False, what="`devices`", span=item.span))
        if devs:
            body.line(f"devices = [{', '.join(devs)}]")

    def k_depends_on(self, node: Node, body: Block) -> None:
        deps = []
        conditions = []
        for dep, cfg in node.value.items() if node.is_map() else []:
            if dep not in self.p.services:
                why = "its profile is not enabled" if dep in self.p.skipped else "no such service"
                self.warn(
                    codes.W_VALUE,
                    f"`{self.svc}` depends on `{dep}`, which is not imported",
                    cfg.where or node.where,
                    why,
                )
                continue
            deps.append(self.names[dep])
            condition = cfg.get("condition") if cfg.is_map() else None
            cond = str(self.resolved(condition)) if condition is not None else "service_started"
            if cond == "service_completed_successfully":
                self.warn(
                    codes.W_VALUE,
                    f"`condition: {cond}` of `{self.svc}` -> `{dep}` is imported as a plain dependency",
                    condition.span if condition else cfg.where,
                    "mora starts it after the dependency starts (healthy when it has a health check)",
                )
            elif cond != "service_started":
                conditions.append(f"{self.names[dep]}: {cond}")
            for extra in ("restart", "required"):
                if cfg.is_map() and cfg.get(extra) is not None:
                    self.unsupported(cfg.get(extra), f"depends_on.{dep}.{extra}")
        if deps:
            note = (
                (
                    "compose: "
                    + ", ".join(conditions)
                    + "; mora waits for a dependency's health check when it has one"
                )
                if conditions
                else ""
            )
            body.line(f"depends_on = [{', '.join(deps)}]", note)

    def k_healthcheck(self, node: Node, body: Block) -> None:
        if not node.is_map():
            return
        d = node.value
        entries = []
        if d.get("disable") is not None and self.resolved(d["disable"]) is True:
            entries.append('test = ["NONE"]')
        elif "test" in d:
            t = d["test"]
            if t.is_list():
                words = [self.text(w, secret_ok=False, what="`healthcheck.test`") for w in t.value]
                entries.append(f"test = [{', '.join(words)}]")
            else:
                entries.append(f"test = {self.text(t, secret_ok=False, what='`healthcheck.test`')}")
        for name in ("interval", "timeout", "start_period"):
            if name in d:
                dur = self.duration(d[name])
                if dur:
                    entries.append(f"{name} = {dur}")
        if "retries" in d:
            r = self.resolved(d["retries"])
            if isinstance(r, int) or (isinstance(r, str) and r.isdigit()):
                entries.append(f"retries = {int(r)}")
        for k in d:
            if k not in ("test", "interval", "timeout", "start_period", "retries", "disable"):
                self.unsupported(d[k], f"healthcheck.{k}")
        if entries:
            body.open("healthcheck")
            for e in entries:
                body.line(e)
            body.close()

    def duration(self, node: Node) -> str | None:
        text = str(self.resolved(node))
        ms = _duration_ms(text)
        if ms is None:
            self.warn(
                codes.W_VALUE,
                f"duration `{text}` of service `{self.svc}` is not imported",
                node.span,
                "not a duration",
            )
            return None
        return _mora_duration(ms)

    def size(self, node: Node) -> str | None:
        value = self.resolved(node)
        size = _mora_size(value)
        if size is None:
            self.warn(
                codes.W_VALUE,
                f"size `{value}` of service `{self.svc}` is not imported",
                node.span,
                "not a size",
            )
        return size

    def k_stop_grace_period(self, node: Node, body: Block) -> None:
        dur = self.duration(node)
        if dur:
            body.line(f"stop_grace_period = {dur}")

    def k_hostname(self, node: Node, body: Block) -> None:
        body.line(f"hostname = {quote(str(self.resolved(node)))}")

    def k_working_dir(self, node: Node, body: Block) -> None:
        body.line(f"working_dir = {quote(str(self.resolved(node)))}")

    def k_stop_signal(self, node: Node, body: Block) -> None:
        body.line(f"stop_signal = {quote(str(self.resolved(node)))}")

    def k_init(self, node: Node, body: Block) -> None:
        if self.resolved(node) in (True, "true"):
            body.line("init = true")

    def k_shm_size(self, node: Node, body: Block) -> None:
        size = self.size(node)
        if size:
            body.line(f"shm_size = {size}")

    def k_dns(self, node: Node, body: Block) -> None:
        items = [quote(str(self.resolved(i))) for i in _items(node)]
        if items:
            body.line(f"dns = [{', '.join(items)}]")

    def k_extra_hosts(self, node: Node, body: Block) -> None:
        if not node.is_map():
            return
        body.open("extra_hosts")
        for host, ip in node.value.items():
            body.line(f"{quote(host)} = {quote(str(self.resolved(ip)).strip('[]'))}")
        body.close()

    def k_sysctls(self, node: Node, body: Block) -> None:
        if not node.is_map():
            return
        body.open("sysctls")
        for name, value in node.value.items():
            body.line(f"{quote(name)} = {quote(_scalar_text(self.resolved(value)))}")
        body.close()

    def k_ulimits(self, node: Node, body: Block) -> None:
        if not node.is_map():
            return
        body.open("ulimits")
        for name, value in node.value.items():
            if value.is_map():
                soft, hard = value.get("soft"), value.get("hard")
                text = f"{self.resolved(soft)}:{self.resolved(hard)}" if soft and hard else None
            else:
                text = _scalar_text(self.resolved(value))
            if text is None:
                self.warn(codes.W_VALUE, f"ulimit `{name}` needs soft and hard", value.span)
                continue
            body.line(f"{key(name)} = {quote(text)}")
        body.close()

    def k_network_mode(self, node: Node, body: Block) -> None:
        mode = str(self.resolved(node))
        if mode == "host":
            body.line('network_mode = "host"')
            self._security.setdefault(
                "reason", f"network_mode: host in the compose file ({self.at(node.span)})"
            )
            self._needs_reason = True
        elif mode.startswith("service:") and mode[8:] in self.names:
            body.line(f'network_mode = "service:{self.names[mode[8:]]}"')
        elif mode == "bridge":
            return
        else:
            self.warn(
                codes.W_VALUE,
                f"`network_mode: {mode}` of service `{self.svc}` is not imported",
                node.span,
                "mora has `host` and `service:NAME`",
            )

    # security, resources, volumes and files are gathered, then written once

    _security: dict[str, str]
    _resources: dict[str, str]

    def k_cap_add(self, node: Node, body: Block) -> None:
        caps = [quote(str(self.resolved(i))) for i in _items(node)]
        self._security["capabilities_add"] = f"[{', '.join(caps)}]"
        self._needs_reason = True
        self._security.setdefault("reason", f"cap_add in the compose file ({self.at(node.span)})")

    def k_cap_drop(self, node: Node, body: Block) -> None:
        names = [str(self.resolved(i)).upper().removeprefix("CAP_") for i in _items(node)]
        added = {
            str(self.resolved(i)).upper().removeprefix("CAP_")
            for i in _items(self._current.get("cap_add"))
        }
        if "ALL" in names and added:
            # Compose drops everything, then adds `cap_add`; mora's cap_drop also takes away what
            # capabilities_add granted. Dropping the runtime's defaults but the added ones keeps
            # the container's set what compose made it: exactly `cap_add`.
            from mora.model import RUNTIME_DEFAULT_CAPABILITIES

            names = [c for c in RUNTIME_DEFAULT_CAPABILITIES if c not in added]
        self._security["cap_drop"] = f"[{', '.join(quote(c) for c in names)}]"

    def k_privileged(self, node: Node, body: Block) -> None:
        if self.resolved(node) in (True, "true"):
            self._security["privileged"] = "true"
            self._needs_reason = True
            self._security.setdefault(
                "reason", f"privileged in the compose file ({self.at(node.span)})"
            )

    def k_read_only(self, node: Node, body: Block) -> None:
        if self.resolved(node) in (True, "true"):
            self._security["read_only_root"] = "true"

    def k_group_add(self, node: Node, body: Block) -> None:
        groups = []
        for item in _items(node):
            v = self.resolved(item)
            if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
                groups.append(str(int(v)))
            else:
                self.warn(
                    codes.W_VALUE,
                    f"group `{v}` of service `{self.svc}` is not imported",
                    item.span,
                    "a group name",
                    help="mora takes group numbers: `getent group NAME` on the host",
                )
        if groups:
            self._security["group_add"] = f"[{', '.join(groups)}]"

    def k_mem_limit(self, node: Node, body: Block) -> None:
        size = self.size(node)
        if size:
            self._resources["memory_limit"] = size

    def k_mem_reservation(self, node: Node, body: Block) -> None:
        size = self.size(node)
        if size:
            self._resources["memory"] = size

    def k_cpus(self, node: Node, body: Block) -> None:
        cpu = _cpu(self.resolved(node))
        if cpu:
            self._resources["cpu_limit"] = quote(cpu)

    def k_deploy(self, node: Node, body: Block) -> None:
        if not node.is_map():
            return
        for k, v in node.value.items():
            if k == "resources" and v.is_map():
                for kind, target in (
                    ("limits", ("cpu_limit", "memory_limit")),
                    ("reservations", ("cpu", "memory")),
                ):
                    section = v.get(kind)
                    if section is None or not section.is_map():
                        continue
                    for rk, rv in section.value.items():
                        if rk == "cpus":
                            cpu = _cpu(self.resolved(rv))
                            if cpu:
                                self._resources[target[0]] = quote(cpu)
                        elif rk == "memory":
                            size = self.size(rv)
                            if size:
                                self._resources[target[1]] = size
                        else:
                            self.unsupported(rv, f"deploy.resources.{kind}.{rk}")
            elif k == "replicas" and self.resolved(v) in (1, "1"):
                continue
            elif k == "restart_policy" and v.is_map() and "restart" not in self._current.value:
                cond = str(self.resolved(v.get("condition"))) if v.get("condition") else "any"
                body.line(
                    f"restart = {quote({'any': 'always', 'on-failure': 'on-failure', 'none': 'no'}.get(cond, 'always'))}"
                )
                for rk in v.value:
                    if rk != "condition":
                        self.unsupported(v.value[rk], f"deploy.restart_policy.{rk}")
            else:
                self.unsupported(v, f"deploy.{k}")

    def k_tmpfs(self, node: Node, body: Block) -> None:
        for item in _items(node):
            path, _, opts = _scalar_text(item.value).partition(":")
            args = []
            for opt in filter(None, opts.split(",")):
                name, _, value = opt.partition("=")
                if name == "size":
                    size = _mora_size(value)
                    if size:
                        args.append(f"size: {size}")
                elif name == "mode":
                    args.append(f"mode: {quote(value)}")
                else:
                    self.warn(codes.W_VALUE, f"tmpfs option `{opt}` is not imported", item.span)
            self._volumes.append((path, f"tmpfs({', '.join(args)})", ""))

    def k_volumes(self, node: Node, body: Block) -> None:
        for item in _items(node):
            self._volume(item)

    def _volume(self, item: Node) -> None:
        target = self._volume_target(item)
        if target is not None and target.rstrip("/") in {
            t.rstrip("/") for t, _, _ in self._volumes
        }:
            self.warn(
                codes.W_VALUE,
                f"a second mount at `{target}` in service `{self.svc}` is not imported",
                item.span,
                "the container path is mounted above already",
                help="compose refuses two mounts at one path too",
            )
            return
        self._volume_entry(item)

    def _volume_target(self, item: Node) -> str | None:
        if item.is_map():
            t = item.get("target")
            return str(self.resolved(t)) if t is not None else None
        parts = self.interp.resolve(_scalar_text(item.value)).split(":")
        return parts[1] if len(parts) > 1 else parts[0]

    def _volume_entry(self, item: Node) -> None:
        if item.is_map():
            d = {k: v for k, v in item.value.items()}
            kind = str(self.resolved(d["type"])) if "type" in d else "volume"
            source = (
                _scalar_text(d["source"].value)
                if "source" in d and d["source"].value is not None
                else ""
            )
            target = str(self.resolved(d["target"])) if "target" in d else ""
            readonly = (
                self.resolved(d["read_only"]) in (True, "true") if "read_only" in d else False
            )
            for k in d:
                if k in ("type", "source", "target", "read_only"):
                    continue
                if k == "tmpfs" and kind == "tmpfs" and d[k].is_map():
                    continue
                if k == "bind" and d[k].is_map() and set(d[k].value) <= {"create_host_path"}:
                    continue
                if k == "volume" and d[k].is_map() and set(d[k].value) <= {"nocopy"}:
                    self.unsupported(d[k], "volumes.volume.nocopy")
                    continue
                self.unsupported(d[k], f"volumes.{k}")
            if kind == "tmpfs":
                args = []
                t = d.get("tmpfs")
                if t is not None and t.is_map():
                    if t.get("size") is not None:
                        size = self.size(t.get("size"))
                        if size:
                            args.append(f"size: {size}")
                    if t.get("mode") is not None:
                        mode = self.resolved(t.get("mode"))
                        args.append(f"mode: {quote(_octal(mode))}")
                self._volumes.append((target, f"tmpfs({', '.join(args)})", ""))
                return
            if kind not in ("volume", "bind"):
                self.unsupported(item, f"volumes of type {kind}")
                return
        else:
            text = _scalar_text(item.value)
            parts = text.split(":")
            readonly = False
            if len(parts) == 1:
                source, target = "", parts[0]
            else:
                source, target = parts[0], parts[1]
                for opt in parts[2].split(",") if len(parts) > 2 else []:
                    if opt == "ro":
                        readonly = True
                    elif opt not in ("rw", ""):
                        self.warn(
                            codes.W_VALUE,
                            f"volume option `{opt}` of service `{self.svc}` is not imported",
                            item.span,
                            "mora cannot express it"
                            if opt not in ("z", "Z")
                            else "SELinux relabelling",
                            help="podman relabels volumes it creates; relabel a bind by hand if SELinux needs it"
                            if opt in ("z", "Z")
                            else None,
                        )
            target = self.interp.resolve(target)
            resolved = self.interp.resolve(source)
            kind = "bind" if resolved.startswith(("/", ".", "~")) else "volume"
        if not target.startswith("/"):
            self.warn(
                codes.W_VALUE,
                f"volume target `{target}` of service `{self.svc}` is not imported",
                item.span,
                "not an absolute path",
            )
            return
        if kind == "volume":
            if not source:
                self._volumes.append((target, "volume()", ""))
                return
            vol_name = self.interp.resolve(source)
            self._check_named_volume(vol_name, item)
            self._volumes.append((target, f"volume(name: {quote(vol_name)})", ""))
            return
        self._volumes.append((target, self._bind(source, readonly, item), ""))

    def _check_named_volume(self, name: str, item: Node) -> None:
        cfg = self.p.volumes.get(name)
        if name not in self.p.volumes:
            self.warn(
                codes.W_VALUE,
                f"volume `{name}` is not declared under the top-level `volumes`",
                item.span,
                "compose refuses this",
                help="it is imported as a named volume",
            )
            return
        if cfg is None or not cfg.is_map():
            return
        for k, v in cfg.value.items():
            if k in ("external", "name"):
                self.diags.note(
                    codes.W_DROPPED,
                    f"volume `{name}`: `{k}` is not needed",
                    v.where,
                    help="mora makes the volume; to use existing data, copy it into the new volume",
                )
            elif not k.startswith("x-"):
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"`{k}` of volume `{name}` is not imported",
                    v.where,
                    "mora cannot express this yet",
                    help="mora volumes are the engine's default volumes",
                )

    def _bind(self, source: str, readonly: bool, item: Node) -> str:
        var = self.interp.var(source)
        resolved = self.interp.resolve(source)
        if var is not None:
            ref = self.param_for(var, "path")
            host = self.params[ref.split(".", 1)[1]].default if ref.startswith("param.") else None
            host_path = host.strip('"') if host else ""
        else:
            host_path = self.absolute(resolved) if not resolved.startswith("~") else resolved
            if has_placeholder(source):
                ref = self.text(source, secret_ok=False, what="a bind mount", span=item.span)
            else:
                ref = "param." + self._path_param(host_path, item)
        args = [ref]
        if readonly:
            args.append("readonly: true")
        sysdir = system_dir(host_path, readonly) if host_path.startswith("/") else None
        if sysdir is not None:
            args.append(
                f"reason: {quote('mounted in the compose file (' + self.at(item.span) + '); review why it needs ' + sysdir)}"
            )
            self.warn(
                codes.W_VALUE,
                f"service `{self.svc}` mounts the host's `{sysdir}`",
                item.span,
                "a system directory",
                help="the import wrote a `reason` saying where it came from: replace it with the real reason, or drop the mount",
            )
        return f"bind({', '.join(args)})"

    def _path_param(self, host_path: str, item: Node) -> str:
        if host_path in self.path_params:
            name = self.path_params[host_path]
        else:
            base = mora_name(posixpath.basename(host_path.rstrip("/")) or "root")
            name = (
                base
                if base.endswith(("_dir", "_sock", "_file"))
                else base + "_dir"
                if "." not in posixpath.basename(host_path)
                else base
            )
            taken = set(self.params)
            if name in taken:
                name = f"{mora_name(self.svc)}_{name}"
            while name in self.params:
                name += "_2"
            self.path_params[host_path] = name
            default = quote(host_path) if host_path.startswith("/") else None
            self.params[name] = Param(
                name, "path", default, note="a host path: each site chooses its own"
            )
        origin = self.at(item.span)
        if origin not in self.params[name].origins:
            self.params[name].origins.append(origin)
        return name

    def k_secrets(self, node: Node, body: Block) -> None:
        for item in _items(node):
            src = (
                _scalar_text(item.value)
                if item.is_scalar()
                else _scalar_text(item.get("source").value)
                if item.get("source")
                else ""
            )
            target = src
            if item.is_map():
                if item.get("target") is not None:
                    target = str(self.resolved(item.get("target")))
                for k in item.value:
                    if k in ("uid", "gid", "mode"):
                        self.warn(
                            codes.W_VALUE,
                            f"`{k}` of secret `{src}` is not imported",
                            item.value[k].span,
                            "mora delivers files read-only to the container's user",
                        )
            if not target.startswith("/"):
                target = "/run/secrets/" + target
            decl = self.p.secrets.get(src)
            if decl is None:
                self.warn(
                    codes.W_VALUE, f"secret `{src}` is not declared at the top level", item.span
                )
                continue
            if decl.is_map() and decl.get("file") is not None:
                group = self.by_var.get("file:" + src) or self._new_group(
                    mora_name(src), None, None
                )
                self.by_var["file:" + src] = group
                origin = f"{self.at(decl.where)} (secrets.{src}; the file is not read)"
                if origin not in group.origins:
                    group.origins.append(origin)
                self._files.append((target, "secret." + group.name))
            else:
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"secret `{src}` is not imported",
                    decl.where,
                    "only secrets from a file are imported",
                    help="declare a `secret` and set it with `mora secrets set`",
                )

    def k_configs(self, node: Node, body: Block) -> None:
        from mora.importer.compose import read_text

        for item in _items(node):
            src = (
                _scalar_text(item.value)
                if item.is_scalar()
                else _scalar_text(item.get("source").value)
                if item.get("source")
                else ""
            )
            target = "/" + src
            if item.is_map() and item.get("target") is not None:
                target = str(self.resolved(item.get("target")))
            decl = self.p.configs.get(src)
            if decl is None or not decl.is_map():
                self.warn(
                    codes.W_VALUE, f"config `{src}` is not declared at the top level", item.span
                )
                continue
            if decl.get("content") is not None:
                self._files.append(
                    (target, self.text(decl.get("content"), secret_ok=True, what="a config"))
                )
            elif decl.get("file") is not None:
                rel = self.interp.resolve(_scalar_text(decl.get("file").value))
                sink = Diagnostics()
                text = read_text(self.p.source_dir / rel, sink, "config file")
                if text is None:
                    self.warn(
                        codes.W_VALUE,
                        f"config file `{rel}` cannot be read: config `{src}` is not imported",
                        decl.get("file").span,
                    )
                    continue
                self._files.append((target, f"text({quote(text)})"))
            else:
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"config `{src}` is not imported",
                    decl.where,
                    "only configs from a file or `content` are imported",
                )

    # --- the whole project ------------------------------------------------------------------

    def top_level(self) -> None:
        """Top-level keys other than services: what mora has no counterpart for is reported."""
        for k, node in self.p.top.items():
            if k == "version" or k.startswith("x-"):
                continue  # `version` is obsolete (compose ignores it); `x-` is for anchors
            self.warn(
                codes.W_UNSUPPORTED,
                f"the top-level `{k}` is not imported",
                node.where,
                "mora cannot express this yet",
                help="`include`: import each file with the others instead"
                if k == "include"
                else None,
            )
        for net, cfg in self.p.networks.items():
            if cfg is None or not cfg.is_map():
                continue
            for k, v in cfg.value.items():
                if k.startswith("x-"):
                    continue
                self.warn(
                    codes.W_UNSUPPORTED,
                    f"`{k}` of network `{net}` is not imported",
                    v.where,
                    "mora makes one network per project",
                    help="every service of the project shares it and reaches the others by name",
                )

    def service_text(self, cname: str, svc: Node) -> list[str]:
        self._security: dict[str, str] = {}
        self._resources: dict[str, str] = {}
        self._volumes: list[tuple[str, str, str]] = []
        self._files: list[tuple[str, str]] = []
        self._current = svc
        self._needs_reason = False
        body = self.service(cname, svc)
        if self._volumes:
            body.open("volumes")
            seen = set()
            for target, value, _ in self._volumes:
                if target in seen:
                    continue
                seen.add(target)
                body.line(f"{quote(target)} = {value}")
            body.close()
        if self._files:
            body.open("files")
            for target, value in self._files:
                body.line(f"{quote(target)} = {value}")
            body.close()
        if self._resources:
            body.open("resources")
            for k in ("cpu", "memory", "cpu_limit", "memory_limit"):
                if k in self._resources:
                    body.line(f"{k} = {self._resources[k]}")
            body.close()
        if self._security:
            if not self._needs_reason:
                self._security.pop("reason", None)
            body.open("security")
            for k in (
                "privileged",
                "capabilities_add",
                "cap_drop",
                "group_add",
                "read_only_root",
                "reason",
            ):
                if k in self._security:
                    value = self._security[k]
                    body.line(f"{k} = {quote(value) if k == 'reason' else value}")
            body.close()
        head = [f"# {self.at(svc.key_span)}", f"service {self.names[cname]} {{"]
        return head + body.lines + ["}"]


_CREDENTIAL_BEFORE = re.compile(
    r"(pass(word)?|pwd|secret|token|key|auth)[\w-]*[=: ]+$", re.IGNORECASE
)


def _credential_at(text: str, value: str) -> int:
    """Where `value` stands in `text` as a credential (see Converter._literal), or -1."""
    if len(value) < 4:
        return -1
    start = text.find(value)
    while start >= 0:
        end = start + len(value)
        before = text[:start]
        if len(value) >= 12:
            return start
        if before.endswith(":") and text[end : end + 1] == "@" and "://" in before:
            return start
        if _CREDENTIAL_BEFORE.search(before[-40:]):
            return start
        start = text.find(value, start + 1)
    return -1


def _items(node: Node | None) -> list[Node]:
    if node is None or node.value is None:
        return []
    return node.value if node.is_list() else [node]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _proxy_label(key: str) -> bool:
    return key.startswith("traefik.") or key == "caddy" or key.startswith("caddy.")


def _octal(mode: Any) -> str:
    """A file mode as octal digits. YAML reads `01777` as octal (1023) but `1777` as decimal:
    digits that are all octal are taken as written, which is what `mode: 1777` means."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        text = str(mode)
        return text if set(text) <= set("01234567") else oct(mode)[2:]
    return str(mode).removeprefix("0o")


def _published_part(text: str) -> str:
    parts = text.split("/")[0].split(":")
    return parts[-2] if len(parts) >= 2 else ""


def _name_ports(
    ports: list[tuple[int, Any, str]], route: int | None
) -> list[tuple[str, int, Any, str]]:
    """Names for ports: a well-known name, else `p<number>`; the routed port is `http`."""
    out: list[tuple[str, int, Any, str]] = []
    taken: set[str] = set()
    for target, published, proto in ports:
        name = (
            _WELL_KNOWN_PORTS.get(target, f"p{target}") if proto == "tcp" else f"p{target}-{proto}"
        )
        if route is not None:
            name = "http" if target == route else ("web" if name == "http" else name)
        if name in taken:
            name = f"{name}-{target}" if proto == "tcp" else f"{name}-{len(taken)}"
        while name in taken:
            name += "x"
        taken.add(name)
        out.append((name[:15], target, published, proto))
    if (route is not None and not any(t == route for _, t, _, _ in out) and out) or (
        route is not None and not out
    ):
        out.append(("http", route, None, "tcp"))
    return out


_DUR_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}


def _duration_ms(text: str) -> int | None:
    if text.isdigit():
        return None
    total = 0.0
    pos = 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _DUR_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        return None
    return max(1, round(total)) if total else 0


def _mora_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def _mora_size(value: Any) -> str | None:
    """Docker's byte amounts (binary units: `64m` is 64 MiB) as a mora size."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", str(value).strip().lower())
        if not m:
            return None
        n = int(float(m.group(1)) * 1024 ** "bkmgt".index(m.group(2) or "b"))
    if n <= 0:
        return None  # zero means "no limit" or "the default" to docker: nothing to carry over
    for unit, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{max(1, -(-n // 1024))}Ki"


def _cpu(value: Any) -> str | None:
    try:
        cores = float(value)
    except (TypeError, ValueError):
        return None
    milli = round(cores * 1000)
    if milli <= 0:
        return None
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
