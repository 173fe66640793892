"""Keys and paths a shared project may not claim: one table for the checker, the evaluator and
the backends, so a rule is stated once.

A project is untrusted input. Its `labels { ... }` must not replace the keys mora itself writes
(a generated annotation, checkov's skip list, the podman labels that say which project owns a
container), and its mounts must not reach into the host's system directories unless the service
says why (`bind(path, reason: "...")`), the same pattern as relaxing `security`.
"""

from __future__ import annotations

import posixpath

#: Label/annotation key prefixes mora writes itself (`mora.project`, `mora.dev/host-paths`, ...)
#: or that change how a validator judges the output (`checkov.io/skip1`).
RESERVED_LABEL_PREFIXES = ("mora.", "mora/", "checkov.io/")

#: The `app.kubernetes.io/` keys mora sets on every object; the selector is made of some of them.
RESERVED_LABEL_KEYS = tuple(
    "app.kubernetes.io/" + name
    for name in ("name", "instance", "component", "part-of", "managed-by", "version")
)


def reserved_label(key: str) -> str | None:
    """Why `key` cannot be a project's label (mora or checkov owns it), or None when it can."""
    folded = key.strip().lower()
    if folded.startswith("checkov.io/"):
        return (
            "`checkov.io/` keys switch security checks off; mora writes them for declared reasons"
        )
    for prefix in RESERVED_LABEL_PREFIXES:
        if folded.startswith(prefix):
            return f"keys starting with `{prefix}` belong to mora"
    if folded in RESERVED_LABEL_KEYS:
        return "mora sets this key (and selects pods by some of these)"
    return None


#: Host directories a bind may not mount without a `reason`: the whole host, its configuration,
#: the kernel's and devices' interfaces, boot files, root's home, the programs and libraries, the
#: state of every service, and the container engines' sockets (each one is root on the host).
#: A bind of one of these, of anything inside one, or of a directory that holds one (`/`, `/var`)
#: is refused. docs/security.md ("Host mounts") lists the same.
SYSTEM_DIRS = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run/containerd/containerd.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib",
    "/var/run/docker.sock",
    "/var/run/podman/podman.sock",
)


def path_problem(path: str) -> str | None:
    """Why `path` cannot name a place (relative, or with a `..` segment), or None."""
    if not path.startswith("/"):
        return "not an absolute path"
    if ".." in path.split("/"):
        return "`..` is not allowed in a path"
    return None


def normal_path(path: str) -> str:
    """`path` without `.` segments, doubled or trailing slashes (`..` is refused elsewhere)."""
    simplified = posixpath.normpath(path)
    if simplified.startswith("//"):  # POSIX keeps exactly two leading slashes; Linux does not
        simplified = "/" + simplified.lstrip("/")
    return simplified


#: Files a read-only bind may mount without a reason: the host's time zone, no secret in it.
READ_ONLY_ALLOWED = ("/etc/localtime", "/etc/timezone")

_SOCKETS = ("docker.sock", "podman.sock", "containerd.sock")


def system_dir(host_path: str, readonly: bool) -> str | None:
    """The system directory a bind of `host_path` exposes, or None for an ordinary directory.

    Inside a system directory names that directory; a parent of one (`/`, `/var`) names
    itself; so does a container engine's socket anywhere (`/run/user/1000/podman/podman.sock`).
    """
    path = normal_path(host_path)
    if readonly and path in READ_ONLY_ALLOWED:
        return None
    for sysdir in SYSTEM_DIRS:
        if path == sysdir or path.startswith(sysdir + "/"):
            return sysdir
    parent = path.rstrip("/") + "/"
    if any(sysdir.startswith(parent) for sysdir in SYSTEM_DIRS):
        return path
    if path.rsplit("/", 1)[-1] in _SOCKETS:
        return path
    return None
