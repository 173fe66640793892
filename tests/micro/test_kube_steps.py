"""Setup steps on `--target kubernetes`, against the in-process HTTPS stand-in of an API server
(tests/deploy/test_kube_client.py: real TLS with the kubeconfig's CA, a bearer token it checks).

What is proven: a step's HTTP request goes through the service proxy subresource of the
service's own Kubernetes Service (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`), with
the kubeconfig's credentials and the step's own headers, and its response becomes an output;
a step that sends its own `Authorization` header, and a command step (pods/exec), are refused
with the reason. Not proven here: a real API server proxying to a real pod (no cluster on these
machines; docs/micromanagers.md says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mora.api import compile_project
from mora.deploy.kubeclient import KubeClient, load_kubeconfig
from mora.deploy.targets.kubernetes import KubernetesTarget
from mora.diagnostics import Diagnostics
from mora.micro.apply import transport_for
from mora.micro.hook import SetupHook
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore
from tests.deploy.test_kube_client import TOKEN, kubeconfig
from tests.deploy.test_kube_client import server as kube_server  # noqa: F401 - the fixture

PROJECT = """\
project shop

secret token = hex(16)

service api {
  image = "docker.io/library/busybox:1.36"
  user = "65534"
  ports { http = 8080 }
  setup {
    status {
      url = "${self.internal_url}/v1/status?full=1"
      headers { "X-Api-Key" = secret.token }
      output { version = body.version }
    }
%s  }
}
"""

BEARER = """\
    login {
      url = "${self.internal_url}/v1/me"
      auth = bearer(secret.token)
      timeout = 1s
    }
"""

EXEC = """\
    shell {
      exec = ["true"]
      timeout = 1s
    }
"""


def _run(server: Any, tmp_path: Path, extra: str) -> tuple[SetupHook, SecretStore, list]:  # type: ignore[type-arg]
    api, port, pems = server
    (tmp_path / "p").mkdir(exist_ok=True)
    (tmp_path / "p" / "main.mora").write_text(PROJECT % extra)
    store = SecretStore.in_memory()
    result = compile_project(tmp_path / "p", domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    config = load_kubeconfig(kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN}))
    target = KubernetesTarget(result.compiled, Diagnostics(), KubeClient(config))
    # what the API server would answer from the pod, through its service proxy
    api.objects["/api/v1/namespaces/shop/services/api:8080/proxy/v1/status"] = {"version": "4.2"}
    hook = SetupHook(result.compiled.manifest, store, transport_for(target), lambda *_: None)
    problem = hook("api")
    target.close()
    return hook, store, [problem, api.seen]


def test_http_step_through_the_service_proxy(kube_server: Any, tmp_path: Path) -> None:  # noqa: F811
    _hook, store, (problem, seen) = _run(kube_server, tmp_path, "")
    assert problem is None, problem
    assert store.get("setup.api.status.version").parts["value"] == "4.2"  # type: ignore[union-attr]
    method, path, _ctype, auth = seen[-1]
    proxy = "/api/v1/namespaces/shop/services/api:8080/proxy"
    assert (method, path) == ("GET", f"{proxy}/v1/status?full=1")
    assert auth == f"Bearer {TOKEN}"  # the kubeconfig's credentials, not the step's


def test_refused_with_the_reason(kube_server: Any, tmp_path: Path) -> None:  # noqa: F811
    _hook, store, (problem, seen) = _run(kube_server, tmp_path, BEARER)
    assert problem is not None and "Authorization header cannot pass" in problem
    assert not any("/v1/me" in p for _m, p, _c, _a in seen)  # refused before sending
    assert store.get("token").parts["value"] not in problem  # type: ignore[union-attr]
    _hook, _store, (problem, _seen) = _run(kube_server, tmp_path, EXEC)
    assert problem is not None and "pods/exec" in problem
