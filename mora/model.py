"""The resolved model: what the evaluator produces and the only thing backends and the plan read.

Pydantic models, so the manifest's JSON Schema is derived from the same classes that write it.
Secret *values* are never part of these models: a value that contains a secret appears as a
`secret` reference (the name of a piece of secret material) plus the declared secrets it was made
from. The material itself travels beside the manifest in `Compiled.material`, for the backends
that must deliver it (Kubernetes Secrets, podman secrets), and is never serialized here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MANIFEST_FORMAT = "mora-manifest"
MANIFEST_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Value(_Model):
    """A text value delivered to a container: plain, secret (by reference) or pending an input."""

    value: str | None = Field(None, description="the plain value; absent when secret or pending")
    secret: str | None = Field(None, description="name of the secret material holding the value")
    sources: list[str] = Field(
        default_factory=list, description="declared secrets and inputs the value is made from"
    )
    pending: list[str] = Field(
        default_factory=list, description="inputs not answered yet; the value is unknown"
    )


class Port(_Model):
    name: str
    target: int = Field(ge=1, le=65535, description="the port the container listens on")
    published: int | None = Field(None, ge=1, le=65535, description="the host port, if published")
    protocol: Literal["tcp", "udp"] = "tcp"


class Mount(_Model):
    path: str = Field(description="where it appears in the container")
    kind: Literal["volume", "bind", "tmpfs", "nfs"]
    name: str | None = Field(None, description="volume name (kind volume)")
    size: str | None = Field(None, description="requested size as a quantity, like 10Gi")
    host_path: str | None = Field(None, description="the host directory (kind bind)")
    readonly: bool = False
    reason: str | None = Field(None, description="why a bind needs a system directory of the host")
    mode: str | None = Field(None, description="a tmpfs's file mode, octal like 1777")
    storage_class: str | None = Field(
        None, description="the Kubernetes storage class of this volume (else the site's)"
    )
    access: Literal["RWO", "RWX", "ROX"] | None = Field(
        None, description="access mode: one node writes (RWO), many write (RWX), many read (ROX)"
    )
    external: bool = Field(
        False, description="an existing volume, used by `name`: never created nor deleted"
    )
    server: str | None = Field(None, description="the NFS server (kind nfs)")
    share: str | None = Field(None, description="the exported directory on the server (kind nfs)")


class Route(_Model):
    """One public host and path the service answers on, with its options."""

    host: str = Field(description="the public host name")
    subdomain: str | None = Field(None, description="below the site's domain; none: the apex")
    path: str = Field("/", description="the URL path prefix")
    port: str = Field(description="the name of the port it routes to")
    auth: str | None = Field(
        None, description="the identity provider service (Authelia) that must let requests in"
    )
    max_body: str | None = Field(None, description="the largest request body, as a quantity")
    timeout_seconds: float | None = Field(
        None, description="how long the proxy waits for the service to answer"
    )


class File(_Model):
    path: str = Field(description="where the file appears in the container")
    format: Literal["text", "yaml", "json", "toml", "ini"]
    content: str | None = Field(None, description="the file's text, when it holds no secret")
    secret: str | None = Field(None, description="secret material holding the text")
    sources: list[str] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)


class Healthcheck(_Model):
    test: list[str]
    interval_seconds: float | None = None
    timeout_seconds: float | None = None
    start_period_seconds: float | None = None
    retries: int | None = None


class Job(_Model):
    """A task run in its service's image, with its environment, secrets and volumes."""

    name: str = Field(description="the job's name, unique within its service")
    command: list[str] = Field(description="the command line (replaces the service's command)")
    schedule: str | None = Field(None, description="a cron schedule (five fields or @daily)")
    run: Literal["before", "after"] | None = Field(
        None, description="once per deploy: before the service starts, or after it is up"
    )


class Resources(_Model):
    cpu: str | None = Field(None, description="CPU request, like 250m")
    memory: str | None = Field(None, description="memory request, like 256Mi")
    cpu_limit: str | None = None
    memory_limit: str | None = None


