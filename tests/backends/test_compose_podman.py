"""The compose keys on a real podman: what the podman target writes takes effect in the container.

One busybox container (the imported image; no registry) is started by the compiled run.sh with
every compose key mora maps to a `podman run` flag, and each is read back from inside it (host
name, /etc/hosts, resolvers, working directory, ulimits, /dev/shm, a sysctl, PID 1) or from
`podman inspect` (stop timeout and signal); a second one on the host's network shares this
host's network namespace, a third (`network_mode = "service:box"`) the first one's. (podman 4.3 replaces all of containers.conf's
default ulimits once one is given, and this sandbox refuses an unlimited nproc: the project sets
nproc as well as nofile, as a real compose file for a database often does.) quadlet writes the same flags (its keys, or
`PodmanArgs=` before their podman version), checked by quadlet -dryrun in tests/backends/.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.backends.test_podman import _cleanup, _podman
from tests.backends.test_quadlet import build, write_targets
from tests.toolchain import BUSYBOX_IMAGE, podman_env

PROJECT = """project {name}

service box {{
  image = "{image}"
  user = "1000"
  command = ["sleep", "600"]
  hostname = "box"
  working_dir = "/tmp"
  extra_hosts {{ "nas.lan" = "192.0.2.10" }}
  dns = ["192.0.2.53"]
  stop_grace_period = 7s
  stop_signal = "SIGINT"
  init = true
  shm_size = 96Mi
  sysctls {{ "net.ipv4.ip_unprivileged_port_start" = 80 }}
  ulimits {{ nofile = "1234:4321"  nproc = "2048:4096" }}
  volumes {{ "/scratch" = tmpfs(size: 8Mi, mode: "1777") }}
}}

service side {{
  image = "{image}"
  user = "1000"
  command = ["sleep", "600"]
  network_mode = "service:box"
}}

service hostnet {{
  image = "{image}"
  user = "1000"
  command = ["sleep", "600"]
  network_mode = "host"
  security {{ reason = "discovers devices on the LAN" }}
}}
"""

# What the container reports -> what mora's declaration means.
INSIDE = {
    "hostname": "box",
    "pwd": "/tmp",
    "grep nas.lan /etc/hosts | tr -s ' \t' ' '": "192.0.2.10 nas.lan",
    "grep -c '^nameserver 192.0.2.53' /etc/resolv.conf": "1",
    # the container's own processes (`podman exec` gets other limits): soft and hard
    "awk '/^Max open files/ {print $4, $5} /^Max processes/ {print $3, $4}' /proc/1/limits": (
        "2048 4096\n1234 4321"
    ),
    "df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2": str(96 * 1024),
    "cat /proc/sys/net/ipv4/ip_unprivileged_port_start": "80",
    "id -u": "1000",
    "stat -c %a /scratch; df -k /scratch | tail -1 | tr -s ' ' | cut -d' ' -f2": "1777\n8192",
}


@pytest.mark.slow
def test_compose_keys_take_effect_in_the_container(tmp_path: Path) -> None:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    project = f"moracompose{secrets.token_hex(4)}"
    source = tmp_path / "project"
    source.mkdir()
    (source / "main.mora").write_text(PROJECT.format(name=project, image=BUSYBOX_IMAGE))
    out = tmp_path / "out"
    _, diags = write_targets(build(source, domain="example.org"), out, targets=("podman",))
    assert not diags.has_errors
    container = f"{project}-box"
    try:
        run = subprocess.run(
            ["sh", str(out / "podman" / "run.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        for _ in range(40):  # until the container runs (or has died: then the asserts say so)
            state = _podman(env, "inspect", "-f", "{{.State.Status}}", container).stdout.strip()
            if state != "created":
                break
            time.sleep(0.25)
        seen = {
            cmd: _podman(env, "exec", container, "sh", "-c", cmd).stdout.strip() for cmd in INSIDE
        }
        assert seen == INSIDE
        # `init`: PID 1 is podman's init (catatonit), the command runs below it.
        pid1 = _podman(env, "exec", container, "cat", "/proc/1/cmdline").stdout
        assert "sleep" not in pid1.split("\0")[0]
        stop = _podman(
            env, "inspect", "-f", "{{.Config.StopTimeout}} {{.Config.StopSignal}}", container
        ).stdout.split()
        assert stop[0] == "7" and stop[1] in ("2", "SIGINT"), stop  # SIGINT is signal 2
        # network_mode = "service:box": `side` is in box's network namespace.
        side = _podman(env, "exec", f"{project}-side", "readlink", "/proc/self/ns/net")
        own = _podman(env, "exec", container, "readlink", "/proc/self/ns/net")
        assert side.returncode == 0 and side.stdout == own.stdout, (side, own)
        # network_mode = "host": the container is in this host's network namespace.
        netns = _podman(env, "exec", f"{project}-hostnet", "readlink", "/proc/self/ns/net")
        assert netns.stdout.strip() == os.readlink("/proc/self/ns/net"), netns
        assert netns.stdout.strip() != _podman(
            env, "exec", container, "readlink", "/proc/self/ns/net"
        ).stdout.strip()
    finally:
        _cleanup(env, project, [])
