"""Setup steps with `psql` inside a real PostgreSQL container, through `mora apply`.

PostgreSQL 15 (Debian 12's packages, unpacked by scripts/install-validators) runs in an image
built here on the busybox one, with the shared libraries its binaries load copied from this
host. Command steps create a role (its password a generated secret, given on standard input,
never in argv) and a database, each check-then-act, so a second apply changes nothing.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import REPO, run_mora
from tests.toolchain import BUSYBOX_IMAGE, TOOLS, missing, podman, podman_env

IMAGE = "localhost/mora-micro-postgres:15"
BIN = "/usr/lib/postgresql/15/bin"
PSQL = [f"{BIN}/psql", "-h", "/tmp", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-tA"]

PROJECT = """\
project {project}

secret app_password = password(length: 24)

service db {{
  image = "{image}"
  user = "999:999"
  command = ["sh", "-c", "{bin}/initdb -D /var/lib/pg/data -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null && exec {bin}/postgres -D /var/lib/pg/data -k /tmp -c listen_addresses=127.0.0.1"]
  ports {{ pg = 5432 }}
  volumes {{ "/var/lib/pg" = volume() }}
  healthcheck {{
    test = ["CMD", "{bin}/pg_isready", "-h", "/tmp", "-U", "postgres"]
    interval = 1s
    retries = 60
  }}
  setup {{
    # psql reads SQL from standard input; the password never appears in an argument
    find_role {{
      run = "always"
      exec = {psql}
      stdin = "SELECT count(*) FROM pg_roles WHERE rolname = 'app';"
      output {{ present = stdout == "1" }}
    }}
    create_role {{
      run = "always"
      when = !setup.find_role.present
      exec = {psql}
      stdin = "CREATE ROLE app LOGIN PASSWORD '${{secret.app_password}}';"
    }}
    find_database {{
      run = "always"
      exec = {psql}
      stdin = "SELECT count(*) FROM pg_database WHERE datname = 'app';"
      output {{ present = stdout == "1" }}
    }}
    create_database {{
      run = "always"
      when = !setup.find_database.present
      exec = {psql}
      stdin = "CREATE DATABASE app OWNER app;"
    }}
  }}
}}
"""


def _pg_root() -> Path:
    root = Path(os.environ.get("MORA_POSTGRES_ROOT") or TOOLS / "postgresql-root")
    if not (root / BIN.lstrip("/") / "postgres").is_file():
        missing("postgresql (unpacked)", str(root))
    return root


def _libraries(root: Path) -> list[str]:
    """The host's shared libraries the server and client binaries load (ldd), sorted."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr/lib/x86_64-linux-gnu")}
    found: set[str] = set()
    for tool in ("postgres", "initdb", "psql", "pg_isready"):
        out = subprocess.run(
            ["ldd", str(root / BIN.lstrip("/") / tool)], env=env, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            words = line.split()
            if "not" in words and "found" in words:
                missing("a library of postgresql", line.strip())
            path = next((w for w in words if w.startswith("/")), None)
            if path and not path.startswith(str(root)):
                found.add(path)
    return sorted(found)


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.env = podman_env()
        self.tmp = tmp
        if self._podman("image", "exists", BUSYBOX_IMAGE).returncode != 0:
            missing(BUSYBOX_IMAGE)
        self._image(_pg_root())
        self.project = f"moramicropg{secrets.token_hex(4)}"
        self.source = tmp / "project"
        self.source.mkdir()
        self.site = tmp / "site" / "site.yaml"
        self.site.parent.mkdir()
        self.site.write_text("domain: example.org\n")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**self.env, "MORA_SECRETS_KEY": key, "PYTHONPATH": str(REPO)}

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(podman()), *args], env=self.env, capture_output=True, text=True, timeout=300
        )

    def _image(self, root: Path) -> None:
        if self._podman("image", "exists", IMAGE).returncode == 0:
            return
        ctx = self.tmp / "image"
        shutil.copytree(root, ctx / "root", symlinks=True)
        for lib in _libraries(root):
            target = ctx / "root" / lib.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lib, target)  # follows the symlink: the file under the soname
        etc = ctx / "root" / "etc"
        etc.mkdir(exist_ok=True)
        (etc / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/pg:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        )
        (etc / "group").write_text("root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n")
        (ctx / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nCOPY root/ /\n")
        proc = self._podman("build", "-q", "-t", IMAGE, str(ctx))
        assert proc.returncode == 0, proc.stderr

    def write(self) -> None:
        psql = "[" + ", ".join(f'"{a}"' for a in PSQL) + "]"
        text = PROJECT.format(project=self.project, image=IMAGE, bin=BIN, psql=psql)
        (self.source / "main.mora").write_text(text)

    def mora(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mora([*args, str(self.source), "--site", str(self.site)], env=self.env)

    def sql(self, query: str) -> str:
        proc = self._podman("exec", f"{self.project}-db", *PSQL, "-c", query)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def cleanup(self) -> None:
        label = f"label=mora.project={self.project}"
        ids = self._podman("ps", "-a", "-q", "--filter", label).stdout.split()
        if ids:
            self._podman("rm", "-f", "-t", "0", *ids)
        vols = self._podman("volume", "ls", "-q", "--filter", label).stdout.split()
        if vols:
            self._podman("volume", "rm", "-f", *vols)
        self._podman("network", "rm", "-f", self.project)


@pytest.mark.slow
def test_psql_steps_create_a_role_and_a_database_once(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    try:
        lab.write()
        first = lab.mora("apply", "--timeout", "120")
        assert first.returncode == 0, first.stderr
        for step in ("find_role", "create_role", "find_database", "create_database"):
            assert f"setup db.{step}: ran" in first.stderr, first.stderr
        assert lab.sql("SELECT rolname FROM pg_roles WHERE rolname = 'app'") == "app"
        assert lab.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'") == (
            "app"
        )
        assert (
            lab.sql(
                "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'app'"
            )
            == "t"
        )

        second = lab.mora("apply", "--timeout", "120")
        assert second.returncode == 0, second.stderr
        assert "setup db.create_role: skipped" in second.stderr
        assert "setup db.create_database: skipped" in second.stderr
        assert "nothing changed" in second.stderr
        assert lab.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'app'") == "1"
    finally:
        lab.cleanup()


ROLES_PROJECT = """\
project {project}

param roles: list(string)

service db {{
  image = "{image}"
  user = "999:999"
  command = ["sh", "-c", "[ -s /var/lib/pg/data/PG_VERSION ] || {bin}/initdb -D /var/lib/pg/data -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null; exec {bin}/postgres -D /var/lib/pg/data -k /tmp -c listen_addresses=127.0.0.1"]
  ports {{ pg = 5432 }}
  volumes {{ "/var/lib/pg" = volume() }}
  healthcheck {{
    test = ["CMD", "{bin}/pg_isready", "-h", "/tmp", "-U", "postgres"]
    interval = 1s
    retries = 60
  }}
  setup {{
    # a changed list changes the service: the container is made again on its volume (hence
    # initdb only on an empty one); check once: every role as a JSON list, then act per missing item
    list_roles {{
      run = "always"
      exec = {psql}
      stdin = "SELECT json_agg(json_build_object('name', rolname)) FROM pg_roles;"
      output {{ roles = stdout }}
    }}
    add_role {{
      for_each = param.roles
      when = pick(setup.list_roles.roles, name == each.key, "name") == ""
      exec = {psql}
      stdin = "CREATE ROLE ${{each.key}};"
      description = "create the role ${{each.key}}"
    }}
  }}
}}
"""


@pytest.mark.slow
def test_a_step_per_item_creates_each_role_once_and_only_new_ones_later(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    try:
        psql = "[" + ", ".join(f'"{a}"' for a in PSQL) + "]"
        text = ROLES_PROJECT.format(project=lab.project, image=IMAGE, bin=BIN, psql=psql)
        (lab.source / "main.mora").write_text(text)

        def apply(*roles: str) -> str:
            listed = "".join(f"    - {r}\n" for r in roles)
            lab.site.write_text(f"domain: example.org\nparams:\n  roles:\n{listed}")
            proc = lab.mora("apply", "--timeout", "120")
            assert proc.returncode == 0, proc.stderr
            return proc.stderr

        def ran(log: str) -> list[str]:
            return [
                line.split("setup db.")[1].split(":")[0]
                for line in log.splitlines()
                if "setup db.add_role[" in line and ": ran" in line
            ]

        first = apply("reader", "writer", "auditor")
        assert ran(first) == ["add_role[reader]", "add_role[writer]", "add_role[auditor]"]
        count = "SELECT count(*) FROM pg_roles WHERE rolname IN ('reader', 'writer', 'auditor')"
        assert lab.sql(count) == "3"

        second = apply("reader", "writer", "auditor")  # nothing new: no item runs
        assert ran(second) == [], second

        lab.sql("CREATE ROLE backup;")  # made by hand: check-then-act skips it
        third = apply("reader", "writer", "auditor", "backup", "viewer")
        assert ran(third) == ["add_role[viewer]"], third
        assert "setup db.add_role[backup]: skipped" in third
        assert lab.sql("SELECT count(*) FROM pg_roles WHERE rolname = 'viewer'") == "1"
    finally:
        lab.cleanup()
