"""The service vocabulary: one row per attribute and per block setting.

Before this module a service attribute was named in the checker's lists, typed again in the
checker's `if key == ...` chains, named again in the evaluator and once more in the docs. Now the
checker's known attributes, its did-you-mean, its setting types, the evaluator's "fixed before
inputs" rules and the reference tables all read these rows; tests tie them to `mora.model` and to
each backend's `HANDLES`/`IGNORES`. Data only: this module imports nothing but `mora.types`.
"""

from __future__ import annotations

from mora import types as T
from mora.record import Record

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from typing import Literal

KUBERNETES = "kubernetes"
QUADLET = "quadlet"
PODMAN = "podman"
BACKENDS = (KUBERNETES, QUADLET, PODMAN)
_ALL = BACKENDS
_PODMAN_ONLY = (QUADLET, PODMAN)

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


class Setting(Record, frozen=True):
    """One key of a closed block (`resources`, `security`, `healthcheck`, a port's map)."""

    name: str
    type: T.Type | None  # None: checked by a rule of its own (a command line)
    doc: str
    model_field: str | None = None  # the field of the block's model; None: same as `name`
    extra: Literal["cpu_quantity"] | None = None  # a literal check beyond the type
    relaxes: bool = False  # loosens a secure default: needs a `reason` beside it

    @property
    def field(self) -> str:
        return self.model_field or self.name


class Attr(Record, frozen=True):
    """One service attribute: `key = value` (form value) or `key { ... }` / a map (form block)."""

    name: str
    form: Literal["value", "block"]
    type: T.Type | None  # value: its type; block: the type of each item (None: a rule of its own)
    doc: str
    settings: tuple[Setting, ...] = ()  # closed blocks list their keys; open maps list none
    fixed_before_inputs: bool = False  # shapes the deployment: cannot wait for an input
    secret_ok: bool = False
    model_field: str | None = None  # the `model.Service` field it fills
    backends: tuple[str, ...] = _ALL  # the backends that honour it
    noun: str = ""  # how a diagnostic names one item of a block ("port `http`")
    help_name: str | None = None  # its name in the inputs help, if not `name`
    help_rank: int | None = None  # its place in the inputs help (`pending_help`); None: not named

    @property
    def block(self) -> bool:
        return self.form == "block"

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)


RESOURCES = (
    Setting("cpu", T.STRING, "CPU request, like 250m", extra="cpu_quantity"),
    Setting("memory", T.SIZE, "memory request, like 256Mi"),
    Setting("cpu_limit", T.STRING, "CPU limit", extra="cpu_quantity"),
    Setting("memory_limit", T.SIZE, "memory limit (default 1Gi, or the request when larger)"),
)

SECURITY = (
    Setting("run_as_root", T.BOOL, "the image starts as root and drops privileges itself",
            relaxes=True),
    Setting("run_as_user", T.INT, "the user id to run as"),
    Setting("run_as_group", T.INT, "its primary group; also owns fresh volumes"),
    Setting("group_add", T.list_of(T.INT), "supplementary groups (render/video for /dev/dri)"),
    Setting("read_only_root", T.BOOL, "a read-only root file system"),
    Setting("capabilities_add", T.list_of(T.STRING), "Linux capabilities to add", relaxes=True),
    Setting("privileged", T.BOOL, "a privileged container; implies root", relaxes=True),
    Setting("cap_drop", T.list_of(T.STRING), "capabilities to remove from what is granted"),
    Setting("reason", T.STRING, "why the defaults are loosened"),
)

HEALTHCHECK = (
    Setting("test", None, "the command: a shell string or a list of words"),
    Setting("interval", T.DURATION, "time between checks", model_field="interval_seconds"),
    Setting("timeout", T.DURATION, "how long one check may take", model_field="timeout_seconds"),
    Setting("retries", T.INT, "failures before the service is unhealthy"),
    Setting("start_period", T.DURATION, "failures forgiven after a start (a startup probe)",
            model_field="start_period_seconds"),
)

JOB = (
    Setting("command", None, "the command line (a string split like a shell, or words)"),
    Setting("schedule", T.STRING, 'a cron schedule: "*/5 * * * *", "@daily"'),
    Setting("run", T.Type("enum", values=("before", "after")),
            "once per deploy: before the service starts, or after it is up"),
)

