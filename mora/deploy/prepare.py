"""Bind folders before a stage starts: the host directories of `bind()` mounts, made by apply.

podman refuses to start a container whose bind source is missing, so a stage whose folder is
missing would fail half-way. Before the services of a stage are created, every missing folder
they bind is created here, owned by the service's user: the rule is the podman script's
(`mora.backends._podman_binds.bind_dirs`: the UID:GID of the first read-write user with a
numeric user), not a second copy of it. A folder that exists is left as it is (never chowned,
let alone recursively); a read-only one must exist. It runs on the service's host: here, or
over the target's SSH master connection.

One shell run per host checks everything first (a read-only folder that is missing, a user who
may not give a folder away) and only then creates; a folder it made and could not give to its
owner is removed again, so the next apply does not find it with the wrong owner. Any problem
is a `TargetError` naming the folder, the services and the fix: the engine then starts nothing
of the stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mora.backends._podman_binds import bind_dirs
from mora.backends._podman_common import LOCAL, HostDeployment
from mora.deploy.targets.base import TargetError


@dataclass(frozen=True)
class Folder:
    """One host directory a stage binds."""

    host: str
    path: str
    owner: tuple[int, int] | None  # None: whoever runs podman (root, or the rootless user)
    readonly: bool  # every mount of it is read-only: it must exist, nothing is created
    services: tuple[str, ...]

    def where(self) -> str:
        return "on this host" if self.host == LOCAL.name else f"on host `{self.host}`"

    def describe(self) -> str:
        """For the plan and the dry run: the folder, its owner and who binds it."""
        host = "" if self.host == LOCAL.name else f"{self.host}:"
        what = (
            "must exist (read-only)"
            if self.readonly
            else (
                f"owner {self.owner[0]}:{self.owner[1]}" if self.owner else "owner: podman's user"
            )
        )
        return f"{host}{self.path} ({what}) for {', '.join(self.services)}"


def folders(hosts: Iterable[HostDeployment], services: Iterable[str]) -> list[Folder]:
    """The bind folders of `services` (and of their jobs), per host, by path."""
    wanted = set(services)
    out = []
    for hd in hosts:
        for b in bind_dirs(hd):
            if wanted & set(b.services):
                out.append(Folder(hd.host.name, b.path, b.owner, b.readonly, b.services))
    return out


# $1: podman; then triples PATH OWNER(uid:gid or -) MODE(rw|ro). Prints `KIND INDEX [why]`
# lines: `created I`, and at most one problem (`missing`, `nochown`, `create`, `own`), then
# exits 1. Everything is checked before the first folder is made.
SCRIPT = r"""
podman=$1; shift
root=0; [ "$(id -u)" = 0 ] && root=1
check() {
	i=0; unshare=unknown
	while [ $# -gt 0 ]; do
		if [ ! -e "$1" ]; then
			if [ "$3" = ro ]; then echo "missing $i"; exit 1; fi
			if [ "$2" != - ] && [ "$root" = 0 ]; then
				if [ "$unshare" = unknown ]; then
					if why=$("$podman" unshare true 2>&1); then unshare=yes; else
						echo "nochown $i $why" | tr '\n' ' '; echo; exit 1
					fi
				fi
			fi
		fi
		i=$((i + 1)); shift 3
	done
}
create() {
	i=0
	while [ $# -gt 0 ]; do
		if [ ! -e "$1" ] && [ "$3" = rw ]; then
			if ! why=$(mkdir -p -- "$1" 2>&1); then
				echo "create $i $why" | tr '\n' ' '; echo; exit 1
			fi
			if [ "$2" != - ]; then
				if [ "$root" = 1 ]; then why=$(chown -- "$2" "$1" 2>&1)
				else why=$("$podman" unshare chown -- "$2" "$1" 2>&1); fi || {
					rmdir -- "$1" 2>/dev/null
					echo "own $i $why" | tr '\n' ' '; echo; exit 1
				}
			fi
			echo "created $i"
		fi
		i=$((i + 1)); shift 3
	done
}
check "$@"
create "$@"
"""

#: runs `argv` on a host: (exit code, stdout, stderr)
Shell = Callable[[str, list[str]], tuple[int, str, str]]


def command(podman: str, found: list[Folder]) -> list[str]:
    """The argv that checks and creates `found` (all on one host)."""
    argv = ["sh", "-c", SCRIPT, "mora", podman]
    for f in found:
        owner = f"{f.owner[0]}:{f.owner[1]}" if f.owner else "-"
        argv += [f.path, owner, "ro" if f.readonly else "rw"]
    return argv


def _problem(kind: str, f: Folder, why: str) -> str:
    who = ", ".join(f"`{s}`" for s in f.services)
    owner = f"{f.owner[0]}:{f.owner[1]}" if f.owner else ""
    why = f" ({why.strip()})" if why.strip() else ""
    if kind == "missing":
        return (
            f"folder {f.path} {f.where()} does not exist: {who} mount it read-only, so mora does"
            f" not create it; nothing of the stage was started. Create it (with the data {who}"
            " should read), then run `mora apply` again"
        )
    if kind == "nochown":
        return (
            f"folder {f.path} {f.where()} must be created for {who} and given to {owner}, but"
            f" the user podman runs as there is not root and `podman unshare` fails{why};"
            " nothing was created or started. Create it owned by"
            f" {owner} (`mkdir -p {f.path} && chown {owner} {f.path}` as root), or deploy as"
            " root, then run `mora apply` again"
        )
    if kind == "own":
        return (
            f"folder {f.path} {f.where()} was created for {who} but cannot be given to"
            f" {owner}{why}, so it was removed again and nothing of the stage was started."
            f" Create it owned by {owner} by hand, then run `mora apply` again"
        )
    return (
        f"cannot create folder {f.path} {f.where()}, the host directory {who} bind{why};"
        f" nothing of the stage was started. Create it{' owned by ' + owner if owner else ''}"
        " or change the `bind()` path, then run `mora apply` again"
    )


def ensure(found: list[Folder], podman: str, shell: Shell, say: Callable[[str, str], None]) -> None:
    """Create the missing folders of `found` with their owners, host by host; TargetError
    (naming the folder, the services and the fix) when one cannot be, before any is made on
    that host. `say(service, step)` reports each folder created."""
    by_host: dict[str, list[Folder]] = {}
    for f in found:
        by_host.setdefault(f.host, []).append(f)
    for host, group in sorted(by_host.items()):
        code, out, err = shell(host, command(podman, group))
        for line in out.splitlines():
            kind, _, rest = line.partition(" ")
            index, _, why = rest.partition(" ")
            if not index.isdigit() or int(index) >= len(group):
                continue
            f = group[int(index)]
            if kind == "created":
                owner = f" (owner {f.owner[0]}:{f.owner[1]})" if f.owner else ""
                say(f.services[0], f"folder {f.path}: created{owner}")
            else:
                raise TargetError(_problem(kind, f, why))
        if code != 0:
            where = "this host" if host == LOCAL.name else f"host `{host}`"
            raise TargetError(
                f"checking the bind folders on {where} failed: {err.strip() or f'exit {code}'};"
                " nothing of the stage was started"
            )
