"""What the real-service tests of setup steps share: a project, a site and podman, per test.

Each test (Syncthing, PostgreSQL, OpenLDAP) builds its own image on the busybox one from
software unpacked by scripts/install-validators, writes a project, runs `mora apply` on it and
looks inside the containers. The lab gives every test its own project name (so runs never meet),
a site with its own store key, and removes what the project left behind.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from tests.cli import REPO, run_mora
from tests.toolchain import BUSYBOX_IMAGE, missing, podman, podman_env


def host_libraries(root: Path, binaries: list[str], what: str) -> list[str]:
    """The host's shared libraries that `binaries` (paths below the unpacked `root`) load, by
    `ldd`, sorted; a library that is not found anywhere is a missing tool, said once."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr/lib/x86_64-linux-gnu")}
    found: set[str] = set()
    for binary in binaries:
        out = subprocess.run(
            ["ldd", str(root / binary.lstrip("/"))], env=env, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            words = line.split()
            if "not" in words and "found" in words:
                missing(f"a library of {what}", line.strip())
            path = next((w for w in words if w.startswith("/")), None)
            if path and not path.startswith(str(root)):
                found.add(path)
    return sorted(found)


class PodmanLab:
    """A project folder, a site file and rootless podman for one test; `build_image` is the
    test's own image (built once per machine: an existing tag is reused)."""

    image: str
    prefix = "moramicro"

    def __init__(self, tmp: Path) -> None:
        self.env = podman_env()
        self.tmp = tmp
        if self._podman("image", "exists", BUSYBOX_IMAGE).returncode != 0:
            missing(BUSYBOX_IMAGE)
        if self._podman("image", "exists", self.image).returncode != 0:
            self.build_image()
        self.project = f"{self.prefix}{secrets.token_hex(4)}"
        self.source = tmp / "project"
        self.source.mkdir()
        self.site = tmp / "site" / "site.yaml"
        self.site.parent.mkdir()
        self.site.write_text("domain: example.org\n")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**self.env, "MORA_SECRETS_KEY": key, "PYTHONPATH": str(REPO)}

    def build_image(self) -> None:
        raise NotImplementedError

    def _podman(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(podman()), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def build_rootfs_image(self, root: Path, libraries: list[str], etc: dict[str, str]) -> None:
        """`self.image`: busybox plus the unpacked `root`, the host `libraries` it loads (copied
        under their sonames) and the `etc` files (passwd, group, configuration)."""
        ctx = self.tmp / "image"
        shutil.copytree(root, ctx / "root", symlinks=True)
        for lib in libraries:
            target = ctx / "root" / lib.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lib, target)  # follows the symlink: the file under the soname
        for name, text in etc.items():
            path = ctx / "root" / "etc" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.build(ctx, f"FROM {BUSYBOX_IMAGE}\nCOPY root/ /\n")

    def build(self, ctx: Path, containerfile: str) -> None:
        (ctx / "Containerfile").write_text(containerfile)
        proc = self._podman("build", "-q", "-t", self.image, str(ctx))
        assert proc.returncode == 0, proc.stderr

    def mora(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mora([*args, str(self.source), "--site", str(self.site)], env=self.env)

    def container(self, service: str) -> str:
        return f"{self.project}-{service}"

    def cleanup(self) -> None:
        """The project's containers, volumes, podman secrets and network."""
        label = f"label=mora.project={self.project}"
        ids = self._podman("ps", "-a", "-q", "--filter", label).stdout.split()
        if ids:
            self._podman("rm", "-f", "-t", "0", *ids)
        vols = self._podman("volume", "ls", "-q", "--filter", label).stdout.split()
        if vols:
            self._podman("volume", "rm", "-f", *vols)
        for name in self._podman("secret", "ls", "--format", "{{.Name}}").stdout.split():
            if name.startswith(f"{self.project}-"):
                self._podman("secret", "rm", name)
        self._podman("network", "rm", "-f", self.project)
