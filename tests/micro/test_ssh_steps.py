"""Setup steps on `--target podman-ssh`: the executor stays here, the steps reach a container on
the "remote" host, a real sshd on loopback (tests/deploy/sshd.py) running this machine's podman.

- an `exec` step runs `podman exec -i` over the apply's SSH master connection, a secret on its
  standard input only (the logged ssh command lines never hold it);
- an HTTP step reaches the container's address on its host through an `ssh -O forward` on the
  same connection (no second connection: sshd accepts one per host);
- its output fills the input of a service on the other host, deployed in the same apply with the
  value as a podman secret there;
- a step that fails (a file not there yet) fails the apply; once the cause is fixed in the
  running container, `mora setup` runs only the missing step, deploying nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.sshd import Sshd, start_sshd
from tests.deploy.test_apply_podman import IDLE, Lab
from tests.deploy.test_apply_ssh import logging_ssh, site_text
from tests.toolchain import BUSYBOX_IMAGE

PROJECT = """\
project {project}

secret token = hex(16)

service web {{
  image = "{image}"
  user = "65534"
  placement = ["data"]
  command = ["sh", "-c", "{idle}mkdir -p /tmp/www; echo ok > /tmp/www/index.html; httpd -f -p 8080 -h /tmp/www & wait"]
  ports {{ http = 8080 }}
  healthcheck {{
    test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
    interval = 1s
    retries = 60
  }}
  setup {{
    write_key {{
      description = "store the token in the web root"
      exec = ["sh", "-c", "cat > /tmp/www/key.txt"]
      stdin = secret.token
    }}
    read_key {{
      url = "${{self.internal_url}}/key.txt"
      output {{ key = stdout }}
    }}
    flag {{
      url = "${{self.internal_url}}/flag.txt"
      timeout = 2s
    }}
  }}
}}

service reader {{
  image = "{image}"
  user = "65534"
  placement = ["web"]
  command = ["sh", "-c", "{idle}sleep 600 & wait"]
  input key: secret {{ from = web.setup.read_key.key }}
  environment {{ KEY = input.key }}
}}
"""


@pytest.fixture
def sshd(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.mark.slow
def test_steps_over_ssh_and_mora_setup(tmp_path: Path, sshd: Sshd) -> None:
    lab = Lab(tmp_path)
    argv_log = logging_ssh(tmp_path / "bin")
    lab.env = {**lab.env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    try:
        (lab.source / "main.mora").write_text(
            PROJECT.format(project=lab.project, image=BUSYBOX_IMAGE, idle=IDLE)
        )
        lab.site.write_text(site_text(sshd, sshd.known_hosts))
        first = lab.apply("--target", "podman-ssh")
        assert first.returncode == 4, first.stderr
        assert "setup web.write_key: ran" in first.stderr
        assert "setup web.read_key: ran" in first.stderr
        assert "flag.txt: status 404" in first.stderr
        token = lab._podman("exec", f"{lab.project}-web", "cat", "/tmp/www/key.txt").stdout
        assert len(token) == 32
        # one master connection per host and round (the first: web on alpha; the second,
        # once read_key filled the reader's input: alpha and beta), forwards included; the
        # secret only on stdin
        assert sshd.accepted() == 3
        got = lab._podman("exec", f"{lab.project}-reader", "sh", "-c", 'printf %s "$KEY"')
        assert got.stdout == token  # the produced key, a podman secret on the other host
        logged = argv_log.read_text()
        assert "-O forward -L" in logged
        assert token not in logged and token not in first.stdout + first.stderr

        # the cause fixed in the running container: `mora setup` runs only the missing step
        fixed = lab._podman("exec", f"{lab.project}-web", "sh", "-c",
                            "echo up > /tmp/www/flag.txt")  # fmt: skip
        assert fixed.returncode == 0, fixed.stderr
        ids = lab.inspect("web", "{{.Id}}")
        setup = run_setup(lab)
        assert setup.returncode == 0, setup.stderr
        assert "setup web.write_key: unchanged" in setup.stderr
        assert "setup web.flag: ran" in setup.stderr
        assert "on podman-ssh: 1 ran" in setup.stderr
        assert lab.inspect("web", "{{.Id}}") == ids  # nothing was deployed again

        done = lab.apply("--target", "podman-ssh")
        assert done.returncode == 0, done.stderr
        assert "nothing changed" in done.stderr
        assert token not in setup.stderr + done.stdout + done.stderr + argv_log.read_text()
        again = run_setup(lab)
        assert again.returncode == 0 and "0 ran" in again.stderr, again.stderr
    finally:
        lab.cleanup()


def run_setup(lab: Lab):  # type: ignore[no-untyped-def]
    from tests.cli import run_mora

    return run_mora(
        ["setup", str(lab.source), "--site", str(lab.site), "--out", str(lab.source / "build")],
        env=lab.env,
    )
