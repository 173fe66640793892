"""The manager is deployable like any service: the site's `manager:` section adds it to the
compiled output (Kubernetes objects with least RBAC, a quadlet unit on the control host, a
podman script, the Containerfile), and the validators accept what is written."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mora.backends.manager_service import RULES
from mora.deploy.kube import KINDS
from tests.cli import run_mora
from tests.toolchain import KUBERNETES_VERSIONS, checkov, kubernetes_validate, quadlet

ROOT = Path(__file__).resolve().parents[2]
ALLOWLIST = ROOT / "kubernetes" / "checkov-allowlist.yaml"

PROJECT = """project shop

secret db_password = password(length: 24)

service db {
  image = "docker.io/library/postgres:16"
  user = "999"
  environment { POSTGRES_PASSWORD = secret.db_password }
  volumes { "/var/lib/postgresql/data" = volume() }
}
"""

SITE = """domain: example.org
kubernetes:
  namespace: shop
manager:
  image: localhost/mora-manager:test
hosts:
  - name: box1
    address: 192.168.1.10
  - name: box2
    address: 192.168.1.11
"""


def _env() -> dict[str, str]:
    return dict(os.environ, MORA_SECRETS_KEY=base64.b64encode(b"k" * 32).decode())


def compile_site(
    tmp: Path, site: str, *extra: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    (tmp / "p").mkdir(exist_ok=True)
    (tmp / "p" / "main.mora").write_text(PROJECT)
    (tmp / "site.yaml").write_text(site)
    out = tmp / "out"
    proc = run_mora(
        ["compile", str(tmp / "p"), "--site", str(tmp / "site.yaml"), "--out", str(out), *extra],
        env=_env(),
    )
    return out, proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, proc = compile_site(tmp_path_factory.mktemp("deployable"), SITE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _docs(out: Path) -> dict[str, dict[str, Any]]:
    folder = out / "kubernetes" / "mora-manager"
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


def test_the_output_includes_the_manager_on_every_backend(built: Path) -> None:
    docs = _docs(built)
    kinds = sorted(d["kind"] for d in docs.values())
    assert kinds == sorted(
        [
            "ClusterRole",
            "ConfigMap",
            "ClusterRoleBinding",
            "Deployment",
            "Ingress",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    )
    kustomization = yaml.safe_load((built / "kubernetes" / "kustomization.yaml").read_text())
    assert "mora-manager/deployment.yaml" in kustomization["resources"]
    # Its own route, through the site's Ingress, with TLS.
    ingress = docs["ingress.yaml"]["spec"]
    assert ingress["rules"][0]["host"] == "mora.example.org"
    assert ingress["tls"][0]["hosts"] == ["mora.example.org"]
    # The security contract of every service: numeric non-root user, read-only root.
    pod = docs["deployment.yaml"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "localhost/mora-manager:test"
    sec = container["securityContext"]
    assert sec["runAsNonRoot"] and sec["runAsUser"] == 10001 and sec["readOnlyRootFilesystem"]
    assert sec["capabilities"] == {"drop": ["ALL"]} and not sec["allowPrivilegeEscalation"]
    assert pod["serviceAccountName"] == "mora-manager"
    # The store's key comes from a Secret the admin creates: mora never writes its value.
    (key,) = [e for e in container["env"] if e["name"] == "MORA_SECRETS_KEY"]
    assert key["valueFrom"]["secretKeyRef"]["name"] == "mora-manager-key"
    # Quadlet: on the control host only (the first host when none is named).
    assert (built / "quadlet" / "box1" / "mora-manager.container").is_file()
    assert not (built / "quadlet" / "box2").exists() or not list(
        (built / "quadlet" / "box2").glob("mora-manager*")
    )
    assert "podman run -d --name mora-manager" in (built / "podman" / "manager.sh").read_text()
    containerfile = (built / "manager" / "Containerfile").read_text()
    assert "USER 10001:10001" in containerfile and "mora-*.whl" in containerfile


def test_rbac_is_namespaced_and_exactly_what_the_kubernetes_target_calls(built: Path) -> None:
    docs = _docs(built)
    role = docs["role.yaml"]
    assert role["metadata"]["namespace"] == "shop"
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    # Every namespaced kind the target applies (mora/deploy/kube.py KINDS), with the verbs of
    # server-side apply and prune; a kind added there without a rule here fails this test.
    for kind, (plural, namespaced) in KINDS.items():
        if namespaced:
            assert any(
                r == plural and {"create", "delete", "get", "patch"} <= v
                for (_g, r), v in granted.items()
            ), kind
    assert granted[("", "pods")] == {"list"} and granted[("", "pods/log")] == {"get"}
    assert not any("*" in v or {"escalate", "bind", "impersonate"} & v for v in granted.values())
    assert len(RULES) == len(role["rules"])
    # The one cluster-scoped grant: the project's own Namespace, by name.
    (rule,) = docs["clusterrole.yaml"]["rules"]
    assert rule == {
        "apiGroups": [""],
        "resources": ["namespaces"],
        "resourceNames": ["shop"],
        "verbs": ["get", "patch"],
    }
    subject = docs["rolebinding.yaml"]["subjects"][0]
    assert subject == {"kind": "ServiceAccount", "name": "mora-manager", "namespace": "shop"}


def test_kubernetes_validate_strict_accepts_the_manager(built: Path) -> None:
    files = sorted(str(p) for p in (built / "kubernetes" / "mora-manager").glob("*.yaml"))
    versions = [arg for v in KUBERNETES_VERSIONS for arg in ("-k", v)]
    proc = subprocess.run(
        [*kubernetes_validate(), "--strict", *versions, *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARN" not in proc.stdout and "ERROR" not in proc.stdout, proc.stdout
    assert proc.stdout.count("passed for resource") == len(files) * len(KUBERNETES_VERSIONS)


@pytest.mark.slow
def test_checkov_fails_only_allow_listed_checks(built: Path) -> None:
    proc = subprocess.run(
        [*checkov(), "-d", str(built / "kubernetes" / "mora-manager")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        (report,) = report
    allowed = {e["check"] for e in yaml.safe_load(ALLOWLIST.read_text())["allow"]}
    failed = report.get("results", {}).get("failed_checks", [])
    new = sorted(
        {f"{c['check_id']} {c['resource']}" for c in failed if c["check_id"] not in allowed}
    )
    assert report["summary"]["passed"] > 0
    assert not new, new


def test_quadlet_generator_converts_the_manager_unit(built: Path) -> None:
    env = dict(os.environ, QUADLET_UNIT_DIRS=str(built / "quadlet" / "box1"))
    proc = subprocess.run(
        [str(quadlet()), "-dryrun", "-no-kmsg-log"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "---mora-manager.service---" in proc.stdout
    assert "Secret=mora-manager-key,type=env,target=MORA_SECRETS_KEY" in proc.stdout
    assert "User=10001" in proc.stdout and "ReadOnly=true" in proc.stdout


def test_without_a_manager_section_nothing_of_it_is_written(tmp_path: Path) -> None:
    out, proc = compile_site(tmp_path, "domain: example.org\n")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "kubernetes" / "mora-manager").exists()
    assert not (out / "manager").exists()
    assert not (out / "podman" / "manager.sh").exists()


def test_a_named_control_host_gets_the_unit(tmp_path: Path) -> None:
    site = SITE.replace("  image: localhost/mora-manager:test\n", "  host: box2\n")
    out, proc = compile_site(tmp_path, site, "--target", "quadlet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list((out / "quadlet" / "box1").glob("mora-manager*"))
    unit = (out / "quadlet" / "box2" / "mora-manager.container").read_text()
    assert "Image=localhost/mora-manager:local" in unit  # the default, local tag


def test_bad_manager_settings_are_diagnostics(tmp_path: Path) -> None:
    site = "domain: example.org\nmanager:\n  subdomain: Not_A_Label\n  imagee: x\n"
    _out, proc = compile_site(tmp_path, site)
    assert proc.returncode == 1
    assert "error[E0670]: manager subdomain `Not_A_Label` is not a DNS label" in proc.stderr
    assert "warning[W0670]: unknown manager setting `imagee`" in proc.stderr
    assert "did you mean `image`?" in proc.stderr


def test_an_unknown_control_host_is_an_error(tmp_path: Path) -> None:
    site = SITE.replace("  image: localhost/mora-manager:test\n", "  host: box3\n")
    _out, proc = compile_site(tmp_path, site, "--target", "quadlet")
    assert proc.returncode == 1
    assert "error[E0670]: manager host `box3` is not a host of the site" in proc.stderr


def test_taking_the_manager_out_of_the_site_removes_its_files(tmp_path: Path) -> None:
    out, proc = compile_site(tmp_path, SITE)
    assert proc.returncode == 0 and (out / "manager" / "Containerfile").is_file()
    out, proc = compile_site(tmp_path, "domain: example.org\n")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "manager" / "Containerfile").exists()
    assert not (out / "kubernetes" / "mora-manager").exists()
    assert not (out / "podman" / "manager.sh").exists()


def test_the_in_cluster_kubeconfig_is_one_mora_s_client_reads(built: Path, tmp_path: Path) -> None:
    """The manager reaches the API server with its service account (token and CA files)."""
    from mora.backends.manager_service import SA_DIR
    from mora.deploy.kubeclient import load_kubeconfig

    text = _docs(built)["configmap.yaml"]["data"]["kubeconfig"]
    (tmp_path / "ca.crt").write_text("CA")
    (tmp_path / "token").write_text("the-token\n")
    path = tmp_path / "kubeconfig"
    path.write_text(text.replace(SA_DIR, str(tmp_path)))
    config = load_kubeconfig(path)
    assert (config.server, config.namespace, config.token, config.ca_data) == (
        "https://kubernetes.default.svc",
        "shop",
        "the-token",
        b"CA",
    )
    pod = _docs(built)["deployment.yaml"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["KUBECONFIG"] == "/etc/mora-kube/kubeconfig"
