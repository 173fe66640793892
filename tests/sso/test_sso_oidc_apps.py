"""One login for Immich, Audiobookshelf and Nextcloud (issue 15).

`tests/cases/sso-oidc-apps` (Authelia over LLDAP, `immich_stack`, Audiobookshelf and Nextcloud,
every one signed in through Authelia by one `defaults { identity = auth }`) is compiled by the
real CLI; the tests read what Authelia and each app are given, and where the client secret goes.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mora.api import compile_project
from mora.model import manifest_json
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore
from tests.cli import run_mora

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CASE = REPO / "tests" / "cases" / "sso-oidc-apps" / "input"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sso-oidc-apps")
    out = root / "build"
    proc = run_mora(["compile", str(CASE), "--domain", "example.org", "--out", str(out)], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return out


def _one(folder: Path, prefix: str) -> Path:
    found = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    assert len(found) == 1, (prefix, sorted(p.name for p in folder.iterdir()))
    return found[0]


def _clients(build: Path) -> dict[str, dict]:
    text = _one(build / "podman" / "secrets", "input-auth-file-config-oidc.yml").read_text()
    return {
        c["client_id"]: c for c in yaml.safe_load(text)["identity_providers"]["oidc"]["clients"]
    }


def _ab64(text: str) -> bytes:
    """passlib's adapted base64 (`.` for `+`, no padding), as Authelia's digests use."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _verifies(digest: str, plaintext: str) -> bool:
    """Whether an Authelia `$pbkdf2-sha512$ROUNDS$SALT$HASH` digest is of `plaintext`."""
    _, scheme, rounds, salt, want = digest.split("$")
    assert scheme == "pbkdf2-sha512"
    got = hashlib.pbkdf2_hmac("sha512", plaintext.encode(), _ab64(salt), int(rounds))
    return got == _ab64(want)


def _outside_secrets(build: Path, plaintext: str, allowed: set[str]) -> list[str]:
    """Output files other than `allowed` (names under podman/secrets) that hold `plaintext`.
    Kubernetes Secrets (secret.yaml) are the app's own delivery and are allowed too."""
    found = []
    for path in sorted(build.rglob("*")):
        if not path.is_file() or path.name == "secret.yaml":
            continue
        if "secrets" in path.parts and path.name in allowed:
            continue
        if plaintext in path.read_text(errors="replace"):
            found.append(str(path.relative_to(build)))
    return found


def test_immich_reads_its_oauth_settings_from_a_secret_config_file(build: Path) -> None:
    manifest = json.loads((build / "manifest.json").read_text())
    server = manifest["services"]["photos-server"]
    assert server["environment"]["IMMICH_CONFIG_FILE"]["value"] == "/config/immich.json"
    (file,) = server["files"]
    assert file["path"] == "/config/immich.json" and "content" not in file  # a secret file
    name = _one(build / "podman" / "secrets", "input-photos-server-file-config-immich.json")
    oauth = json.loads(name.read_text())["oauth"]
    assert set(json.loads(name.read_text())) == {"oauth"}  # a partial: Immich merges defaults
    assert oauth["enabled"] is True and oauth["autoRegister"] is True
    assert oauth["issuerUrl"] == "https://auth.example.org"
    assert oauth["clientId"] == "photos-server"
    assert oauth["tokenEndpointAuthMethod"] == "client_secret_basic"
    client = _clients(build)["photos-server"]
    assert client["token_endpoint_auth_method"] == "client_secret_basic"
    assert client["redirect_uris"] == [
        "https://photos.example.org/auth/login",
        "https://photos.example.org/user-settings",
        "app.immich:///oauth-callback",
    ]
    plaintext = oauth["clientSecret"]
    assert len(plaintext) == 64
    assert _verifies(client["client_secret"], plaintext)
    assert _outside_secrets(build, plaintext, {name.name}) == []


