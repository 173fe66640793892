"""What the quadlet and podman backends share: site settings, hosts, names, and container options.

Both backends deploy the same containers; they differ only in how they are started (systemd units
made by quadlet, or a shell script of `podman run`). This module turns the resolved model into a
`Deployment`: per host, the containers in dependency order, each with its options (`Opt`, which
knows both its quadlet key and its `podman run` arguments), named volumes, and the files that
become podman secrets (`Delivery`: secret values and config files alike).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import shlex
from collections.abc import Iterable

from mora import types as T
from mora.backends._digest import sha256
from mora.backends.caddy import ProxyRoute, caddyfile_text
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics, did_you_mean
from mora.model import (
    DEFAULT_MEMORY_LIMIT,
    File,
    Host,
    Manifest,
    Mount,
    Port,
    Security,
    Service,
    run_as,
    service_routes,
)
from mora.record import Record, field

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from mora.backends._podman_jobs import JobRun

# Routing of every `model.Service` field for quadlet and podman (their modules add `restart`;
# tests/unit/test_vocabulary.py): a new field fails the test until it is routed here.
HANDLES = frozenset(
    {
        "name", "image", "command", "entrypoint", "environment", "ports", "volumes", "files",
        "depends_on", "healthcheck", "user", "labels", "devices", "subdomain", "host",
        "route_port", "resources", "security", "placement", "auto_update", "pending_inputs",
        "hostname", "extra_hosts", "dns", "working_dir", "stop_grace_period_seconds",
        "stop_signal", "init", "shm_size", "sysctls", "ulimits", "network_mode", "jobs",
        "routes",
    }
)  # fmt: skip
IGNORES = {
    "stateful": "a podman container keeps its named volumes; there is no StatefulSet",
    "template": "a Kubernetes `app.kubernetes.io/component` label; podman has no such label",
    "module_name": "shown by `mora plan`; the unit is named by `name`",
    "init_only": "read by `mora secrets rotate`, not by a backend",
    "url": "the reverse proxy is written from `host`",
    "internal_url": "the project network resolves the service's name",
    "inputs": "`pending_inputs` is what holds a service back",
    "setup": "setup steps are run by `mora apply` after the service is healthy (mora/micro)",
}

# --- diagnostics ---------------------------------------------------------------------------------

E_SETTING = "E0701"  # a `podman:` site setting is invalid
W_SETTING = "W0701"  # a `podman:` site setting is unknown
E_PLACEMENT = "E0702"  # no host has the tags a service's placement asks for
W_CROSS_HOST_DEP = "W0703"  # depends_on across hosts: systemd cannot order it
W_CROSS_HOST_REF = "W0704"  # a service uses another host's service by its internal name
E_UNWRITABLE = "E0705"  # a value podman or a unit file cannot take (path with a comma, ...)
N_PENDING = "W0706"  # (a note) a service left out: its inputs are not answered yet
E_PROXY_PORT = "E0707"  # a service publishes the reverse proxy's ports
W_VERSION_NUMBER = "W0712"  # an unquoted version: YAML made it a float (5.10 -> 5.1)
N_NO_HEALTH_WAIT = "W0708"  # (a note) the podman version cannot wait for a health check
W_TLS_INTERNAL = "W0709"  # no ACME e-mail: the proxy serves certificates of its own CA
W_SHARED_VOLUME = "W0710"  # one named volume used on several hosts
E_HOST_NAME = "E0711"  # a host name that cannot be a directory name
N_HOST_NETWORK = "W0713"  # (a note) on the host's network: how the others reach it
N_SIZE = "W0723"  # (a note) volume sizes are not enforced by podman
E_ROUTE_AUTH = "E0721"  # a route the proxy cannot serve (UDP port, auth on another host)
W_STORAGE_CLASS = "W0722"  # a storage class: podman has none


def note(diags: Diagnostics, code: str, message: str, help: str | None = None) -> None:
    diags.note(code, message, None, help=help)


# --- settings ------------------------------------------------------------------------------------


class Version(Record, frozen=True, order=True):
    """A podman version, compared numerically (5.10 > 5.9)."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, value: object) -> Version | None:
        if isinstance(value, bool):
            return None
        text = str(value).strip()
        m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
        if not m:
            return None
        return cls(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")


QUADLET_FIRST = Version(4, 4)  # the first podman with quadlet
DEFAULT_VERSION = Version(5, 0)
PROXY_IMAGE = "docker.io/library/caddy:2.8.4"
SETTINGS = (
    "version",
    "rootless",
    "acme_email",
    "proxy",
    "proxy_image",
    "http_port",
    "https_port",
)


class Settings(Record, frozen=True):
    """`targets.podman` of the site, checked."""

    version: Version = DEFAULT_VERSION
    rootless: bool = False
    acme_email: str | None = None
    proxy: bool = True
    proxy_image: str = PROXY_IMAGE
    http_port: int = 80
    https_port: int = 443


def read_settings(manifest: Manifest, diags: Diagnostics) -> Settings:
    """The podman site settings; invalid ones are reported and replaced by their default."""
    raw = manifest.targets.get("podman", {})
    values: dict[str, object] = {}
    where = "in the site's `podman:` settings"
    for key in sorted(raw):
        if key not in SETTINGS:
            diags.warning(
                W_SETTING,
                f"unknown setting `{key}` {where}",
                None,
                help=did_you_mean(key, SETTINGS) or "podman settings: " + ", ".join(SETTINGS),
            )
    if "version" in raw:
        version = Version.parse(raw["version"])
        if version is None:
            diags.error(
                E_SETTING,
                f"`version` {where} is not a podman version: {raw['version']!r}",
                None,
                help='like `version: "5.4"` (quote it: YAML reads 5.10 as the number 5.1)',
            )
        else:
            values["version"] = version
            if isinstance(raw["version"], float):
                # YAML read an unquoted number: 5.10 arrives as 5.1, so say which one is used.
                diags.warning(
                    W_VERSION_NUMBER,
                    f"`version` {where} is the number {raw['version']!r}: using podman {version}",
                    None,
                    help=f'quote it (`version: "{version}"`); YAML reads 5.10 as 5.1',
                )
    for key in ("rootless", "proxy"):
        if key in raw:
            if isinstance(raw[key], bool):
                values[key] = raw[key]
            else:
                diags.error(E_SETTING, f"`{key}` {where} must be true or false", None)
    if raw.get("acme_email") is not None:
        email = raw["acme_email"]
        problem = T.check_literal("email", email) if isinstance(email, str) else "not text"
        if problem or not isinstance(email, str) or re.search(r"[\s{}\"#]", email):
            diags.error(E_SETTING, f"`acme_email` {where} is not an e-mail address", None)
        else:
            values["acme_email"] = email
    if "proxy_image" in raw:
        image = raw["proxy_image"]
        if not isinstance(image, str) or T.check_image(image):
            diags.error(E_SETTING, f"`proxy_image` {where} is not an image reference", None)
        else:
            values["proxy_image"] = image
    for key in ("http_port", "https_port"):
        if key in raw:
            port = raw[key]
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                diags.error(E_SETTING, f"`{key}` {where} must be a port (1-65535)", None)
            else:
                values[key] = port
    return Settings(**values)  # type: ignore[arg-type]


# --- the version table ---------------------------------------------------------------------------

# The first podman release whose quadlet accepts each key we write. 4.4 is the key set of quadlet
# in podman v4.4 (checked against its source); keys that came later are dated conservatively (at
# the latest release we could confirm them in), so an older host gets `PodmanArgs=` instead.
KEY_SINCE: dict[str, Version] = {
    **{
        k: QUADLET_FIRST
        for k in (
            "AddCapability",
            "AddDevice",
            "ContainerName",
            "DropCapability",
            "Environment",
            "Exec",
            "Group",
            "Image",
            "Label",
            "Network",
            "NoNewPrivileges",
            "PodmanArgs",
            "RunInit",
            "PublishPort",
            "ReadOnly",
            "User",
            "Volume",
        )
    },
    # The first release whose quadlet knows the key (pkg/systemd/quadlet/quadlet.go by tag);
    # an older podman gets the same option through `PodmanArgs=`.
    "HostName": Version(4, 6),
    "Sysctl": Version(4, 6),
    "WorkingDir": Version(4, 6),
    "DNS": Version(4, 7),
    "ShmSize": Version(4, 7),
    "Ulimit": Version(4, 7),
    "StopTimeout": Version(5, 0),
    "StopSignal": Version(5, 2),
    "AddHost": Version(5, 3),
    **{
        k: Version(5, 0)
        for k in (
            "AutoUpdate",
            "Entrypoint",
            "HealthCmd",
            "HealthInterval",
            "HealthRetries",
            "HealthStartPeriod",
            "HealthTimeout",
            "NetworkName",
            "Notify=healthy",
            "Secret",
            "Tmpfs",
            "VolumeName",
            "User=name",  # 4.x reads User= as a number only
            "secret create --replace",
        )
    },
    # podman's RELEASE_NOTES.md, 5.1.0: "Quadlet `.container` files now support a new key,
    # `GroupAdd`" (containers/podman PR 22601).
    "GroupAdd": Version(5, 1),
    "NetworkAlias": Version(5, 2),
    "Memory": Version(5, 5),
}


def supports(version: Version, key: str) -> bool:
    """Whether podman `version` knows `key` (`KEY_SINCE`)."""
    # Compared as plain tuples: a Version comparison builds both records' field tuples, and a
    # quadlet unit asks for each of its options (~21,000 asks at 1,000 services, a fifth of
    # the quadlet backend's time; docs/performance.md, fourteenth round).
    return (version.major, version.minor, version.patch) >= _SINCE[key]


_SINCE = {key: (v.major, v.minor, v.patch) for key, v in KEY_SINCE.items()}  # KEY_SINCE, as tuples


# --- hosts and placement -------------------------------------------------------------------------

LOCAL = Host(name="local")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def site_hosts(manifest: Manifest, diags: Diagnostics) -> list[Host]:
    """The site's hosts (those whose name can be a directory), or one host `local`."""
    hosts = []
    for host in manifest.hosts:
        if not _NAME.fullmatch(host.name) or len(host.name) > 128:
            diags.error(
                E_HOST_NAME,
                f"host name `{host.name}` cannot name an output folder",
                None,
                help="use letters, digits, `-`, `_` and `.`",
            )
            continue
        hosts.append(host)
    return hosts or [LOCAL]


def place(manifest: Manifest, hosts: list[Host], diags: Diagnostics) -> dict[str, Host]:
    """Service name -> host: the first host (in site order) whose tags include the placement."""
    placed: dict[str, Host] = {}
    inventory = bool(manifest.hosts)
    for name, svc in sorted(manifest.services.items()):
        wanted = set(svc.placement)
        if not wanted or not inventory:
            placed[name] = hosts[0]
            continue
        match = next((h for h in hosts if wanted <= set(h.tags)), None)
        if match is None:
            diags.error(
                E_PLACEMENT,
                f"no host has the tags {_tags(wanted)} that `{name}`'s placement asks for",
                None,
                help="tag a host in the site's `hosts:` list, or change `placement`",
            )
            continue
        placed[name] = match
    return placed


def _tags(tags: Iterable[str]) -> str:
    return ", ".join(f"`{t}`" for t in sorted(tags))


# --- what gets deployed --------------------------------------------------------------------------


class Opt(Record, frozen=True):
    """One container option: its quadlet key and value, and the same as `podman run` arguments.

    `kind` is how quadlet reads the key: `raw` (verbatim), `words` (split and unquoted like an
    Exec line), `strv` (split, unquoted, no escapes). `key` None: there is no key, only args.
    """

    key: str | None
    value: str
    args: tuple[str, ...]
    kind: str = "raw"


class Delivery(Record, frozen=True):
    """A podman secret made from a file beside the script: a secret value or a config file."""

    name: str
    path: str  # relative to the host's output folder
    text: str
    secret: bool  # holds secret material (0600; left out with --no-secrets)


class Container(Record):
    service: Service
    name: str  # container name and unit base name: <project>-<service>
    alias: str  # its name on the project network: the service name
    network: str | None = None  # None: the project network; "host": the host's
    opts: list[Opt] = field(default_factory=list)
    volumes: list[tuple[str, Mount]] = field(default_factory=list)  # (podman volume, mount)
    binds: list[Mount] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)  # container names on the same host
    wait_healthy: list[str] = field(default_factory=list)  # ... of those with a health check
    notify_healthy: bool = False  # a container on this host waits for it to be healthy
    deliveries: list[Delivery] = field(default_factory=list)


