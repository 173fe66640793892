"""LDAP bind users per app (issue 15, "One login", the LDAP bullet; docs/stdlib/sso.md "LDAP").

An app requests a read-only user from the directory (`request ... ldap_bind { ... }` with its
own generated password); LLDAP's setup steps create each one (`for_each =
self.requests(ldap_bind)`), put it in its group and set its password from the app's secret on
stdin. A request sent to the identity provider (Authelia) goes on to the directory Authelia was
given, so `defaults { identity = auth }` stays the one line. Authelia binds with its own user,
never LLDAP's admin password.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mora.api import check_project, compile_project
from mora.diagnostics import render_text
from mora.secrets.provider import MemoryProvider
from tests.apispec.check import Request, check_request
from tests.toolchain import missing

# An app that binds to LDAP through the identity it is given (the relay), one that asks the
# directory itself, and Authelia with no bind password: three bind users.
PROJECT = """
import lldap
import authelia

defaults {
  identity = auth
}

template reader(identity: optional(identity) = none, ldap: optional(directory) = none) {
  user = "65534:65534"
  image = "docker.io/library/busybox:1.36"
  secret ldap_password = password(length: 32)
  if args.identity != none {
    request args.identity ldap_bind {
      user = "bind-${self.name}"
      password = secret.ldap_password
    }
    environment {
      LDAP_HOST = args.identity.ldap_host
      LDAP_PASSWORD = secret.ldap_password
    }
  }
  if args.ldap != none {
    request args.ldap ldap_bind {
      user = "bind-${self.name}"
      password = secret.ldap_password
    }
  }
}

service directory = lldap(base_dn: "dc=example,dc=org")
service auth = authelia(ldap: directory)
service books = reader()
service photos = reader(identity: none, ldap: directory)
"""


def _compile(tmp_path: Path, source: str = PROJECT, **values: str) -> Any:
    (tmp_path / "p").mkdir(exist_ok=True)
    (tmp_path / "p" / "main.mora").write_text(source)
    result = compile_project(
        tmp_path / "p", domain="example.org", provider=MemoryProvider(seed=b"ldap", values=values)
    )
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics.sorted()]
    return result.compiled


def _errors(tmp_path: Path, source: str) -> str:
    (tmp_path / "e").mkdir(exist_ok=True)
    (tmp_path / "e" / "main.mora").write_text(source)
    return "\n".join(render_text(d) for d in check_project(tmp_path / "e").diagnostics.sorted())


def test_each_request_becomes_a_bind_user_of_the_directory(tmp_path: Path) -> None:
    """One create step and one access step per request, keyed by the user id; the one sent to
    Authelia reached LLDAP; the password is the app's secret by its store name."""
    compiled = _compile(tmp_path)
    steps = {s.name: s for s in compiled.manifest.services["directory"].setup}
    assert [n for n in steps if "bind" in n] == [
        "add_bind_user[authelia]",
        "add_bind_user[bind-books]",
        "add_bind_user[bind-photos]",
        "bind_user_access[authelia]",
        "bind_user_access[bind-books]",
        "bind_user_access[bind-photos]",
    ]
    stdin = steps["bind_user_access[bind-books]"].stdin
    assert stdin is not None and stdin.concat is not None
    assert [p.ref for p in stdin.concat if p.ref] == [
        "output.directory.sign_in.token",
        "secret.books_ldap_password",
    ]
    argv = [a.lit for a in steps["bind_user_access[authelia]"].exec or []]
    assert argv[-2:] == ["authelia", "lldap_password_manager"]  # Authelia resets passwords
    assert [a.lit for a in steps["bind_user_access[bind-books]"].exec or []][-1] == (
        "lldap_strict_readonly"
    )


def test_authelia_binds_as_its_own_user_not_the_admin(tmp_path: Path) -> None:
    """The LDAP password file holds Authelia's generated password, and the config names its
    user: LLDAP's admin password reaches only LLDAP."""
    compiled = _compile(tmp_path)
    auth = compiled.manifest.services["auth"]
    files = {f.path: f for f in auth.files}
    assert files["/secrets/ldap"].sources == ["secret.auth_ldap_password"]
    config = files["/config/configuration.yml"].content
    assert "user: uid=authelia,ou=people,dc=example,dc=org" in config
    assert "address: ldap://directory:3890" in config
    users = [
        name
        for name, svc in compiled.manifest.services.items()
        for f in svc.files
        if "secret.directory_admin_password" in (f.sources or [])
    ]
    assert users == []


