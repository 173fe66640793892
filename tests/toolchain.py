"""Where the external validators are, for tests.

    from tests.toolchain import kubernetes_validate, checkov, quadlet, podman_env, BUSYBOX_IMAGE

Each function finds its tool through the environment variable that ``scripts/test`` exports
(from ``.tools/env``, written by ``scripts/install-validators``), or else at its place under
``.tools/`` in the repository root. A missing tool skips the test locally, but fails it when
``CI=true``: in CI nothing may skip for want of a tool.

Facts about the tools (see the comments in scripts/install-validators for the details):

* ``kubernetes_validate() + ["--strict", "--quiet", "-k", "1.29.0", "-k", "1.37.0", path]``:
  exit 1 on a schema error, but a kind it has no schema for is only a ``WARN`` line with exit 0.
* ``checkov() + ["-d", directory]`` (or ``["-f", file]``) prints JSON; exit 1 when a check failed.
* ``quadlet()``: run with ``QUADLET_UNIT_DIRS=<dir>`` and ``-dryrun -no-kmsg-log``; problems are on
  stderr, warnings do not change the exit code.
* ``podman_env()``: the environment for ``podman`` (``CONTAINERS_CONF`` set); the image
  ``BUSYBOX_IMAGE`` is the only one there is (no registry).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools"

BUSYBOX_IMAGE = "localhost/mora-busybox:latest"

#: The Kubernetes versions the manifests are validated against (oldest and newest supported).
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")

_HINT = "run scripts/install-validators"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(tool: str, detail: str = "") -> NoReturn:
    """Skip the test (locally) or fail it (CI=true) because ``tool`` is not installed."""
    message = f"{tool} not installed: {_HINT}"
    if detail:
        message += f" ({detail})"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _executable(tool: str, env_var: str, *fallbacks: Path | str) -> Path:
    candidates: list[Path | str] = []
    if os.environ.get(env_var):
        candidates.append(os.environ[env_var])
    candidates.extend(fallbacks)
    for candidate in candidates:
        path = Path(candidate)
        if not path.is_absolute():
            found = shutil.which(str(candidate))
            if found is None:
                continue
            path = Path(found)
        if path.is_file() and os.access(path, os.X_OK):
            return path
    missing(tool, f"looked at ${env_var} and {', '.join(str(c) for c in fallbacks)}")


def kubernetes_validate() -> list[str]:
    """Command prefix for kubernetes-validate (offline, schemas 1.25.0-1.37.0)."""
    exe = _executable(
        "kubernetes-validate",
        "MORA_KUBERNETES_VALIDATE",
        TOOLS / "kv-venv" / "bin" / "kubernetes-validate",
    )
    return [str(exe)]


def checkov() -> list[str]:
    """Command prefix for checkov on Kubernetes manifests, offline, JSON on stdout.

    Append ``["-d", directory]`` or ``["-f", file, ...]``. The JSON has ``check_type``,
    ``results`` (``failed_checks``, ``passed_checks``, ``skipped_checks``, ``parsing_errors``) and
    ``summary``; with nothing to scan it is the bare summary, with no ``results``. Exit 1 when a
    check failed. A resource opts out of a check by the annotation
    ``checkov.io/skip1: CKV_K8S_8=reason`` (it then shows under ``skipped_checks``).
    """
    exe = _executable("checkov", "MORA_CHECKOV", TOOLS / "checkov-venv" / "bin" / "checkov")
    return [
        str(exe),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--output",
        "json",
        "--compact",
    ]


def quadlet() -> Path:
    """The podman 5.x quadlet generator (run it with QUADLET_UNIT_DIRS and -dryrun)."""
    return _executable(
        "quadlet (podman 5.x)",
        "MORA_QUADLET",
        TOOLS / "quadlet-root" / "usr" / "libexec" / "podman" / "quadlet",
    )


def systemd_analyze() -> Path:
    """systemd-analyze, for ``verify`` on the units quadlet generates.

    ``verify`` exits 1 when an ExecStart binary is missing (quadlet's units run /usr/bin/podman,
    so podman must be installed: this checks it) or a Requires= unit is not beside the file, but
    only warns on stderr, with exit 0, about bad values and unknown sections: check stderr too.
    """
    exe = _executable(
        "systemd-analyze", "MORA_SYSTEMD_ANALYZE", "/usr/bin/systemd-analyze", "systemd-analyze"
    )
    if not Path("/usr/bin/podman").is_file():
        missing("podman", "systemd-analyze verify needs /usr/bin/podman, which quadlet units run")
    return exe


def caddy() -> Path:
    """Caddy 2.6 (Debian 12), for ``caddy validate --adapter caddyfile --config FILE``: exit 1
    on an unknown directive; it wants a writable HOME (and XDG_DATA_HOME) for its storage."""
    return _executable(
        "caddy", "MORA_CADDY", TOOLS / "caddy-root" / "usr" / "bin" / "caddy", "caddy"
    )


def podman() -> Path:
    return _executable("podman", "MORA_PODMAN", "/usr/bin/podman", "podman")


def podman_env() -> dict[str, str]:
    """A copy of os.environ with CONTAINERS_CONF pointing at .tools/containers.conf.

    Also checks that podman itself and the busybox image's configuration are there.
    """
    podman()
    conf = Path(os.environ.get("MORA_CONTAINERS_CONF") or TOOLS / "containers.conf")
    if not conf.is_file():
        missing("podman's containers.conf", str(conf))
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(conf)
    return env
