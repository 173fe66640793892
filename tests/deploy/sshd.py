"""A real OpenSSH server for the SSH target tests: Debian's sshd on a loopback port, with its own
host key, an authorized key made for the test and a log, all in a temporary folder.

It runs as the test's user (root here, in CI too) and its sessions run this machine's podman,
with CONTAINERS_CONF set by sshd itself (`SetEnv`), as a remote host's own configuration would.
A missing sshd skips locally and fails in CI (tests/toolchain.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.toolchain import TOOLS, missing

SSHD = os.environ.get("MORA_SSHD") or "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    folder: Path
    client_key: Path
    known_hosts: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def accepted(self) -> int:
        """How many connections sshd accepted (one per master connection)."""
        return self.log.read_text(errors="replace").count("Accepted publickey")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sshd(folder: Path) -> Sshd:
    """Start sshd on 127.0.0.1 and wait until it accepts connections."""
    if not (Path(SSHD).is_file() and shutil.which("ssh") and shutil.which("ssh-keygen")):
        missing("openssh-server", f"looked for {SSHD}, ssh and ssh-keygen")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(folder / name)],
            check=True,
        )
    (folder / "authorized_keys").write_text((folder / "client_key.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    port = _free_port()
    conf = Path(os.environ.get("MORA_CONTAINERS_CONF") or TOOLS / "containers.conf")
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n"
        "LogLevel VERBOSE\nMaxSessions 50\nMaxStartups 50\n"
        f"SetEnv CONTAINERS_CONF={conf} PATH={os.environ.get('PATH', '/usr/bin:/bin')}\n"
    )
    log = folder / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    host_key = (folder / "host_key.pub").read_text().split()
    known = folder / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"sshd exited: {log.read_text() if log.exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError("sshd did not listen within 30 s") from None
            time.sleep(0.1)
    return Sshd(port, folder, folder / "client_key", known, log, proc)
