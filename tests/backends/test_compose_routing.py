"""No silent drops, generated from the vocabulary: each compose key changes what every backend
that honours it writes, and a backend that does not honour it says so (Kubernetes: W0611).

A new compose key in mora/vocabulary/service.py fails `test_every_compose_key_has_a_sample`
until it gets a sample here, and then the other tests hold each backend to it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.backends import Options
from mora.backends import kubernetes as k8s_backend
from mora.diagnostics import Diagnostics
from mora.vocabulary import service as V
from tests.backends.test_quadlet import build, write_targets

BASE = 'image = "docker.io/library/busybox:1.36"\n  user = "1000"'
SAMPLES = {
    "hostname": 'hostname = "box"',
    "extra_hosts": 'extra_hosts { "nas.lan" = "192.0.2.10" }',
    "dns": 'dns = ["192.0.2.53"]',
    "working_dir": 'working_dir = "/srv"',
    "stop_grace_period": "stop_grace_period = 45s",
    "stop_signal": 'stop_signal = "SIGQUIT"',
    "init": "init = true",
    "shm_size": "shm_size = 128Mi",
    "sysctls": 'sysctls { "net.ipv4.ip_unprivileged_port_start" = 80 }',
    "network_mode": 'network_mode = "host"\n  security { reason = "LAN discovery" }',
    "ulimits": "ulimits { nofile = 65536 }",
}


def test_every_compose_key_has_a_sample() -> None:
    assert set(SAMPLES) == {a.name for a in V.COMPOSE}


def _outputs(
    tmp: Path, body: str, targets: tuple[str, ...] = ("quadlet", "podman")
) -> tuple[dict[str, dict[str, str]], Diagnostics]:
    project = tmp / "project"
    project.mkdir(parents=True)
    (project / "main.mora").write_text(f"project keys\n\nservice s {{\n  {body}\n}}\n")
    compiled = build(project, domain="example.org")
    out = tmp / "out"
    _, diags = write_targets(compiled, out, targets=targets)
    k8s_backend.write(compiled, out, Options(), diags)
    if diags.has_errors:
        return {}, diags
    files = {
        target: {
            str(p.relative_to(out / target)): p.read_text()
            for p in sorted((out / target).rglob("*"))
            if p.is_file()
        }
        for target in V.BACKENDS
    }
    return files, diags


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_each_backend_honours_the_key_or_says_why_not(tmp_path: Path, key: str) -> None:
    attr = V.SERVICE[key]
    base, _ = _outputs(tmp_path / "base", BASE)
    with_key, diags = _outputs(tmp_path / "key", BASE + "\n  " + SAMPLES[key])
    assert not diags.has_errors
    for backend in V.BACKENDS:
        if backend in attr.backends:
            assert with_key[backend] != base[backend], f"{backend} dropped `{key}`"
        else:
            said = [d for d in diags.sorted() if f"`{key}`" in d.message]
            assert [d.code for d in said] == ["W0611"], (backend, key)


def test_kubernetes_refuses_another_services_network(tmp_path: Path) -> None:
    """Running the client in a pod of its own would route around the VPN: refused, E0606."""
    body = BASE + '\n  network_mode = "service:vpn"\n}\n\nservice vpn {\n  ' + BASE
    _, diags = _outputs(tmp_path, body, targets=())
    (err,) = [d for d in diags.sorted() if d.is_error]
    assert err.code == "E0606" and "`vpn`'s network namespace" in err.message
    assert err.help is not None and "quadlet or podman" in err.help
    assert not (tmp_path / "out" / "kubernetes" / "kustomization.yaml").exists()