class HostDeployment(Record):
    host: Host
    containers: list[Container] = field(default_factory=list)  # dependency order
    volumes: list[str] = field(default_factory=list)  # podman volume names (project-prefixed)
    jobs: list[JobRun] = field(default_factory=list)  # the services' jobs (_podman_jobs)

    @property
    def deliveries(self) -> list[Delivery]:
        seen: dict[str, Delivery] = {}
        for c in [*self.containers, *(j.container for j in self.jobs)]:
            for d in c.deliveries:
                seen[d.name] = d
        return [seen[k] for k in sorted(seen)]


class Deployment(Record):
    project: str
    settings: Settings
    hosts: list[HostDeployment]


HOST_GATEWAY = "host.containers.internal"  # the host, as podman's containers see it
PROXY = "mora-proxy"  # the reverse proxy's service name (a hyphen: no mora service is named so)


def plan(compiled: Compiled, settings: Settings, diags: Diagnostics, one_host: bool) -> Deployment:
    """The containers per host; `one_host` puts every service on a single host (podman/)."""
    return _plan(compiled, settings, diags, one_host, None)


def shared_plan(
    compiled: Compiled, settings: Settings, diags: Diagnostics, one_host: bool
) -> Deployment:
    """`plan`, made once for the quadlet and podman backends of one compile.

    Without site hosts both backends put every service on the one host `local` with the same
    settings, so their deployments are equal; making it twice was about a third of the two
    backends' time (docs/performance.md, fourteenth round). The second call takes the first's
    deployment (and lets it go) when the compiled model is the same object and the settings,
    hosts and placement are equal, and adds the diagnostics the first call's plan added, at the
    same point, so `diags` ends as it would have. The backends only read the deployment; other
    callers (mora/deploy) use `plan`, which never shares one. The first plan waits in
    `compiled.shared` (this compile's, not a module's), and the second takes it out.
    """
    memo = compiled.shared.pop(_SHARED_PLAN, None)  # held only until it is taken
    return _plan(compiled, settings, diags, one_host, memo or {})


