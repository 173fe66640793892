"""The security contract on a real podman: images that start as root and drop to a user, and
images that start as a numeric non-root user, start, write their volume and stay up.

Two images are built here from the imported busybox (no registry): `rootstart`, whose entrypoint
chowns /data and switches to nobody with busybox `su` (what gosu, su-exec and s6 do), and
`nonroot`, whose USER is 1000 and whose /data belongs to 1000 (as real images prepare it). Each
runs once with mora's defaults (no security block: docs/security.md case c) and once declared
(`run_as_root`, case b; `user = "1000"`, case a, with a second volume the image knows nothing
of, which only the volume's declared owner makes writable). One run.sh starts all four.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.backends.test_podman import _cleanup, _podman
from tests.backends.test_quadlet import build, write_targets
from tests.toolchain import BUSYBOX_IMAGE, podman_env

ENTRY_ROOT = """#!/bin/sh
# Starts as root: owns its data, then drops to nobody (65534), like gosu/su-exec entrypoints.
set -e
chown -R 65534:65534 /data
exec su -s /bin/sh nobody -c 'echo started >> /data/starts && exec sleep 600'
"""

ENTRY_USER = """#!/bin/sh
# Runs as the image's USER: writes its data directory (and /extra when mounted).
set -e
echo started >> /data/starts
if [ -d /extra ]; then echo started >> /extra/starts; fi
exec sleep 600
"""

PROJECT = """project {name}

service rootdefault {{
  image = "{root}"
  volumes {{ "/data" = volume() }}
}}

service rootdeclared {{
  image = "{root}"
  volumes {{ "/data" = volume() }}
  security {{
    run_as_root = true
    reason = "the entrypoint chowns /data and switches to nobody"
  }}
}}

service userdefault {{
  image = "{user}"
  volumes {{ "/data" = volume() }}
}}

service userdeclared {{
  image = "{user}"
  user = "1000"
  volumes {{
    "/data" = volume()
    "/extra" = volume()
  }}
}}
"""

# service -> the uid that owns what it wrote
EXPECTED_OWNER = {
    "rootdefault": "65534",
    "rootdeclared": "65534",
    "userdefault": "1000",
    "userdeclared": "1000",
}


def _build(env: dict[str, str], folder: Path, tag: str, containerfile: str, entry: str) -> None:
    folder.mkdir()
    (folder / "entry.sh").write_text(entry)
    (folder / "entry.sh").chmod(0o755)
    (folder / "data").mkdir()
    (folder / "data" / ".keep").write_text("")
    (folder / "Containerfile").write_text(containerfile.format(base=BUSYBOX_IMAGE))
    proc = _podman(env, "build", "-q", "--pull=never", "-t", tag, str(folder))
    assert proc.returncode == 0, proc.stderr


def _exec(env: dict[str, str], container: str, command: str) -> subprocess.CompletedProcess[str]:
    return _podman(env, "exec", container, "sh", "-c", command)


@pytest.mark.slow
def test_images_start_write_their_volume_and_stay_up(tmp_path: Path) -> None:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    token = secrets.token_hex(4)
    project = f"morasec{token}"
    root_image = f"localhost/morasec-rootstart:{token}"
    user_image = f"localhost/morasec-nonroot:{token}"
    try:
        _build(
            env,
            tmp_path / "rootstart",
            root_image,
            'FROM {base}\nCOPY entry.sh /entry.sh\nENTRYPOINT ["/entry.sh"]\n',
            ENTRY_ROOT,
        )
        _build(
            env,
            tmp_path / "nonroot",
            user_image,
            "FROM {base}\nCOPY entry.sh /entry.sh\nCOPY --chown=1000:1000 data /data\n"
            'USER 1000\nENTRYPOINT ["/entry.sh"]\n',
            ENTRY_USER,
        )
        source = tmp_path / "project"
        source.mkdir()
        (source / "main.mora").write_text(
            PROJECT.format(name=project, root=root_image, user=user_image)
        )
        out = tmp_path / "out"
        _, diags = write_targets(build(source, domain="example.org"), out, targets=("podman",))
        assert not diags.has_errors
        run = subprocess.run(
            ["sh", str(out / "podman" / "run.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        for service, owner in EXPECTED_OWNER.items():
            container = f"{project}-{service}"
            # Wait until the entrypoint has written (a container that died never will).
            for _ in range(60):
                if _exec(env, container, "test -s /data/starts").returncode == 0:
                    break
                state = _podman(env, "inspect", "-f", "{{.State.Status}}", container).stdout
                if state.strip() not in ("running", "created", "configured"):
                    break
                time.sleep(0.5)
            logs = _podman(env, "logs", container)
            listing = _exec(env, container, "ls -ln /data/starts")
            assert listing.returncode == 0, f"{service}: {logs.stdout}{logs.stderr}"
            assert listing.stdout.split()[2] == owner, (service, listing.stdout)
            running = _podman(env, "inspect", "-f", "{{.State.Running}}", container).stdout
            assert running.strip() == "true", (service, logs.stdout + logs.stderr)
        # Case (a): a volume the image knows nothing of is writable by the declared user.
        extra = _exec(env, f"{project}-userdeclared", "ls -ln /extra/starts")
        assert extra.returncode == 0 and extra.stdout.split()[2] == "1000", extra
    finally:
        _cleanup(env, project, [])
        for image in (root_image, user_image):
            _podman(env, "rmi", "-f", image)