PORT = (
    Setting("target", T.PORT, "the port the container listens on"),
    Setting("published", T.PORT, "the host port, if published"),
    Setting("protocol", T.Type("enum", values=("tcp", "udp")), "tcp (default) or udp"),
)

# Order matters: it is the order of the "service attributes: ..." help and of the docs table.
ATTRS: tuple[Attr, ...] = (
    Attr("image", "value", T.STRING, "the container image, pinned by tag or digest",
         fixed_before_inputs=True, model_field="image", help_rank=1),
    Attr("command", "value", None, "the command line (a string split like a shell, or words)",
         model_field="command", help_rank=3),
    Attr("entrypoint", "value", None, "the entrypoint (as `command`)",
         model_field="entrypoint", help_rank=4),
    Attr("environment", "block", None, "environment variables", secret_ok=True,
         model_field="environment", help_rank=1),
    Attr("ports", "block", T.PORT, "named ports", settings=PORT, fixed_before_inputs=True,
         model_field="ports", noun="port", help_rank=2),
    Attr("volumes", "block", T.MOUNT, "container path = volume(), bind() or tmpfs()",
         fixed_before_inputs=True, model_field="volumes", noun="volume", help_rank=3),
    Attr("files", "block", None, "container path = file contents", secret_ok=True,
         model_field="files", help_rank=2),
    Attr("depends_on", "value", T.list_of(T.SERVICE), "services that start first",
         model_field="depends_on"),
    Attr("healthcheck", "block", None, "how to tell the service is healthy",
         settings=HEALTHCHECK, fixed_before_inputs=True, model_field="healthcheck",
         noun="health check setting", help_name="health check", help_rank=5),
    Attr("restart", "value", T.Type("enum", values=RESTART_POLICIES), "restart policy",
         fixed_before_inputs=True, model_field="restart", backends=_PODMAN_ONLY),
    Attr("user", "value", None, 'the user to run as: "1000:1000" or a number',
         model_field="user", help_rank=5),
    Attr("labels", "block", T.STRING, "labels (reserved keys excepted)",
         model_field="labels", help_rank=6),
    Attr("devices", "value", T.list_of(T.PATH), "device nodes under /dev",
         model_field="devices", help_rank=7),
    Attr("subdomain", "value", T.STRING, "the public host name below the site's domain",
         fixed_before_inputs=True, model_field="subdomain", help_rank=4),
    Attr("routes", "block", T.ROUTE,
         '"SUBDOMAIN[/PATH]" (`@`: the apex) = route(port, auth, max_body, timeout)',
         fixed_before_inputs=True, model_field="routes", noun="route"),
    Attr("resources", "block", None, "requests and limits", settings=RESOURCES,
         fixed_before_inputs=True, model_field="resources", noun="resource", help_rank=6),
    Attr("security", "block", None, "who the container runs as and what it may do",
         settings=SECURITY, fixed_before_inputs=True, model_field="security",
         noun="security setting", help_rank=7),
    Attr("stateful", "value", T.BOOL, "keeps per-instance state (a StatefulSet)",
         fixed_before_inputs=True, model_field="stateful", backends=(KUBERNETES,)),
    Attr("placement", "value", T.list_of(T.STRING), "host tags the service may run on",
         fixed_before_inputs=True, model_field="placement", backends=_ALL),
    Attr("auto_update", "value", T.BOOL, "let podman auto-update pull new images",
         fixed_before_inputs=True, model_field="auto_update", backends=_PODMAN_ONLY),
    Attr("jobs", "block", None, "one-off and scheduled tasks in the service's image",
         settings=JOB, fixed_before_inputs=True, model_field="jobs", noun="job"),
    Attr("init_only", "block", None, "environment read only when the data is first created",
         fixed_before_inputs=True, model_field="init_only", noun="`init_only` note", backends=()),
    Attr("enabled", "value", T.BOOL, "whether the site gets the service (mora/contracts/enabled.py)",
         fixed_before_inputs=True, backends=()),
)
# Compose keys (docs/compose.md): each is one row here plus each backend's mapping.
COMPOSE: tuple[Attr, ...] = (
    Attr("hostname", "value", T.HOSTNAME, "the host name inside the container",
         fixed_before_inputs=True, model_field="hostname"),
    Attr("extra_hosts", "block", T.STRING, "host name = IP address, added to /etc/hosts",
         fixed_before_inputs=True, model_field="extra_hosts", noun="extra host"),
    Attr("dns", "value", T.list_of(T.STRING), "DNS servers (IP addresses)",
         fixed_before_inputs=True, model_field="dns"),
    Attr("working_dir", "value", T.PATH, "the working directory of the command",
         fixed_before_inputs=True, model_field="working_dir"),
    Attr("stop_grace_period", "value", T.DURATION, "how long a stop waits before killing",
         fixed_before_inputs=True, model_field="stop_grace_period_seconds"),
    Attr("stop_signal", "value", T.STRING, "the signal that asks the container to stop",
         fixed_before_inputs=True, model_field="stop_signal", backends=_PODMAN_ONLY),
    Attr("init", "value", T.BOOL, "an init process that reaps zombies and forwards signals",
         fixed_before_inputs=True, model_field="init"),
    Attr("shm_size", "value", T.SIZE, "the size of /dev/shm", fixed_before_inputs=True,
         model_field="shm_size"),
    Attr("sysctls", "block", None, "namespaced kernel parameters: name = value",
         fixed_before_inputs=True, model_field="sysctls", noun="sysctl"),
    Attr("network_mode", "value", T.STRING, '"host", or "service:NAME": whose network it uses',
         fixed_before_inputs=True, model_field="network_mode"),
    Attr("ulimits", "block", None, 'resource limits: name = N or "SOFT:HARD"',
         fixed_before_inputs=True, model_field="ulimits", noun="ulimit",
         backends=_PODMAN_ONLY),
)
ATTRS = ATTRS + COMPOSE
SERVICE: dict[str, Attr] = {a.name: a for a in ATTRS}

