"""Host mounts and odd paths (issue 9, defect 10).

The golden cases tests/cases/err-host-mounts (check time), err-host-mount-from-site (paths the
site gives, at compile time) and ok-host-mounts (reasons, the simplest forms in the manifest)
show the diagnostics; here: the rules themselves, and that docs/security.md lists the same paths.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mora.reserved import SYSTEM_DIRS, normal_path, path_problem, system_dir
from tests.unit.helpers import codes, compile_src

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "//",
        "//etc",
        "//etc/shadow",
        "/./etc",
        "/etc",
        "/etc/",
        "/etc/ssl/private",
        "/proc/self",
        "/sys/kernel",
        "/dev",
        "/boot",
        "/root/.ssh",
        "/usr/bin",
        "/lib64",
        "/var",
        "/var/lib",
        "/var/lib/postgresql",
        "/run",
        "/run/podman/podman.sock",
        "/var/run/docker.sock",
        "/home/me/.local/share/containers/podman.sock",
    ],
)
def test_system_paths_are_refused_read_only_or_not(path: str) -> None:
    assert system_dir(path, readonly=False) is not None
    assert system_dir(path, readonly=True) is not None


@pytest.mark.parametrize(
    "path", ["/srv/media", "/mnt/tank", "/home/me/photos", "/var/log/app", "/libraries", "/opt/x"]
)
def test_ordinary_paths_pass(path: str) -> None:
    assert system_dir(path, readonly=False) is None


def test_the_time_zone_passes_only_read_only() -> None:
    assert system_dir("/etc/localtime", readonly=True) is None
    assert system_dir("/etc/localtime", readonly=False) == "/etc"


@pytest.mark.parametrize("path", ["/x/../etc", "/..", "/a/b/.."])
def test_dot_dot_is_refused(path: str) -> None:
    assert path_problem(path) == "`..` is not allowed in a path"


@pytest.mark.parametrize(
    ("path", "simplest"),
    [
        ("/a//b/", "/a/b"),
        ("/./a/./b", "/a/b"),
        ("//", "/"),
        ("/", "/"),
        ("//srv/x", "/srv/x"),
        ("/a...b", "/a...b"),
    ],
)
def test_simplest_form(path: str, simplest: str) -> None:
    assert path_problem(path) is None and normal_path(path) == simplest


def test_docs_list_every_system_dir() -> None:
    """docs/security.md "Host mounts" names exactly the paths of SYSTEM_DIRS (and `/`)."""
    text = DOCS.read_text()
    section = text.split("## Host mounts", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(line for line in section.splitlines() if line.startswith("| `"))
    listed = set(re.findall(r"`(/[^`]*)`", table))
    assert listed == {"/", *SYSTEM_DIRS}


def test_a_reason_lets_a_site_path_pass(tmp_path: Path) -> None:
    source = """
project host
param root: path = "/srv"
service backup {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  volumes { "/host" = bind(param.root, readonly: true, reason: "backs up the host") }
}
"""
    result = compile_src(tmp_path, source, sets=["root=/"])
    assert not result.diagnostics.has_errors, codes(result.diagnostics)
    (mount,) = result.compiled.manifest.services["backup"].volumes  # type: ignore[union-attr]
    assert (mount.host_path, mount.reason) == ("/", "backs up the host")
    without = compile_src(
        tmp_path, source.replace(', reason: "backs up the host"', ""), sets=["root=/"]
    )
    assert codes(without.diagnostics) == ["E0322"]
