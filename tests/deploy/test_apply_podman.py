"""`mora apply --target podman` end to end, with the real podman here (busybox, no registry).

One project of three stages (db -> api -> web, each gated by a health check that passes only
after a delay), driven through the CLI as a person would: a first apply interrupted once the
first stage is healthy, then resumed; a second apply that changes nothing; a rotated secret
that restarts exactly its consumer; a removed service cleaned up with its volume kept; a failing
service that shows its logs and blocks only its dependant, then removed with
`--prune-volumes`. Everything carrying the test's
project name is removed at the end, and nothing else.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import REPO, run_mora
from tests.toolchain import BUSYBOX_IMAGE, podman, podman_env

# Stops at once when podman replaces or removes it (a bare `sleep` as PID 1 ignores SIGTERM and
# costs podman's 10 s stop timeout each time).
IDLE = "trap 'exit 0' TERM; "

# `ready` appears 2 s after start: a dependant started before it (no health gate) would be
# created before its dependency's ready time, which the test compares. Given a gate, `api` is
# healthy only while the gate is open (a file in a bound folder): a test that interrupts an
# apply at a line closes it first, so the apply cannot finish before the interruption however
# slowly the test reads that line (under load it once read it after the apply had ended).
SERVICE = """\
service {name} {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}sleep 2; date +%s > /tmp/ready; sleep 600 & wait"]
  healthcheck {{
    test = ["CMD-SHELL", "{health}"]
    interval = 1s
    retries = 60
  }}
{extra}}}
"""

HEAD = "project {project}\n\nsecret token = hex(16)\n\n"


READY = "test -f /tmp/ready"


def project_text(
    project: str, *, gate: Path | None = None, web: bool = True, broken: bool = False
) -> str:
    parts = [HEAD.format(project=project)]
    parts.append(
        SERVICE.format(name="db", image=BUSYBOX_IMAGE, idle=IDLE, health=READY, extra="")
    )
    api = "  environment { TOKEN = secret.token }\n  depends_on = [db]\n"
    if gate is not None:
        api += f'  volumes {{ "/gate" = bind("{gate}", readonly: true) }}\n'
    parts.append(
        SERVICE.format(
            name="api",
            image=BUSYBOX_IMAGE,
            idle=IDLE,
            health=READY if gate is None else f"{READY} && test -f /gate/open",
            extra=api,
        )
    )
    if web:
        parts.append(
            SERVICE.format(
                name="web",
                image=BUSYBOX_IMAGE,
                idle=IDLE,
                health=READY,
                extra='  volumes { "/data" = volume() }\n  depends_on = [api]\n',
            )
        )
    if broken:
        parts.append(
            f'service broken {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "65534"\n'
            '  command = ["sh", "-c", "echo broken-said-this \\"$TOKEN\\"; exit 3"]\n'
            "  environment { TOKEN = secret.token }\n}\n\n"
            f'service needs_broken {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "65534"\n'
            f'  command = ["sh", "-c", "{IDLE}sleep 600 & wait"]\n  depends_on = [broken]\n}}\n\n'
            f'service cache {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "65534"\n'
            f'  command = ["sh", "-c", "{IDLE}sleep 600 & wait"]\n'
            '  volumes { "/data" = volume() }\n}\n'
        )
    return "\n".join(parts)


class Lab:
    """The project, its site and the podman it runs on."""

    def __init__(self, tmp: Path) -> None:
        self.env = podman_env()
        if self._podman("image", "exists", BUSYBOX_IMAGE).returncode != 0:
            pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
        self.project = f"moraapply{secrets.token_hex(4)}"
        self.source = tmp / "project"
        self.source.mkdir()
        site_dir = tmp / "site"
        site_dir.mkdir()
        self.site = site_dir / "site.yaml"
        self.site.write_text("domain: example.org\n")
        self.record = site_dir / "site.secrets.deployed" / f"{self.project}.json"
        self.gate = tmp / "gate"
        self.gate.mkdir()
        self.open_gate()
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**self.env, "MORA_SECRETS_KEY": key, "PYTHONPATH": str(REPO)}

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(podman()), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def write(self, **kw: bool) -> None:
        (self.source / "main.mora").write_text(project_text(self.project, gate=self.gate, **kw))

    def open_gate(self) -> None:
        (self.gate / "open").write_text("")

    def close_gate(self) -> None:
        (self.gate / "open").unlink()

    def mora(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mora([*args, str(self.source), "--site", str(self.site)], env=self.env)

    def apply(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.mora("apply", "--timeout", "60", *extra)

    def inspect(self, service: str, fmt: str) -> str:
        proc = self._podman("container", "inspect", "--format", fmt, f"{self.project}-{service}")
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def ids(self) -> dict[str, str]:
        return {s: self.inspect(s, "{{.Id}}") for s in ("db", "api", "web")}

    def ready_at(self, service: str) -> int:
        proc = self._podman("exec", f"{self.project}-{service}", "cat", "/tmp/ready")
        assert proc.returncode == 0, proc.stderr
        return int(proc.stdout)

    def created_at(self, service: str) -> int:
        return int(self.inspect(service, "{{.Created.Unix}}"))

    def cleanup(self) -> None:
        label = f"label=mora.project={self.project}"
        ids = self._podman("ps", "-a", "-q", "--filter", label).stdout.split()
        if ids:
            self._podman("rm", "-f", "-t", "0", *ids)
        vols = self._podman("volume", "ls", "-q", "--filter", label).stdout.split()
        if vols:
            self._podman("volume", "rm", "-f", *vols)
        names = self._podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
        for name in names:
            if name.startswith(f"{self.project}-"):
                self._podman("secret", "rm", name)
        self._podman("network", "rm", "-f", self.project)


def interrupted_apply(lab: Lab, when: str = "db: healthy", sig: int = signal.SIGINT) -> str:
    """Start `mora apply`, send `sig` (Ctrl-C) once a line with `when` appears; its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mora.cli", "apply", str(lab.source), "--site", str(lab.site)],
        env=lab.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if when in line:
                proc.send_signal(sig)
                break
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, "".join(seen)
    return "".join(seen)


