"""The *arr apps behind one login (issue 15): `tests/cases/sso-arr` compiled by the real CLI.

Sonarr, Radarr and Prowlarr given `identity` go through the provider's forward auth on every
backend, their own login is External, the Forms login steps are not built and the API-key steps
still call the internal URL. The podman Caddyfile and the Kubernetes ingresses and middlewares
are golden files beside the case (MORA_UPDATE_GOLDEN=1 rewrites them); the manifest is the
case's expected.manifest.json (tests/test_cases.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sso.case_build import CASES, check_golden, compiled_case

CASE = CASES / "sso-arr"
APPS = {"tv": ("SONARR", 8989), "movies": ("RADARR", 7878), "indexers": ("PROWLARR", 9696)}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled_case("sso-arr", tmp_path_factory.mktemp("sso-arr"))


def _golden(name: str, actual: str) -> None:
    check_golden("sso-arr", name, actual)


def test_podman_routes_go_through_forward_auth(build: Path) -> None:
    files = build / "podman" / "files"
    (caddyfile,) = [p for p in files.iterdir() if "-Caddyfile" in p.name]
    text = caddyfile.read_text()
    _golden("expected.podman.Caddyfile", text)
    for name, (app, port) in APPS.items():
        site = text[text.index(f"{app.lower()}.example.org") :].split("\n}\n")[0]
        assert site.index("forward_auth auth:9091") < site.index(f"reverse_proxy {name}:{port}")


def test_kubernetes_ingresses_carry_the_middleware(build: Path) -> None:
    parts = []
    for name in APPS:
        folder = build / "kubernetes" / name
        ingress = (folder / "ingress.yaml").read_text()
        middleware = (folder / f"middleware-{name}-auth.yaml").read_text()
        assert f"input-{name}-auth@kubernetescrd" in ingress
        assert "/api/authz/forward-auth" in middleware
        parts += [f"# {name}/ingress.yaml\n{ingress}", f"# {name}/middleware.yaml\n{middleware}"]
    _golden("expected.kubernetes.yaml", "---\n".join(parts))


def test_own_login_is_external_and_only_api_key_steps_remain(build: Path) -> None:
    services = json.loads((build / "manifest.json").read_text())["services"]
    for name, (app, port) in APPS.items():
        svc = services[name]
        assert svc["environment"][f"{app}__AUTH__METHOD"] == {"value": "External"}
        steps = svc["setup"]
        names = [s["name"] for s in steps]
        assert "login" not in names and "host_config" not in names, names
        assert steps, name  # the API-key steps are still there ...
        for step in steps:  # ... and call the app itself, not its proxied public address
            assert step["url"]["lit"].startswith(f"http://{name}:{port}/api/"), step["url"]


# --- a module passes the provider on: `param identity: optional(identity) = none` -----------------

MODULE = """
import contracts
import sonarr

param identity: optional(identity) = none  # given by the importing file, or none

defaults { identity = param.identity }

service tv = sonarr(media: "/srv/media")
"""

MAIN = """
import lldap
import authelia
import "arr" as arr (identity: auth)

service directory = lldap(base_dn: "dc=example,dc=org")

service auth = authelia(
  ldap: directory,
  admin_group: "lldap_admin",
)
"""


def _compile(folder: Path) -> dict:
    from mora.api import compile_project
    from mora.diagnostics import render_text
    from mora.model import manifest_json
    from mora.secrets.provider import MemoryProvider

    result = compile_project(folder, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    errors = [render_text(d) for d in result.diagnostics if d.severity == "error"]
    assert not errors, errors
    return json.loads(manifest_json(result.compiled.manifest))["services"]


def test_a_module_param_carries_an_optional_provider(tmp_path: Path) -> None:
    (tmp_path / "arr").mkdir()
    (tmp_path / "arr" / "arr.mora").write_text(MODULE)
    (tmp_path / "main.mora").write_text(MAIN)
    tv = _compile(tmp_path)["arr-tv"]
    assert [r["auth"] for r in tv["routes"]] == ["auth"]
    assert tv["environment"]["SONARR__AUTH__METHOD"]["value"] == "External"
    alone = _compile(tmp_path / "arr")["tv"]  # compiled on its own: none, the app's own login
    assert not alone.get("routes")
    assert alone["environment"]["SONARR__AUTH__METHOD"]["value"] == "Forms"


# --- Gitea signs in like Forgejo ------------------------------------------------------------------


def test_gitea_registers_its_client_and_adds_the_source_with_the_secret_on_stdin(
    tmp_path: Path,
) -> None:
    (tmp_path / "main.mora").write_text(
        MAIN.replace('import "arr" as arr (identity: auth)', "import gitea")
        + "\nservice code = gitea(identity: auth)\n"
    )
    code = _compile(tmp_path)["code"]
    (step,) = code["setup"]
    argv = [part["lit"] for part in step["exec"]]
    assert "gitea admin auth add-oauth --name authelia --provider openidConnect" in argv[2]
    assert argv[3:] == ["gitea-oidc", "code", "https://auth.example.org", "lldap_admin"]
    assert step["stdin"] == {"ref": "secret.code_oidc_secret"}  # never in argv
    env = code["environment"]
    assert env["GITEA__service__ALLOW_ONLY_EXTERNAL_REGISTRATION"]["value"] == "true"
    assert env["GITEA__service__DISABLE_REGISTRATION"]["value"] == "false"
