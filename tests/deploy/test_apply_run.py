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
import stat
from pathlib import Path

import pytest

from tests.deploy.sshd import Sshd, start_sshd
from tests.deploy.test_apply_podman import IDLE, Lab
from tests.toolchain import BUSYBOX_IMAGE

IDLE_CMD = f"{IDLE}sleep 600 & wait"


def service(name: str, body: str, user: str = "65534") -> str:
    return f'service {name} {{\n  image = "{BUSYBOX_IMAGE}"\n  user = "{user}"\n{body}}}\n\n'


def folders_project(project: str, data: Path, shared: Path, extra: str = "") -> str:
    """`db` writes into a bind folder apply must create; `web` reads an existing one."""
    db = service(
        "db",
        f'  command = ["sh", "-c", "echo hi > /data/hello && {IDLE_CMD}"]\n'
        '  healthcheck {\n    test = ["CMD-SHELL", "test -f /data/hello"]\n'
        "    interval = 1s\n    retries = 30\n  }\n"
        f'  volumes {{ "/data" = bind("{data}") }}\n',
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
        (lab.source / "main.mora").write_text(folders_project(lab.project, data, shared))
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
        assert sshd.accepted() == 1  # through the apply's one master connection
        record = json.loads(lab.record.read_text())
        assert record["objects"]["db"]["host"] == ["far"]
    finally:
        lab.cleanup()