_SHARED_PLAN = "podman plan"  # its key in `Compiled.shared`: the inputs, parts and diagnostics


def _plan(
    compiled: Compiled,
    settings: Settings,
    diags: Diagnostics,
    one_host: bool,
    memo: dict[str, object] | None,
) -> Deployment:
    manifest = compiled.manifest
    hosts = [LOCAL] if one_host else site_hosts(manifest, diags)
    placed = {n: hosts[0] for n in manifest.services} if one_host else place(manifest, hosts, diags)
    if (
        memo
        and memo["settings"] == settings
        and memo["hosts"] == hosts
        and memo["placed"] == placed
    ):
        diags.extend(memo["left_out_diags"])  # type: ignore[arg-type]
        if not one_host:
            _cross_host_checks(memo["reach"], diags)  # type: ignore[arg-type]
        diags.extend(memo["diags"])  # type: ignore[arg-type]
        return memo["deployment"]  # type: ignore[return-value]
    first = len(diags.items)
    left_out = _left_out(manifest, diags)
    left_out_diags = diags.items[first:]
    deployed = {n: h for n, h in placed.items() if n not in left_out}
    reach = Reach(compiled, deployed)
    if not one_host:
        _cross_host_checks(reach, diags)
    first = len(diags.items)
    result = _deploy(compiled, settings, diags, hosts, deployed, reach)
    if memo is not None:
        compiled.shared[_SHARED_PLAN] = dict(
            settings=settings,
            hosts=hosts,
            placed=placed,
            left_out_diags=left_out_diags,
            reach=reach,
            diags=diags.items[first:],
            deployment=result,
        )
    return result


def _deploy(
    compiled: Compiled,
    settings: Settings,
    diags: Diagnostics,
    hosts: list[Host],
    deployed: dict[str, Host],
    reach: Reach,
) -> Deployment:
    """The containers of the `deployed` services on each of `hosts` (`plan`'s second half)."""
    manifest = compiled.manifest
    project = manifest.project
    result = Deployment(project, settings, [])
    for host in hosts:
        names = sorted(n for n, h in deployed.items() if h.name == host.name)
        if not names:
            continue
        here = set(names)
        hd = HostDeployment(host)
        services = [manifest.services[n] for n in _dependency_order(manifest, names)]
        waited = {
            dep
            for svc in services
            for dep in deps(svc)
            if dep in here and manifest.services[dep].healthcheck is not None
        }
        for svc in services:
            c = _container(compiled, svc, settings, diags, reach, host)
            if c is None:
                continue
            c.requires = [f"{project}-{d}" for d in deps(svc) if d in here]
            c.wait_healthy = [f"{project}-{d}" for d in deps(svc) if d in waited]
            c.notify_healthy = svc.name in waited
            hd.containers.append(c)
            if svc.jobs:  # their containers are made like the service's (_podman_jobs)
                from mora.backends._podman_jobs import job_runs

                hd.jobs.extend(job_runs(compiled, c, settings, reach, host))
            _alias_on_owner(hd, c)
        proxy = _proxy(compiled, settings, services, host, diags)
        if proxy is not None:
            hd.containers.append(proxy)
        hd.volumes = sorted({v for c in hd.containers for v, m in c.volumes if not m.external})
        result.hosts.append(hd)
    _shared_volume_check(result, diags)
    storage_notes(result, diags)
    return result


def _alias_on_owner(hd: HostDeployment, c: Container) -> None:
    """A container in another's network namespace (`network_mode = "service:NAME"`) is reached
    at the owner's address: the owner answers to its name too, as compose's does."""
    if not (c.network or "").startswith("container:"):
        return
    owner = next((o for o in hd.containers if c.network == f"container:{o.name}"), None)
    if owner is not None:
        owner.opts.append(Opt("NetworkAlias", c.alias, (f"--network-alias={c.alias}",)))


def deps(svc: Service) -> list[str]:
    """The services `svc` depends on (a service listing itself is no dependency)."""
    return [d for d in svc.depends_on if d != svc.name]