class Security(_Model):
    """Secure defaults, and what a service loosens (always with a reason)."""

    run_as_root: bool = Field(False, description="the image must start as root")
    run_as_user: int | None = None
    run_as_group: int | None = Field(
        None, description="the primary group (also owns the volumes); default: the user's number"
    )
    group_add: list[int] = Field(
        default_factory=list, description="supplementary groups, e.g. render/video for /dev/dri"
    )
    read_only_root: bool = False
    privileged: bool = False
    capabilities_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(
        default_factory=list, description="capabilities removed from what the contract grants"
    )
    reason: str | None = Field(None, description="why the defaults are loosened")


# The memory ceiling of a service that declares none, on every backend (docs/reference.md,
# "Resources and security"); a larger declared request raises it to the request.
DEFAULT_MEMORY_LIMIT = "1Gi"

# The capabilities an entrypoint that starts as root needs to chown its data and switch to its
# user (gosu, su-exec, s6-setuidgid, setpriv): what `run_as_root` grants on every backend.
SWITCH_USER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")

# podman's default capability set (containers.conf `default_capabilities`, podman 4.x and 5.x),
# written out so that a service whose user mora does not know means the same on Kubernetes.
RUNTIME_DEFAULT_CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)


@dataclass(frozen=True)
class RunAs:
    """Who a container runs as and what it may do: one reading of the service for every backend.

    `mode` is `user` (a declared non-root user), `root` (`run_as_root`: starts as root and
    drops privileges itself), `privileged`, or `unknown` (nothing declared: settings that start
    any image). `uid`/`gid` are numbers only; a named user is kept in `name` (podman can use it,
    Kubernetes cannot verify it). docs/security.md is the contract this implements.
    """

    mode: Literal["user", "root", "privileged", "unknown"]
    uid: int | None = None
    gid: int | None = None
    name: str | None = None
    groups: tuple[int, ...] = ()
    capabilities: tuple[str, ...] = ()  # added after dropping ALL

    @property
    def numeric(self) -> bool:
        """A non-root user Kubernetes can verify (`runAsNonRoot` with a numeric `runAsUser`)."""
        return self.mode == "user" and self.uid is not None and self.uid != 0


def run_as(svc: Service) -> RunAs:
    """The service's security contract, from `user` and its `security` block."""
    sec = svc.security
    uid: int | None = None
    gid: int | None = None
    name: str | None = None
    if svc.user:
        user, _, group = svc.user.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            uid = int(user)
            gid = int(group) if group else None
        else:
            name = svc.user
    if sec.run_as_user is not None:
        uid, name = sec.run_as_user, None
    if sec.run_as_group is not None:
        gid = sec.run_as_group
    if uid is not None and gid is None:
        gid = uid  # postgres/redis 999:999, linuxserver and most rootless images 1000:1000
    groups = tuple(sorted(set(sec.group_add)))
    own = {_cap(c) for c in sec.capabilities_add}
    drop = {_cap(c) for c in sec.cap_drop}

    def keep(*sets: Iterable[str]) -> tuple[str, ...]:
        """The granted capabilities less `cap_drop` (compose's meaning: the drop wins)."""
        return () if "ALL" in drop else tuple(sorted(set().union(*sets) - drop))

    if sec.privileged:
        return RunAs("privileged", uid, gid, name, groups, keep(own))
    if sec.run_as_root:
        return RunAs("root", uid, gid, name, groups, keep(SWITCH_USER_CAPABILITIES, own))
    if uid is not None or name is not None:
        return RunAs("user", uid, gid, name, groups, keep(own))
    return RunAs("unknown", None, None, None, groups, keep(RUNTIME_DEFAULT_CAPABILITIES, own))


def _cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


