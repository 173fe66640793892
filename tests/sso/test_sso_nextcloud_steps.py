"""Nextcloud's user_oidc setup step: the client secret goes from the step's stdin to occ through
the environment, never into an argument (argv is in the manifest, the plan and the process list).

The step's argv is taken from the compiled `tests/cases/sso-oidc-apps` and run by a real
`/bin/sh`, with stand-ins for the two programs it calls that are not on this machine: `su` (runs
the `-c` command with the environment kept, as `su -p` does) and `php` (records its arguments and
the variable `--clientsecret-env` names). The occ options are checked against those that
nextcloud/user_oidc v8.10.1 declares (lib/Command/UpsertProvider.php).
"""

from __future__ import annotations

import functools
import json
import os
import stat
import subprocess
from pathlib import Path

from mora.api import compile_project
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

HERE = Path(__file__).resolve().parent
CASE = HERE.parent / "cases" / "sso-oidc-apps" / "input"
# user_oidc:provider's options at v8.10.1 (lib/Command/UpsertProvider.php configure() and
# EXTRA_OPTIONS), the ones a step may use; --clientsecret-env exists since v8.4.0.
OCC_OPTIONS = {
    "clientid", "clientsecret", "clientsecret-file", "clientsecret-env", "discoveryuri",
    "endsessionendpointuri", "postlogouturi", "scope", "unique-uid", "check-bearer",
    "mapping-display-name", "mapping-email", "mapping-uid", "mapping-groups",
    "group-provisioning", "group-whitelist-regex", "group-restrict-login-to-whitelist",
}  # fmt: skip
SECRET = "Zx9" + "q" * 61  # a stand-in for the generated 64-character secret

SU = """#!/bin/sh
# su -p USER -s SHELL -c COMMAND: run COMMAND with the environment kept
printf '%s\\n' "$@" > "$LOG_DIR/su.argv"
[ "$1" = -p ] && [ "$3" = -s ] && [ "$5" = -c ] || exit 97
exec /bin/sh -c "$6"
"""
PHP = """#!/bin/sh
printf '%s\\n' "$@" > "$LOG_DIR/php.argv"
printf '%s' "$OIDC_CLIENT_SECRET" > "$LOG_DIR/php.secret"
"""


@functools.cache
def _steps() -> dict[str, dict]:
    result = compile_project(CASE, domain="example.org", provider=MemoryProvider(seed=b"nc"))
    assert result.compiled is not None
    manifest = json.loads(manifest_json(result.compiled.manifest))
    return {s["name"]: s for s in manifest["services"]["cloud"]["setup"]}


def _stub(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_secret_reaches_occ_in_the_environment_and_no_argument(tmp_path: Path) -> None:
    step = _steps()["oidc_provider"]
    assert step["stdin"] == {"ref": "secret.cloud_oidc_secret"}
    argv = [a["lit"] for a in step["exec"]]  # every argument is a literal: no secret in argv
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "su", SU)
    _stub(bin_dir, "php", PHP)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG_DIR": str(tmp_path)}
    proc = subprocess.run(argv, input=SECRET, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    php = (tmp_path / "php.argv").read_text().splitlines()
    assert php == [
        "/var/www/html/occ",
        "user_oidc:provider",
        "Authelia",
        "--clientid=cloud",
        "--clientsecret-env=OIDC_CLIENT_SECRET",
        "--discoveryuri=https://auth.example.org/.well-known/openid-configuration",
        "--scope=openid email profile groups",
        "--group-provisioning=1",
        "--mapping-groups=groups",
        "--group-whitelist-regex=^(lldap_admin|users)$",
    ]
    assert (tmp_path / "php.secret").read_text() == SECRET
    su = (tmp_path / "su.argv").read_text()
    assert su.startswith("-p\nwww-data\n-s\n/bin/sh\n-c\n")
    for seen in (argv, php, su):
        assert SECRET not in str(seen)
    used = {a[2:].split("=", 1)[0] for a in php if a.startswith("--")}
    assert used <= OCC_OPTIONS, used - OCC_OPTIONS


def test_the_steps_wait_for_the_installer_then_install_the_app_as_www_data() -> None:
    steps = _steps()
    assert list(steps) == ["installed", "oidc_app", "oidc_provider"]
    for name in ("installed", "oidc_app"):
        argv = [a["lit"] for a in steps[name]["exec"]]
        assert argv[:6] == ["su", "-p", "www-data", "-s", "/bin/sh", "-c"], name
        assert "stdin" not in steps[name]
    assert "occ status --output=json" in steps["installed"]["exec"][6]["lit"]
    assert "app:install user_oidc" in steps["oidc_app"]["exec"][6]["lit"]