def _left_out(manifest: Manifest, diags: Diagnostics) -> set[str]:
    """Services whose inputs are not answered: deploying them would start them with empty keys."""
    out = set()
    for name, svc in sorted(manifest.services.items()):
        if svc.pending_inputs:
            out.add(name)
            note(
                diags,
                N_PENDING,
                f"`{name}` is left out of the podman outputs until its inputs are answered: "
                + ", ".join(f"`{i}`" for i in svc.pending_inputs),
                help=(
                    "`mora apply` fills the inputs a setup step produces and starts it; answer"
                    " the others with `mora setup` (`mora plan` says which), then compile again"
                ),
            )
    for name, svc in sorted(manifest.services.items()):
        missing = [d for d in deps(svc) if d in out]
        if name not in out and missing:
            note(
                diags,
                N_PENDING,
                f"`{name}` is deployed without its dependencies "
                + ", ".join(f"`{d}`" for d in missing)
                + ", which wait for inputs",
            )
    return out


def _dependency_order(manifest: Manifest, names: list[str]) -> list[str]:
    """Dependencies first, ties by name (depends_on has no cycles: the checker sees to it).

    Kahn's algorithm with a heap: at each step the smallest name whose dependencies (among
    `names`) are placed. Both backends ask for the same order, so it is computed once per
    manifest and set of names.
    """
    key = tuple(sorted(names))
    memo = _ORDER_MEMO
    if memo.get("manifest") is not manifest:
        memo.clear()
        memo["manifest"] = manifest
    order = memo.get(key)
    if order is None:
        order = memo[key] = _kahn_order(manifest, key)
    return list(order)


_ORDER_MEMO: dict[object, object] = {}  # the last manifest and its orders, by set of names


def _kahn_order(manifest: Manifest, names: tuple[str, ...]) -> list[str]:
    """The order `_dependency_order` documents, in O(E log V)."""
    wanted = set(names)
    waiting: dict[str, int] = {}  # name -> how many of its dependencies are not placed yet
    dependents: dict[str, list[str]] = {n: [] for n in names}
    for n in names:
        ds = {d for d in deps(manifest.services[n]) if d in wanted}
        waiting[n] = len(ds)
        for d in ds:
            dependents[d].append(n)
    ready = [n for n in names if not waiting[n]]
    heapq.heapify(ready)
    done: list[str] = []
    placed: set[str] = set()
    rest = list(names)  # sorted: the fallback for a cycle takes the smallest unplaced name
    at = 0
    while len(done) < len(names):
        if ready:
            name = heapq.heappop(ready)
        else:  # not reachable for checked input; keep going rather than loop forever
            while rest[at] in placed:
                at += 1
            name = rest[at]
        placed.add(name)
        done.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if not waiting[dependent] and dependent not in placed:
                heapq.heappush(ready, dependent)
    return done


# --- one container -------------------------------------------------------------------------------

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_UNSAFE_PATH = re.compile(r"[\x00-\x1f\x7f,:\"]")


def _container(
    compiled: Compiled,
    svc: Service,
    settings: Settings,
    diags: Diagnostics,
    reach: Reach,
    host: Host,
) -> Container | None:
    project = compiled.manifest.project
    c = Container(svc, f"{project}-{svc.name}", svc.name)
    ok = True

    def bad(message: str, help: str | None = None) -> None:
        nonlocal ok
        ok = False
        diags.error(E_UNWRITABLE, f"`{svc.name}`: {message}", None, help=help)

    opts = c.opts
    host_net = svc.network_mode == "host"
    owner = (svc.network_mode or "").removeprefix("service:") if not host_net else ""
    if host_net:
        c.network = "host"
    elif owner:
        # In the owner's namespace; the owner carries this service's name (see plan()).
        c.network = f"container:{project}-{owner}"
        if reach.deployed.get(owner) != host:
            bad(
                f"`network_mode` shares `{owner}`'s network, which is not deployed on the same"
                " host",
                help="give both the same `placement`",
            )
        if any(p.published is not None for p in svc.ports):
            bad(
                f"a service in `{owner}`'s network namespace cannot publish ports",
                help=f"publish them on `{owner}` (compose refuses this too)",
            )
    else:
        opts.append(Opt("NetworkAlias", svc.name, (f"--network-alias={svc.name}",)))
    labels = {**svc.labels, "mora.project": project, "mora.service": svc.name}  # mora's win
    for key, value in sorted(labels.items()):
        if "=" in key or not key.strip():
            bad(f"label name `{key}` cannot hold `=` or be blank")
            continue
        opts.append(Opt("Label", f"{key}={value}", (f"--label={key}={value}",), "words"))
    for key, val in sorted(svc.environment.items()):
        if not _ENV_NAME.fullmatch(key):
            bad(f"environment variable name `{key}` cannot be passed to podman")
            continue
        if val.secret is not None:
            text = compiled.material.get(val.secret)
            if text is None:
                bad(f"the secret value of `{key}` is missing")
                continue
            d = Delivery(f"{c.name}-env-{key}", f"secrets/{c.name}-env-{key}", text, True)
            c.deliveries.append(d)
            spec = f"{d.name},type=env,target={key}"
            opts.append(Opt("Secret", spec, (f"--secret={spec}",), "words"))
        elif val.value is not None:
            opts.append(
                Opt("Environment", f"{key}={val.value}", (f"--env={key}={val.value}",), "words")
            )
    for f in sorted(svc.files, key=lambda f: f.path):
        fd = _file_delivery(compiled, c.name, f)
        if fd is None:
            bad(f"the contents of `{f.path}` are missing")
            continue
        if not f.path.startswith("/") or _UNSAFE_PATH.search(f.path):
            bad(f"file path `{f.path}` cannot be a podman secret target (no `,` `:` or quotes)")
            continue
        c.deliveries.append(fd)
        spec = f"{fd.name},type=mount,target={f.path}"
        opts.append(Opt("Secret", spec, (f"--secret={spec}",), "words"))
    for m in sorted(svc.volumes, key=lambda m: m.path):
        if _UNSAFE_PATH.search(m.path) or (m.host_path and _UNSAFE_PATH.search(m.host_path)):
            bad(f"mount `{m.path}` has a path podman cannot mount (no `,` `:` or quotes)")
            continue
        if m.kind in ("volume", "nfs"):
            # An external volume keeps its own name: it exists already (docs/podman.md, Storage).
            vol = (m.name or "") if m.external else f"{project}-{m.name or svc.name}"
            if not _NAME.fullmatch(vol):
                bad(f"volume name `{m.name}` cannot name a podman volume")
                continue
            c.volumes.append((vol, m))
        elif m.kind == "bind":
            c.binds.append(m)
        else:
            size = _size(m.size) if m.size else None
            options = [f"size={size}"] if size else []
            options += [f"mode={m.mode}"] if m.mode else []
            spec = m.path + (":" + ",".join(options) if options else "")
            opts.append(Opt("Tmpfs", spec, (f"--tmpfs={spec}",)))
    for port in sorted(svc.ports, key=lambda p: (p.target, p.protocol, p.name)):
        if port.published is not None and not (host_net or owner):  # not in its own netns
            spec = f"{port.published}:{port.target}/{port.protocol}"
            opts.append(Opt("PublishPort", spec, (f"--publish={spec}",)))
    for device in svc.devices:
        opts.append(Opt("AddDevice", device, (f"--device={device}",), "strv"))
    for name, addr in reach.add_hosts(svc, host):
        opts.append(Opt(None, "", (f"--add-host={name}:{addr}",)))
    if host_net:
        _host_network_note(compiled, svc, diags)
    opts.extend(_compose_opts(svc))
    opts.extend(_user_opts(svc))
    opts.extend(_health_opts(svc))
    opts.extend(_security_opts(svc))
    opts.extend(_resource_opts(svc))
    if svc.auto_update:
        opts.append(Opt("AutoUpdate", "registry", ("--label=io.containers.autoupdate=registry",)))
    if svc.entrypoint:
        ep = svc.entrypoint[0] if len(svc.entrypoint) == 1 else _json(svc.entrypoint)
        opts.append(Opt("Entrypoint", ep, (f"--entrypoint={ep}",)))
    if svc.command is not None and any(a == "" for a in svc.command):
        bad("an empty argument in `command` cannot be written into a quadlet unit")
    return c if ok else None


