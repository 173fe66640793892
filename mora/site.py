"""The site: who instantiates a project (domain, param values), never part of the shared project.

Precedence, highest first: `--set key=value`, then `--domain`, then the site file (YAML), then
the param's default in the project. Values from the command line are text and are read as the
param's declared type; values from the site file keep their YAML types and are checked the same.
"""

from __future__ import annotations

import re

from mora import types as T
from mora.diagnostics import Diagnostics, Label, did_you_mean
from mora.record import Record, field
from mora.source import ReadRefused, SourceFile, Span, read_bounded

# `typing` is ~3 ms of start-up, `pathlib` (with `urllib.parse` and `ipaddress`) ~3-5 ms: only
# type checkers read them here (an SSH host's key paths import pathlib)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

E_SITE = "E0501"
# `manager:` deploys the manager itself (mora/backends/manager_service.py reads it).
TARGET_SECTIONS = ("kubernetes", "podman", "manager")
SITE_KEYS = ("domain", "params", *TARGET_SECTIONS, "hosts")

#: A site file is a few screens of YAML: anything bigger (or not a regular file, like /dev/zero
#: or a fifo) is refused before it is read. Documented in docs/reference.md, "The site file".
SITE_MAX_BYTES = 1024 * 1024
#: How deep YAML may nest in the site file and in `--set` values (lists and maps in lists and
#: maps): deeper is a diagnostic, never a RecursionError in the YAML library.
SITE_MAX_DEPTH = 64
#: How many values (scalars, lists, maps) the site file or one `--set` value may stand for once
#: YAML aliases are expanded: a few aliases must not make millions of values.
SITE_MAX_VALUES = 100_000

_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"  # compiled on first use: a site file
_YAML_HELP = (
    "a site file is YAML: `domain: example.org`, then `params:` with one `name: value` per line,"
    " indented by spaces"
)


class SiteValue(Record, frozen=True):
    value: object
    origin: str  # "--set", "the site file <path>"
    span: Span | None = None  # where in the site file, for diagnostics with a caret
    parts: dict[str, Span] = field(default_factory=dict)  # a map's entries, by dotted key


class Site(Record):
    domain: str | None = None
    domain_origin: str = ""
    domain_invalid: bool = False  # reported already: do not also say "no domain"
    domain_span: Span | None = None
    params: dict[str, SiteValue] = field(default_factory=dict)
    file: Path | None = None
    # Per-target settings (`kubernetes:`, `podman:`), validated by their backends.
    targets: dict[str, dict[str, object]] = field(default_factory=dict)
    # The podman hosts inventory: name, address, tags.
    hosts: list[dict[str, object]] = field(default_factory=list)
    # How `mora apply` reaches each host over SSH (host name -> access); see _read_ssh_access.
    ssh: dict[str, SshAccess] = field(default_factory=dict)


def load_site(
    site_file: Path | None,
    domain: str | None,
    sets: list[str],
    diags: Diagnostics,
) -> Site:
    """Merge the site file, `--domain` and `--set` (in rising precedence)."""
    site = Site(file=site_file)
    if site_file is not None:
        _read_site_file(site, site_file, diags)
    if domain is not None:
        site.domain, site.domain_origin = domain, "--domain"
    for item in sets:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            diags.error(
                E_SITE,
                f"`--set {item}` is not `name=value`",
                None,
                help="like `--set timezone=Europe/Berlin`",
            )
            continue
        if key == "domain":
            site.domain, site.domain_origin = raw, "--set"
            continue
        site.params[key] = SiteValue(raw, "--set")
    if site.domain is not None:
        problem = T.check_literal("hostname", site.domain)
        if problem:
            lower = site.domain.strip().lower()
            diags.error(
                E_SITE,
                f"invalid domain from {site.domain_origin}: {problem}",
                site.domain_span if site.domain_origin != "--domain" else None,
                "not a domain",
                help=f"did you mean `{lower}`? domain names are written in lower case"
                if lower != site.domain and not T.check_literal("hostname", lower)
                else "like `example.org` or `home.example.org`",
            )
            site.domain = None
            site.domain_invalid = True
    return site


