"""Storage and routes beyond the golden folders: the media project's NAS example compiles on every
backend, and the diagnostics that need a particular site or a second service.

Golden output: tests/backends/{kubernetes,quadlet}/storage-nfs and route-*, tests/cases/storage-*.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mora.api import compile_project
from mora.backends import Options, kubernetes, podman, quadlet
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

ROOT = Path(__file__).resolve().parents[2]


def _compile(tmp_path: Path, source: str, site: str = "domain: example.org\n") -> Diagnostics:
    """Compile `source` for every backend into tmp_path/out; the diagnostics of it all."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.mora").write_text(source)
    (tmp_path / "site.yaml").write_text(site)
    result = compile_project(
        project, site_file=tmp_path / "site.yaml", provider=MemoryProvider(seed=b"storage")
    )
    diags = result.diagnostics
    if result.compiled is not None and not diags.has_errors:
        for backend in (kubernetes, quadlet, podman):
            backend.write(result.compiled, tmp_path / "out", Options(), diags)
    return diags


def _codes(diags: Diagnostics) -> list[str]:
    return sorted(d.code for d in diags)


def test_media_nas_example_compiles(tmp_path: Path) -> None:
    """The commented example in projects/media/media.mora is real mora: it compiles everywhere,
    and the NAS share becomes a PV+PVC pair and a `type=nfs` volume."""
    text = (ROOT / "projects" / "media" / "media.mora").read_text()
    block = re.search(r"#   service library \{\n(?:#.*\n)*?#   \}\n", text)
    assert block is not None
    body = "\n".join(line.removeprefix("#   ") for line in block.group(0).splitlines())
    diags = _compile(tmp_path, "project nas\n\n" + body + "\n")
    assert not diags.has_errors, [d.message for d in diags]
    pv = (tmp_path / "out/kubernetes/volumes/pv-nas-library-data.yaml").read_text()
    assert "server: 192.168.1.20" in pv and "path: /volume1/media" in pv
    unit = (tmp_path / "out/quadlet/local/nas-library-data.volume").read_text()
    assert "Type=nfs\nDevice=:/volume1/media\nOptions=addr=192.168.1.20,ro\n" in unit


def test_one_claim_one_storage_class(tmp_path: Path) -> None:
    diags = _compile(
        tmp_path,
        """project p
service a {
  image = "x/a:1"
  user = "1"
  volumes { "/d" = volume(name: "shared", storage_class: "longhorn") }
}
service b {
  image = "x/b:1"
  user = "1"
  volumes { "/d" = volume(name: "shared", storage_class: "nfs-client") }
}
""",
    )
    (err,) = [d for d in diags if d.code == "E0630"]
    assert "`a` asks for storage_class `longhorn`, `b` for `nfs-client`" in err.message


def test_nfs_server_must_be_a_name(tmp_path: Path) -> None:
    """A server from the site is checked when it is known: a comma or a space would change the
    mount options podman passes on."""
    diags = _compile(
        tmp_path,
        """project p
param nas: string
service a {
  image = "x/a:1"
  user = "1"
  volumes { "/d" = nfs(param.nas, "/export") }
}
""",
        'domain: example.org\nparams:\n  nas: "10.0.0.1,nolock"\n',
    )
    (err,) = [d for d in diags if d.code == "E0321"]
    assert "is not a server name or address" in err.message


def test_auth_on_another_podman_host(tmp_path: Path) -> None:
    """The proxy of a host asks the identity provider on its own network (E0721)."""
    diags = _compile(
        tmp_path,
        """project p
service sso {
  image = "x/sso:1"
  user = "1"
  subdomain = "auth"
  ports { http = 9091 }
  placement = ["a"]
}
service app {
  image = "x/app:1"
  user = "1"
  subdomain = "app"
  ports { http = 80 }
  placement = ["b"]
  routes { "app" = route(auth: sso) }
}
""",
        "domain: example.org\nhosts:\n  - {name: one, address: 10.0.0.1, tags: [a]}\n"
        "  - {name: two, address: 10.0.0.2, tags: [b]}\n",
    )
    assert "E0721" in _codes(diags)


def test_route_to_a_udp_port_is_refused_everywhere(tmp_path: Path) -> None:
    """Neither an Ingress (E0603) nor the Caddy proxy (E0721) can route HTTP to a UDP port: both
    say so instead of leaving the route out."""
    diags = _compile(
        tmp_path,
        """project p
service dns {
  image = "x/dns:1"
  user = "1"
  ports {
    http = 80
    dns {
      target = 53
      protocol = "udp"
    }
  }
  routes { "dns" = route(port: "dns") }
}
""",
    )
    assert {"E0603", "E0721"} <= set(_codes(diags))


_EXTERNAL = """project {name}

service keeper {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "exec sleep 600"]
  volumes {{
    "/legacy" = volume(name: "{name}-old", external: true)
    "/ro" = volume(readonly: true)
  }}
}}
"""


@pytest.mark.slow
def test_external_volume_with_podman(tmp_path: Path) -> None:
    """With podman here: run.sh stops before anything starts when an external volume is missing
    (and does not create it), mounts it once it exists, mounts a read-only volume read-only, and
    `down.sh --purge` removes the project's own volume but never the external one."""
    import secrets
    import subprocess

    from tests.backends.test_podman import _cleanup, _podman
    from tests.backends.test_quadlet import build, with_podman, write_targets
    from tests.toolchain import BUSYBOX_IMAGE, podman_env

    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    project = f"moravol{secrets.token_hex(4)}"
    source = tmp_path / "project"
    source.mkdir()
    (source / "main.mora").write_text(_EXTERNAL.format(name=project, image=BUSYBOX_IMAGE))
    compiled = with_podman(build(source, domain="example.org"), proxy=False)
    _, diags = write_targets(compiled, tmp_path / "out", targets=("podman",))
    assert not diags.has_errors
    bundle, old, keeper = tmp_path / "out" / "podman", f"{project}-old", f"{project}-keeper"

    def sh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", *(str(bundle / args[0]), *args[1:])],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    try:
        missing = sh("run.sh")
        assert missing.returncode != 0 and f"volume {old} does not exist" in missing.stderr
        assert _podman(env, "volume", "exists", old).returncode != 0  # not created
        assert _podman(env, "container", "exists", keeper).returncode != 0  # nothing started
        _podman(env, "volume", "create", old, check=True)
        run = sh("run.sh")
        assert run.returncode == 0, run.stdout + run.stderr
        mounts = _podman(env, "exec", keeper, "cat", "/proc/mounts").stdout
        assert " /legacy " in mounts
        ro = next(line for line in mounts.splitlines() if " /ro " in line)
        assert " ro," in ro or ro.split()[3].startswith("ro"), ro
        purge = sh("down.sh", "--purge")
        assert purge.returncode == 0, purge.stderr
        assert _podman(env, "volume", "exists", f"{project}-keeper-ro").returncode != 0
        assert _podman(env, "volume", "exists", old).returncode == 0  # never ours to delete
    finally:
        _cleanup(env, project, [])
        _podman(env, "volume", "rm", "-f", old)
