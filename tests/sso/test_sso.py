"""One login for all apps (issue 15): requests, the identity contract, the apps that use them.

The project `tests/cases/sso-three-apps` (Authelia, LLDAP, Vaultwarden, Grafana and Mealie over
OpenID Connect from one `defaults { identity = auth }`, a forward-auth route, one app left out) is
compiled by the real CLI for every target; the tests read what Authelia and the apps are given.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mora.api import check_project, compile_project
from mora.diagnostics import render_text
from mora.secrets.provider import MemoryProvider
from tests.cli import run_mora

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASE = REPO / "tests" / "cases" / "sso-three-apps" / "input"
SCHEMA = HERE / "authelia-4.39-configuration.schema.json"
CLIENTS = ["dashboards", "git", "recipes", "vault"]  # by service name
APP_SECRET_FILES = {  # the podman secret holding each app's plaintext client secret
    "dashboards": "input-dashboards-env-GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
    "recipes": "input-recipes-env-OIDC_CLIENT_SECRET",
    "vault": "input-vault-env-SSO_CLIENT_SECRET",
}


@functools.cache
def _build(root: Path) -> Path:
    out = root / "build"
    proc = run_mora(["compile", str(CASE), "--domain", "example.org", "--out", str(out)], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sso")
    return _build(root)


def _one(folder: Path, prefix: str) -> Path:
    found = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    assert len(found) == 1, (prefix, sorted(p.name for p in folder.iterdir()))
    return found[0]


def _oidc(build: Path) -> dict:
    return yaml.safe_load(
        _one(build / "podman" / "secrets", "input-auth-file-config-oidc.yml").read_text()
    )


def _ab64(text: str) -> bytes:
    """passlib's adapted base64: `.` for `+`, no padding."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _verifies(digest: str, plaintext: str) -> bool:
    """Whether an Authelia `$pbkdf2-sha512$ROUNDS$SALT$HASH` digest is of `plaintext`."""
    _, scheme, rounds, salt, want = digest.split("$")
    assert scheme == "pbkdf2-sha512"
    got = hashlib.pbkdf2_hmac("sha512", plaintext.encode(), _ab64(salt), int(rounds))
    return got == _ab64(want)


def test_authelia_lists_one_client_per_app_in_service_name_order(build: Path) -> None:
    clients = _oidc(build)["identity_providers"]["oidc"]["clients"]
    assert [c["client_id"] for c in clients] == CLIENTS
    urls = {c["client_id"]: c["redirect_uris"] for c in clients}
    assert urls == {
        "dashboards": ["https://grafana.example.org/login/generic_oauth"],
        "git": ["https://git.example.org/user/oauth2/authelia/callback"],
        "recipes": ["https://recipes.example.org/login"],
        "vault": ["https://vault.example.org/identity/connect/oidc-signin"],
    }


def test_the_provider_gets_the_digest_and_the_app_the_plaintext(build: Path) -> None:
    """Each app's plaintext secret is delivered to it as a secret; Authelia's file holds only its
    pbkdf2 digest (which verifies against it); the plaintext is nowhere else in the output."""
    clients = {c["client_id"]: c for c in _oidc(build)["identity_providers"]["oidc"]["clients"]}
    oidc_text = _one(build / "podman" / "secrets", "input-auth-file-config-oidc.yml").read_text()
    for app, secret_file in APP_SECRET_FILES.items():
        plaintext = (build / "podman" / "secrets" / secret_file).read_text()
        assert len(plaintext) == 64
        assert _verifies(clients[app]["client_secret"], plaintext)
        assert plaintext not in oidc_text
        for path in build.rglob("*"):
            if not path.is_file() or "secrets" in path.parts or path.name == "secret.yaml":
                continue  # the secret files themselves, and Kubernetes Secrets
            assert plaintext not in path.read_text(errors="replace"), path
    manifest = json.loads((build / "manifest.json").read_text())
    files = {f["path"]: f for f in manifest["services"]["auth"]["files"]}
    assert "content" not in files["/config/oidc.yml"]  # a secret file: a name, no text
    assert {f"secret.{c}_oidc_digest" for c in CLIENTS} <= set(files["/config/oidc.yml"]["sources"])


