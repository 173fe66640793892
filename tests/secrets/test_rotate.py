"""`mora secrets rotate`: consumers to restart, init_only values, inputs (the real CLI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mora.api import check_project
from mora.secrets.store import SecretStore
from tests.cli import run_mora

PROJECT = """project shop

import postgres

service db = postgres(user: "shop")

secret api_key = password(length: 24)
secret api_digest = pbkdf2_sha512(secret.api_key, iterations: 1000)

service app {
  image = "docker.io/library/busybox:1.36"
  environment {
    DB_PASSWORD = secret.db_password
    API_KEY = secret.api_key
  }
  input ha_token: secret { prompt = "a token" }
}

service gate {
  image = "docker.io/library/busybox:1.36"
  files { "/etc/gate/digest" = text(secret.api_digest) }
}

service idle {
  image = "docker.io/library/busybox:1.36"
}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "main.mora").write_text(PROJECT)
    site = tmp_path / "site"
    site.mkdir()
    (site / "home.yaml").write_text("domain: example.org\n")
    return site


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "MORA_SECRETS_KEY"}
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return environment


def mora(site: Path, env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return run_mora([*args, "../shop", "--site", "home.yaml"], site, env=env)


def stored(site: Path, name: str) -> str:
    store = SecretStore.open(site / "home.secrets", namespace="shop")
    return store.get(name).value()  # type: ignore[union-attr]


def test_rotate_lists_every_consumer_of_the_secret_and_its_derived_parts(
    site: Path, env: dict[str, str]
) -> None:
    assert mora(site, env, "compile", "--out", "build").returncode == 0
    old = stored(site, "api_key")
    proc = mora(site, env, "secrets", "rotate", "api_key")
    assert proc.returncode == 0, proc.stderr
    assert "rotated api_key" in proc.stderr and "re-derived api_digest" in proc.stderr
    assert "  app: env API_KEY\n" in proc.stderr  # DB_PASSWORD did not change
    assert "  gate: file /etc/gate/digest\n" in proc.stderr  # through the derived digest
    assert "idle" not in proc.stderr and "  db:" not in proc.stderr
    new = stored(site, "api_key")
    assert new != old and new not in proc.stderr and old not in proc.stderr


def test_rotating_an_init_only_value_is_refused_without_force_and_says_how(
    site: Path, env: dict[str, str]
) -> None:
    assert mora(site, env, "compile", "--out", "build").returncode == 0
    old = stored(site, "db_password")
    refused = mora(site, env, "secrets", "rotate", "db_password")
    assert refused.returncode == 1
    assert "`POSTGRES_PASSWORD` of db" in refused.stderr
    assert "only when its data directory is created" in refused.stderr
    assert "ALTER USER" in refused.stderr and "--force" in refused.stderr
    assert stored(site, "db_password") == old  # nothing was rotated
    forced = mora(site, env, "secrets", "rotate", "db_password", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "  app: env DB_PASSWORD\n" in forced.stderr
    assert "  db: env POSTGRES_PASSWORD\n" in forced.stderr
    assert "POSTGRES_PASSWORD is read only when the data is created" in forced.stderr
    new = stored(site, "db_password")
    assert new != old and new not in forced.stderr


def test_rotating_an_input_says_to_set_it(site: Path, env: dict[str, str]) -> None:
    for name in ("ha_token", "input.ha_token"):
        proc = mora(site, env, "secrets", "rotate", name)
        assert proc.returncode == 1
        assert "is an input: use `mora secrets set input.ha_token`" in proc.stderr
        assert "no secret named" not in proc.stderr


def test_init_only_must_name_a_variable_of_the_environment_and_hold_no_secret(
    tmp_path: Path,
) -> None:
    (tmp_path / "main.mora").write_text(
        """project p
secret pw = password()
service db {
  image = "docker.io/library/postgres:17.6"
  environment { POSTGRES_PASSWORD = secret.pw }
  init_only {
    POSTGRES_PASWORD = "ALTER USER ..."
    POSTGRES_PASSWORD = "use ${secret.pw}"
  }
}
"""
    )
    diags = list(check_project(tmp_path).diagnostics.sorted())
    codes = sorted(d.code for d in diags)
    assert codes == ["E0302", "E0305"], [d.message for d in diags]
    typo = next(d for d in diags if d.code == "E0305")
    assert "`POSTGRES_PASWORD`" in typo.message and "POSTGRES_PASSWORD" in (typo.help or "")


def test_rotate_suggests_a_close_name_and_escapes_template_text(
    site: Path, env: dict[str, str]
) -> None:
    typo = mora(site, env, "secrets", "rotate", "api_kee")
    assert typo.returncode == 1 and "did you mean `api_key`?" in typo.stderr
    project = site.parent / "shop" / "main.mora"
    project.write_text(
        project.read_text().replace(
            "  input ha_token",
            '  init_only { API_KEY = "restart \x1b]52;c;evil\x07 it" }\n  input ha_token',
        )
    )
    proc = mora(site, env, "secrets", "rotate", "api_key")
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
    # A raw control character never reaches the template text: the file is refused, unquoted.
    assert "E0007" in proc.stderr and "evil" not in proc.stderr


# --- a site without a domain: rotate asks for it only when a rotated value reads it ----------

NO_DOMAIN_PROJECT = """project keys

secret api_key = hex(16)
secret ca = tls_ca()
secret cert = tls_cert(secret.ca, hosts: [site.domain])

service app {
  image = "docker.io/library/busybox:1.36"
  environment {
    API_KEY = secret.api_key
  }
  files { "/etc/app/cert.pem" = text(secret.cert.cert) }
}
"""


def _no_domain_site(tmp_path: Path) -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "main.mora").write_text(NO_DOMAIN_PROJECT)
    site = tmp_path / "site"
    site.mkdir()
    (site / "home.yaml").write_text("params: {}\n")  # no `domain:`
    return site


def test_rotate_needs_no_domain_for_a_secret_that_does_not_read_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = _no_domain_site(tmp_path)
    first = run_mora(
        ["compile", "../keys", "--site", "home.yaml", "--domain", "example.org", "--out", "build"],
        site,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    store = SecretStore.open(site / "home.secrets", namespace="keys")
    old = store.get("api_key").value()  # type: ignore[union-attr]
    proc = run_mora(
        ["secrets", "rotate", "api_key", "../keys", "--site", "home.yaml"], site, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "domain" not in proc.stderr
    assert "  app: env API_KEY\n" in proc.stderr
    store = SecretStore.open(site / "home.secrets", namespace="keys")
    assert store.get("api_key").value() != old  # type: ignore[union-attr]


def test_rotate_without_a_domain_names_the_derived_secret_that_reads_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    site = _no_domain_site(tmp_path)
    first = run_mora(
        ["compile", "../keys", "--site", "home.yaml", "--domain", "example.org", "--out", "build"],
        site,
        env=env,
    )
    assert first.returncode == 0, first.stderr
    before = (site / "home.secrets").read_bytes()
    proc = run_mora(["secrets", "rotate", "ca", "../keys", "--site", "home.yaml"], site, env=env)
    assert proc.returncode != 0
    assert "`cert` is made from the site's domain" in proc.stderr
    assert "--domain" in proc.stderr
    assert (site / "home.secrets").read_bytes() == before  # nothing was generated or rotated
