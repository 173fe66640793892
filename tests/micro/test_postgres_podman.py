"""Setup steps with `psql` inside a real PostgreSQL container, through `mora apply`.

PostgreSQL 15 (Debian 12's packages, unpacked by scripts/install-validators) runs in an image
built here on the busybox one, with the shared libraries its binaries load copied from this
host. Command steps create a role (its password a generated secret, given on standard input,
never in argv) and a database, each check-then-act, so a second apply changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.micro.podman_lab import PodmanLab, host_libraries
from tests.toolchain import TOOLS, missing

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


class Lab(PodmanLab):
    image = IMAGE
    prefix = "moramicropg"

    def build_image(self) -> None:
        root = _pg_root()
        binaries = [f"{BIN}/{t}" for t in ("postgres", "initdb", "psql", "pg_isready")]
        etc = {
            "passwd": "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/pg:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "group": "root:x:0:\npostgres:x:999:\nnogroup:x:65534:\n",
        }
        self.build_rootfs_image(root, host_libraries(root, binaries, "postgresql"), etc)

    def write(self) -> None:
        psql = "[" + ", ".join(f'"{a}"' for a in PSQL) + "]"
        text = PROJECT.format(project=self.project, image=IMAGE, bin=BIN, psql=psql)
        (self.source / "main.mora").write_text(text)

    def sql(self, query: str) -> str:
        proc = self._podman("exec", self.container("db"), *PSQL, "-c", query)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()


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
