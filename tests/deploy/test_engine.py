"""The engine's bookkeeping with a target that records calls (the real podman run is in
test_apply_podman.py): held services, blocked dependants, what reaches the record, and a
damaged record reported as E0801 by the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

from mora.api import compile_project
from mora.compiled import Compiled
from mora.deploy.engine import apply, prepare
from mora.deploy.state import Record
from mora.deploy.targets.base import Health, Target
from mora.secrets.provider import MemoryProvider
from tests.cli import run_mora

PROJECT = """\
project lab

service a {
  image = "docker.io/library/busybox:1.36"
}

service b {
  image = "docker.io/library/busybox:1.36"
  depends_on = [a]
}

service c {
  image = "docker.io/library/busybox:1.36"
  depends_on = [b]
}

service other {
  image = "docker.io/library/busybox:1.36"
}

service waits {
  image = "docker.io/library/busybox:1.36"
  input key: string { prompt = "a key" }
  environment { KEY = input.key }
}
"""


class Recorder(Target):
    """Runs nothing: each service becomes healthy at once unless it is in `failing`."""

    name = "podman"

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.applied: list[str] = []
        self.running: set[str] = set()

    def prepare(self) -> None:
        pass

    def apply_service(self, service: str) -> dict[str, list[str]]:
        self.applied.append(service)
        self.running.add(service)
        return {"containers": [service]}

    def is_running(self, service: str) -> bool:
        return service in self.running

    def health(self, service: str) -> tuple[Health, str]:
        return ("failed", "exit 1") if service in self.failing else ("healthy", "")

    def logs(self, service: str, lines: int) -> list[str]:
        return [f"{service} log"]

    def remove(self, service: str, objects: dict[str, list[str]], prune_volumes: bool) -> None:
        self.running.discard(service)

    def finish(self, anything_applied: bool) -> None:
        pass


def compiled(tmp_path: Path) -> object:
    (tmp_path / "main.mora").write_text(PROJECT)
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"e"))
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    return result.compiled


def test_failure_blocks_only_dependants_and_is_not_recorded(tmp_path: Path) -> None:
    built = compiled(tmp_path)
    saved: list[Record] = []
    target = Recorder(failing={"b"})
    done = apply(prepare(built, None, None, "podman"), None, target, saved.append, poll=0)
    status = {o.service: o.status for o in done.outcomes}
    assert status == {
        "a": "healthy",
        "other": "healthy",
        "b": "failed",
        "c": "blocked",
        "waits": "held",
    }
    assert "c" not in target.applied and "waits" not in target.applied
    assert [o.logs for o in done.outcomes if o.service == "b"] == [["b log"]]
    assert sorted(saved[-1].manifest.services) == ["a", "other"]
    assert saved[-1].objects["b"] == {"containers": ["b"]}  # made, so removable later
    assert not done.ok
    # b leaves the project: its objects are removed although it was never recorded as applied
    manifest = built.manifest  # type: ignore[attr-defined]
    services = {k: v for k, v in manifest.services.items() if k not in ("b", "c")}
    without_b = Compiled(manifest.model_copy(update={"services": services}), {})
    removal = prepare(without_b, saved[-1], None, "podman").changes
    assert removal.removed == ["b"]

    # fixed: the next apply deploys only what is missing
    again = Recorder(failing=set())
    again.running = set(target.running) - {"b"}
    prepared = prepare(built, saved[-1], None, "podman")
    assert prepared.changes.added == ["b", "c"]
    result = apply(prepared, saved[-1], again, saved.append, poll=0)
    assert again.applied == ["b", "c"] and result.ok
    assert sorted(saved[-1].manifest.services) == ["a", "b", "c", "other"]


def test_unchanged_but_stopped_is_started_again(tmp_path: Path) -> None:
    built = compiled(tmp_path)
    saved: list[Record] = []
    first = Recorder(failing=set())
    apply(prepare(built, None, None, "podman"), None, first, saved.append, poll=0)
    second = Recorder(failing=set())
    second.running = set(first.running) - {"other"}  # stopped behind mora's back
    prepared = prepare(built, saved[-1], None, "podman")
    assert prepared.changes.empty
    done = apply(prepared, saved[-1], second, saved.append, poll=0)
    assert second.applied == ["other"]
    assert {o.service: o.status for o in done.outcomes}["a"] == "unchanged"


def test_damaged_record_is_e0801(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.mora").write_text(PROJECT)
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    record = tmp_path / "site.secrets.deployed" / "lab.json"
    record.parent.mkdir()
    record.write_text("{not json")
    env = {"MORA_SECRETS_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="}
    proc = run_mora(["diff", str(project), "--site", str(site)], env={**os.environ, **env})
    assert proc.returncode == 1, proc.stderr
    assert "E0801" in proc.stderr and "lab.json:1:2" in proc.stderr


class JobRecorder(Recorder):
    """Service `a` has a `before` job and an `after` job; their keys and results are set by
    the test (a changed key is a changed job)."""

    def __init__(self, keys: dict[str, str], failing_jobs: set[str]) -> None:
        super().__init__(failing=set())
        self.keys = keys  # job -> key
        self.failing_jobs = failing_jobs
        self.ran: list[str] = []

    def run_jobs(self, service: str, when: str) -> list[tuple[str, str]]:
        wanted = {"before": ["migrate"], "after": ["seed"]}[when] if service == "a" else []
        return [(j, self.keys[j]) for j in wanted]

    def run_job(self, service: str, job: str, timeout: float) -> tuple[str | None, list[str]]:
        self.ran.append(job)
        if job in self.failing_jobs:
            return "exited with 2", [f"{job} said no"]
        return None, []


def test_jobs_run_once_per_key_and_failures_block(tmp_path: Path) -> None:
    built = compiled(tmp_path)
    saved: list[Record] = []
    keys = {"migrate": "migrate:1", "seed": "seed:1"}
    first = JobRecorder(keys, failing_jobs={"seed"})
    done = apply(prepare(built, None, None, "podman"), None, first, saved.append, poll=0)
    status = {o.service: (o.status, o.detail) for o in done.outcomes}
    # migrate ran before a was created; seed (after) failed a once it was healthy: b, c blocked
    assert first.ran == ["migrate", "seed"] and first.applied[0] == "a"
    assert status["a"] == ("failed", "job `seed` (after) exited with 2")
    assert status["b"][0] == "blocked" and status["c"][0] == "blocked"
    assert [o.logs for o in done.outcomes if o.service == "a"] == [["seed said no"]]
    assert saved[-1].objects["a"]["jobs"] == ["migrate:1"]  # only what exited 0

    # a is unchanged and running: migrate is not run again, the failed seed is retried
    second = JobRecorder(keys, failing_jobs=set())
    second.running = set(first.running)
    done = apply(prepare(built, saved[-1], None, "podman"), saved[-1], second, saved.append, poll=0)
    assert second.ran == ["seed"] and "a" not in second.applied
    assert saved[-1].objects["a"]["jobs"] == ["migrate:1", "seed:1"]
    assert done.ok

    # a changed `before` job on a service being recreated: runs again, its old key replaced;
    # one that fails keeps the service from being created at all
    third = JobRecorder({**keys, "migrate": "migrate:2"}, failing_jobs={"migrate"})
    record = saved[-1]
    record.manifest.services.pop("a")  # as if `a` changed: it is deployed again
    done = apply(prepare(built, record, None, "podman"), record, third, saved.append, poll=0)
    assert third.ran == ["migrate"] and "a" not in third.applied
    assert {o.service: o.status for o in done.outcomes}["a"] == "failed"
    assert saved[-1].objects["a"]["jobs"] == ["migrate:1", "seed:1"]
    fourth = JobRecorder({**keys, "migrate": "migrate:2"}, failing_jobs=set())
    done = apply(prepare(built, record, None, "podman"), record, fourth, saved.append, poll=0)
    assert fourth.ran == ["migrate"] and fourth.applied[0] == "a" and done.ok
    assert saved[-1].objects["a"]["jobs"] == ["migrate:2", "seed:1"]
