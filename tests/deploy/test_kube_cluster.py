"""`mora apply --target kubernetes` against a real cluster, when one is given.

Runs only when MORA_TEST_KUBECONFIG names a kubeconfig whose current context may create and
delete a namespace (kind, k3s, minikube: `kind create cluster`, then
`MORA_TEST_KUBECONFIG=~/.kube/config`); the cluster must be able to pull
docker.io/library/busybox. Skipped with that reason otherwise: these machines have no API
server, so the request plan is proven at unit level (test_kube_plan.py) and the client over
real TLS (test_kube_client.py).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest

from mora.deploy.kube import Request
from mora.deploy.kubeclient import KubeClient, load_kubeconfig
from tests.cli import run_mora

KUBECONFIG = os.environ.get("MORA_TEST_KUBECONFIG", "")

pytestmark = pytest.mark.skipif(
    not KUBECONFIG,
    reason="MORA_TEST_KUBECONFIG is not set: no Kubernetes cluster to apply to here",
)

SERVICE = """
service {name} {{
  image = "docker.io/library/busybox:1.36.1"
  user = "65534"
  command = ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; sleep 3600 & wait"]
  healthcheck {{
    test = ["CMD", "test", "-f", "/tmp/ready"]
    interval = 2s
  }}
{extra}}}
"""


@pytest.mark.slow
def test_apply_on_a_cluster(tmp_path: Path) -> None:
    project = f"moratest{secrets.token_hex(3)}"
    source = tmp_path / "project"
    source.mkdir()
    site = tmp_path / "site.yaml"
    site.write_text(f"domain: example.org\nkubernetes:\n  namespace: {project}\n")
    env = {**os.environ, "MORA_SECRETS_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}

    def write(with_api: bool) -> None:
        text = f"project {project}\n\nsecret token = hex(16)\n" + SERVICE.format(
            name="db", extra=""
        )
        if with_api:
            text += SERVICE.format(
                name="api", extra="  environment { TOKEN = secret.token }\n  depends_on = [db]\n"
            )
        (source / "main.mora").write_text(text)

    def mora(*args: str):  # type: ignore[no-untyped-def]
        return run_mora(
            ["apply", str(source), "--site", str(site), "--target", "kubernetes",
             "--kubeconfig", KUBECONFIG, "--timeout", "300", *args],
            env=env,
        )  # fmt: skip

    client = KubeClient(load_kubeconfig(Path(KUBECONFIG)))
    try:
        write(with_api=True)
        first = mora()
        assert first.returncode == 0, first.stderr
        assert "db: healthy" in first.stderr and "api: healthy" in first.stderr
        deployment = client.send(
            Request("GET", f"/apis/apps/v1/namespaces/{project}/deployments/api")
        )
        labels = deployment["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "mora"
        assert labels["mora.dev/project"] == project
        managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
        assert "mora" in managers
        again = mora()
        assert again.returncode == 0 and "nothing changed" in again.stderr, again.stderr
        write(with_api=False)
        removed = mora()
        assert removed.returncode == 0 and "api: removed" in removed.stderr, removed.stderr
        gone = client.send(
            Request("GET", f"/apis/apps/v1/namespaces/{project}/deployments/api"), missing_ok=True
        )
        assert gone == {} or gone.get("metadata", {}).get("deletionTimestamp")
    finally:
        client.send(Request("DELETE", f"/api/v1/namespaces/{project}"), missing_ok=True)
        client.close()
