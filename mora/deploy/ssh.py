"""Running commands on a host of the site's inventory with the system's OpenSSH client.

One master connection per host (ControlMaster, a socket in a private 0700 temporary folder),
reused by every command of an apply and closed at its end (`ssh -O exit`). Host keys are always
checked strictly (`StrictHostKeyChecking=yes`) against the known_hosts file the site names, or
OpenSSH's own: an unknown or changed host key stops the apply, it is never accepted silently.
`BatchMode=yes`: no password or passphrase prompt can hang an apply.

Secret values travel on the command's standard input only, never in its arguments (which the
remote host's process list shows) and never in a file left behind.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from mora.deploy.targets.base import TargetError


class SshAccess(Protocol):
    """How to reach one host: what the site file's inventory gives (`mora.site.SshAccess`;
    a protocol here, since deploy does not read the site file itself)."""

    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def user(self) -> str | None: ...
    @property
    def identity(self) -> Path | None: ...
    @property
    def known_hosts(self) -> Path | None: ...
    @property
    def quadlet_dir(self) -> str | None: ...


def _opt(key: str, value: str) -> list[str]:
    """`-o Key=Value`, the value quoted for ssh's own config parser when it has spaces."""
    if any(ch in value for ch in ' \t"'):
        value = '"' + value.replace('"', "") + '"'
    return ["-o", f"{key}={value}"]


class SshHost:
    """One host's connection: `run` executes one remote command line through the master."""

    def __init__(self, name: str, access: SshAccess, control_dir: Path, ssh: str = "ssh") -> None:
        self.name = name
        self.access = access
        self.ssh = ssh
        self.control = control_dir / f"{name[:40]}.sock"

    def base_argv(self) -> list[str]:
        """ssh and its options, up to (not including) the destination."""
        a = self.access
        argv = [self.ssh, "-p", str(a.port)]
        argv += _opt("BatchMode", "yes")
        argv += _opt("StrictHostKeyChecking", "yes")
        if a.known_hosts is not None:
            argv += _opt("UserKnownHostsFile", str(a.known_hosts))
        argv += _opt("ControlMaster", "auto")
        argv += _opt("ControlPath", str(self.control))
        argv += _opt("ControlPersist", "300")
        argv += _opt("ConnectTimeout", "20")
        if a.identity is not None:
            argv += ["-i", str(a.identity), *_opt("IdentitiesOnly", "yes")]
        if a.user is not None:
            argv += ["-l", a.user]
        return argv

    def argv(self, command: str) -> list[str]:
        """The full ssh command line running the remote shell command `command`."""
        return [*self.base_argv(), "--", self.access.address, command]

    def run(
        self, command: str, stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a remote shell command line (quote its words with `shlex.join`)."""
        try:
            proc = subprocess.run(
                self.argv(command),
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise TargetError(f"host `{self.name}`: ssh: {err}") from None
        if proc.returncode == 255:  # ssh's own failure: connection, authentication, host key
            why = proc.stderr.strip().splitlines()[-1:] or ["no message"]
            help_ = ""
            if "host key" in proc.stderr.lower():
                help_ = (
                    " (the host key is not in the known_hosts file the site names, or changed:"
                    " check it, e.g. with ssh-keyscan, and add it; mora never skips the check)"
                )
            raise TargetError(f"host `{self.name}`: ssh failed: {why[0]}{help_}")
        return proc

    def words(
        self, words: list[str], stdin: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run one remote command given as words (each quoted for the remote shell)."""
        return self.run(shlex.join(words), stdin=stdin, timeout=timeout)

    def close(self) -> None:
        """Close the master connection, if one was opened."""
        if self.control.exists():
            subprocess.run(
                [*self.base_argv(), "-O", "exit", "--", self.access.address],
                capture_output=True,
                timeout=30,
                check=False,
            )


class SshHosts:
    """The connections of one apply; `close` ends them and removes the socket folder."""

    def __init__(self, access: dict[str, SshAccess], ssh: str = "ssh") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="mora-ssh-"))  # 0700; short: a socket path
        self.hosts = {n: SshHost(n, a, self._dir, ssh) for n, a in sorted(access.items())}

    def __getitem__(self, name: str) -> SshHost:
        host = self.hosts.get(name)
        if host is None:
            raise TargetError(
                f"host `{name}` has no `address` in the site's `hosts:` list: mora cannot reach it"
            )
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                host.close()
        shutil.rmtree(self._dir, ignore_errors=True)
