"""Probes and resources mean the same on every backend (issue 10).

`start_period` forgives failures after a start (compose's meaning): a startupProbe on Kubernetes,
`--health-start-period` / `HealthStartPeriod=` on podman, never a delay of readiness. Memory and
CPU: one ceiling everywhere (the declared limit, else 1Gi or the larger request), a CPU limit only
where declared; requests are Kubernetes-only. A job gets its service's figures on every backend.
The stdlib apps whose docs state what they need ask for it.
"""

from __future__ import annotations

from pathlib import Path

from tests.backends.test_quadlet import with_podman, write_targets
from tests.backends.test_security_contract import _compile_src, _k8s_containers, _podman_args

SRC = """project p
service db {
  image = "docker.io/library/postgres:16.4"
  user = "999"
  ports { postgres = 5432 }
  healthcheck {
    test = ["CMD-SHELL", "pg_isready"]
    interval = 10s
    retries = 5
    start_period = 5m
  }
  resources { cpu = "250m"  memory = 2Gi  cpu_limit = "1500m" }
  volumes { "/var/lib/postgresql/data" = volume() }
  jobs { dump { command = "pg_dumpall -f /var/lib/postgresql/data/all.sql"  schedule = "@daily" } }
}
service plain {
  image = "docker.io/library/busybox:1.36"
  user = "1000"
}
"""


def _unit(out: Path, name: str) -> list[str]:
    return (out / "quadlet" / "local" / name).read_text().splitlines()


def test_start_period_forgives_failures_on_podman_too(tmp_path: Path) -> None:
    compiled, _ = _compile_src(tmp_path, SRC)
    args = _podman_args(compiled)["db"]
    assert "--health-start-period=300s" in args
    assert "--health-retries=5" in args and "--health-interval=10s" in args
    for version, line in (
        ("5.0", "HealthStartPeriod=300s"),
        ("4.4", "PodmanArgs=--health-start-period=300s"),  # quadlet 4.4 has no key for it
    ):
        out = tmp_path / version
        write_targets(with_podman(compiled, version=version), out, targets=("quadlet",))
        assert line in _unit(out, "p-db.container")
    container = _k8s_containers(compiled)["db"]
    assert "initialDelaySeconds" not in container["readinessProbe"]
    assert container["startupProbe"]["failureThreshold"] == 30 + 5


def test_the_same_requests_and_limits_on_every_backend(tmp_path: Path) -> None:
    compiled, _ = _compile_src(tmp_path, SRC)
    k8s = _k8s_containers(compiled)
    podman = _podman_args(compiled)
    # declared: a 2Gi request and no memory limit -> a 2Gi ceiling; a CPU limit of 1.5 cores
    assert k8s["db"]["resources"] == {
        "limits": {"cpu": "1500m", "memory": "2Gi"},
        "requests": {"cpu": "250m", "memory": "2Gi"},
    }
    assert "--memory=2g" in podman["db"] and "--cpus=1.5" in podman["db"]
    # undeclared: small requests for the scheduler, 1Gi ceiling everywhere, no CPU limit
    assert k8s["plain"]["resources"] == {
        "limits": {"memory": "1Gi"},
        "requests": {"cpu": "50m", "memory": "64Mi"},
    }
    assert "--memory=1g" in podman["plain"]
    assert not [a for a in podman["plain"] if a.startswith("--cpus")]
    out = tmp_path / "out"
    write_targets(with_podman(compiled, version="5.5"), out, targets=("quadlet",))
    assert "Memory=2g" in _unit(out, "p-db.container")
    assert "PodmanArgs=--cpus=1.5" in _unit(out, "p-db.container")


def test_a_job_has_its_services_resources(tmp_path: Path) -> None:
    compiled, _ = _compile_src(tmp_path, SRC)
    out = tmp_path / "out"
    write_targets(compiled, out, targets=("quadlet",))
    job = _unit(out, "p-db-dump.container")
    assert "PodmanArgs=--memory=2g" in job and "PodmanArgs=--cpus=1.5" in job
    assert not [line for line in job if line.startswith("Health")]  # a job has no health check
    from mora.backends.kubernetes import render
    from mora.diagnostics import Diagnostics

    docs = render(compiled, no_secrets=True, diags=Diagnostics())
    assert docs is not None
    (cron,) = [d.body for d in docs if d.path == "db/cronjob-dump.yaml"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"] == _k8s_containers(compiled)["db"]["resources"]
    assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(pod["containers"][0])


def test_stdlib_apps_ask_for_what_their_docs_state(tmp_path: Path) -> None:
    """Jellyfin and Immich reserve the cores their requirements name; no CPU limit on podman."""
    src = """project p
import jellyfin
import immich
service watch = jellyfin(media: "/srv/media")
service photosml = immich_ml(uid: 1000)
"""
    compiled, _ = _compile_src(tmp_path, src)
    k8s = _k8s_containers(compiled)
    podman = _podman_args(compiled)
    assert k8s["watch"]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert k8s["watch"]["resources"]["limits"] == {"memory": "6Gi"}
    assert k8s["photosml"]["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    assert "--memory=6g" in podman["watch"]
    assert not [a for a in podman["watch"] if a.startswith("--cpus")]