class StepExpr(_Model):
    """A value a setup step computes when it runs, kept without secret values.

    Exactly one field is set: `lit` (text, number or flag known at compile time), `ref` (a
    name read at run time: `secret.NAME[.PART]`, `input.NAME`, `output.SVC.STEP.NAME`, or the
    step's own `response.status`, `response.body[.FIELD...]`, `response.stdout`), `concat`
    (an interpolated string), `items` (a list), `entries` (a map) or `op` with `args`.
    """

    lit: str | int | bool | None = None
    ref: str | None = None
    concat: list[StepExpr] | None = None
    items: list[StepExpr] | None = None
    entries: dict[str, StepExpr] | None = None
    op: Literal["==", "!=", "&&", "||", "!"] | None = None
    args: list[StepExpr] | None = None


class StepAuth(_Model):
    kind: Literal["basic", "bearer"]
    user: StepExpr | None = Field(None, description="the user name (basic)")
    secret: StepExpr = Field(description="the password (basic) or the token (bearer)")


class StepOutput(_Model):
    type: Literal["string", "int", "bool"]
    value: StepExpr
    public: bool = Field(
        False, description="declared in `public { }`: not a secret (may go into URLs and logs)"
    )


class Step(_Model):
    """One setup step of a service: an HTTP request or a command in its container."""

    name: str
    description: str | None = None
    run: Literal["once", "always"] = Field("once", description="once per site, or every apply")
    method: str | None = None
    url: StepExpr | None = Field(None, description="never holds a secret")
    manager: StepExpr | None = Field(
        None, description="an external micromanager's base URL (docs/micromanager-protocol.yaml)"
    )
    headers: dict[str, StepExpr] = Field(default_factory=dict)
    auth: StepAuth | None = None
    body: StepExpr | None = None
    body_format: Literal["json", "form"] | None = None
    base: StepExpr | None = Field(
        None, description="an earlier output holding a JSON object: `body` sets fields over it"
    )
    exec: list[StepExpr] | None = Field(None, description="argv in the container; no secret")
    stdin: StepExpr | None = None
    expect: list[int] = Field(
        default_factory=list, description="accepted statuses / exit codes; empty: 2xx / 0"
    )
    until: StepExpr | None = Field(None, description="retried until this holds")
    when: StepExpr | None = Field(None, description="skipped unless this holds")
    outputs: dict[str, StepOutput] = Field(default_factory=dict)
    timeout_seconds: float = 60.0
    outside_hosts: list[str] = Field(
        default_factory=list, description="hosts outside the project the step may reach"
    )
    needs: list[str] = Field(
        default_factory=list, description="services whose step outputs this step reads"
    )


class Service(_Model):
    name: str
    template: str | None = Field(None, description="the template it was made from, if any")
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, Value] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    volumes: list[Mount] = Field(default_factory=list)
    files: list[File] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    user: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    devices: list[str] = Field(default_factory=list)
    subdomain: str | None = None
    host: str | None = Field(None, description="the public host name, subdomain.domain")
    url: str | None = Field(None, description="the public URL, https://host")
    internal_url: str | None = Field(None, description="URL inside the project network")
    route_port: str | None = Field(None, description="the port name the subdomain routes to")
    routes: list[Route] = Field(
        default_factory=list, description="more hosts and paths (`routes`), with their options"
    )
    resources: Resources | None = None
    security: Security = Field(default_factory=Security)
    stateful: bool = Field(False, description="keeps per-instance state: a StatefulSet")
    placement: list[str] = Field(
        default_factory=list, description="host tags this service may run on (podman hosts)"
    )
    auto_update: bool = Field(False, description="let podman auto-update pull new images")
    init_only: dict[str, str] = Field(
        default_factory=dict,
        description="environment variables the image reads only when its data is first "
        "created: name -> how to change the value in a running instance",
    )
    hostname: str | None = Field(None, description="the host name inside the container")
    extra_hosts: dict[str, str] = Field(
        default_factory=dict, description="host name -> IP address, added to /etc/hosts"
    )
    dns: list[str] = Field(default_factory=list, description="DNS servers (IP addresses)")
    working_dir: str | None = Field(None, description="the working directory of the command")
    stop_grace_period_seconds: float | None = Field(
        None, description="how long a stop waits before the container is killed"
    )
    stop_signal: str | None = Field(None, description="the signal that asks it to stop")
    init: bool = Field(False, description="run an init process that reaps zombies")
    shm_size: str | None = Field(None, description="the size of /dev/shm, as a quantity")
    sysctls: dict[str, str] = Field(
        default_factory=dict, description="namespaced kernel parameters: name -> value"
    )
    network_mode: str | None = Field(
        None,
        description="`host` (the host's network namespace) or `service:NAME` (that service's)",
        pattern=r"^(host|service:[a-z0-9_-]+)$",
    )
    ulimits: dict[str, str] = Field(
        default_factory=dict, description='resource limits: name -> "N" or "SOFT:HARD"'
    )
    jobs: list[Job] = Field(
        default_factory=list, description="one-off and scheduled tasks in this service's image"
    )
    inputs: list[str] = Field(
        default_factory=list, description="inputs this service declares (a person provides them)"
    )
    pending_inputs: list[str] = Field(
        default_factory=list, description="inputs it uses that are not answered yet"
    )
    setup: list[Step] = Field(
        default_factory=list, description="setup steps run after it is healthy, in order"
    )