def _read_text(path: Path, diags: Diagnostics) -> str | None:
    """The site file's text: a regular file of at most SITE_MAX_BYTES, valid UTF-8.

    Opened without blocking (a fifo would hang) and checked before reading (a device such as
    /dev/zero never ends): one error, and None, for anything else.
    """
    try:
        data = read_bounded(path, SITE_MAX_BYTES)
    except ReadRefused as refused:
        if refused.why == "not-regular":
            diags.error(
                E_SITE,
                f"site file `{path}` is not a regular file",
                None,
                help="a site file is a YAML file; devices, fifos and directories are not read",
            )
        else:
            diags.error(
                E_SITE,
                f"site file `{path}` is larger than {SITE_MAX_BYTES // 1024} KiB",
                None,
                help="a site file holds the domain, params, hosts and target settings: a few "
                "screens of YAML",
            )
        return None
    except OSError as err:
        missing = isinstance(err, FileNotFoundError)
        diags.error(
            E_SITE,
            f"site file `{path}` does not exist"
            if missing
            else f"cannot read site file `{path}`: {err.strerror}",
            None,
            help="pass the path of your site file to `--site`, or leave `--site` out and give "
            "`--domain`"
            if missing
            else None,
        )
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        diags.error(
            E_SITE,
            f"site file `{path}` is not valid UTF-8 (line {line}, byte {col})",
            None,
            help="save the site file as UTF-8 text",
        )
        return None
    control = re.search(_CONTROL, text)
    if control is not None:
        # Not a text file (/proc/self/environ is NUL-separated): never quote it back.
        line, col = SourceFile(str(path), text).line_col(control.start())
        diags.error(
            E_SITE,
            f"site file `{path}` holds a control character (line {line}, column {col})",
            None,
            help="a site file is YAML text: no NUL, ESC or other control characters",
        )
        return None
    return text