@pytest.mark.slow
def test_apply_three_stages_on_podman(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    try:
        lab.write()
        dry = lab.mora("apply", "--dry-run", "--format", "json")
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["added"] == ["api", "db", "web"]
        assert lab._podman("container", "exists", f"{lab.project}-db").returncode != 0

        # interrupted after stage 1: the record holds db only; the re-run finishes the job
        lab.close_gate()  # api cannot become healthy until both interruptions are done
        first = interrupted_apply(lab)
        assert "db: creating" in first
        recorded = json.loads(lab.record.read_text())
        assert "db" in recorded["manifest"]["services"]
        assert "web" not in recorded["manifest"]["services"]
        assert lab.record.stat().st_mode & 0o777 == 0o600
        # killed outright in the middle of the next stage (api created, not yet healthy): the
        # record is still whole and still claims only what became healthy
        interrupted_apply(lab, when="api: starting", sig=signal.SIGKILL)
        recorded = json.loads(lab.record.read_text())
        assert sorted(recorded["manifest"]["services"]) == ["db"]
        lab.open_gate()
        resumed = lab.apply()
        assert resumed.returncode == 0, resumed.stderr
        assert "db: unchanged" in resumed.stderr
        assert "web: healthy" in resumed.stderr
        # health-gated: each stage was created once the one before was ready
        assert lab.created_at("api") >= lab.ready_at("db")
        assert lab.created_at("web") >= lab.ready_at("api")
        ids = lab.ids()
        assert all(ids.values()), ids

        # the same again: nothing changes
        again = lab.apply()
        assert again.returncode == 0, again.stderr
        assert "nothing changed" in again.stderr
        assert lab.ids() == ids

        # a rotated secret restarts exactly its consumer, and its value is never printed
        rotate = lab.mora("secrets", "rotate", "token")
        assert rotate.returncode == 0, rotate.stderr
        diff = lab.mora("diff")
        assert "api restarts: environment.TOKEN (secret.token changed)" in diff.stdout
        rotated = lab.apply()
        assert rotated.returncode == 0, rotated.stderr
        after = lab.ids()
        assert after["api"] != ids["api"]
        assert after["db"] == ids["db"] and after["web"] == ids["web"]
        got = lab._podman("exec", f"{lab.project}-api", "sh", "-c", 'printf %s "$TOKEN"')
        token = got.stdout
        assert len(token) == 32
        for output in (rotate, diff, rotated):
            assert token not in output.stdout + output.stderr
        assert token not in lab.record.read_text()

        # a removed service: container gone, its volume kept
        web_volumes = json.loads(lab.record.read_text())["objects"]["web"]["volumes"]
        assert len(web_volumes) == 1
        lab.write(web=False)
        removed = lab.apply()
        assert removed.returncode == 0, removed.stderr
        assert "web: removed" in removed.stderr
        assert lab._podman("container", "exists", f"{lab.project}-web").returncode != 0
        assert lab._podman("volume", "exists", web_volumes[0]).returncode == 0
        assert "web" not in json.loads(lab.record.read_text())["objects"]
        assert lab.ids()["api"] == after["api"]

        # a failing service: its logs shown, its dependant blocked, the rest untouched
        lab.write(web=False, broken=True)
        failing = lab.apply()
        assert failing.returncode == 4, failing.stderr
        assert "broken: failed" in failing.stderr
        assert "broken-said-this [secret]" in failing.stderr  # its log, the value masked
        assert token not in failing.stdout + failing.stderr
        assert "needs_broken: blocked" in failing.stderr
        assert lab._podman("container", "exists", f"{lab.project}-needs_broken").returncode != 0
        assert lab.ids()["api"] == after["api"]
        recorded = json.loads(lab.record.read_text())
        assert "broken" not in recorded["manifest"]["services"]
        cache_volumes = recorded["objects"]["cache"]["volumes"]

        # gone again, with --prune-volumes: the failed service's container is removed too, the
        # removed cache's volume is deleted; web's volume, kept earlier, is not mora's anymore
        lab.write(web=False)
        pruned = lab.apply("--prune-volumes")
        assert pruned.returncode == 0, pruned.stderr
        assert "broken: removed" in pruned.stderr and "cache: removed" in pruned.stderr
        assert lab._podman("container", "exists", f"{lab.project}-broken").returncode != 0
        assert lab._podman("volume", "exists", cache_volumes[0]).returncode != 0
        assert lab._podman("volume", "exists", web_volumes[0]).returncode == 0
    finally:
        lab.cleanup()


@pytest.mark.slow
def test_missing_image_is_pulled_and_its_failure_blocks_dependants(tmp_path: Path) -> None:
    """No registry here: the pull of an image that is not imported fails, as its own step."""
    lab = Lab(tmp_path)
    try:
        (lab.source / "main.mora").write_text(
            f"project {lab.project}\n\n"
            'service gone {\n  image = "localhost/mora-not-imported:1"\n  user = "65534"\n}\n\n'
            f'service after {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "65534"\n'
            "  depends_on = [gone]\n}\n\n"
            f'service beside {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "65534"\n'
            f'  command = ["sh", "-c", "{IDLE}sleep 600 & wait"]\n}}\n'
        )
        proc = lab.apply()
        assert proc.returncode == 4, proc.stderr
        assert "gone: pulling" in proc.stderr
        # one line: the service once, what failed (podman's error, not its retry warnings),
        # the fix; and no "log" of a container that was never created
        failed = next(ln for ln in proc.stderr.splitlines() if "gone: failed:" in ln)
        assert failed.count("gone") == 1, failed
        assert "] gone: failed: cannot pull localhost/mora-not-imported:1: " in failed
        assert "put the image on this machine yourself (`podman load`" in failed
        assert "level=warning" not in proc.stderr and "retrying" not in proc.stderr
        assert "last log lines of gone" not in proc.stderr
        assert "after: blocked" in proc.stderr
        assert "beside: healthy" in proc.stderr
    finally:
        lab.cleanup()