def test_authelia_configuration_is_valid_against_its_schema(build: Path) -> None:
    """configuration.yml and oidc.yml, merged as Authelia merges X_AUTHELIA_CONFIG's files,
    against Authelia 4.39's published JSON schema (tests/sso/README.md)."""
    plain = yaml.safe_load(
        _one(build / "podman" / "files", "input-auth-file-config-configuration.yml").read_text()
    )
    merged = {**plain, **_oidc(build)}
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(merged, schema)
    bad = json.loads(json.dumps(merged))
    bad["identity_providers"]["oidc"]["clients"][0]["redirect_uri"] = "https://x.example.org/"
    with pytest.raises(jsonschema.ValidationError):  # the schema does reject an unknown key
        jsonschema.validate(bad, schema)


def test_every_backend_gets_the_same_clients_and_forward_auth(build: Path) -> None:
    secret = yaml.safe_load((build / "kubernetes" / "auth" / "secret.yaml").read_text())
    texts = [v for k, v in (secret.get("stringData") or {}).items() if "oidc.yml" in k]
    if not texts:
        texts = [
            base64.b64decode(v).decode()
            for k, v in (secret.get("data") or {}).items()
            if "oidc.yml" in k
        ]
    assert texts and yaml.safe_load(texts[0]) == _oidc(build)
    caddy = _one(
        build / "podman" / "files", "input-mora-proxy-file-etc-caddy-Caddyfile"
    ).read_text()
    whoami = caddy[caddy.index("whoami.example.org") :]
    assert "forward_auth auth:9091" in whoami
    ingress = (build / "kubernetes" / "whoami" / "ingress.yaml").read_text()
    assert "whoami-auth" in ingress
    metrics = caddy[caddy.index("metrics.example.org") :]  # a template's own route ("."), given
    assert metrics.index("forward_auth auth:9091") < metrics.index("reverse_proxy metrics:9090")
    assert "metrics-auth" in (build / "kubernetes" / "metrics" / "ingress.yaml").read_text()
    assert "forward_auth" not in caddy[caddy.index("local.example.org") :].split("}")[0]
    env = json.loads((build / "manifest.json").read_text())["services"]["dashboards"]["environment"]
    assert env["GF_AUTH_GENERIC_OAUTH_AUTH_URL"]["value"] == (
        "https://auth.example.org/api/oidc/authorization"
    )
    assert "'lldap_admin'" in env["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"]["value"]


# --- the language: requests ----------------------------------------------------------------------

PROVIDER = """
contract issuer { url: url }
contract client {
  id: string
  digest: secret
  note: string = "default"
}
template idp() {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  subdomain = "${SUB}"
  ports { http = 80 }
  provides issuer { url = self.url }
  files { "/c.json" = json({ clients: self.requests(client) }) }
}
template web(login: optional(issuer) = none, on: bool = true) {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  enabled = args.on
  secret s = password(length: 16)
  if args.login != none {
    request args.login client {
      id = self.name
      digest = secret.s
    }
  }
}
"""


def _compiled(tmp_path: Path, body: str) -> dict:
    (tmp_path / "main.mora").write_text(body)
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    material = result.compiled.material
    return {k: json.loads(v)["clients"] for k, v in material.items() if k.endswith("/file/c.json")}


def test_requests_go_to_their_own_provider_in_name_order(tmp_path: Path) -> None:
    body = PROVIDER.replace("${SUB}", "${args.sub}").replace(
        "template idp() {", "template idp(sub: string) {"
    )
    body += """
service one = idp(sub: "one")
service two = idp(sub: "two")
service zz = web(login: one)
service aa = web(login: one)
service mm = web(login: two)
service off = web(login: one, on: false)  # not deployed: not read
service lone = web()
"""
    clients = _compiled(tmp_path, body)
    assert [c["id"] for c in clients["one/file/c.json"]] == ["aa", "zz"]
    assert [c["id"] for c in clients["two/file/c.json"]] == ["mm"]
    assert clients["one/file/c.json"][0]["note"] == "default"  # the contract's default


def test_a_request_makes_the_providers_file_secret(tmp_path: Path) -> None:
    body = (
        PROVIDER.replace("${SUB}", "login")
        + "\nservice login = idp()\nservice a = web(login: login)\n"
    )
    (tmp_path / "main.mora").write_text(body)
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None
    files = result.compiled.manifest.services["login"].files
    assert files[0].secret is not None and files[0].content is None
    assert files[0].sources == ["secret.a_s"]


def test_request_syntax_formats_and_round_trips() -> None:
    from mora.fmt import format_source

    text = (CASE.parent.parent / "sso-err-requests" / "input" / "main.mora").read_text()
    once = format_source(text).text
    assert once is not None
    assert format_source(once).text == once
    assert "request args.identity oidc_client {" in once
    from mora.diagnostics import Diagnostics
    from mora.fmt import shape
    from mora.parser import parse_module
    from mora.source import SourceFile

    def parsed(t: str) -> object:
        return shape(parse_module(SourceFile("x.mora", t), Diagnostics()))

    assert parsed(once) == parsed(text)  # formatting changed no meaning


