"""mora's Kubernetes client and target over real TLS, against a small in-process HTTPS server
that answers like an API server for the calls mora makes (apply, get, delete, list pods, log).

What is real: the kubeconfig parsing, the TLS handshake with the kubeconfig's CA (a wrong CA
fails), a bearer token or a client certificate given as data (the server requires it), the
HTTP requests as sent (method, path, query, content type), and the engine driving the target.
What the server stands in for: the API server's semantics (it stores what is applied and
reports every workload as rolled out). The real cluster run is test_kube_cluster.py.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mora.api import compile_project
from mora.deploy.engine import apply, prepare
from mora.deploy.kube import Request
from mora.deploy.kubeclient import KubeClient, KubeError, load_kubeconfig
from mora.deploy.state import Record
from mora.deploy.targets.kubernetes import KubernetesTarget
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

PROJECT = Path(__file__).parent / "kube_project"
TOKEN = "t0ken-for-the-test-server"


def _cert(name: str, key: Any, issuer: tuple[Any, Any] | None, ca: bool) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _pem(obj: Any) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Api:
    """What the server saw and holds."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []  # method, path?query, content type, auth
        self.objects: dict[str, dict[str, Any]] = {}
        self.client_cert: bool = False


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: object) -> None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _note(self) -> str:
            api.client_cert = api.client_cert or bool(self.connection.getpeercert())
            auth = self.headers.get("Authorization", "")
            api.seen.append((self.command, self.path, self.headers.get("Content-Type", ""), auth))
            return self.path.split("?", 1)[0]

        def do_PATCH(self) -> None:
            path = self._note()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body.setdefault("metadata", {})["generation"] = 1
            if body.get("kind") in ("Deployment", "StatefulSet"):
                n = body["spec"].get("replicas", 1)
                body["status"] = {"observedGeneration": 1, "replicas": n, "updatedReplicas": n,
                                  "availableReplicas": n, "readyReplicas": n,
                                  "currentRevision": "r1", "updateRevision": "r1"}  # fmt: skip
            if body.get("kind") == "Job":  # done at once: failed when its command says so
                args = body["spec"]["template"]["spec"]["containers"][0].get("args", [])
                failed = "fail" in " ".join(args)
                cond = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit"} if failed else {
                        "type": "Complete", "status": "True"}  # fmt: skip
                body["status"] = {"conditions": [cond]}
            api.objects[path] = body
            self._answer(200, body)

        def do_GET(self) -> None:
            path = self._note()
            if path.endswith("/pods"):
                self._answer(200, {"kind": "PodList", "items": []})
            elif path in api.objects:
                self._answer(200, api.objects[path])
            else:
                self._answer(404, {"kind": "Status", "reason": "NotFound", "message": "not found"})

        def do_DELETE(self) -> None:
            path = self._note()
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found = api.objects.pop(path, None)
            self._answer(200 if found else 404, {"kind": "Status"})

    return Handler


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, None, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("127.0.0.1", srv_key, (ca, ca_key), ca=False)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("mora-test", client_key, (ca, ca_key), ca=False)
    (tmp_path / "srv.pem").write_bytes(_pem(srv) + _pem(srv_key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.pem")
    ctx.load_verify_locations(cadata=_pem(ca).decode())
    ctx.verify_mode = ssl.CERT_OPTIONAL
    api = Api()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    pems = {"ca": _pem(ca), "cert": _pem(client), "key": _pem(client_key)}
    yield api, port, pems
    httpd.shutdown()
    httpd.server_close()


def kubeconfig(path: Path, port: int, ca: bytes, user: dict[str, Any]) -> Path:
    b64 = base64.b64encode(ca).decode()
    data = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}",
                                               "certificate-authority-data": b64}}],
        "contexts": [{"name": "test", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": user}],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(data))
    return path


def test_token_and_ca_from_the_kubeconfig(server: Any, tmp_path: Path) -> None:
    api, port, pems = server
    client = KubeClient(
        load_kubeconfig(kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN}))
    )
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}}
    req = Request("PATCH", "/api/v1/namespaces/n/configmaps/x", {"fieldManager": "mora"}, body,
                  "application/apply-patch+yaml")  # fmt: skip
    assert client.send(req)["metadata"]["name"] == "x"
    assert client.send(Request("GET", "/api/v1/namespaces/n/configmaps/y"), missing_ok=True) == {}
    with pytest.raises(KubeError) as err:
        client.send(Request("GET", "/api/v1/namespaces/n/configmaps/y"))
    assert err.value.status == 404
    client.close()
    assert api.seen[0] == ("PATCH", "/api/v1/namespaces/n/configmaps/x?fieldManager=mora",
                           "application/apply-patch+yaml", f"Bearer {TOKEN}")  # fmt: skip
    assert TOKEN not in repr(client.config)