# The ulimit names podman and Docker accept (`--ulimit`), as in setrlimit(2) without RLIMIT_.
ULIMITS = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip

# `model.Service` fields no attribute sets directly: what the evaluator derives.
DERIVED = {
    "name": "the service's name",
    "template": "the template it was made from",
    "module_name": "its name in the source, for a service of a module under an alias",
    "host": "from `subdomain` and the site's domain",
    "url": "from `host`",
    "internal_url": "from the name and the first port",
    "route_port": "the port `subdomain` routes to",
    "inputs": "the inputs the service declares",
    "pending_inputs": "inputs it uses that are not answered yet",
    "setup": "its `setup` steps (docs/micromanagers.md), run after it is healthy",
}

# --- what the checker and evaluator read ---------------------------------------------------------

SERVICE_ATTRS = tuple(a.name for a in ATTRS)
BLOCK_ATTRS = tuple(a.name for a in ATTRS if a.block)
RESOURCE_KEYS = tuple(s.name for s in RESOURCES)
SECURITY_KEYS = tuple(s.name for s in SECURITY)
SECURITY_RELAXING = tuple(s.name for s in SECURITY if s.relaxes)
HEALTHCHECK_KEYS = tuple(s.name for s in HEALTHCHECK)
PORT_KEYS = tuple(s.name for s in PORT)
JOB_KEYS = tuple(s.name for s in JOB)
SHAPE_ATTRS = frozenset(a.name for a in ATTRS if a.fixed_before_inputs and not a.block)
SHAPE_BLOCKS = {a.name: a.noun for a in ATTRS if a.fixed_before_inputs and a.block}


def _sentence(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def pending_help() -> str:
    """The help of a diagnostic about an input used where it cannot wait."""
    named = sorted((a for a in ATTRS if a.help_rank is not None), key=lambda a: a.help_rank or 0)
    waits = [a.help_name or a.name for a in named if not a.fixed_before_inputs]
    fixed = [a.help_name or a.name for a in named if a.fixed_before_inputs]
    return (
        f"an input may be used in {_sentence(waits)} (the service waits for the answer); "
        f"the {_sentence(fixed)} are fixed before anyone answers"
    )