def _file_delivery(compiled: Compiled, container: str, f: File) -> Delivery | None:
    slug = re.sub(r"[^A-Za-z0-9_.]+", "-", f.path).strip("-.")[:60] or "file"
    digest = sha256(f.path.encode()).hexdigest()[:6]
    name = f"{container}-file-{slug}-{digest}"
    if f.secret is not None:
        text = compiled.material.get(f.secret)
        return None if text is None else Delivery(name, f"secrets/{name}", text, True)
    if f.content is None:
        return None
    return Delivery(name, f"files/{name}", f.content, False)


def _host_network_note(compiled: Compiled, svc: Service, diags: Diagnostics) -> None:
    """What changes for a service on the host's network: its ports are the host's, and the
    other containers reach it through the host, not by its name."""
    users = sorted(
        o.name
        for o in compiled.manifest.services.values()
        if o.name != svc.name and (svc.name in o.depends_on or _mentions(compiled, o, svc))
    )
    ports = ", ".join(f"{p.target}/{p.protocol}" for p in sorted(svc.ports, key=lambda p: p.target))
    moved = [p for p in svc.ports if p.published is not None and p.published != p.target]
    note(
        diags,
        N_HOST_NETWORK,
        f"`{svc.name}` runs on the host's network: it listens on the host's own ports"
        + (f" ({ports})" if ports else "")
        + (f", not on {', '.join(str(p.published) for p in moved)}" if moved else "")
        + (
            f"; {', '.join(f'`{u}`' for u in users)} must use {HOST_GATEWAY}, not its name"
            if users
            else ""
        ),
        help="published ports do not apply on the host's network; the reverse proxy reaches "
        f"it at {HOST_GATEWAY}",
    )


def _compose_opts(svc: Service) -> list[Opt]:
    """The compose keys, each a quadlet key and the same `podman run` flag."""
    opts = []
    if svc.hostname:
        opts.append(Opt("HostName", svc.hostname, (f"--hostname={svc.hostname}",)))
    for name, ip in sorted(svc.extra_hosts.items()):
        opts.append(Opt("AddHost", f"{name}:{ip}", (f"--add-host={name}:{ip}",)))
    for server in svc.dns:
        opts.append(Opt("DNS", server, (f"--dns={server}",)))
    if svc.working_dir:
        opts.append(Opt("WorkingDir", svc.working_dir, (f"--workdir={svc.working_dir}",)))
    if svc.stop_grace_period_seconds is not None:
        n = math.ceil(svc.stop_grace_period_seconds)
        opts.append(Opt("StopTimeout", str(n), (f"--stop-timeout={n}",)))
    if svc.stop_signal:
        opts.append(Opt("StopSignal", svc.stop_signal, (f"--stop-signal={svc.stop_signal}",)))
    if svc.init:
        opts.append(Opt("RunInit", "true", ("--init",)))
    shm = _size(svc.shm_size) if svc.shm_size else None
    if shm:
        opts.append(Opt("ShmSize", shm, (f"--shm-size={shm}",)))
    for key, value in sorted(svc.sysctls.items()):
        opts.append(Opt("Sysctl", f"{key}={value}", (f"--sysctl={key}={value}",), "strv"))
    for key, value in sorted(svc.ulimits.items()):
        opts.append(Opt("Ulimit", f"{key}={value}", (f"--ulimit={key}={value}",)))
    return opts


def _user_opts(svc: Service) -> list[Opt]:
    """`User=UID:GID` of a declared user (the group defaults to the user's number, as on
    Kubernetes); a named user is passed as written; no user: the image's own."""
    who = run_as(svc)
    if who.uid is not None:
        user = f"{who.uid}:{who.gid}" if who.gid is not None else str(who.uid)
    elif who.name is not None:
        user = who.name
    else:
        return []
    return [Opt("User", user, (f"--user={user}",))]


def _health_opts(svc: Service) -> list[Opt]:
    hc = svc.healthcheck
    if hc is None:
        return []
    cmd = health_command(hc.test)
    if cmd is None:
        return []
    opts = [Opt("HealthCmd", cmd, (f"--health-cmd={cmd}",))]
    for key, flag, seconds in (
        ("HealthInterval", "--health-interval", hc.interval_seconds),
        ("HealthTimeout", "--health-timeout", hc.timeout_seconds),
        ("HealthStartPeriod", "--health-start-period", hc.start_period_seconds),
    ):
        if seconds is not None:
            d = go_duration(seconds)
            opts.append(Opt(key, d, (f"{flag}={d}",)))
    if hc.retries is not None:
        opts.append(Opt("HealthRetries", str(hc.retries), (f"--health-retries={hc.retries}",)))
    return opts