def test_a_request_to_a_provider_that_hands_it_nowhere_is_lost_and_refused(
    tmp_path: Path,
) -> None:
    """Authelia given a directory outside the project (a record) reads no `ldap_bind`, and
    has no directory to pass it on to: E0362, as for any unread request."""
    source = PROJECT.replace(
        "service auth = authelia(ldap: directory)",
        'secret pw = password()\nservice auth = authelia(ldap: { host: "nas.lan", base_dn: "dc=x" },'
        " bind_password: secret.pw)",
    )
    text = _errors(tmp_path, source)
    assert "error[E0362]: `auth` reads no `ldap_bind` requests, so `books`'s would be lost" in text


def test_a_secret_may_be_tested_against_none(tmp_path: Path) -> None:
    """`args.password != none` reveals only whether one was given (Authelia's bind_password):
    no E0302. Comparing the secret with a value still is."""
    source = """
template t(pw: optional(secret) = none) {
  image = "docker.io/library/busybox:1.36"
  user = "65534:65534"
  if args.pw != none {
    environment { PW = args.pw }
  }
  if args.pw == "x" {
    environment { X = "1" }
  }
}
secret s = password()
service a = t(pw: secret.s)
"""
    text = _errors(tmp_path, source)
    assert text.count("E0302") == 1 and '`args.pw == "x"`' not in text.split("E0302")[0]


def test_a_step_per_request_reads_only_the_contracts_fields(tmp_path: Path) -> None:
    """`each.value.FIELD` must be a field of the contract (E0940); the records go into a step
    only field by field (a whole `self.requests(C)` elsewhere in a step is E0931); the key is
    the contract's first field, which must be public text (E0939)."""
    source = """
import contracts

contract login {
  secret_first: secret
  name: string
}
template dir() {
  image = "docker.io/library/busybox:1.36"
  user = "65534:65534"
  files { "/x" = json(self.requests(ldap_bind)) }
  setup {
    a {
      for_each = self.requests(ldap_bind)
      exec = ["echo", each.value.usr]
    }
    b {
      exec = ["echo"]
      stdin = "${self.requests(ldap_bind)}"
    }
    c {
      for_each = self.requests(login)
      exec = ["echo"]
    }
    d {
      for_each = self.requests(ldap_bind)
      exec = ["echo", each.value.password]
    }
  }
}
service x = dir()
"""
    text = _errors(tmp_path, source)
    assert "error[E0940]: `each.value.usr` is not a field of a `ldap_bind` request" in text
    assert "help: did you mean `user`?" in text
    assert "error[E0931]: `self.requests()` cannot be used in a step" in text
    assert "error[E0939]: `login`'s first field is not public text" in text
    assert "error[E0933]" in text  # a secret field in argv


# --- the steps, run by the executor against a stand-in for LLDAP's GraphQL API -----------------


