"""The podman backend: run.sh/down.sh, checked with sh -n, and run for real with podman here.

The end-to-end test compiles a small project (unique name, busybox image standing in for real
images) and runs its `podman/run.sh` with Debian's podman 4.3.1 (`tests.toolchain.podman_env()`):
containers must start with their environment, files, volumes and secrets in place, a dependent
must start after its dependency is healthy, a second run must keep the volume's data, and
`down.sh --purge` must remove everything. Whatever happens, the test removes every container,
volume, secret and network carrying its project name, and nothing else.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.backends.test_quadlet import (
    GOLDEN,
    build,
    examples,
    tree,
    with_podman,
    write_targets,
)
from tests.toolchain import BUSYBOX_IMAGE, podman, podman_env


def test_scripts_are_valid_shell(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    for name, compiled in examples():
        out = tmp_path / name
        write_targets(compiled, out)
        for script in ("run.sh", "down.sh"):
            path = out / "podman" / script
            assert path.stat().st_mode & 0o777 == 0o755
            proc = subprocess.run([sh, "-n", str(path)], capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}/{script}: {proc.stderr}"
        for secrets_sh in sorted((out / "quadlet").rglob("secrets.sh")):
            proc = subprocess.run([sh, "-n", str(secrets_sh)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            assert secrets_sh.stat().st_mode & 0o777 == 0o700


def test_one_host_whatever_the_placement(tmp_path: Path) -> None:
    case = GOLDEN / "multi-host"
    compiled = build(case / "input", site=case / "site.yaml")
    _, diags = write_targets(compiled, tmp_path, targets=("podman",))
    run = (tmp_path / "podman" / "run.sh").read_text()
    for name in ("lab-db", "lab-metrics", "lab-app", "lab-helper", "lab-mora-proxy"):
        assert f"--name={name} " in run
    assert "--add-host" not in run  # all on one host: the network reaches everything
    assert not [d for d in diags if d.code in ("W0703", "W0704")]


def test_dependency_order_and_health_wait(tmp_path: Path) -> None:
    case = GOLDEN / "health-depends"
    compiled = build(case / "input", site=case / "site.yaml")
    write_targets(compiled, tmp_path, targets=("podman",))
    run = (tmp_path / "podman" / "run.sh").read_text()
    assert (
        run.index("--name=shop-db ")
        < run.index("wait_healthy shop-db")
        < run.index("--name=shop-api ")
    )
    assert "wait_healthy shop-cache" in run


def test_secret_values_only_in_secret_files(tmp_path: Path) -> None:
    case = GOLDEN / "secrets-files"
    compiled = build(case / "input", site=case / "site.yaml")
    write_targets(compiled, tmp_path, targets=("podman",))
    values = list(compiled.material.values())
    for rel, (data, mode) in tree(tmp_path).items():
        if rel.startswith("podman/secrets/"):
            assert mode == 0o600
        else:
            assert not any(v in data.decode() for v in values), rel


# --- end to end, with podman ---------------------------------------------------------------------

E2E_PROJECT = """\
project {name}

secret token = hex(16)

service store {{
  image = "{image}"
  user = "65534"  # nobody: its fresh volume is created owned by it
  command = ["sh", "-c", "echo x >> /data/starts; touch /tmp/ready; exec sleep 600"]
  ports {{ http = 8080 }}
  environment {{
    GREETING = "hello world"
    TOKEN = secret.token
    ODD = "100% \\$HOME 'q' \\"dq\\""
  }}
  volumes {{
    "/data" = volume()
    "/scratch" = tmpfs(size: 16Mi)
  }}
  files {{
    "/etc/app/config.yaml" = yaml({{ greeting: "hi", token: secret.token }})
    "/etc/app/plain.txt" = "plain text\\n"
  }}
  healthcheck {{
    test = ["CMD-SHELL", "test -f /tmp/ready"]
    interval = 1s
    retries = 30
  }}
  restart = "unless-stopped"
}}