def _security_opts(svc: Service) -> list[Opt]:
    """The contract of docs/security.md for podman: every capability dropped, then exactly
    the ones the service's case needs (the same set the Kubernetes pod gets)."""
    sec = svc.security
    who = run_as(svc)
    opts: list[Opt] = []
    for gid in who.groups:
        opts.append(Opt("GroupAdd", str(gid), (f"--group-add={gid}",)))
    if who.mode == "privileged":
        return [*opts, Opt(None, "", ("--privileged",))]
    opts.append(Opt("NoNewPrivileges", "true", ("--security-opt=no-new-privileges",)))
    opts.append(Opt("DropCapability", "ALL", ("--cap-drop=all",), "strv"))
    for cap in who.capabilities:
        opts.append(Opt("AddCapability", cap, (f"--cap-add={cap}",), "strv"))
    if sec.read_only_root:
        opts.append(Opt("ReadOnly", "true", ("--read-only",)))
    return opts


def volume_owners(hd: HostDeployment) -> dict[str, tuple[int, int]]:
    """The UID:GID each fresh named volume is created with: that of the first container (in
    dependency order) mounting it that declares a non-root user (an image that starts as root
    chowns its own data). One pass over the containers, not one per volume."""
    owners: dict[str, tuple[int, int]] = {}
    for c in hd.containers:
        who = None
        for vol, m in c.volumes:
            if vol in owners or m.kind == "nfs" or m.external:  # the server / its owner decides
                continue
            who = who or run_as(c.service)
            if who.numeric and who.gid is not None:
                owners[vol] = (who.uid, who.gid)  # type: ignore[assignment]
    return owners


def volume_mounts(hd: HostDeployment) -> dict[str, Mount]:
    """Each volume this host creates -> the first mount that names it (an NFS share's server)."""
    found: dict[str, Mount] = {}
    for c in hd.containers:
        for vol, m in c.volumes:
            if not m.external:
                found.setdefault(vol, m)
    return found


def nfs_options(m: Mount) -> tuple[str, str]:
    """(device, mount options) of an NFS volume, in the local driver's `type=nfs` form.

    An address goes into `addr=` with the device `:/share` (the form Docker documents for
    `type=nfs,o=addr=...`); a host name stays in the device, `server:/share`, which mount.nfs
    resolves itself (the kernel's `addr=` takes addresses only)."""
    # `ipaddress` (~1 ms at start-up) is imported only here and for a host's address
    import ipaddress

    try:
        ipaddress.ip_address(m.server or "")
        device, opts = f":{m.share}", [f"addr={m.server}"]
    except ValueError:
        device, opts = f"{m.server}:{m.share}", []
    if m.readonly:
        opts.append("ro")
    return device, ",".join(opts)


def storage_notes(dep: Deployment, diags: Diagnostics) -> None:
    """What podman does not do with a volume's Kubernetes-only settings: said once, not dropped.

    Sizes: a named volume of the local driver has no quota (a note, once). A storage class: a
    warning per volume, with the way to the same result (an external volume made by hand)."""
    sized: dict[str, str] = {}
    for hd in dep.hosts:
        for c in hd.containers:
            for vol, m in c.volumes:
                if m.size and m.kind == "volume" and not m.external:
                    old = sized.get(vol)
                    if old is None or (T.parse_size(m.size) or 0) > (T.parse_size(old) or 0):
                        sized[vol] = m.size
                if m.storage_class:
                    diags.warning(
                        W_STORAGE_CLASS,
                        f"`{c.service.name}`: podman has no storage classes: volume `{vol}` is a"
                        f" local volume, not `{m.storage_class}` (`storage_class`)",
                        None,
                        help="create the volume with the driver you want (`podman volume create"
                        ' --driver ...`) and use `volume(name: "...", external: true)`',
                    )
    if sized:
        note(
            diags,
            N_SIZE,
            "podman does not enforce volume sizes (the local driver has no quota): "
            + ", ".join(f"{vol} ({size})" for vol, size in sorted(sized.items())),
            help="sizes are PersistentVolumeClaim requests on Kubernetes; on podman a volume"
            " grows until its file system is full",
        )


def volume_owner(hd: HostDeployment, volume: str) -> tuple[int, int] | None:
    """`volume_owners` for one volume (callers that ask for a few)."""
    return volume_owners(hd).get(volume)


def _resource_opts(svc: Service) -> list[Opt]:
    """The memory ceiling Kubernetes gets too: the declared limit, else 1Gi (or the request when
    that is larger). CPU only when a limit is declared; podman has no requests."""
    res = svc.resources
    limit = res.memory_limit if res else None
    if not limit:
        request = res.memory if res else None
        default = T.parse_size(DEFAULT_MEMORY_LIMIT) or 0
        bigger = request is not None and (T.parse_size(request) or 0) > default
        limit = request if bigger else DEFAULT_MEMORY_LIMIT
    opts = []
    size = _size(limit) if limit else None
    if size:
        opts.append(Opt("Memory", size, (f"--memory={size}",)))
    if res and res.cpu_limit:
        cpus = podman_cpus(res.cpu_limit)
        if cpus:
            opts.append(Opt(None, "", (f"--cpus={cpus}",)))
    return opts


def _json(items: list[str]) -> str:
    return json.dumps(items, ensure_ascii=True, separators=(",", ":"))


def health_command(test: list[str]) -> str | None:
    """The `--health-cmd` text: a shell line, or a JSON array for the exec form."""
    if not test:
        return None
    kind = test[0].upper()
    if kind == "NONE":
        return "none"
    if kind == "CMD-SHELL":
        line = " ".join(test[1:])
        first = line.split(" ", 1)[0].upper()
        if line.startswith("[") or first in ("CMD", "CMD-SHELL", "NONE"):
            return _json(["/bin/sh", "-c", line])  # podman would misread the plain text
        return line
    args = test[1:] if kind == "CMD" else test
    if not args:
        return None
    # podman reads a JSON array of more than one word as exec form, one word as a shell line.
    return _json(args) if len(args) > 1 else args[0]