def yaml_problem(
    text: str, file: SourceFile | None
) -> tuple[str, Span | None, str, list[Label]] | None:
    """Why `text` cannot be loaded as YAML: (reason, where, help, context), or None.

    Parses event by event (no recursion), so nesting deeper than SITE_MAX_DEPTH is found before
    the recursive loader could overflow the stack; then loads it, for the loader's own errors
    (an undefined alias, an unknown tag).
    """
    import yaml

    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > SITE_MAX_DEPTH:
                    return (
                        f"nested deeper than {SITE_MAX_DEPTH} levels",
                        _at(file, event.start_mark),
                        "a site value is a list or a map of plain values, a few levels deep",
                        [],
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            _expanded_size(root, 1, {}, set())
        yaml.safe_load(text)
    except _Unbounded as err:
        return str(err), None, "write the values out: a site file needs no YAML aliases", []
    except yaml.MarkedYAMLError as err:
        reason = err.problem or "not valid YAML"
        mark = err.problem_mark
        context = _at(file, err.context_mark)
        labels = [Label(context, err.context)] if context is not None and err.context else []
        if file is not None and mark is not None and "\t" in file.line_text(mark.line + 1):
            help_ = "YAML indents with spaces, never tabs: replace the tabs"
            return reason, _at(file, mark), help_, labels
        return reason, _at(file, mark), _YAML_HELP, labels
    except yaml.YAMLError as err:
        return str(err).splitlines()[0] if str(err) else "not valid YAML", None, _YAML_HELP, []
    return None


class _Unbounded(Exception):
    """A YAML value that is too deep, too big or cyclic once its aliases are expanded."""


def _expanded_size(
    node: Any, level: int, sizes: dict[int, tuple[int, int]], open_: set[int]
) -> int:
    """How many values `node` stands for with every alias expanded (and how deep), counted once
    per node: ten lists of ten aliases are 10**10 values to whoever walks them (the billion
    laughs), and a chain of aliases nests deeper than the text shows. Raises `_Unbounded`."""
    import yaml

    key = id(node)
    if key in sizes:
        size, depth = sizes[key]
        if level + depth > SITE_MAX_DEPTH + 1:
            raise _Unbounded(
                f"nested deeper than {SITE_MAX_DEPTH} levels once aliases are expanded"
            )
        return size
    if key in open_:
        raise _Unbounded("an alias refers to the value it is part of")
    if level > SITE_MAX_DEPTH + 1:
        raise _Unbounded(f"nested deeper than {SITE_MAX_DEPTH} levels once aliases are expanded")
    total, depth = 1, 1
    if isinstance(node, yaml.CollectionNode):
        open_.add(key)
        children: list[Any] = []
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                children += [k, v]
        else:
            children = list(node.value)
        for child in children:
            total += _expanded_size(child, level + 1, sizes, open_)
            depth = max(depth, 1 + sizes[id(child)][1])
            if total > SITE_MAX_VALUES:
                raise _Unbounded(f"more than {SITE_MAX_VALUES} values once aliases are expanded")
        open_.discard(key)
    sizes[key] = (total, depth)
    return total


def _at(file: SourceFile | None, mark: Any) -> Span | None:
    """A one-character span at a YAML mark (None without a file to point into)."""
    if file is None or mark is None:
        return None
    start = min(mark.index, len(file.text))
    return Span(file, start, min(start + 1, len(file.text)))


def _read_site_file(site: Site, path: Path, diags: Diagnostics) -> None:
    import yaml

    origin = f"the site file {path}"
    text = _read_text(path, diags)
    if text is None:
        site.domain_invalid = True  # reported: no second "no domain" error
        return
    file = SourceFile(str(path), text)
    problem = yaml_problem(text, file)
    if problem is not None:
        reason, span, help_, labels = problem
        where = "" if span is not None else f" `{path}`"
        diags.error(
            E_SITE,
            f"site file{where} is not valid YAML: {reason}",
            span,
            "here",
            labels=labels,
            help=help_,
        )
        site.domain_invalid = True  # reported: no second "no domain" error
        return
    data = yaml.safe_load(text)
    spans = _Spans(file, yaml.compose(text, Loader=yaml.SafeLoader))
    if data is None:
        return
    if not isinstance(data, dict):
        diags.error(
            E_SITE,
            "a site file must be a map with `domain` and `params`",
            spans.value(()),
            "not a map",
            help=_YAML_HELP,
        )
        return
    for key in data:
        if key not in SITE_KEYS:
            diags.error(
                E_SITE,
                f"unknown key `{key}` in the site file",
                spans.key((str(key),)),
                "not a site setting",
                help=did_you_mean(str(key), SITE_KEYS)
                or "a site file has " + ", ".join(f"`{k}:`" for k in SITE_KEYS),
            )
    for target in TARGET_SECTIONS:
        section = data.get(target)
        if section is None:
            continue
        if not isinstance(section, dict):
            diags.error(
                E_SITE,
                f"`{target}` must be a map of settings",
                spans.value((target,)),
                "not a map",
                help=f"like `{target}:` and below it `setting: value`, indented",
            )
            continue
        site.targets[target] = {str(k): v for k, v in section.items()}
    hosts = data.get("hosts")
    if hosts is not None:
        _read_hosts(site, hosts, spans, diags)
    if "domain" in data:
        if isinstance(data["domain"], str):
            site.domain, site.domain_origin = data["domain"], origin
            site.domain_span = spans.value(("domain",))
        else:
            diags.error(
                E_SITE,
                "`domain` must be a host name",
                spans.value(("domain",)),
                "not text",
                help="like `domain: example.org`",
            )
            site.domain_invalid = True
    params = data.get("params") or {}
    if not isinstance(params, dict):
        diags.error(
            E_SITE,
            "`params` must be a map of name: value",
            spans.value(("params",)),
            "not a map",
            help="like `params:` and below it `timezone: Europe/Berlin`, indented",
        )
        return
    for key, value in params.items():
        path = ("params", str(key))
        parts = {  # a module's params under its alias (mora.modules.site) point at their line
            ".".join(k[2:]): span for k, span in spans.values.items() if k[:2] == path and k[2:]
        }
        site.params[str(key)] = SiteValue(value, origin, spans.value(path), parts)


class _Spans:
    """Where each key and value of the site file sits, by path (`("params", "timezone")`,
    `("hosts", "0", "name")`), for diagnostics with a caret."""

    def __init__(self, file: SourceFile, root: object) -> None:
        import yaml

        self.file = file
        self.keys: dict[tuple[str, ...], Span] = {}
        self.values: dict[tuple[str, ...], Span] = {}
        todo: list[tuple[tuple[str, ...], object]] = [((), root)]
        while todo:  # depth is bounded by SITE_MAX_DEPTH already; no recursion anyway
            path, node = todo.pop()
            if not isinstance(node, yaml.Node):
                continue
            self.values[path] = self._span(node)
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        self.keys[(*path, key.value)] = self._span(key)
                        todo.append(((*path, key.value), value))
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    todo.append(((*path, str(i)), item))

    def _span(self, node: Any) -> Span:
        start = node.start_mark.index
        end = max(node.end_mark.index, start + 1)
        return Span(self.file, start, min(end, len(self.file.text)))

    def key(self, path: tuple[str, ...]) -> Span | None:
        return self.keys.get(path)

    def value(self, path: tuple[str, ...]) -> Span | None:
        return self.values.get(path)


def _read_hosts(site: Site, hosts: object, spans: _Spans, diags: Diagnostics) -> None:
    if not isinstance(hosts, list):
        diags.error(
            E_SITE,
            "`hosts` must be a list",
            spans.value(("hosts",)),
            "not a list",
            help="like `hosts:` and below it `- name: box1`, one entry per machine",
        )
        return
    seen: dict[str, Span | None] = {}
    for i, host in enumerate(hosts):
        where = spans.value(("hosts", str(i)))
        if not isinstance(host, dict) or not isinstance(host.get("name"), str):
            diags.error(
                E_SITE,
                f"host #{i + 1} needs a `name`",
                where,
                "no name",
                help="like `- name: box1`, with `address:` and `tags:` below it",
            )
            continue
        name = host["name"]
        unknown = sorted(str(k) for k in set(host) - {"name", "address", "tags", *SSH_KEYS})
        if unknown:
            diags.error(
                E_SITE,
                f"host `{name}` has unknown keys: {', '.join(unknown)}",
                spans.key(("hosts", str(i), unknown[0])) or where,
                "not a host setting",
                help=did_you_mean(unknown[0], ("name", "address", "tags", *SSH_KEYS))
                or "a host has `name`, `address` and `tags`",
            )
        tags = host.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            diags.error(
                E_SITE,
                f"`tags` of host `{name}` must be a list of names",
                spans.value(("hosts", str(i), "tags")) or where,
                "not a list of names",
                help="like `tags: [gpu, storage]`",
            )
            tags = []
        name_span = spans.value(("hosts", str(i), "name")) or where
        if name in seen:
            first = seen[name]
            diags.error(
                E_SITE,
                f"host `{name}` is listed twice",
                name_span,
                "listed again here",
                labels=[Label(first, "first here")] if first is not None else [],
                help="give each machine its own name",
            )
            continue
        seen[name] = name_span
        site.hosts.append({"name": name, "address": host.get("address"), "tags": tags})
        _read_ssh_access(site, name, host, ("hosts", str(i)), spans, diags)


# --- how `mora apply` reaches a host over SSH (issue 12) -----------------------------------------

#: The SSH keys a host of the inventory may have besides name, address and tags.
SSH_KEYS = ("port", "user", "identity", "known_hosts", "quadlet_dir")


class SshAccess(Record, frozen=True):
    """One host's SSH access for `mora apply --target podman-ssh|quadlet`.

    Paths are resolved against the site file's folder. `known_hosts` None means OpenSSH's own
    (~/.ssh/known_hosts); host keys are checked strictly either way, never skipped.
    """

    address: str
    port: int = 22
    user: str | None = None
    identity: Path | None = None
    known_hosts: Path | None = None
    #: where quadlet units go; None: the standard folder for root or the rootless user
    quadlet_dir: str | None = None


def _read_ssh_access(
    site: Site,
    name: str,
    host: dict[Any, Any],
    path: tuple[str, ...],
    spans: _Spans,
    diags: Diagnostics,
) -> None:
    """Check a host's SSH keys (a caret on each bad one); a host with an address is reachable."""
    from pathlib import Path  # (see the module's imports)

    base = site.file.parent if site.file is not None else Path(".")
    address = host.get("address")
    bad = False

    def wrong(key: str, message: str, help_: str) -> None:
        nonlocal bad
        bad = True
        diags.error(
            E_SITE, f"host `{name}`: {message}", spans.value((*path, key)), "here", help=help_
        )

    if address is not None and (not isinstance(address, str) or not address.strip()):
        wrong("address", "`address` must be a host name or IP address", "like `address: 10.0.0.5`")
    port = host.get("port", 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        wrong("port", "`port` must be a number from 1 to 65535", "like `port: 2222`")
    texts: dict[str, str | None] = {}
    for key in ("user", "identity", "known_hosts", "quadlet_dir"):
        value = host.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            wrong(key, f"`{key}` must be text", f"like `{key}: ...` on one line")
            value = None
        texts[key] = value
    user = texts["user"]
    if user is not None and (user.startswith("-") or not re.fullmatch(r"[A-Za-z0-9._-]+", user)):
        wrong("user", f"`user` {user!r} is not a login name", "like `user: deploy`")
    if isinstance(address, str) and address.startswith("-"):
        wrong("address", "`address` cannot start with `-`", "like `address: 10.0.0.5`")
    quadlet_dir = texts["quadlet_dir"]
    if quadlet_dir is not None and not (
        quadlet_dir.startswith("/") or quadlet_dir.startswith("~/")
    ):
        wrong("quadlet_dir", "`quadlet_dir` must be absolute or start with `~/`",
              "like `quadlet_dir: /etc/containers/systemd`")  # fmt: skip
    if bad or not isinstance(address, str):
        return

    def local(key: str) -> Path | None:
        value = texts[key]
        return None if value is None else (base / Path(value).expanduser())

    site.ssh[name] = SshAccess(
        address.strip(),
        port if isinstance(port, int) else 22,
        user,
        local("identity"),
        local("known_hosts"),
        quadlet_dir,
    )


# --- reading a site value as a declared type -----------------------------------------------------

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(value: object, t: T.Type, from_text: bool) -> tuple[object, str | None]:
    """The value as type `t`, or an explanation of why it is not one (never raises)."""
    kind = t.kind
    if kind == "any":
        return value, None
    if kind == "optional" and t.args:  # optional(T): YAML `null` is `none`, else a T
        return (None, None) if value is None else coerce(value, t.args[0], from_text)
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        if from_text and isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE, None
        return value, "expected true or false"
    if kind in ("int", "port"):
        if isinstance(value, str) and from_text:
            try:
                value = int(value.strip())
            except ValueError:
                return value, "expected a whole number"
        if isinstance(value, bool) or not isinstance(value, int):
            return value, "expected a whole number"
        return value, T.check_literal(kind, value)
    if kind in ("list", "map"):
        elem = t.args[0] if t.args else T.ANY
        items_from_text = False
        if isinstance(value, str) and (from_text or kind == "list"):
            parsed, why = _parse_text_collection(value, kind)
            if why is not None:
                return value, why
            if parsed is None:
                return value, f"expected a {kind}, like " + (
                    "`a,b` or `[a, b]`" if kind == "list" else "`{a: 1, b: 2}`"
                )
            # `8080,9090` gives the words "8080" and "9090": read them as the element type.
            items_from_text = not value.strip().startswith(("[", "{"))
            value = parsed
        if kind == "list":
            if not isinstance(value, list):
                return value, "expected a list"
            out_list = []
            for item in value:
                v, problem = coerce(item, elem, from_text=items_from_text)
                if problem:
                    return value, f"list item: {problem}"
                out_list.append(v)
            return out_list, None
        if not isinstance(value, dict):
            return value, "expected a map"
        out_map = {}
        for k, item in value.items():
            v, problem = coerce(item, elem, from_text=False)
            if problem:
                return value, f"`{k}`: {problem}"
            out_map[str(k)] = v
        return out_map, None
    # text kinds
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value, "expected text"
    text = str(value)
    if kind == "enum":
        if text not in t.values:
            return text, "expected one of " + ", ".join(t.values)
        return text, None
    return text, T.check_literal(kind, text)


def _parse_text_collection(text: str, kind: str) -> tuple[object | None, str | None]:
    """`[a, b]` / `{a: 1}` in YAML (flow) syntax, or for lists a bare `a,b,c`; with the reason
    when the text is YAML that cannot be read (too deep, or broken)."""
    import yaml

    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        problem = yaml_problem(stripped, None)
        if problem is not None:
            reason = problem[0]
            if reason.startswith("nested deeper"):
                return None, reason
            return None, None
        parsed = yaml.safe_load(stripped)
        expected = list if kind == "list" else dict
        return (parsed if isinstance(parsed, expected) else None), None
    if kind == "list":
        return ([p.strip() for p in stripped.split(",")] if stripped else []), None
    return None, None
