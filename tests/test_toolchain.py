"""The external validators really work here: the regression guard for scripts/install-validators.

If one of these fails, the backend tests that use the same tool cannot be trusted either.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.toolchain import (
    BUSYBOX_IMAGE,
    KUBERNETES_VERSIONS,
    checkov,
    kubernetes_validate,
    podman,
    podman_env,
    quadlet,
    systemd_analyze,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      containers:
        - name: web
          image: localhost/mora-busybox:latest
          ports:
            - containerPort: 8080
"""


def run(
    cmd: list[str], *, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        input=input if input is not None else "",
        env=env,
        check=False,
    )


# ------------------------------------------------------------------------ kubernetes-validate


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_accepts_a_valid_deployment(tmp_path: Path, version: str) -> None:
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT)
    result = run([*kubernetes_validate(), "--strict", "-k", version, str(manifest)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"passed for resource deployment/web against version {version[:4]}" in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  replicas: 1\n", "  replicas: 1\n  bogus: true\n", "'bogus' was unexpected"),
        ("  replicas: 1\n", "  replicas: one\n", "'one' is not of type 'integer'"),
    ],
    ids=["unknown-field", "wrong-type"],
)
def test_kubernetes_validate_rejects_an_invalid_deployment(
    tmp_path: Path, version: str, old: str, new: str, message: str
) -> None:
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT.replace(old, new))
    result = run([*kubernetes_validate(), "--strict", "--quiet", "-k", version, str(manifest)])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR" in result.stdout and message in result.stdout, result.stdout


def test_kubernetes_validate_only_warns_on_a_kind_without_schema(tmp_path: Path) -> None:
    # The pitfall the backend tests must guard against: exit 0 with only a WARN line.
    manifest = tmp_path / "issuer.yaml"
    manifest.write_text(
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: x}\n"
    )
    result = run([*kubernetes_validate(), "--strict", "--quiet", "-k", "1.37.0", str(manifest)])
    assert result.returncode == 0
    assert result.stdout.startswith("WARN "), result.stdout


# ------------------------------------------------------------------------------------ quadlet


def _quadlet_dryrun(units: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QUADLET_UNIT_DIRS=str(units))
    return run([str(quadlet()), "-dryrun", "-no-kmsg-log"], env=env)


def test_quadlet_dryrun_converts_a_container(tmp_path: Path) -> None:
    (tmp_path / "web.container").write_text(
        f"[Unit]\nDescription=web\n\n[Container]\nImage={BUSYBOX_IMAGE}\nExec=sleep 1000\n"
        "PublishPort=8080:80\n\n[Install]\nWantedBy=default.target\n"
    )
    result = _quadlet_dryrun(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "---web.service---" in result.stdout
    assert f"--publish 8080:80 {BUSYBOX_IMAGE} sleep 1000" in result.stdout
    problems = [line for line in result.stderr.splitlines() if "Loading source unit" not in line]
    assert problems == []


def test_quadlet_dryrun_reports_an_unsupported_key(tmp_path: Path) -> None:
    (tmp_path / "bad.container").write_text(f"[Container]\nImage={BUSYBOX_IMAGE}\nBogusKey=1\n")
    result = _quadlet_dryrun(tmp_path)
    assert result.returncode == 1
    assert "unsupported key 'BogusKey' in group 'Container'" in result.stderr
    assert "---bad.service---" not in result.stdout


def test_systemd_analyze_verifies_what_quadlet_generates(tmp_path: Path) -> None:
    units, out = tmp_path / "units", tmp_path / "out"
    units.mkdir()
    out.mkdir()
    (units / "data.volume").write_text("[Volume]\n")
    (units / "web.container").write_text(
        f"[Container]\nImage={BUSYBOX_IMAGE}\nVolume=data.volume:/data\n"
    )
    env = dict(os.environ, QUADLET_UNIT_DIRS=str(units))
    generated = run([str(quadlet()), "-no-kmsg-log", str(out)], env=env)
    assert generated.returncode == 0, generated.stderr
    services = sorted(str(p) for p in out.glob("*.service"))
    assert [Path(s).name for s in services] == ["data-volume.service", "web.service"]
    verified = run([str(systemd_analyze()), "verify", *services])
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""


# ------------------------------------------------------------------------------------- podman


@pytest.mark.slow
def test_podman_runs_the_busybox_image() -> None:
    result = run(
        [str(podman()), "run", "--rm", "--network", "none", BUSYBOX_IMAGE, "sh", "-c", "echo ok"],
        env=podman_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"


@pytest.mark.slow
def test_podman_kube_play_takes_env_from_a_podman_secret(tmp_path: Path) -> None:
    env, exe = podman_env(), str(podman())
    name = f"mora-test-{uuid.uuid4().hex[:8]}"
    # podman 4.3.1's kube play reads a secret as a JSON object of base64 values.
    payload = json.dumps({"password": base64.b64encode(b"hunter2").decode()})
    created = run([exe, "secret", "create", name, "-"], env=env, input=payload)
    assert created.returncode == 0, created.stderr
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: Never
  containers:
    - name: main
      image: {BUSYBOX_IMAGE}
      command: ["sh", "-c", "echo pw=$PW"]
      env:
        - name: PW
          valueFrom:
            secretKeyRef:
              name: {name}
              key: password
"""
    )
    try:
        played = run([exe, "kube", "play", str(pod)], env=env)
        assert played.returncode == 0, played.stderr
        run([exe, "wait", f"{name}-main"], env=env)
        logs = run([exe, "logs", f"{name}-main"], env=env)
        assert logs.stdout == "pw=hunter2\n", logs.stdout + logs.stderr
    finally:
        run([exe, "kube", "down", str(pod)], env=env)
        run([exe, "secret", "rm", name], env=env)


# ------------------------------------------------------------------------------------ checkov


@pytest.mark.slow
def test_checkov_reports_failed_checks_as_json(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    result = run([*checkov(), "-d", str(tmp_path)])
    assert result.returncode == 1, result.stderr  # 1: some checks failed
    report = json.loads(result.stdout)
    assert report["check_type"] == "kubernetes"
    failed = report["results"]["failed_checks"]
    assert {"check_id", "check_name", "resource", "file_path"} <= set(failed[0])
    ids = {check["check_id"] for check in failed}
    assert "CKV_K8S_8" in ids  # liveness probe missing
    # The Deployment, and (for graph checks such as CKV2_K8S_6) its pod template.
    assert "Deployment.default.web" in {check["resource"] for check in failed}
    assert report["summary"]["failed"] == len(failed)
