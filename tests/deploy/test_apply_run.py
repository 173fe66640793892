"""`mora apply` makes what a stage needs before it starts: bind folders and one-off jobs.

Real podman here (the busybox image the other deploy tests use, no registry), through the CLI
as a person runs it: a missing bind folder created with the service's numeric owner (the
non-root container writes into it), an existing one left alone, a folder that cannot be created
stopping the run before any container starts; a `before` job that runs once, is skipped on the
next apply and runs again when its command changes; a failing job's redacted report and its
blocked dependants. Over the loopback sshd, `--target podman-ssh` creates the folder on the
"remote" host.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.deploy.sshd import Sshd, start_sshd
from tests.deploy.test_apply_podman import IDLE, Lab
from tests.toolchain import BUSYBOX_IMAGE

IDLE_CMD = f"{IDLE}sleep 600 & wait"


def service(name: str, body: str, user: str = "65534") -> str:
    return f'service {name} {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "{user}"\n{body}}}\n\n'


def folders_project(
    project: str, data: Path, shared: Path, extra: str = "", job: bool = False
) -> str:
    """`db` writes into a bind folder apply must create (and, with `job`, so does its `before`
    job, as the same user); `web` reads an existing one."""
    jobs = (
        '  jobs {\n    init {\n      command = ["sh", "-c", "echo init > /data/init"]\n'
        '      run = "before"\n    }\n  }\n'
    )
    db = service(
        "db",
        f'  command = ["sh", "-c", "echo hi > /data/hello && {IDLE_CMD}"]\n'
        '  healthcheck {\n    test = ["CMD-SHELL", "test -f /data/hello"]\n'
        "    interval = 1s\n    retries = 30\n  }\n"
        f'  volumes {{ "/data" = bind("{data}") }}\n' + (jobs if job else ""),
    )
    web = service(
        "web",
        f'  command = ["sh", "-c", "{IDLE_CMD}"]\n'
        f'  volumes {{ "/shared" = bind("{shared}") }}\n  depends_on = [db]\n',
    )
    return f"project {project}\n\n" + db + web + extra


@pytest.mark.slow
def test_bind_folders_are_created_with_the_owner_before_the_stage(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    data = tmp_path / "host" / "db-data"
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)  # exists: left as it is (owner, mode)
    before = shared.stat()
    try:
        (lab.source / "main.mora").write_text(folders_project(lab.project, data, shared))
        dry = lab.mora("apply", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"{data} (owner 65534:65534) for db" in dry.stdout
        assert not data.exists()  # a dry run touches nothing

        first = lab.apply()
        assert first.returncode == 0, first.stderr
        assert f"db: folder {data}: created (owner 65534:65534)" in first.stderr
        assert f"folder {shared}" not in first.stderr
        # created with the service's numeric user, and that non-root user wrote into it
        st = data.stat()
        assert (st.st_uid, st.st_gid) == (65534, 65534)
        hello = data / "hello"
        assert hello.read_text() == "hi\n" and hello.stat().st_uid == 65534
        after = shared.stat()
        assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
            before.st_uid, before.st_gid, 0o750,
        )  # fmt: skip
    finally:
        lab.cleanup()


@pytest.mark.slow
def test_a_folder_that_cannot_be_created_stops_the_run_before_anything_starts(
    tmp_path: Path,
) -> None:
    lab = Lab(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    data = blocker / "db-data"  # mkdir -p fails: its parent is a file
    shared = tmp_path / "shared"
    shared.mkdir()
    try:
        (lab.source / "main.mora").write_text(folders_project(lab.project, data, shared))
        proc = lab.apply()
        assert proc.returncode == 4, proc.stderr
        assert f"cannot create folder {data} on this host, the host directory `db` bind" in (
            proc.stderr
        )
        assert "nothing of the stage was started" in proc.stderr
        assert "run `mora apply` again" in proc.stderr
        for name in ("db", "web"):  # web is in a later stage and binds a fine folder: not run
            assert lab._podman("container", "exists", f"{lab.project}-{name}").returncode != 0
        assert not lab.record.exists() or "db" not in lab.record.read_text()
    finally:
        lab.cleanup()


@pytest.fixture
def sshd(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.mark.slow
def test_podman_ssh_creates_the_folder_on_the_remote_host(tmp_path: Path, sshd: Sshd) -> None:
    lab = Lab(tmp_path)
    data = tmp_path / "remote" / "db-data"
    shared = tmp_path / "shared"
    shared.mkdir()
    try:
        (lab.source / "main.mora").write_text(folders_project(lab.project, data, shared, job=True))
        lab.site.write_text(
            "domain: example.org\nhosts:\n  - name: far\n    address: 127.0.0.1\n"
            f"    port: {sshd.port}\n    user: root\n    identity: {sshd.client_key}\n"
            f"    known_hosts: {sshd.known_hosts}\n"
        )
        dry = lab.mora("apply", "--dry-run", "--target", "podman-ssh")
        assert f"far:{data} (owner 65534:65534) for db" in dry.stdout, dry.stdout + dry.stderr
        proc = lab.apply("--target", "podman-ssh")
        assert proc.returncode == 0, proc.stderr
        assert f"db: folder {data}: created (owner 65534:65534)" in proc.stderr
        assert (data.stat().st_uid, data.stat().st_gid) == (65534, 65534)
        assert (data / "hello").read_text() == "hi\n"
        # the job ran on the remote host, before db, in the folder made for both
        assert (data / "init").read_text() == "init\n" and (data / "init").stat().st_uid == 65534
        assert proc.stderr.index("db: job init: done") < proc.stderr.index("db: creating")
        assert sshd.accepted() == 1  # through the apply's one master connection
        record = json.loads(lab.record.read_text())
        assert record["objects"]["db"]["host"] == ["far"]
    finally:
        lab.cleanup()


def jobs_project(project: str, migration: str = "v1", failing: bool = False) -> str:
    """`db`'s `migrate` runs before it (its health check needs the file the job wrote) and
    `seed` after it; with `failing`, `api`'s job fails (printing a secret: not a value it is
    given, but a part of one) and blocks `web`."""
    db = service(
        "db",
        f'  command = ["sh", "-c", "{IDLE_CMD}"]\n'
        '  healthcheck {\n    test = ["CMD-SHELL", "test -s /data/migrations"]\n'
        "    interval = 1s\n    retries = 30\n  }\n"
        '  volumes { "/data" = volume() }\n'
        "  jobs {\n"
        f'    migrate {{\n      command = ["sh", "-c", "echo {migration} >> /data/migrations"]\n'
        '      run = "before"\n    }\n'
        '    seed {\n      command = ["sh", "-c", "echo seeded >> /data/seeded"]\n'
        '      run = "after"\n    }\n'
        '    nightly {\n      command = ["true"]\n      schedule = "@daily"\n    }\n'
        "  }\n",
    )
    text = f"project {project}\n\n" + db
    if failing:
        text += "secret token = hex(16)\n\n" + service(
            "api",
            f'  command = ["sh", "-c", "{IDLE_CMD}"]\n'
            '  environment { TOKEN_URL = "tok:${secret.token}" }\n  depends_on = [db]\n'
            "  jobs {\n    boom {\n"
            '      command = ["sh", "-c", "echo line one; echo leaking $(echo $TOKEN_URL | cut'
            ' -d: -f2); exit 3"]\n'
            '      run = "before"\n    }\n  }\n',
        )
        text += service("web", f'  command = ["sh", "-c", "{IDLE_CMD}"]\n  depends_on = [api]\n')
    return text


@pytest.mark.slow
def test_before_job_runs_once_again_when_changed_and_a_failure_blocks(tmp_path: Path) -> None:
    lab = Lab(tmp_path)

    def cat(path: str) -> str:
        proc = lab._podman("exec", f"{lab.project}-db", "cat", path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        (lab.source / "main.mora").write_text(jobs_project(lab.project))
        dry = lab.mora("apply", "--dry-run")
        assert "db.migrate (before db): runs" in dry.stdout, dry.stdout
        assert "db.nightly (@daily): not scheduled" in dry.stdout

        first = lab.apply()
        assert first.returncode == 0, first.stderr
        err = first.stderr
        # the warning about the schedule, once; the job before the service, `seed` after it
        assert err.count("cannot schedule") == 1 and "--target quadlet" in err
        assert err.index("db: job migrate: running (before)") < err.index("db: creating")
        assert err.index("db: job migrate: done") < err.index("db: starting")
        assert err.index("db: job seed: running (after)") > err.index("db: starting")
        assert cat("/data/migrations") == "v1\n"  # the service's volume, before it started
        assert cat("/data/seeded") == "seeded\n"
        recorded = json.loads(lab.record.read_text())["objects"]["db"]["jobs"]
        assert [k.split(":")[0] for k in recorded] == ["migrate", "seed"]
        # no job container is left behind
        names = lab._podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert not [n for n in names if n.startswith(f"{lab.project}-db-")], names

        again = lab.apply()
        assert again.returncode == 0, again.stderr
        assert "nothing changed" in again.stderr and "job migrate" not in again.stderr
        assert cat("/data/migrations") == "v1\n"

        (lab.source / "main.mora").write_text(jobs_project(lab.project, migration="v2"))
        changed = lab.apply()
        assert changed.returncode == 0, changed.stderr
        assert "db: job migrate: running (before)" in changed.stderr
        assert cat("/data/migrations") == "v1\nv2\n"
        # seed's key is its own `podman run` arguments, which did not change: not run again
        assert "db: job seed: running" not in changed.stderr
        assert cat("/data/seeded") == "seeded\n"

        (lab.source / "main.mora").write_text(
            jobs_project(lab.project, migration="v2", failing=True)
        )
        failing = lab.apply()
        assert failing.returncode == 4, failing.stderr
        assert "api: failed: job `boom` (before) exited with 3" in failing.stderr
        assert "last log lines of api:" in failing.stderr
        assert "  | line one" in failing.stderr
        assert "  | leaking [secret]" in failing.stderr
        assert "web: blocked: api failed" in failing.stderr
        for name in ("api", "web"):
            assert lab._podman("container", "exists", f"{lab.project}-{name}").returncode != 0
        assert lab._podman("exec", f"{lab.project}-db", "true").returncode == 0  # untouched
        assert "api" not in json.loads(lab.record.read_text())["manifest"]["services"]
    finally:
        lab.cleanup()


@pytest.mark.slow
def test_quadlet_target_runs_jobs_through_systemd_and_enables_timers(
    tmp_path: Path, sshd: Sshd
) -> None:
    """No systemd as PID 1 here: a stand-in systemctl notes its calls (and fails `boom`'s unit
    as a failed oneshot would). What is real: the SSH connection, the units placed, the job
    units quadlet's generator turns into services, the folder made on the host."""
    from mora.api import compile_project
    from mora.deploy.ssh import SshHosts
    from mora.deploy.targets.quadlet import QuadletTarget
    from mora.diagnostics import Diagnostics
    from mora.secrets.provider import MemoryProvider
    from mora.site import load_site
    from tests.toolchain import quadlet

    generator = quadlet()
    units, timers, calls = tmp_path / "units", tmp_path / "timers", tmp_path / "calls.log"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\ncase "$*" in\n'
        '  "restart "*-boom.service) echo "Job for it failed." >&2; exit 1 ;;\n'
        '  "show "*-boom.service) echo 3 ;;\nesac\n'
    )
    systemctl.chmod(0o755)
    name = f"moraqjobs{os.getpid()}"
    data = tmp_path / "far" / "data"
    source = tmp_path / "project"
    source.mkdir()
    (source / "main.mora").write_text(
        jobs_project(name, failing=True).replace(
            '  volumes { "/data" = volume() }\n',
            f'  volumes {{\n    "/data" = volume()\n    "/host" = bind("{data}")\n  }}\n',
            1,
        )
    )
    site = tmp_path / "site.yaml"
    site.write_text(
        "domain: example.org\nhosts:\n  - name: far\n    address: 127.0.0.1\n"
        f"    port: {sshd.port}\n    user: root\n    identity: {sshd.client_key}\n"
        f"    known_hosts: {sshd.known_hosts}\n    quadlet_dir: {units}\n"
    )
    result = compile_project(source, site_file=site, provider=MemoryProvider(seed=b"j"))
    assert result.compiled is not None and not result.diagnostics.has_errors
    hosts = SshHosts(load_site(site, None, [], Diagnostics()).ssh)
    target = QuadletTarget(
        result.compiled, Diagnostics(), hosts, systemctl=str(systemctl), timer_dir=str(timers)
    )
    said: list[str] = []
    target.notify = lambda service, step: said.append(f"{service}: {step}")
    try:
        target.prepare()
        target.ensure_folders(["db"])
        assert data.is_dir() and f"db: folder {data}: created (owner 65534:65534)" in said
        before = target.run_jobs("db", "before")
        assert [n for n, _ in before] == ["migrate"]
        assert target.run_job("db", "migrate", 60) == (None, [])
        done = target.apply_stage(["db"])["db"]
        assert isinstance(done, dict), done
        unit = f"{name}-db"
        assert calls.read_text().splitlines() == [
            "daemon-reload", f"restart {unit}-migrate.service",  # the job, to its end
            "daemon-reload", f"restart {unit}.service", f"enable --now {unit}-nightly.timer",
        ]  # fmt: skip
        assert done["timers"] == [f"{unit}-nightly.timer"]
        assert sorted(p.name for p in timers.iterdir()) == [f"{unit}-nightly.timer"]
        placed = sorted(p.name for p in units.iterdir())
        for job in ("migrate", "seed", "nightly"):
            assert f"{unit}-{job}.container" in placed
        gen = hosts["far"].run(f"QUADLET_UNIT_DIRS={units} {generator} -dryrun -no-kmsg-log")
        assert gen.returncode == 0, gen.stderr
        assert f"---{unit}-migrate.service---" in gen.stdout
        assert "Type=oneshot" in gen.stdout

        problem, _logs = target.run_job("api", "boom", 60)
        assert problem == "exited with 3"

        target.remove("db", done, prune_volumes=False)
        assert not list(timers.iterdir())
        left = sorted(p.name for p in units.iterdir() if p.name.startswith(unit))
        assert left == [f"{unit}-data.volume"]  # its data is kept (no --prune-volumes)
        assert f"disable --now {unit}-nightly.timer" in calls.read_text()
    finally:
        target.close()
        names = _secret_names(name)
        for secret in names:
            subprocess.run(["podman", "secret", "rm", secret], capture_output=True, check=False)


def _secret_names(project: str) -> list[str]:
    out = subprocess.run(["podman", "secret", "ls", "--format", "{{.Name}}"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return [s for s in out.stdout.split() if s.startswith(f"{project}-")]