def service_routes(svc: Service) -> list[Route]:
    """Every route of a service: its `subdomain` first (given the options of a `routes` entry
    for the same host and `/`, if any), then the other `routes`, in host and path order."""
    extra = sorted(svc.routes, key=lambda r: (r.host, r.path))
    if not (svc.host and svc.route_port):
        return extra
    same = next((r for r in extra if r.host == svc.host and r.path == "/"), None)
    primary = same or Route(host=svc.host, subdomain=svc.subdomain, port=svc.route_port)
    return [primary, *(r for r in extra if r is not same)]


class SecretInfo(_Model):
    """What the manifest says about a declared secret: never its value."""

    name: str
    generator: str | None = Field(None, description="the generator, or none when set by hand")
    parts: list[str]
    public_parts: list[str] = Field(default_factory=list)


class Input(_Model):
    name: str
    type: str
    service: str | None = Field(None, description="the service that declares it")
    after: list[str] = Field(default_factory=list, description="services that must run first")
    prompt: str | None = Field(None, description="what to tell the person, URLs filled in")
    description: str | None = None
    producer: str | None = Field(
        None, description="the step output that fills it (SERVICE.STEP.OUTPUT): not a person"
    )
    answered: bool


class Host(_Model):
    """A podman host of the site's inventory."""

    name: str
    address: str | None = None
    tags: list[str] = Field(default_factory=list)


class Manifest(_Model):
    """One project compiled against one site."""

    format: Literal["mora-manifest"] = MANIFEST_FORMAT
    version: Literal[1] = MANIFEST_VERSION
    project: str
    domain: str
    params: dict[str, object] = Field(
        default_factory=dict, description="the site's value of every param (none are secret)"
    )
    services: dict[str, Service] = Field(default_factory=dict)
    secrets: dict[str, SecretInfo] = Field(default_factory=dict)
    inputs: dict[str, Input] = Field(default_factory=dict)
    hosts: list[Host] = Field(default_factory=list, description="the site's podman hosts")
    targets: dict[str, dict[str, object]] = Field(
        default_factory=dict,
        description="per-target site settings (kubernetes, podman), checked by each backend",
    )


def manifest_json(manifest: Manifest) -> str:
    """The canonical bytes of a manifest: sorted keys, two-space indent, trailing newline."""
    import json

    # Defaults (empty lists, false flags, tcp) are left out to keep diffs small; the format and
    # version always stay, so a reader can tell what it holds.
    data = manifest.model_dump(mode="json", exclude_defaults=True)
    data["format"] = manifest.format
    data["version"] = manifest.version
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def manifest_schema() -> str:
    """The published JSON Schema of the manifest."""
    import json

    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"mora-manifest-v{MANIFEST_VERSION}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