class _Lldap:
    """A loopback stand-in for LLDAP's sign-in and GraphQL API (LLDAP cannot run here)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.groups = {"lldap_admin": 1, "lldap_password_manager": 2, "lldap_strict_readonly": 3}
        self.users: dict[str, set[str]] = {"admin": {"lldap_admin"}}
        outer = self

        class Api(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/auth/simple/login":
                    self._send({"token": "t0ken"})
                    return
                assert self.headers["Authorization"] == "Bearer t0ken"
                self._send({"data": outer.answer(body)})

            def _send(self, value: object) -> None:
                out = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: dict[str, Any]) -> Any:
        self.calls.append(body)
        q, v = body["query"], body.get("variables", {})
        if "createUser" in q:
            self.users[v["u"]["id"]] = set()
            return {"createUser": {"id": v["u"]["id"]}}
        if "addUserToGroup" in q:
            name = next(g for g, i in self.groups.items() if i == v["g"])
            self.users[v["u"]].add(name)
            return {"addUserToGroup": {"ok": True}}
        if "user(userId" in q:
            return {"user": {"groups": [{"displayName": g} for g in sorted(self.users[v["u"]])]}}
        if "users" in q:
            return {"users": [{"id": u} for u in sorted(self.users)]}
        return {"groups": [{"id": i, "displayName": g} for g, i in self.groups.items()]}


def test_the_bind_users_are_made_once_with_the_apps_passwords(tmp_path: Path) -> None:
    """The compiled steps, run twice by the executor (busybox plays the image's sh and wget, a
    stand-in the image's password tool): each bind user is created and put in its group once;
    its password, read from stdin, is the app's own secret; a second apply creates nothing and
    adds to no group. Every GraphQL call is one LLDAP's schema has."""
    from mora.micro.executor import Executor, Response
    from mora.micro.transport import HttpTransport
    from mora.secrets.store import SecretStore

    busybox = shutil.which("busybox")
    if busybox is None:
        missing("busybox", "apt busybox-static")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "wget", "grep", "cut", "tr", "echo", "printf", "cat"):
        (bindir / tool).symlink_to(busybox)
    record = tmp_path / "set_password.log"
    tool = tmp_path / "lldap_set_password"
    tool.write_text(f'#!{busybox} sh\necho "$LLDAP_USER_PASSWORD $*" >> {record}\n')
    tool.chmod(0o755)
    api = _Lldap()
    address = f"127.0.0.1:{api.server.server_address[1]}"

    class Standin(HttpTransport):
        def request(self, method, url, headers, body, timeout):  # type: ignore[no-untyped-def]
            return super().request(
                method, url.replace("directory:17170", address), headers, body, timeout
            )

        def exec(self, service, argv, stdin, timeout):  # type: ignore[no-untyped-def]
            argv = list(argv)
            argv[2] = (
                argv[2]
                .replace("http://localhost:17170", f"http://{address}")
                .replace("/app/lldap_set_password", str(tool))
            )
            done = subprocess.run(
                argv, input=stdin, capture_output=True, text=True, timeout=30,
                env={"PATH": str(bindir)},
            )  # fmt: skip
            return Response(done.returncode, done.stdout + done.stderr)

    compiled = _compile(tmp_path)
    directory = compiled.manifest.services["directory"]
    store = SecretStore.in_memory()
    for name, value in {
        "directory_admin_password": "pw-of-admin",
        "auth_ldap_password": "pw-of-authelia",
        "books_ldap_password": "pw-of-books",
        "photos_ldap_password": "pw-of-photos",
    }.items():
        store.set_value(name, value)

    def run() -> list[str]:
        ex = Executor(store, Standin(lambda h: h), services={"directory"})
        return [f"{r.step}:{r.status}" for r in ex.run_service(directory)]

    try:
        first = run()
        assert [r for r in first if "bind" in r] == [
            "add_bind_user[authelia]:ran",
            "add_bind_user[bind-books]:ran",
            "add_bind_user[bind-photos]:ran",
            "bind_user_access[authelia]:ran",
            "bind_user_access[bind-books]:ran",
            "bind_user_access[bind-photos]:ran",
        ]
        assert api.users == {
            "admin": {"lldap_admin"},
            "authelia": {"lldap_password_manager"},
            "bind-books": {"lldap_strict_readonly"},
            "bind-photos": {"lldap_strict_readonly"},
        }
        lines = record.read_text().splitlines()
        assert sorted(line.split(" --")[0] for line in lines) == [
            "pw-of-authelia", "pw-of-books", "pw-of-photos"
        ]  # fmt: skip
        assert all("pw-of" not in a for c in api.calls for a in json.dumps(c).split())
        for call in api.calls:  # each is a query or mutation LLDAP's schema has
            text = call["query"]
            field = text[text.index("{") + 1 :].split("(")[0].split("{")[0].strip()
            args = {
                "createUser": {"user": {"id": "x", "displayName": "y"}},
                "addUserToGroup": {"userId": "x", "groupId": 1},
                "user": {"userId": "x"},
            }.get(field, {})
            kind = "mutation" if text.startswith("mutation") else "query"
            gql = {"operation": kind, "field": field, "args": args}
            assert check_request(Request("lldap", "POST", "/api/graphql", graphql=gql)) == []
        made = len([c for c in api.calls if c["query"].startswith("mutation")])
        second = run()
        assert "add_bind_user[bind-books]:unchanged" in second  # done once: not sent again
        assert len([c for c in api.calls if c["query"].startswith("mutation")]) == made
        assert len(record.read_text().splitlines()) == 6  # the passwords set again: rotation
    finally:
        api.server.shutdown()