# --- the stdlib ----------------------------------------------------------------------------------


def test_every_template_with_an_identity_cites_its_sign_in_sources() -> None:
    """A template that takes `identity` says where its sign-in settings come from."""
    with_identity = []
    for path in sorted((REPO / "stdlib").glob("*.mora")):
        text = path.read_text()
        if re.search(r"^\s+identity: optional\(identity\)", text, re.M):
            with_identity.append(path.stem)
            assert re.search(r"^# source sso: .+ \(checked \d{4}-\d{2}-\d{2}\)$", text, re.M), path
            assert (
                "request args.identity oidc_client" in text
                or "route(auth: args.identity)" in text
                or "request args.identity ldap_bind" in text  # LDAP (test_ldap.py)
            ), path
    assert {"vaultwarden", "grafana", "mealie", "miniflux", "paperless"} <= set(with_identity)
    assert {"prometheus", "homepage"} <= set(with_identity)  # forward auth


def test_passing_identity_to_an_app_that_cannot_use_it_says_so(tmp_path: Path) -> None:
    (tmp_path / "main.mora").write_text(
        (CASE / "main.mora").read_text()
        + "\nimport redis\nservice cache = redis(identity: auth)\n"
    )
    diags = [render_text(d) for d in check_project(tmp_path).diagnostics]
    text = "\n".join(diags)
    assert "this template cannot use an identity" in text, text
    assert "route(auth: auth)" in text


FORWARD = """
contract portal { url: url }
template app(sub: string = "", login: optional(portal) = none) {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  if args.sub != "" {
    subdomain = args.sub
  }
  ports { http = 80 }
  if args.login != none {
    routes { "." = route(auth: args.login) }
  }
}
"""


def _errors(tmp_path: Path, body: str) -> str:
    (tmp_path / "main.mora").write_text(body)
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is None
    return "\n".join(render_text(d) for d in result.diagnostics)


def test_forward_auth_through_a_record_is_an_error_not_an_open_route(tmp_path: Path) -> None:
    """A provider outside the project has no portal: the route must not silently lose its auth."""
    text = _errors(tmp_path, FORWARD + 'service a = app(sub: "a", login: { url: "https://x.org" })')
    assert "error[E0505]: forward auth needs an identity provider service" in text


def test_own_route_without_a_subdomain_is_an_error(tmp_path: Path) -> None:
    body = FORWARD + (
        'service p {\n  image = "docker.io/library/busybox:1.36"\n  user = "1000:1000"\n'
        '  subdomain = "p"\n  ports { http = 80 }\n  provides portal { url = self.url }\n}\n'
        "service a = app(login: p)\n"
    )
    text = _errors(tmp_path, body)
    assert "error[E0340]: route `.` of `a` is on its own subdomain, and it has none here" in text


def test_an_optional_service_field_in_a_project_with_contracts(tmp_path: Path) -> None:
    """Regression: `args.x.internal_url` of an `optional(service)` argument took the contract
    path (and asserted) as soon as the project declared any contract."""
    (tmp_path / "main.mora").write_text(
        FORWARD
        + """
template viewer(source: optional(service) = none) {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  environment {
    if args.source != none {
      SOURCE = args.source.internal_url
    }
  }
}
service a = app()
service v = viewer(source: a)
"""
    )
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    env = result.compiled.manifest.services["v"].environment
    assert env["SOURCE"].value == "http://a:80"


def test_requests_that_read_their_own_list_are_an_error_not_a_crash(tmp_path: Path) -> None:
    """Regression: a request reading (through another contract) what its provider reads from
    requests recursed without end."""
    text = _errors(
        tmp_path,
        """
contract issuer { url: url }
contract peer { all: list(map(string)) }
contract client {
  id: string
  seen: list(map(string)) = []
}
template idp() {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  subdomain = "login"
  ports { http = 80 }
  provides issuer { url = self.url }
  provides peer { all = self.requests(client) }
  files { "/c.json" = json({ clients: self.requests(client) }) }
}
template web(login: issuer, other: peer) {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  request args.login client {
    id = self.name
    seen = args.other.all
  }
}
service login = idp()
service a = web(login: login, other: login)
""",
    )
    assert "error[E0505]: the `client` requests sent to `login` depend on themselves" in text
