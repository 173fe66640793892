"""The issue's own example: an LDAP directory bootstrapped by `exec` steps, through `mora apply`.

OpenLDAP 2.5 (Debian 12's slapd and ldap-utils, unpacked by scripts/install-validators) runs in
an image built here on the busybox one, with the libraries its binaries load copied from this
host. The admin is the container's own user over the local socket (SASL EXTERNAL on ldapi://,
slapd's `rootdn` is that peer credential), so no admin password exists at all. Steps check with
`ldapsearch`, then act with `ldapadd` (LDIF on standard input): the organisation and its two
units, a user whose password is a generated secret (on stdin, never in argv), and a group with
the user as member. The user signs in with that password afterwards; a second apply finds
everything and adds nothing.
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

IMAGE = "localhost/mora-micro-openldap:2.5"
BASE = "dc=example,dc=org"
LDAPI = "ldapi://%2Ftmp%2Fldapi"
SASL = ["-Q", "-Y", "EXTERNAL", "-H", LDAPI]

SLAPD_CONF = f"""\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile /tmp/slapd.pid
argsfile /tmp/slapd.args
database mdb
suffix "{BASE}"
rootdn "gidNumber=1000+uidNumber=1000,cn=peercred,cn=external,cn=auth"
directory /var/lib/ldap
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"""


def _argv(*words: str) -> str:
    return "[" + ", ".join(f'"{w}"' for w in words) + "]"


def _search(base: str, *more: str) -> str:
    return _argv("ldapsearch", *SASL, "-LLL", "-b", base, *more, "dn")


PROJECT = f"""\
project {{project}}

secret alice_password = password(length: 24)

