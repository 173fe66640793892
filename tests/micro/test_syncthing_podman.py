"""Setup steps against a real Syncthing in podman, through `mora apply` as a person runs it.

Syncthing 1.19 (Debian 12's package, fetched by scripts/install-validators) runs in an image
built here on the busybox one (no registry). At first start it writes an API key into its
config; a command step reads it, HTTP steps use it (check-then-act: add the folder `media` only
when it is missing), and an input of another service names it as its producer, so the key
reaches that container as a podman secret without anybody pasting it. Shown here:

- the first apply runs every step, retries a service whose HTTP server comes up late, and
  deploys the consumer in the same apply (the plan had no question for a person);
- a second apply changes nothing: the once steps are recorded, the check finds the folder and
  the act is skipped (Syncthing still has exactly one folder);
- a failing step fails the apply with a report whose response body is redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.micro.podman_lab import PodmanLab
from tests.toolchain import BUSYBOX_IMAGE, TOOLS, missing

IMAGE = "localhost/mora-micro-syncthing:1.19"
IDLE = "trap 'exit 0' TERM; "
KEY_SED = r"s:.*<apikey>\(.*\)</apikey>.*:\1:p"

PROJECT = """\
project {project}

service syncthing {{
  image = "{image}"
  user = "1000:1000"
  command = ["syncthing", "serve", "--home=/var/syncthing", "--gui-address=0.0.0.0:8384",
             "--no-browser", "--no-restart", "--skip-port-probing"]
  ports {{ http = 8384 }}
  volumes {{ "/var/syncthing" = volume() }}
  healthcheck {{
    test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8384/"]
    interval = 1s
    retries = 60
  }}
  setup {{
    # Syncthing generates its API key at first start (config.xml); the GUI REST API needs it
    # in the X-API-Key header (docs.syncthing.net/dev/rest.html).
    read_key {{
      description = "read the API key Syncthing generated"
      exec = ["sed", "-n", "{key_sed}", "/var/syncthing/config.xml"]
      until = stdout != ""
      output {{ key = stdout }}
    }}
    # GET /rest/config/folders/{{id}}: 404 when there is no such folder (docs.syncthing.net/rest/config.html)
    find_folder {{
      run = "always"
      url = "${{self.internal_url}}/rest/config/folders/media"
      headers {{ "X-API-Key" = setup.read_key.key }}
      expect = [200, 404]
      output {{ present = status == 200 }}
    }}
    # PUT /rest/config/folders/{{id}} creates or replaces the folder
    add_folder {{
      run = "always"
      when = !setup.find_folder.present
      method = "PUT"
      url = "${{self.internal_url}}/rest/config/folders/media"
      headers {{ "X-API-Key" = setup.read_key.key }}
      json = {{ id: "media", label: "Media", path: "/var/syncthing/media" }}
    }}
{extra_step}  }}
}}

# Its web server starts 4 s after the container: the step waits for it (retries with backoff).
service late {{
  image = "{busybox}"
  user = "65534"
  command = ["sh", "-c", "{idle}mkdir -p /tmp/www; sleep 4; echo ok > /tmp/www/ready.txt; httpd -f -p 8080 -h /tmp/www & wait"]
  ports {{ http = 8080 }}
  setup {{
    wait_up {{
      url = "${{self.internal_url}}/ready.txt"
      until = status == 200 && stdout == "ok"
      timeout = 60s
    }}
  }}
}}

service reader {{
  image = "{busybox}"
  user = "65534"
  command = ["sh", "-c", "{idle}sleep 600 & wait"]
  input sync_key: secret {{ from = syncthing.setup.read_key.key }}
  environment {{ SYNC_KEY = input.sync_key }}
}}
"""

FAILING_STEP = """\
    leak_check {
      exec = ["sh", "-c", "echo \\"refused: $(cat)\\"; exit 3"]
      stdin = setup.read_key.key
      timeout = 2s
    }