service app {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "exec sleep 600"]
  environment {{ STORE_URL = store.internal_url }}
  depends_on = [store]
}}
"""


def _podman(
    env: dict[str, str], *args: str, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(podman()), *args], env=env, capture_output=True, text=True, timeout=120, check=check
    )


def _cleanup(env: dict[str, str], project: str, secret_names: list[str]) -> None:
    """Remove everything of this project only: by its label and its exact names."""
    label = f"label=mora.project={project}"
    ids = _podman(env, "ps", "-a", "-q", "--filter", label).stdout.split()
    if ids:
        _podman(env, "rm", "-f", "-t", "0", *ids)
    vols = _podman(env, "volume", "ls", "-q", "--filter", label).stdout.split()
    if vols:
        _podman(env, "volume", "rm", "-f", *vols)
    for name in secret_names:
        _podman(env, "secret", "rm", name)
    _podman(env, "network", "rm", "-f", project)


@pytest.mark.slow
def test_run_sh_with_podman(tmp_path: Path) -> None:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    project = f"moratest{secrets.token_hex(4)}"
    source = tmp_path / "project"
    source.mkdir()
    (source / "main.mora").write_text(E2E_PROJECT.format(name=project, image=BUSYBOX_IMAGE))
    compiled = with_podman(build(source, domain="example.org"), proxy=False)
    out = tmp_path / "out"
    _, diags = write_targets(compiled, out, targets=("podman",))
    assert not diags.has_errors
    bundle = out / "podman"
    secret_names = [p.name for d in ("secrets", "files") for p in (bundle / d).glob("*")]
    store, app = f"{project}-store", f"{project}-app"
    svc = compiled.manifest.services["store"]
    token = compiled.material[svc.environment["TOKEN"].secret]  # type: ignore[index]
    config = next(f for f in svc.files if f.path == "/etc/app/config.yaml")
    script_env = {**env, "MORA_HEALTH_TIMEOUT": "60"}

    def sh(script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(bundle / script), *args],
            env=script_env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    def exec_in(container: str, command: str) -> str:
        proc = _podman(env, "exec", container, "sh", "-c", command)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        run = sh("run.sh")
        assert run.returncode == 0, run.stdout + run.stderr
        # environment, plain and secret
        assert exec_in(store, 'printf %s "$GREETING"') == "hello world"
        assert exec_in(store, 'printf %s "$TOKEN"') == token
        assert exec_in(store, 'printf %s "$ODD"') == svc.environment["ODD"].value
        assert exec_in(app, 'printf %s "$STORE_URL"') == "http://store:8080"
        # files: the secret one and the plain one, read-only mounts
        assert exec_in(store, "cat /etc/app/config.yaml") == compiled.material[config.secret]  # type: ignore[index]
        assert exec_in(store, "cat /etc/app/plain.txt") == "plain text\n"
        assert exec_in(store, "echo x > /etc/app/plain.txt 2>/dev/null || echo read-only") == (
            "read-only\n"
        )
        assert exec_in(store, "grep ' /scratch ' /proc/mounts").startswith("tmpfs ")
        # health: app was started only after store's health check passed
        state = _podman(env, "inspect", "-f", "{{.State.Running}}", app).stdout.strip()
        assert state == "true"
        # the volume keeps its data when run.sh replaces the containers
        assert exec_in(store, "wc -l < /data/starts").strip() == "1"
        again = sh("run.sh")
        assert again.returncode == 0, again.stdout + again.stderr
        assert exec_in(store, "wc -l < /data/starts").strip() == "2"
        # down keeps the data; --purge removes it, the secrets and the network
        down = sh("down.sh")
        assert down.returncode == 0, down.stderr
        assert _podman(env, "container", "exists", store).returncode != 0
        assert _podman(env, "volume", "exists", f"{project}-store-data").returncode == 0
        purge = sh("down.sh", "--purge")
        assert purge.returncode == 0, purge.stderr
        assert _podman(env, "volume", "exists", f"{project}-store-data").returncode != 0
        listed = _podman(env, "secret", "ls", "--format", "{{.Name}}").stdout.split()
        assert not [n for n in listed if n.startswith(project)]
        assert _podman(env, "network", "exists", project).returncode != 0
    finally:
        _cleanup(env, project, secret_names)