service directory {{{{
  image = "{IMAGE}"
  user = "1000:1000"
  command = ["slapd", "-d", "0", "-h", "ldap://0.0.0.0:1389/ {LDAPI}", "-f", "/etc/ldap/slapd.conf"]
  ports {{{{ ldap = 1389 }}}}
  volumes {{{{ "/var/lib/ldap" = volume() }}}}
  healthcheck {{{{
    test = ["CMD", "ldapsearch", "-x", "-H", "ldap://127.0.0.1:1389/", "-b", "", "-s", "base", "namingContexts"]
    interval = 1s
    retries = 60
  }}}}
  setup {{{{
    # ldapsearch exits 32 (noSuchObject) when the base is not there: check, then act
    find_org {{{{
      run = "always"
      exec = {_search(BASE, "-s", "base")}
      expect = [0, 32]
      output {{{{ present = status == 0 }}}}
    }}}}
    add_org {{{{
      run = "always"
      when = !setup.find_org.present
      exec = {_argv("ldapadd", *SASL)}
      stdin = "dn: {BASE}\\nobjectClass: dcObject\\nobjectClass: organization\\ndc: example\\no: Example\\n\\ndn: ou=people,{BASE}\\nobjectClass: organizationalUnit\\nou: people\\n\\ndn: ou=groups,{BASE}\\nobjectClass: organizationalUnit\\nou: groups\\n"
    }}}}
    find_user {{{{
      run = "always"
      exec = {_search(f"ou=people,{BASE}", "(uid=alice)")}
      output {{{{ present = stdout != "" }}}}
    }}}}
    add_user {{{{
      run = "always"
      when = !setup.find_user.present
      exec = {_argv("ldapadd", *SASL)}
      stdin = "dn: uid=alice,ou=people,{BASE}\\nobjectClass: inetOrgPerson\\nuid: alice\\ncn: Alice\\nsn: Liddell\\nuserPassword: ${{{{secret.alice_password}}}}\\n"
    }}}}
    find_group {{{{
      run = "always"
      exec = {_search(f"ou=groups,{BASE}", "(cn=admins)")}
      output {{{{ present = stdout != "" }}}}
    }}}}
    add_group {{{{
      run = "always"
      when = !setup.find_group.present
      exec = {_argv("ldapadd", *SASL)}
      stdin = "dn: cn=admins,ou=groups,{BASE}\\nobjectClass: groupOfNames\\ncn: admins\\nmember: uid=alice,ou=people,{BASE}\\n"
    }}}}
  }}}}
}}}}
"""


def _ldap_root() -> Path:
    root = Path(os.environ.get("MORA_OPENLDAP_ROOT") or TOOLS / "openldap-root")
    if not (root / "usr/sbin/slapd").is_file():
        missing("openldap (unpacked slapd, ldap-utils)", str(root))
    return root


def _libraries(root: Path) -> list[str]:
    """The host's shared libraries slapd, its mdb backend and the clients load (ldd), sorted."""
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr/lib/x86_64-linux-gnu")}
    tools = ["usr/sbin/slapd", "usr/lib/ldap/back_mdb.so"]
    tools += [f"usr/bin/{t}" for t in ("ldapadd", "ldapsearch", "ldapwhoami")]
    found: set[str] = set()
    for tool in tools:
        out = subprocess.run(
            ["ldd", str(root / tool)], env=env, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            words = line.split()
            if "not" in words and "found" in words:
                missing("a library of openldap", line.strip())
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
        self._image(_ldap_root())
        self.project = f"moramicroldap{secrets.token_hex(4)}"
        self.source = tmp / "project"
        self.source.mkdir()
        self.site = tmp / "site" / "site.yaml"
        self.site.parent.mkdir()
        self.site.write_text("domain: example.org\n")
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.env = {**self.env, "MORA_SECRETS_KEY": key, "PYTHONPATH": str(REPO)}

    def _podman(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(podman()), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
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
        (etc / "ldap" / "slapd.conf").write_text(SLAPD_CONF)
        (etc / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\nopenldap:x:1000:1000::/var/lib/ldap:/bin/sh\n"
        )
        (etc / "group").write_text("root:x:0:\nopenldap:x:1000:\n")
        (ctx / "Containerfile").write_text(f"FROM {BUSYBOX_IMAGE}\nCOPY root/ /\n")
        proc = self._podman("build", "-q", "-t", IMAGE, str(ctx))
        assert proc.returncode == 0, proc.stderr

    def write(self) -> None:
        (self.source / "main.mora").write_text(PROJECT.format(project=self.project))

    def mora(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_mora([*args, str(self.source), "--site", str(self.site)], env=self.env)

    def ldap(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._podman("exec", "-i", f"{self.project}-directory", *argv, stdin=stdin)

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
def test_ldapadd_steps_bootstrap_a_directory_once(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    try:
        lab.write()
        first = lab.mora("apply", "--timeout", "120")
        assert first.returncode == 0, first.stderr
        for step in ("add_org", "add_user", "add_group"):
            assert f"setup directory.{step}: ran" in first.stderr, first.stderr
        password = lab.mora("secrets", "show", "alice_password").stdout.strip()
        assert len(password) == 24
        assert password not in first.stdout + first.stderr
        # the user signs in with the generated password (read by ldapwhoami from stdin's file)
        who = lab.ldap(
            "sh", "-c", "cat > /tmp/pw && ldapwhoami -x -H ldap://127.0.0.1:1389/ "
            f"-D uid=alice,ou=people,{BASE} -y /tmp/pw; rm -f /tmp/pw",
            stdin=password,
        )  # fmt: skip
        assert who.returncode == 0 and f"dn:uid=alice,ou=people,{BASE}" in who.stdout, who
        members = lab.ldap("ldapsearch", *SASL, "-LLL", "-b", f"cn=admins,ou=groups,{BASE}",
                           "member")  # fmt: skip
        assert f"member: uid=alice,ou=people,{BASE}" in members.stdout, members

        second = lab.mora("apply", "--timeout", "120")
        assert second.returncode == 0, second.stderr
        for step in ("add_org", "add_user", "add_group"):
            assert f"setup directory.{step}: skipped" in second.stderr, second.stderr
        assert "nothing changed" in second.stderr
        people = lab.ldap("ldapsearch", *SASL, "-LLL", "-b", f"ou=people,{BASE}", "(uid=*)", "dn")
        assert people.stdout.count("dn: uid=") == 1
    finally:
        lab.cleanup()