def test_audiobookshelf_and_nextcloud_register_their_clients(build: Path) -> None:
    clients = _clients(build)
    assert sorted(clients) == ["books", "cloud", "photos-server"]
    assert clients["books"]["redirect_uris"] == [
        "https://books.example.org/auth/openid/callback",
        "https://books.example.org/auth/openid/mobile-redirect",
        "audiobookshelf://oauth",
    ]
    assert clients["books"]["token_endpoint_auth_method"] == "client_secret_basic"
    assert clients["cloud"]["redirect_uris"] == [
        "https://cloud.example.org/apps/user_oidc/code",
        "https://cloud.example.org/index.php/apps/user_oidc/code",
    ]
    # user_oidc authenticates with client_secret_post whenever the discovery offers it
    assert clients["cloud"]["token_endpoint_auth_method"] == "client_secret_post"
    assert "groups" in clients["cloud"]["scopes"]  # group provisioning reads the claim
    for client in clients.values():
        assert client["require_pkce"] is True and client["pkce_challenge_method"] == "S256"


def test_each_plaintext_secret_reaches_only_its_app_and_each_digest_only_authelia() -> None:
    """Compiled with a store: Immich's secret is only in its own secret file; Audiobookshelf's
    and Nextcloud's go to the app by their setup steps only (the request body, stdin), so no
    output holds them; Authelia's file holds only digests, each of its app's secret."""
    store = SecretStore.in_memory()
    result = compile_project(CASE, domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    material = result.compiled.material
    manifest = manifest_json(result.compiled.manifest)
    (oidc_key,) = [k for k in material if k.endswith("config/oidc.yml")]
    clients = {
        c["client_id"]: c
        for c in yaml.safe_load(material[oidc_key])["identity_providers"]["oidc"]["clients"]
    }
    holders = {"photos-server": ["photos-server/file/config/immich.json"], "books": [], "cloud": []}
    for app, expected in holders.items():
        record = store.get(f"{app}_oidc_secret")
        assert record is not None
        plaintext = record.parts["value"]
        assert _verifies(clients[app]["client_secret"], plaintext), app
        assert sorted(k for k, v in material.items() if plaintext in v) == expected, app
        assert plaintext not in manifest
        digest = store.get(f"{app}_oidc_digest")
        assert digest is not None
        assert [k for k, v in material.items() if digest.parts["value"] in v] == [oidc_key]
    steps = json.loads(manifest)["services"]
    books = {s["name"]: s for s in steps["books"]["setup"]}
    secret_ref = books["oidc_settings"]["body"]["entries"]["authOpenIDClientSecret"]
    assert secret_ref == {"ref": "secret.books_oidc_secret"}
    cloud = {s["name"]: s for s in steps["cloud"]["setup"]}
    assert cloud["oidc_provider"]["stdin"] == {"ref": "secret.cloud_oidc_secret"}


def test_authelia_configuration_with_these_clients_is_valid_against_its_schema(
    build: Path,
) -> None:
    """The three clients (with the phone apps' custom-scheme redirect URIs) in Authelia's merged
    configuration, against Authelia 4.39's published JSON schema (tests/sso/README.md). Authelia
    4.39 accepts a confidential client's redirect URI of any scheme when it is absolute
    (internal/configuration/validator/identity_providers.go, validateOIDCClientRedirectURIs)."""
    plain = yaml.safe_load(
        _one(build / "podman" / "files", "input-auth-file-config-configuration.yml").read_text()
    )
    oidc = yaml.safe_load(
        _one(build / "podman" / "secrets", "input-auth-file-config-oidc.yml").read_text()
    )
    schema = json.loads((HERE / "authelia-4.39-configuration.schema.json").read_text())
    jsonschema.validate({**plain, **oidc}, schema)
    for client in oidc["identity_providers"]["oidc"]["clients"]:
        for uri in client["redirect_uris"]:
            scheme, sep, _rest = uri.partition(":")
            assert sep and scheme and (scheme in ("https",) or "://" in uri), uri