def test_wrong_ca_is_refused(server: Any, tmp_path: Path) -> None:
    _, port, _ = server
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _pem(_cert("other-ca", other_key, None, ca=True))
    client = KubeClient(load_kubeconfig(kubeconfig(tmp_path / "kc", port, other, {"token": TOKEN})))
    with pytest.raises(KubeError, match="CERTIFICATE_VERIFY_FAILED"):
        client.send(Request("GET", "/api/v1/namespaces"))


def test_client_certificate_as_data(server: Any, tmp_path: Path) -> None:
    api, port, pems = server
    user = {"client-certificate-data": base64.b64encode(pems["cert"]).decode(),
            "client-key-data": base64.b64encode(pems["key"]).decode()}  # fmt: skip
    client = KubeClient(load_kubeconfig(kubeconfig(tmp_path / "kc", port, pems["ca"], user)))
    client.send(Request("GET", "/api/v1/namespaces/x"), missing_ok=True)
    assert api.client_cert and api.seen[-1][3] == ""  # the certificate, no token
    assert not list(tmp_path.glob("mora-kube-*"))


@pytest.mark.parametrize(
    ("cluster", "user", "why"),
    [
        ({"insecure-skip-tls-verify": True}, {"token": "x"}, "TLS verification off"),
        ({}, {"exec": {"command": "aws"}}, "`exec` is not supported"),
        ({"server": "http://127.0.0.1:1"}, {"token": "x"}, "https://"),
    ],
)
def test_kubeconfigs_mora_will_not_use(tmp_path: Path, cluster: dict, user: dict, why: str) -> None:
    path = kubeconfig(tmp_path / "kc", 1, b"-", user)
    data = yaml.safe_load(path.read_text())
    data["clusters"][0]["cluster"].update(cluster)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(KubeError, match=why.replace("(", r"\(")):
        load_kubeconfig(path)
    with pytest.raises(KubeError, match="no context named `nope`"):
        load_kubeconfig(path, "nope")


def test_a_missing_kubeconfig_says_how_to_name_one(tmp_path: Path) -> None:
    """`mora apply --target kubernetes` without ~/.kube/config said only "No such file or
    directory"; the options that name another file were left to guess."""
    with pytest.raises(KubeError) as caught:
        load_kubeconfig(tmp_path / "absent")
    assert "No such file or directory" in str(caught.value)
    assert "--kubeconfig FILE or the KUBECONFIG variable" in str(caught.value)


def test_engine_applies_and_prunes_through_the_target(server: Any, tmp_path: Path) -> None:
    api, port, pems = server
    config = load_kubeconfig(kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN}))
    result = compile_project(PROJECT, domain="example.org", provider=MemoryProvider(seed=b"k"))
    compiled = result.compiled
    assert compiled is not None
    saved: list[Record] = []
    target = KubernetesTarget(compiled, Diagnostics(), KubeClient(config))
    done = apply(
        prepare(compiled, None, b"k" * 32, "kubernetes"), None, target, saved.append, poll=0
    )
    target.close()
    assert {o.service: o.status for o in done.outcomes} == {"db": "healthy", "api": "healthy"}
    patched = [p.split("?")[0] for m, p, _, _ in api.seen if m == "PATCH"]
    assert patched[0] == "/api/v1/namespaces/shop"
    # db (stage 1) fully before api (stage 2)
    assert max(i for i, p in enumerate(patched) if p.endswith("/db") or "postgresql" in p) < min(
        i for i, p in enumerate(patched) if p.endswith("/api") or "api-" in p
    )
    record = saved[-1]
    assert "apps/v1:StatefulSet:shop:db" in record.objects["db"]["kube"]
    assert record.objects["db"]["volumes"] == [
        "v1:PersistentVolumeClaim:shop:db-var-lib-postgresql-data"
    ]
    for value in compiled.material.values():
        assert value not in json.dumps(record.to_json())

    # api leaves the project: its recorded objects are deleted, db and the claim stay
    manifest = compiled.manifest
    only_db = type(compiled)(
        manifest.model_copy(update={"services": {"db": manifest.services["db"]}}), {}
    )
    api.seen.clear()
    target = KubernetesTarget(only_db, Diagnostics(), KubeClient(config), before=record.objects)
    prepared = prepare(only_db, record, b"k" * 32, "kubernetes")
    assert prepared.changes.removed == ["api"]
    done = apply(prepared, record, target, saved.append, poll=0)
    target.close()
    deleted = [p for m, p, _, _ in api.seen if m == "DELETE"]
    assert deleted[0] == "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/api"
    assert "/apis/apps/v1/namespaces/shop/deployments/api" in deleted
    assert not any("persistentvolumeclaims" in p or p.endswith("/db") for p in deleted)
    assert "api" not in saved[-1].objects


