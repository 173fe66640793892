"""Every diagnostic code, once: its severity, a short title and the page that documents it.

Codes were constants scattered over the checker, the evaluator and the backends (and bare strings
in the parser, the loader and the CLI); one code once meant two different warnings (W0607). This
table is the registry: `tests/unit/test_codes.py` holds every code written in `mora/` to it, every
entry to exactly one row of its page's Diagnostics table, and each call's severity to the entry's.
The call sites keep their constants and strings (`code()` returns the plain id), so adding a code
is one line here, one row in the docs and the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "note", "warning/note"]

REFERENCE = "docs/reference.md#diagnostics"
KUBERNETES = "docs/kubernetes.md#diagnostics"
PODMAN = "docs/podman.md#diagnostics"


@dataclass(frozen=True)
class Code:
    id: str
    severity: Severity  # "warning/note": a warning or, in the harmless case, a note
    title: str
    doc: str  # the page (and its Diagnostics table) that explains it


CODES: dict[str, Code] = {}


def code(id: str, severity: Severity, title: str, doc: str = REFERENCE) -> str:
    """Register a code (once: a second meaning is a bug) and return its id."""
    if id in CODES:
        raise ValueError(f"diagnostic code {id} is declared twice")
    if (id[0] == "E") != (severity == "error"):
        raise ValueError(f"{id}: E codes are errors, W codes warnings or notes")
    CODES[id] = Code(id, severity, title, doc)
    return id


# --- the language, the site and the store (docs/reference.md) ---
code("E0001", "error", "syntax error: an unexpected character, token or end of file")
code("E0002", "error", "unterminated string")
code("E0003", "error", "unknown escape sequence in a string")
code("E0004", "error", "bad interpolation")
code("E0006", "error", "a file is not valid UTF-8")
code("E0007", "error", "a file holds a control character")
code("E0008", "error", "nested too deeply")
code("E0009", "error", "${...} in a key")
code("E0100", "error", "the project path does not exist, or the directory has no .mora files")
code(
    "E0101",
    "error",
    "an imported file or directory cannot be found or read, or has no .mora files",
)
code("E0102", "error", "unknown standard-library module")
code("E0103", "error", "an import alias that cannot be used: reserved, used twice, or a name")
code("E0106", "error", "alias.NAME where the module declares no such thing")
code("E0107", "error", "a module argument the module has no param for, positional, or repeated")
code("E0108", "error", "a module argument of the wrong type")
code("E0104", "error", "an import leaves the project")
code("E0105", "error", "not something mora reads (special file, too large, ...)")
code("E0201", "error", "a name declared twice")
code("E0202", "error", "unknown name, including an unknown args.NAME")
code("E0203", "error", "unknown param")
code("E0204", "error", "unknown service")
code("E0205", "error", "unknown secret")
code("E0206", "error", "unknown input")
code(
    "E0207",
    "error",
    "unknown service attribute, or unknown port, healthcheck, resource, security, job or input setting",
)
code("E0208", "error", "unknown function, template or secret generator")
code("E0209", "error", "unknown or malformed type")
code("E0210", "error", "invalid reference")
code("E0211", "error", "a reserved word used as a name")
code("E0301", "error", "type mismatch")
code("E0302", "error", "a secret value where secrets are not allowed")
code("E0303", "error", "invalid image reference")
code("E0304", "error", "port out of range")
code("E0305", "error", "invalid value")
code("E0306", "error", "wrong arguments")
code("E0307", "error", "something required is missing")
code("E0308", "error", "a literal in the wrong format")
code("E0320", "error", "a label key mora reserves")
code("E0321", "error", "a path with a .. segment")
code(
    "E0322",
    "error",
    "a bind of a system directory of the host without a reason, or a device outside /dev",
)
code("E0330", "error", "a job's schedule is not a cron schedule")
code("E0331", "error", "a job has both schedule and run, or neither")
# contracts and optional values (mora/contracts)
code("E0350", "error", "unknown contract")
code("E0351", "error", "a service passed where a contract is required does not provide it")
code("E0352", "error", "a contract field that is unknown, or required and missing")
code("E0353", "error", "provides where it cannot be: in an if or a block, or with a non-field entry")
code("E0354", "error", "an optional value used without checking it is not none")
code("E0355", "error", "a deployed service waits for a service that enabled = false leaves out")
code("E0356", "error", "a defaults entry that is not name = value")
code("E0357", "error", "a template built on an unknown template")
code("E0358", "error", "an argument a template is built with that the base does not take")
code("E0359", "error", "a template built on itself")
code("E0360", "error", "a request that does not go to a contract argument, or is in a block")
code("E0361", "error", "a request body reads the provider it registers with")
code("E0362", "error", "a request sent to a provider that reads no requests of its contract")
code("E0363", "error", "self.requests used outside a service, or without one contract name")
code("E0370", "error", "amend of a service that does not exist (or a template, or vanished upstream)")
code("E0371", "error", "two amends of one service set the same key")
code("E0372", "error", "an amend that cannot merge: a declaration, a computed block, an ambiguous name")
code("W0373", "note", "an amend replaces the image the template was written for")
code("W0006", "warning", "a default that no template instance of its file takes")
code("E0401", "error", "dependency cycle")
code("E0402", "error", "two services claim the same subdomain or host")
code("E0403", "error", "two services publish the same host port and protocol")
code("E0404", "error", "the project is named twice, differently")
code("E0501", "error", "site problem")
code("E0502", "error", "a param without a default has no value from the site")
code("E0503", "error", "no domain for the site")
code("E0504", "error", "secret store problem")
code("E0505", "error", "evaluation problem")
code("E0506", "error", "a param's value from the site does not fit the param's type")
code("E0507", "error", "an output file or directory cannot be written")
code("E0508", "error", "the output directory, or a directory or file below it, is a symlink")
code("E0509", "error", "a subdomain ends with the site's domain, or is the domain")
code("E0801", "error", "the deployment record cannot be read or keyed")
code("W0001", "warning", "a param is never used")
code("W0002", "warning", "a secret is never used")
code("W0003", "warning", "an input is never used")
code("W0004", "warning", "an image without a tag or digest")
code("W0005", "note", "a service does not say which user its image runs as")
code("W0501", "warning", "the site sets a param the project does not declare")
code("W0502", "warning", "the secret store keeps a secret the project no longer declares")
code("W0503", "warning", "a secret's declaration changed since it was generated")
code("W0510", "note", "a compile created a new secret store")
code("W0511", "note", "a store from before namespaces was moved")

# --- the Kubernetes backend (docs/kubernetes.md) ---
code("E0601", "error", "a kubernetes: site setting is invalid", KUBERNETES)
code("E0602", "error", "two services become the same Kubernetes name", KUBERNETES)
code("E0603", "error", "a subdomain routes to a port that is not TCP", KUBERNETES)
code("E0604", "error", "a resource request is above its limit", KUBERNETES)
code("E0605", "error", "user = 0 without run_as_root", KUBERNETES)
code("E0606", "error", "network_mode service:NAME on Kubernetes", KUBERNETES)
code("E0699", "error", "internal: a secret reference without material", KUBERNETES)
code("W0601", "warning", "unknown kubernetes: setting", KUBERNETES)
code("W0602", "warning", "a service was renamed to be a valid Kubernetes name", KUBERNETES)
code("W0603", "note", "host directories (hostPath) are mounted", KUBERNETES)
code("W0604", "warning", "devices need a device plugin or privileged", KUBERNETES)
code("W0605", "warning", "the service waits for inputs and has 0 replicas", KUBERNETES)
code("W0606", "warning", "a dependency has no TCP port to wait for", KUBERNETES)
code("W0607", "warning", "a dependency waits for inputs", KUBERNETES)
code("W0608", "warning", "a label is not a valid Kubernetes annotation key", KUBERNETES)
code("W0609", "warning", "two ports of a service repeat one number and protocol", KUBERNETES)
code("W0610", "warning", "user is a name, which Kubernetes cannot use", KUBERNETES)
code("W0611", "warning", "a compose key Kubernetes cannot express as written", KUBERNETES)
code("W0620", "note", 'a run = "before" job is a Job beside the rollout', KUBERNETES)
code("E0611", "error", "a placement tag cannot be a Kubernetes node label", KUBERNETES)
code("W0623", "warning", "a before job writes a hostPath and no placement pins its node", KUBERNETES)

# --- the quadlet and podman backends (docs/podman.md) ---
code("E0701", "error", "a podman: setting has a bad value", PODMAN)
code("W0701", "warning", "unknown podman: setting", PODMAN)
code("E0702", "error", "no host has the tags of a service's placement", PODMAN)
code("W0703", "warning", "depends_on across hosts", PODMAN)
code("W0704", "warning/note", "a service uses another host's service by its internal name", PODMAN)
code("E0705", "error", "a value or path that cannot be written", PODMAN)
code("W0706", "note", "a service left out until its inputs are answered", PODMAN)
code("E0707", "error", "a service publishes the reverse proxy's port on its host", PODMAN)
code("W0708", "note", "this podman cannot make dependents wait for a health check", PODMAN)
code("W0709", "note", "no acme_email: the proxy uses its own local CA", PODMAN)
code("W0710", "warning", "one named volume used on several hosts", PODMAN)
code("E0711", "error", "a host name that cannot be a folder name", PODMAN)
code("W0712", "warning", "version written as an unquoted number", PODMAN)
code("W0713", "note", "a service runs on the host's network", PODMAN)
code("W0720", "note", "the podman script target cannot schedule a job", PODMAN)

# --- mora import (docs/reference.md; explained at length in docs/import.md) ---
code("E0901", "error", "mora import: a compose file or --env-file cannot be read")
code("E0902", "error", "mora import: not a compose file")
code("E0903", "error", "mora import: the output file cannot be written")
code("W0901", "warning", "mora import: a bad $ in a compose value, or ${VAR:+x} imported as its value")
code("W0902", "warning", "mora import: a compose key mora cannot express, left out")
code("W0903", "warning/note", "mora import: a compose value mora cannot express as given")
code("W0904", "warning", "mora import: a secret value where mora allows none")
code("W0905", "warning", "mora import: a service renamed to a mora name")
code("W0906", "note", "mora import: an image the stdlib knows, kept as a plain service")
code("W0907", "note", "mora import: a service left out, its profile not enabled")
code("W0908", "note", "mora import: a compose key mora does itself")

# --- setup steps: micromanagers (docs/reference.md; docs/micromanagers.md) ---
code("E0931", "error", "a malformed setup step")
code("E0932", "error", "an unknown step, service or name in a setup step")
code("E0933", "error", "a secret or a step output in a step's url, exec or description")
code("E0934", "error", "a cycle through setup steps")
code("E0935", "error", "a step output read but never produced")
code("E0936", "error", "an input's from that is not a step output")
code("E0937", "error", "a public step output that would hold a secret")
code("E0938", "error", "a step URL whose host is outside the project and not declared")
code("E0939", "error", "a bad for_each: not a public list or map of text known when compiling")
code("E0940", "error", "each outside a step repeated per item, or an unknown field of each")
code("E0941", "error", "a malformed pick(LIST, FIELD == VALUE, PATH) in a setup step")

# --- routes and storage (docs/reference.md, docs/kubernetes.md, docs/podman.md) ---
code("E0340", "error", "a bad route key")
code("E0341", "error", "a route to an unknown port")
code("E0342", "error", "an external volume without the name of the existing volume")
code("E0520", "error", "two routes on the same host and path")
code("E0521", "error", "a route's auth names a service that cannot be the identity provider")
code("E0522", "error", "the site gives a provider param (a module's optional contract)")
code("E0630", "error", "two mounts of one volume ask for different storage classes or access modes", KUBERNETES)
code("W0621", "warning", "Traefik: routes of one service ask for different timeouts", KUBERNETES)
code("W0622", "warning", "route options the site's ingress class cannot take", KUBERNETES)
code("E0721", "error", "a route the host's proxy cannot serve", PODMAN)
code("W0722", "warning", "a volume's storage_class: podman has none", PODMAN)
code("W0723", "note", "volume sizes are not enforced by podman", PODMAN)

# --- pinned dependencies and renames (docs/reference.md) ---
code("E0130", "error", "a locked dependency cannot be used: not fetched, or its files changed")
code("E0131", "error", "a require that mora.lock does not record at that repository and version")
code("E0132", "error", "mora.lock is not a lock file mora writes")
code("E0133", "error", "a name required twice, or a dependency's require the project does not make")
code("E0134", "error", "mora get cannot fetch a requirement")
code("E0140", "error", "a moved declaration that cannot apply")
code("W0140", "warning", "a service looks renamed: the help is its moved line")
# --- the manager as a service of the site (docs/manager.md) ---
MANAGER = "docs/manager.md#diagnostics"
code("E0670", "error", "a manager: site setting is invalid", MANAGER)
code("W0670", "warning", "unknown manager: setting", MANAGER)
