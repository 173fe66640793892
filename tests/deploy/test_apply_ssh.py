"""The SSH targets against a real sshd on loopback (tests/deploy/sshd.py) running this machine's
podman: `--target podman-ssh` end to end through the CLI (containers really run, placed on the
inventory's hosts by their tags), and the quadlet target's steps that can run without systemd as
PID 1 (units placed, quadlet's generator over them on the host, daemon-reload and start issued).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from mora.api import compile_project
from mora.backends.quadlet import host_files
from mora.deploy.ssh import SshHosts
from mora.deploy.targets.quadlet import QuadletTarget
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider
from mora.site import load_site
from tests.deploy.sshd import Sshd, start_sshd
from tests.deploy.test_apply_podman import IDLE, READY, SERVICE, Lab
from tests.toolchain import BUSYBOX_IMAGE, quadlet


def project_text(project: str) -> str:
    return (
        f"project {project}\n\nsecret token = hex(16)\n\n"
        + SERVICE.format(
            name="db", image=BUSYBOX_IMAGE, idle=IDLE, health=READY,
            extra='  placement = ["data"]\n  volumes { "/data" = volume() }\n',
        )
        + "\n"
        + SERVICE.format(
            name="api", image=BUSYBOX_IMAGE, idle=IDLE, health=READY,
            extra='  placement = ["web"]\n  environment { TOKEN = secret.token }\n'
            "  depends_on = [db]\n",
        )
    )  # fmt: skip


def site_text(sshd: Sshd, known_hosts: Path, extra: str = "") -> str:
    host = (
        "  - name: {name}\n    address: 127.0.0.1\n    port: {port}\n    user: root\n"
        "    identity: {key}\n    known_hosts: {known}\n    tags: [{tag}]\n{extra}"
    )
    return "domain: example.org\nhosts:\n" + "".join(
        host.format(
            name=n, port=sshd.port, key=sshd.client_key, known=known_hosts, tag=t, extra=extra
        )
        for n, t in (("alpha", "data"), ("beta", "web"))
    )


@pytest.fixture
def sshd(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def logging_ssh(folder: Path) -> Path:
    """A `ssh` first on PATH that notes its arguments, then runs the real one."""
    folder.mkdir()
    log = folder / "argv.log"
    wrapper = folder / "ssh"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec /usr/bin/ssh "$@"\n')
    wrapper.chmod(0o755)
    return log


@pytest.mark.slow
def test_podman_over_ssh_end_to_end(tmp_path: Path, sshd: Sshd) -> None:
    lab = Lab(tmp_path)
    argv_log = logging_ssh(tmp_path / "bin")
    lab.env = {**lab.env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    try:
        (lab.source / "main.mora").write_text(project_text(lab.project))
        lab.site.write_text(site_text(sshd, sshd.known_hosts))
        first = lab.apply("--target", "podman-ssh")
        assert first.returncode == 0, first.stderr
        assert "api: healthy" in first.stderr
        # health-gated across hosts: api was created once db was ready
        assert lab.created_at("api") >= lab.ready_at("db")
        # one master connection per host for the whole apply, however many commands ran
        assert sshd.accepted() == 2
        commands = argv_log.read_text().splitlines()
        assert len(commands) > 10
        assert all("StrictHostKeyChecking=yes" in c and "ControlMaster=auto" in c
                   for c in commands)  # fmt: skip
        record = json.loads(
            (lab.site.parent / "site.secrets.deployed" / f"{lab.project}.json").read_text()
        )
        assert record["target"] == "podman-ssh"
        assert record["objects"]["db"]["host"] == ["alpha"]
        assert record["objects"]["api"]["host"] == ["beta"]
        token = lab._podman("exec", f"{lab.project}-api", "sh", "-c", 'printf %s "$TOKEN"').stdout
        assert len(token) == 32
        # the value went over stdin: never in an ssh command line, never printed
        assert token not in argv_log.read_text()
        assert token not in first.stdout + first.stderr
        ids = lab.ids()

        again = lab.apply("--target", "podman-ssh")
        assert again.returncode == 0, again.stderr
        assert "nothing changed" in again.stderr
        assert lab.ids() == ids

        # a host key that is not the one known: refused, nothing changed, never accepted silently
        wrong = tmp_path / "wrong_known_hosts"
        other = tmp_path / "other_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                       check=True)  # fmt: skip
        kind, key = (other.with_suffix(".pub")).read_text().split()[:2]
        wrong.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
        lab.site.write_text(site_text(sshd, wrong))
        lab.mora("secrets", "rotate", "token")
        refused = lab.apply("--target", "podman-ssh")
        assert refused.returncode == 4, refused.stderr
        assert "host key" in refused.stderr.lower()
        assert lab.ids() == ids
    finally:
        lab.cleanup()


def test_inventory_ssh_keys_have_carets(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "domain: example.org\nhosts:\n  - name: a\n    address: 10.0.0.5\n    port: 70000\n"
        "    user: -oProxyCommand=x\n    identity: keys/id\n    tags: [x]\n"
    )
    diags = Diagnostics()
    loaded = load_site(site, None, [], diags)
    messages = [(d.code, d.message, d.span.line if d.span else None) for d in diags]
    assert ("E0501", "host `a`: `port` must be a number from 1 to 65535", 5) in messages
    assert any("is not a login name" in m and line == 6 for _, m, line in messages), messages
    assert "a" not in loaded.ssh  # a host with a bad key is not reachable, not half-configured
    site.write_text(
        "domain: example.org\nhosts:\n  - name: a\n    address: 10.0.0.5\n    port: 2222\n"
        "    identity: keys/id\n    known_hosts: /etc/ssh/ssh_known_hosts\n"
    )
    access = load_site(site, None, [], Diagnostics()).ssh["a"]
    assert access.port == 2222 and access.identity == tmp_path / "keys" / "id"
    assert access.known_hosts == Path("/etc/ssh/ssh_known_hosts")


@pytest.mark.slow
def test_quadlet_target_over_ssh(tmp_path: Path, sshd: Sshd) -> None:
    """What runs without systemd: units written into the host's quadlet folder over SSH (the
    backend's exact bytes, no secret file), quadlet's generator over that folder on the host,
    `systemctl daemon-reload` then `restart <unit>` issued (a stand-in systemctl notes them),
    the podman secret created on the host; removal deletes the unit and reloads again."""
    generator = quadlet()
    units = tmp_path / "units"
    calls = tmp_path / "systemctl.log"
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    systemctl.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    name = f"moraquad{os.getpid()}"
    (project / "main.mora").write_text(project_text(name))
    site = tmp_path / "site.yaml"
    site.write_text(site_text(sshd, sshd.known_hosts, f"    quadlet_dir: {units}\n"))
    result = compile_project(project, site_file=site, provider=MemoryProvider(seed=b"q"))
    assert result.compiled is not None and not result.diagnostics.has_errors
    token = next(iter(result.compiled.material.values()))
    diags = Diagnostics()
    hosts = SshHosts(load_site(site, None, [], Diagnostics()).ssh)
    target = QuadletTarget(result.compiled, diags, hosts, systemctl=str(systemctl))
    try:
        target.prepare()
        done = target.apply_stage(["api"])
        assert isinstance(done["api"], dict), done
        placed = sorted(p.name for p in units.iterdir())
        assert placed == [f"{name}-api.container", f"{name}.network"]
        expected = host_files(target.deployment, target.by_host["beta"], Diagnostics(), True)
        for file in placed:
            assert (units / file).read_text() == expected[file][0]
            assert stat.S_IMODE((units / file).stat().st_mode) == 0o644
        assert token not in "".join((units / f).read_text() for f in placed)
        assert calls.read_text().splitlines() == ["daemon-reload", f"restart {name}-api.service"]
        # the generator, on the host side, over what was placed
        gen = hosts["beta"].run(f"QUADLET_UNIT_DIRS={units} {generator} -dryrun -no-kmsg-log")
        assert gen.returncode == 0, gen.stderr
        assert f"---{name}-api.service---" in gen.stdout
        secrets = hosts["beta"].words(["podman", "secret", "ls", "--format", "{{.Name}}"])
        assert any(s.startswith(f"{name}-") for s in secrets.stdout.split()), secrets.stdout
        target.remove("api", done["api"], prune_volumes=False)
        assert sorted(p.name for p in units.iterdir()) == [f"{name}.network"]
        assert calls.read_text().splitlines()[-2:] == [f"stop {name}-api.service", "daemon-reload"]
    finally:
        target.close()
        for secret in hosts_secret_names(name):
            subprocess.run(["podman", "secret", "rm", secret], capture_output=True, check=False)
    assert not list(Path(hosts._dir).parent.glob(hosts._dir.name))  # sockets folder removed


def hosts_secret_names(project: str) -> list[str]:
    out = subprocess.run(["podman", "secret", "ls", "--format", "{{.Name}}"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return [s for s in out.stdout.split() if s.startswith(f"{project}-")]


def test_ssh_targets_need_an_inventory_with_addresses(tmp_path: Path) -> None:
    from tests.cli import run_mora

    project = tmp_path / "project"
    project.mkdir()
    (project / "main.mora").write_text(project_text("noinventory"))
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\nhosts:\n  - name: a\n    tags: [data, web]\n")
    env = {**os.environ, "MORA_SECRETS_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="}
    for target in ("podman-ssh", "quadlet"):
        proc = run_mora(["apply", str(project), "--site", str(site), "--target", target], env=env)
        assert proc.returncode == 1, proc.stderr
        assert "no host with an `address`" in proc.stderr
    assert not (tmp_path / "site.secrets.deployed").exists()