"""


def _syncthing() -> Path:
    found = os.environ.get("MORA_SYNCTHING") or str(TOOLS / "syncthing-root/usr/bin/syncthing")
    if not Path(found).is_file():
        missing("syncthing", found)
    return Path(found)


class Lab(PodmanLab):
    image = IMAGE

    def build_image(self) -> None:
        """Syncthing on the busybox image, with the libc it links against (from this host)."""
        ctx = self.tmp / "image"
        ctx.mkdir()
        (ctx / "syncthing").write_bytes(_syncthing().read_bytes())
        (ctx / "syncthing").chmod(0o755)
        libs = ["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]
        lines = [f"FROM {BUSYBOX_IMAGE}"]
        for i, lib in enumerate(libs):
            (ctx / f"lib{i}").write_bytes(Path(lib).read_bytes())
            (ctx / f"lib{i}").chmod(0o755)  # the loader must be executable
            lines.append(f"COPY lib{i} {lib}")
        lines.append("COPY syncthing /usr/bin/syncthing")
        self.build(ctx, "\n".join(lines) + "\n")

    def write(self, extra_step: str = "") -> None:
        text = PROJECT.format(
            project=self.project,
            image=IMAGE,
            busybox=BUSYBOX_IMAGE,
            idle=IDLE,
            key_sed=KEY_SED.replace("\\", "\\\\"),
            extra_step=extra_step,
        )
        (self.source / "main.mora").write_text(text)

    def exec(self, service: str, *argv: str) -> str:
        proc = self._podman("exec", self.container(service), *argv)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def api_key(self) -> str:
        return self.exec("syncthing", "sed", "-n", KEY_SED, "/var/syncthing/config.xml").strip()

    def folders(self) -> list[str]:
        key = self.api_key()
        out = self.exec(
            "syncthing",
            "wget", "-q", "-O-", "--header", f"X-API-Key: {key}",
            "http://127.0.0.1:8384/rest/config/folders",
        )  # fmt: skip
        return [f["id"] for f in json.loads(out)]


@pytest.mark.slow
def test_syncthing_setup_steps_through_mora_apply(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    try:
        lab.write()
        plan = lab.mora("plan")
        assert plan.returncode == 0, plan.stderr
        assert "ask a person" not in plan.stdout
        assert "sync_key for reader <- syncthing.read_key.key" in plan.stdout

        first = lab.mora("apply", "--timeout", "90", "--format", "json")
        assert first.returncode == 0, first.stderr + first.stdout
        log = first.stderr
        assert "mora setup" not in log  # the only input is produced: nobody is told to answer it
        # two rounds (the reader waited for the key), one outcome per service
        outcomes = {o["service"]: o["status"] for o in json.loads(first.stdout)["outcomes"]}
        assert outcomes == {"late": "healthy", "reader": "healthy", "syncthing": "healthy"}
        assert len(json.loads(first.stdout)["outcomes"]) == 3
        for step in ("read_key", "find_folder", "add_folder"):
            assert f"setup syncthing.{step}: ran" in log, log
        # the second round deploys only the reader: syncthing's `always` step is not run again
        assert log.count("setup syncthing.find_folder: ran") == 1, log
        # the late web server: retried (with the status it got), then done
        assert "setup late.wait_up: retrying" in log
        assert "setup late.wait_up: ran" in log
        assert "reader: healthy" in log  # deployed in the same apply, once the key existed
        # one clock for the whole command: the second round (the reader) does not restart it
        times = [float(t) for t in re.findall(r"^\[ *([0-9.]+)s\]", log, re.M)]
        assert len(times) > 5 and times == sorted(times), log
        key = lab.api_key()
        assert len(key) >= 16
        assert key not in first.stderr + first.stdout
        assert sorted(lab.folders()) == ["default", "media"]  # its own default, and ours once

        # the produced key reached the reader as a podman secret (not a plain variable)
        got = lab.exec("reader", "sh", "-c", 'printf %s "$SYNC_KEY" | sha256sum').split()[0]
        assert got == hashlib.sha256(key.encode()).hexdigest()
        secret = f"{lab.container('reader')}-env-SYNC_KEY"
        assert lab._podman("secret", "inspect", secret).returncode == 0
        fmt = "{{json .Config.CreateCommand}}"
        created = lab._podman("container", "inspect", "--format", fmt, lab.container("reader"))
        assert f"--secret={secret},type=env,target=SYNC_KEY" in json.loads(created.stdout)
        assert key not in created.stdout

        # second apply: nothing to do; the check runs, the act is skipped
        second = lab.mora("apply", "--timeout", "90")
        assert second.returncode == 0, second.stderr
        assert "setup syncthing.read_key: unchanged" in second.stderr
        assert "setup syncthing.find_folder: ran" in second.stderr
        assert "setup syncthing.add_folder: skipped" in second.stderr
        assert "setup late.wait_up: unchanged" in second.stderr
        assert "nothing changed" in second.stderr
        assert sorted(lab.folders()) == ["default", "media"]  # its own default, and ours once

        # a failing step: the apply fails, the report shows the command, the exit status and
        # the response with the key redacted
        lab.write(FAILING_STEP)
        third = lab.mora("apply", "--timeout", "90")
        assert third.returncode == 4, third.stderr
        assert "setup step leak_check failed" in third.stderr
        assert 'exec sh -c echo "refused: $(cat)"; exit 3: status 3' in third.stderr
        assert "refused: [secret]" in third.stderr
        assert key not in third.stderr + third.stdout
    finally:
        lab.cleanup()