def test_cli_apply_to_kubernetes(server: Any, tmp_path: Path) -> None:
    """The command as a person runs it: the kubeconfig's context, progress, the record, a second
    run that changes nothing; a kubeconfig mora will not use stops before anything is sent."""
    import os

    from tests.cli import run_mora

    api, port, pems = server
    kc = kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN})
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    key = base64.b64encode(b"s" * 32).decode()
    env = {**os.environ, "MORA_SECRETS_KEY": key}
    args = ["apply", str(PROJECT), "--site", str(site), "--target", "kubernetes", "--timeout", "30"]
    first = run_mora([*args, "--kubeconfig", str(kc)], env=env)
    assert first.returncode == 0, first.stderr
    assert "db: healthy" in first.stderr and "api: healthy" in first.stderr
    assert all(auth == f"Bearer {TOKEN}" for _, _, _, auth in api.seen)
    assert TOKEN not in first.stdout + first.stderr
    again = run_mora([*args, "--kubeconfig", str(kc)], env=env)
    assert again.returncode == 0 and "nothing changed" in again.stderr, again.stderr
    forced = run_mora([*args, "--kubeconfig", str(kc), "--force-conflicts"], env=env)
    assert forced.returncode == 0, forced.stderr
    data = yaml.safe_load(kc.read_text())
    data["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    kc.write_text(yaml.safe_dump(data))
    before = len(api.seen)
    refused = run_mora([*args, "--kubeconfig", str(kc)], env=env)
    assert refused.returncode == 1 and "TLS verification" in refused.stderr, refused.stderr
    assert len(api.seen) == before


JOBS_PROJECT = """\
project shop

service api {
  image = "docker.io/library/busybox:1.36"
  user = "65534"
  volumes { "/data" = volume() }
  jobs {
    migrate {
      command = ["sh", "-c", "MIGRATION"]
      run = "before"
    }
    report {
      command = ["true"]
      schedule = "@daily"
    }
  }
}

service web {
  image = "docker.io/library/busybox:1.36"
  user = "65534"
  depends_on = [api]
}
"""


def test_jobs_are_applied_and_waited_for(server: Any, tmp_path: Path) -> None:
    """A `before` Job is applied (with the Secret, ConfigMap and claim its pod needs) and waited
    for until Complete before the workload; recorded by name (its template's hash), skipped
    next time, a new one after a change; a Failed one fails its service and blocks `web`."""
    api, port, pems = server
    config = load_kubeconfig(kubeconfig(tmp_path / "kc", port, pems["ca"], {"token": TOKEN}))
    source = tmp_path / "jobs"
    source.mkdir()

    def deploy(migration: str, before: Record | None) -> tuple[Any, Record | None]:
        (source / "main.mora").write_text(JOBS_PROJECT.replace("MIGRATION", migration))
        result = compile_project(source, domain="example.org", provider=MemoryProvider(seed=b"j"))
        assert result.compiled is not None, result.diagnostics
        saved: list[Record] = []
        objects = before.objects if before else None
        target = KubernetesTarget(
            result.compiled, Diagnostics(), KubeClient(config), before=objects
        )
        target.poll = 0
        prepared = prepare(result.compiled, before, b"k" * 32, "kubernetes")
        done = apply(prepared, before, target, saved.append, poll=0)
        target.close()
        return done, (saved[-1] if saved else before)

    done, record = deploy("echo v1", None)
    assert done.ok, done.outcomes
    patched = [p.split("?")[0] for m, p, _, _ in api.seen if m == "PATCH"]
    job = next(p for p in patched if "/apis/batch/v1/namespaces/shop/jobs/api--migrate-" in p)
    workload = patched.index("/apis/apps/v1/namespaces/shop/deployments/api")
    assert patched.index(job) < workload  # the Job ran to Complete before the service
    assert [m for m, p, _, _ in api.seen if p.split("?")[0] == job] == ["PATCH", "GET"]
    assert "/apis/batch/v1/namespaces/shop/cronjobs/api--report" in patched
    assert record is not None
    assert record.objects["api"]["jobs"] == [f"migrate:{job.rsplit('/', 1)[1]}"]
    assert f"batch/v1:Job:shop:{job.rsplit('/', 1)[1]}" in record.objects["api"]["kube"]

    api.seen.clear()
    done, record = deploy("echo v1", record)
    assert not done.changed
    assert [p.split("?")[0] for m, p, _, _ in api.seen if m == "PATCH"] == [
        "/api/v1/namespaces/shop"
    ]

    api.seen.clear()
    done, record = deploy("echo v2", record)
    assert done.ok, done.outcomes
    new_job = next(p.split("?")[0] for m, p, _, _ in api.seen if m == "PATCH" and "/jobs/" in p)
    assert new_job != job
    assert ("DELETE", job) in [(m, p.split("?")[0]) for m, p, _, _ in api.seen]  # old version

    api.seen.clear()
    done, record = deploy("echo fail", record)
    outcome = {o.service: (o.status, o.detail) for o in done.outcomes}
    assert outcome["api"] == (
        "failed",
        "job `migrate` (before) failed: BackoffLimitExceeded: Job has reached the specified"
        " backoff limit",
    )
    assert outcome["web"] == ("blocked", "api failed")
    assert not [p for m, p, _, _ in api.seen if m == "PATCH" and "/deployments/" in p]