def go_duration(seconds: float) -> str:
    """A duration podman reads: `10s`, `1m30s` is written `90s`, fractions as `500ms`."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def _size(quantity: str) -> str | None:
    """A size for podman (`--memory`, tmpfs `size=`): `1Gi` -> `1g`, else bytes."""
    n = T.parse_size(quantity)
    if n is None or n <= 0:
        return None
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def podman_cpus(quantity: str) -> str | None:
    """`--cpus` from a Kubernetes-style CPU amount: `500m` -> `0.5`, `2` -> `2`."""
    text = quantity.strip()
    try:
        cores = int(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None
    if cores <= 0:
        return None
    return f"{cores:.3f}".rstrip("0").rstrip(".")


# --- across hosts --------------------------------------------------------------------------------


def _texts(compiled: Compiled, svc: Service) -> list[str]:
    """Every text the service is given (plain and secret; only searched, never shown)."""
    out = [v.value for v in svc.environment.values() if v.value is not None]
    out += [compiled.material.get(v.secret, "") for v in svc.environment.values() if v.secret]
    out += [f.content for f in svc.files if f.content is not None]
    out += [compiled.material.get(f.secret, "") for f in svc.files if f.secret]
    return out


def _mentions(compiled: Compiled, svc: Service, other: Service) -> list[Port]:
    """The ports of `other` that `svc` reaches by its internal name (`other:port`).

    One regex per port and text: `Reach` answers the same question from an index, and uses
    this only for a name the index cannot hold.
    """
    texts = _texts(compiled, svc)
    return [
        p
        for p in other.ports
        if any(
            re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(other.name)}:{p.target}(?!\d)", t)
            for t in texts
        )
    ]


# Every `name:digits` whose name is a whole run of name characters, overlapping matches included
# (a lookahead): the same places `_mentions` finds, in one pass over each text.
_MENTION = re.compile(r"(?<![A-Za-z0-9_.-])(?=([A-Za-z0-9_.-]+):(\d+))")
_MENTION_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def host_ip(host: Host) -> str | None:
    """The host's address when it is an IP address (what `--add-host` takes), else None."""
    text = (host.address or "").strip("[]")
    if not text:  # no address (the local host): no IP address, and no `ipaddress` import
        return None
    import ipaddress  # (see `nfs_options`)

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class Reach:
    """Which deployed services a service reaches on other hosts, answered from indexes.

    Asking every service about every other service (with a regex per pair and an IP address
    parsed per pair) made the podman backends quadratic; here each host's address is parsed
    once and each service's texts are scanned once.
    """

    def __init__(self, compiled: Compiled, deployed: dict[str, Host]) -> None:
        self.compiled = compiled
        self.deployed = deployed
        hosts = {h.name: h for h in deployed.values()}
        self.ips = {name: host_ip(h) for name, h in hosts.items()}
        self._found: dict[str, dict[str, set[str]]] = {}
        # names the index cannot hold (not a run of name characters): asked pair by pair
        self._odd = sorted(n for n in deployed if not _MENTION_NAME.fullmatch(n))

    def _index(self, svc: Service) -> dict[str, set[str]]:
        """Name -> the port numbers (as written) that `svc`'s texts put after `name:`."""
        found = self._found.get(svc.name)
        if found is None:
            found = {}
            for text in _texts(self.compiled, svc):
                if ":" not in text:
                    continue
                for m in _MENTION.finditer(text):
                    found.setdefault(m.group(1), set()).add(m.group(2))
            self._found[svc.name] = found
        return found

    def mentions(self, svc: Service, other: Service) -> list[Port]:
        """What `_mentions` returns."""
        if not _MENTION_NAME.fullmatch(other.name):
            return _mentions(self.compiled, svc, other)
        numbers = self._index(svc).get(other.name)
        if not numbers:
            return []
        return [p for p in other.ports if str(p.target) in numbers]

    def mentioned(self, svc: Service) -> list[str]:
        """The deployed services `svc` may use (by name in depends_on or a text), sorted."""
        names = set(self._index(svc)) | set(svc.depends_on) | set(self._odd)
        return sorted(n for n in names if n in self.deployed)

    def add_hosts(self, svc: Service, host: Host) -> list[tuple[str, str]]:
        """`name:address` entries that make a service on another host resolve to that host."""
        out = []
        services = self.compiled.manifest.services
        for name in self.mentioned(svc):
            other_host = self.deployed[name]
            ip = self.ips[other_host.name]
            if other_host.name == host.name or ip is None:
                continue
            if name in svc.depends_on or self.mentions(svc, services[name]):
                out.append((name, ip))
        return out


def _cross_host_checks(reach: Reach, diags: Diagnostics) -> None:
    deployed = reach.deployed
    services = reach.compiled.manifest.services
    for name, host in sorted(deployed.items()):
        svc = services[name]
        for dep in deps(svc):
            dep_host = deployed.get(dep)
            if dep_host is not None and dep_host.name != host.name:
                diags.warning(
                    W_CROSS_HOST_DEP,
                    f"`{name}` (host `{host.name}`) depends on `{dep}` (host `{dep_host.name}`):"
                    " systemd cannot order units across machines",
                    None,
                    help=f"start `{dep}` on `{dep_host.name}` first, or give both the same"
                    " placement",
                )
        for other_name in reach.mentioned(svc):
            other_host = deployed[other_name]
            if other_host.name == host.name:
                continue
            other = services[other_name]
            for port in reach.mentions(svc, other):
                what = (
                    f"`{name}` (host `{host.name}`) uses `{other_name}:{port.target}`, which runs"
                    f" on host `{other_host.name}`"
                )
                ip = reach.ips[other_host.name]
                if port.published == port.target and ip is not None:
                    note(
                        diags,
                        W_CROSS_HOST_REF,
                        f"{what}: it reaches {ip}:{port.target}, the published"
                        " port, through an /etc/hosts entry (--add-host)",
                    )
                    continue
                where = (
                    f"`{other_host.name}` and give that host an IP `address` in the site"
                    if ip is None
                    else ip
                )
                diags.warning(
                    W_CROSS_HOST_REF,
                    f"{what}: the project network does not span hosts, so it cannot reach it",
                    None,
                    help=f"publish the port on {where}: `ports {{ {port.name} = {{ target:"
                    f" {port.target}, published: {port.target} }} }}`",
                )


