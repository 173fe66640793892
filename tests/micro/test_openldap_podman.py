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

import os
import subprocess
from pathlib import Path

import pytest

from tests.micro.podman_lab import PodmanLab, host_libraries
from tests.toolchain import TOOLS, missing

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


class Lab(PodmanLab):
    image = IMAGE
    prefix = "moramicroldap"

    def build_image(self) -> None:
        root = _ldap_root()
        binaries = ["usr/sbin/slapd", "usr/lib/ldap/back_mdb.so"]
        binaries += [f"usr/bin/{t}" for t in ("ldapadd", "ldapsearch", "ldapwhoami")]
        etc = {
            "ldap/slapd.conf": SLAPD_CONF,
            "passwd": "root:x:0:0:root:/root:/bin/sh\nopenldap:x:1000:1000::/var/lib/ldap:/bin/sh\n",
            "group": "root:x:0:\nopenldap:x:1000:\n",
        }
        self.build_rootfs_image(root, host_libraries(root, binaries, "openldap"), etc)

    def write(self) -> None:
        (self.source / "main.mora").write_text(PROJECT.format(project=self.project))

    def ldap(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._podman("exec", "-i", self.container("directory"), *argv, stdin=stdin)


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