@pytest.mark.parametrize("project", ["identity", "homelab"])
def test_no_example_project_passes_the_directory_admin_password(project: str) -> None:
    """projects/identity and projects/homelab: Authelia's LDAP password is its own."""
    text = "\n".join(
        p.read_text() for p in (Path(__file__).parents[2] / "projects" / project).glob("*.mora")
    )
    assert "bind_password" not in text


# --- Jellyfin: the LDAP-Auth plugin with its own bind user (projects/homelab) -------------------

HOMELAB = Path(__file__).parents[2] / "projects" / "homelab"
LDAP_STEPS = ["ldap_plugin", "ldap_install", "ldap_restart", "ldap_read", "ldap_configure"]


def _homelab() -> Any:
    result = compile_project(
        HOMELAB, domain="example.org", provider=MemoryProvider(seed=b"ldap", values={})
    )
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics.sorted()]
    return result.compiled.manifest


def test_jellyfin_binds_with_the_user_the_directory_makes_for_it() -> None:
    """In the homelab (identity from `defaults`, no SSO line at Jellyfin), LLDAP makes
    `bind-media-watch` with Jellyfin's generated password, and Jellyfin's plugin binds as that
    DN with that same secret, searching the people of the identity's user group."""
    manifest = _homelab()
    watch = {s.name: s for s in manifest.services["media-watch"].setup}
    assert [n for n in watch if n.startswith("ldap_")] == LDAP_STEPS
    body = watch["ldap_configure"].body
    assert body is not None and body.entries is not None
    fields = {k: (v.lit if v.lit is not None else v.ref) for k, v in body.entries.items()}
    assert fields["LdapBindUser"] == "uid=bind-media-watch,ou=people,dc=home,dc=arpa"
    assert fields["LdapBindPassword"] == "secret.media-watch_ldap_password"
    assert fields["LdapServer"] == "identity-directory" and fields["LdapPort"] == 3890
    assert fields["LdapBaseDn"] == "ou=people,dc=home,dc=arpa"
    assert fields["LdapSearchFilter"] == "(memberOf=cn=media_users,ou=groups,dc=home,dc=arpa)"
    assert watch["ldap_configure"].base is not None  # the read config: linked users are kept
    directory = {s.name: s for s in manifest.services["identity-directory"].setup}
    access = directory["bind_user_access[bind-media-watch]"]
    assert access.stdin is not None and access.stdin.concat is not None
    assert "secret.media-watch_ldap_password" in [p.ref for p in access.stdin.concat]
    assert [a.lit for a in access.exec or []][-1] == "lldap_strict_readonly"


def test_jellyfin_ldap_steps_are_admitted_by_its_api_description() -> None:
    """Each LDAP step (method, path, query names, body fields and types) is one Jellyfin 10.11.8
    and LDAP-Auth v22 have (tests/apispec/jellyfin.json); a misspelt field is refused."""
    from tests.apispec.test_stdlib_steps import to_request

    watch = {s.name: s for s in _homelab().services["media-watch"].setup}
    for name in LDAP_STEPS:
        assert check_request(to_request("jellyfin", "media-watch", watch[name])) == [], name
    bad = to_request("jellyfin", "media-watch", watch["ldap_configure"])
    bad.body["LdapServr"] = bad.body.pop("LdapServer")
    assert any("LdapServr" in p for p in check_request(bad))


def test_jellyfin_without_an_identity_keeps_its_own_login() -> None:
    """projects/media alone: no identity, so no plugin steps and no bind user requested."""
    result = compile_project(
        HOMELAB.parent / "media", domain="example.org", provider=MemoryProvider(seed=b"l")
    )
    assert result.compiled is not None
    steps = [s.name for s in result.compiled.manifest.services["watch"].setup]
    assert not [n for n in steps if n.startswith("ldap_")]