def _shared_volume_check(deployment: Deployment, diags: Diagnostics) -> None:
    where: dict[str, set[str]] = {}
    for hd in deployment.hosts:
        for vol in hd.volumes:
            where.setdefault(vol, set()).add(hd.host.name)
    for vol, hosts in sorted(where.items()):
        if len(hosts) > 1:
            diags.warning(
                W_SHARED_VOLUME,
                f"volume `{vol}` is used on hosts {_tags(hosts)}: each host gets its own copy",
                None,
                help="place the services that share it on one host",
            )


# --- the reverse proxy ---------------------------------------------------------------------------


def _proxy(
    compiled: Compiled,
    settings: Settings,
    services: list[Service],
    host: Host,
    diags: Diagnostics,
) -> Container | None:
    """A Caddy container serving the subdomains of this host's services, with TLS."""
    if not settings.proxy:
        return None
    routes = proxy_routes(services, host, diags)  # mora/backends/caddy.py writes them
    if not routes:
        return None
    for svc in services:
        for p in svc.ports:
            taken = {(settings.http_port, "tcp"), (settings.https_port, "tcp")}
            taken.add((settings.https_port, "udp"))
            if (p.published, p.protocol) in taken:
                diags.error(
                    E_PROXY_PORT,
                    f"`{svc.name}` publishes port {p.published} on host `{host.name}`, where the"
                    " reverse proxy serves the subdomains",
                    None,
                    help="publish another port, or set `http_port`/`https_port` in the site's"
                    " `podman:` settings",
                )
    if settings.acme_email is None:
        diags.note(
            W_TLS_INTERNAL,
            "no `acme_email` in the site's `podman:` settings: the reverse proxy serves"
            " certificates from its own local CA, which browsers do not trust",
            None,
            help="set `podman: { acme_email: you@example.org }` for Let's Encrypt certificates",
        )
    project = compiled.manifest.project
    caddyfile = caddyfile_text(project, host.name, settings.acme_email, routes)
    svc = Service(
        name=PROXY,
        image=settings.proxy_image,
        ports=[
            Port(name="http", target=80, published=settings.http_port),
            Port(name="https", target=443, published=settings.https_port),
            Port(name="http3", target=443, published=settings.https_port, protocol="udp"),
        ],
        volumes=[
            Mount(path="/config", kind="volume", name=f"{PROXY}-config"),
            Mount(path="/data", kind="volume", name=f"{PROXY}-data"),
        ],
        files=[File(path="/etc/caddy/Caddyfile", format="text", content=caddyfile)],
        restart="always",
        # Caddy's image runs as root; it needs to bind 80 and 443 and nothing else.
        security=Security(run_as_user=0, capabilities_add=["NET_BIND_SERVICE"]),
    )
    proxy_compiled = Compiled(compiled.manifest, {})
    return _container(proxy_compiled, svc, settings, diags, Reach(proxy_compiled, {}), host)


def proxy_routes(services: list[Service], host: Host, diags: Diagnostics) -> list[ProxyRoute]:
    """Every route of this host's services, as the proxy reaches them (docs/podman.md)."""
    here = {svc.name: svc for svc in services}

    def upstream(svc: Service, port_name: str) -> tuple[str, int] | None:
        port = next((p for p in svc.ports if p.name == port_name and p.protocol == "tcp"), None)
        # A service on the host's network is reached through the host's gateway.
        alias = HOST_GATEWAY if svc.network_mode == "host" else svc.name
        return (alias, port.target) if port is not None else None

    routes = []
    for svc in services:
        for route in service_routes(svc):
            target = upstream(svc, route.port)
            if target is None:  # the evaluator saw the port exists: it is a UDP one
                diags.error(
                    E_ROUTE_AUTH,
                    f"`{svc.name}`: route {route.host}{route.path} goes to port `{route.port}`,"
                    " which is not TCP: the reverse proxy speaks HTTP",
                    None,
                    help='route to the web port: `route(port: "http")`',
                )
                continue
            auth = None
            if route.auth is not None:
                idp = here.get(route.auth)
                auth = upstream(idp, idp.route_port or "") if idp is not None else None
                if auth is None:
                    diags.error(
                        E_ROUTE_AUTH,
                        f"`{svc.name}`: route {route.host}{route.path} asks `{route.auth}` to let"
                        f" requests in, but `{route.auth}` is not served on host `{host.name}`",
                        None,
                        help=f"give `{route.auth}` and `{svc.name}` the same `placement`: the"
                        " proxy of a host asks the identity provider on its own network",
                    )
                    continue
            routes.append(
                ProxyRoute(
                    route.host,
                    route.path,
                    *target,
                    auth=auth,
                    max_body=route.max_body,
                    timeout_seconds=route.timeout_seconds,
                )
            )
    return sorted(routes)


# --- shell scripts -------------------------------------------------------------------------------

SECRET_FUNCTION = """\
# create NAME FILE: (re)create the podman secret NAME from FILE, beside this script.
create() {{
\tif [ ! -f "$2" ]; then
\t\techo "$0: $2 is missing (compiled with --no-secrets? put the file there)" >&2
\t\texit 1
\tfi
{body}
}}
"""


def secret_function(replace: bool) -> str:
    """The shell function that makes a podman secret idempotently (podman 4.x has no --replace)."""
    if replace:
        body = '\t"$podman" secret create --replace "$1" "$2" >/dev/null'
    else:
        body = (
            '\t"$podman" secret rm "$1" >/dev/null 2>&1 || true\n'
            '\t"$podman" secret create "$1" "$2" >/dev/null'
        )
    return SECRET_FUNCTION.format(body=body)


def secrets_script(project: str, host: str, deliveries: list[Delivery], replace: bool) -> str:
    """secrets.sh: creates every podman secret a host's units use, from the files beside it."""
    lines = [
        "#!/bin/sh",
        f"# Generated by mora from project `{project}` for host `{host}`; do not edit.",
        "# Creates the podman secrets the units use (secret values and config files) from the",
        "# files beside this script. Run it as the user that runs the units, before",
        "# `systemctl daemon-reload`, and again after every compile (then restart the services).",
        "set -eu",
        'cd "$(dirname "$0")"',
        'podman="${PODMAN:-podman}"',
        "",
        secret_function(replace),
    ]
    lines += [f"create {shlex.quote(d.name)} {shlex.quote(d.path)}" for d in deliveries]
    return "\n".join(lines) + "\n"
