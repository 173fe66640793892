"""`mora apply --manager URL --site FILE`: start the manager when it is not running (seed 004).

Two ways, chosen per machine:

- **container**, when the manager's image (site `manager.image`, else the local tag the
  Containerfile builds) exists in this podman and the store's key is in `MORA_SECRETS_KEY`:
  `podman run -d` with the same settings as the generated `podman/manager.sh`. It keeps running
  after the apply and restarts with podman like any container.
- **process** otherwise: `mora manager` from this installation, started in its own session (so it
  outlives the apply: the wizard's answers come later), its output in `STATE/manager.log` and
  its pid in `STATE/manager.pid`. No image to build, nothing to install: the way that always
  works on the machine that runs `mora apply`.

Only a manager on this machine (a loopback URL) is started; a remote one must already run.
The apply reads the API token from the site's store when `MORA_MANAGER_TOKEN` is not set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mora.manager.client import ClientError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
KEY_ENV = "MORA_SECRETS_KEY"


@dataclass(frozen=True)
class Started:
    mode: str  # "container" or "process"
    detail: str  # the container's name, or the process id
    state: Path


def default_state() -> Path:
    """Where a manager started by `mora apply` keeps its state: `$XDG_STATE_HOME/mora/manager`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mora" / "manager"


def answers(url: str, timeout: float = 2.0) -> bool:
    """Whether a manager answers at `url` (its OpenAPI document needs no credentials)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/openapi.json", timeout=timeout) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ClientError(
            f"no manager answers at {url}, and only a manager on this machine "
            "(http://127.0.0.1:PORT) can be started by `mora apply`: start it where it runs"
        )
    return parts.hostname, parts.port or 80


def _image(site_file: Path) -> str:
    from mora.backends.manager_service import DEFAULT_IMAGE
    from mora.diagnostics import Diagnostics
    from mora.site import load_site

    site = load_site(site_file, None, [], Diagnostics())
    image = site.targets.get("manager", {}).get("image")
    return image.strip() if isinstance(image, str) and image.strip() else DEFAULT_IMAGE


def choose_mode(site_file: Path, podman: str = "podman") -> tuple[str, str]:
    """("container", image) when the image is here and the key is in the environment, else
    ("process", why not a container)."""
    image = _image(site_file)
    if not os.environ.get(KEY_ENV):
        return "process", f"{KEY_ENV} is not set (a container gets the key only from there)"
    try:
        found = subprocess.run(
            [podman, "image", "exists", image], capture_output=True, timeout=30
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return "process", "podman is not available"
    if found != 0:
        return "process", f"the image {image} is not in this podman (see manager/Containerfile)"
    return "container", image


def container_command(image: str, site_file: Path, host: str, port: int) -> list[str]:
    """`podman run` of the manager, as the generated podman/manager.sh runs it."""
    import mora.backends.manager_service as ms

    inside = ms.STATE_DIR
    argv = ["podman", "run", "-d", "--replace", "--name", ms.NAME,
            "--user", f"{ms.UID}:{ms.UID}", "--read-only", "--cap-drop", "all",
            "--security-opt", "no-new-privileges", "--tmpfs", "/tmp", "-e", "HOME=/tmp",
            "--secret", f"{ms.KEY_SECRET},type=env,target={KEY_ENV}",
            "-v", f"{site_file.parent}:{inside}/site:Z", "-v", f"{ms.NAME}:{inside}/state:Z",
            "-p", f"{host}:{port}:{ms.PORT}", image,
            "manager", "--site", f"{inside}/site/{site_file.name}", "--state", f"{inside}/state",
            "--host", "0.0.0.0", "--port", str(ms.PORT)]  # fmt: skip
    return argv


def _start_container(image: str, site_file: Path, host: str, port: int) -> str:
    import mora.backends.manager_service as ms

    key = os.environ[KEY_ENV]
    subprocess.run(["podman", "secret", "rm", ms.KEY_SECRET], capture_output=True, timeout=60)
    made = subprocess.run(
        ["podman", "secret", "create", ms.KEY_SECRET, "-"],
        input=key.encode(),
        capture_output=True,
        timeout=60,
    )
    if made.returncode != 0:
        raise ClientError("could not store the key as a podman secret for the manager")
    run = subprocess.run(
        container_command(image, site_file, host, port), capture_output=True, text=True, timeout=120
    )
    if run.returncode != 0:
        raise ClientError(f"podman could not start the manager: {run.stderr.strip()[-400:]}")
    return ms.NAME


def _start_process(
    site_file: Path, secrets_path: Path | None, state: Path, host: str, port: int
) -> subprocess.Popen[bytes]:
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "mora.cli", "manager", "--site", str(site_file),
            "--state", str(state), "--host", host, "--port", str(port)]  # fmt: skip
    if secrets_path is not None:
        argv += ["--secrets", str(secrets_path)]
    log = os.open(state / "manager.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # it outlives the apply (and a Ctrl-C of it)
            close_fds=True,
        )
    finally:
        os.close(log)
    (state / "manager.pid").write_text(f"{proc.pid}\n", encoding="utf-8")
    return proc


def ensure_running(
    url: str,
    site_file: Path | None,
    secrets_path: Path | None,
    say: Callable[[str], None],
    state: Path | None = None,
    wait: float = 60.0,
) -> Started | None:
    """Start the manager at `url` unless it answers already; None when it did."""
    if answers(url):
        return None
    host, port = _port(url)
    if site_file is None:
        raise ClientError(
            f"no manager answers at {url}; give `--site FILE` so `mora apply` can start it"
        )
    site_file = site_file.resolve()
    state = (state or default_state()).resolve()
    mode, detail = choose_mode(site_file)
    proc = None
    if mode == "container":
        say(f"starting the manager as the container {detail} on {url}")
        detail = _start_container(detail, site_file, host, port)
    else:
        say(f"starting the manager as a process on {url} ({detail}); log in {state}/manager.log")
        proc = _start_process(site_file, secrets_path, state, host, port)
        detail = str(proc.pid)
    end = time.monotonic() + wait
    while not answers(url, timeout=1.0):
        if proc is not None and proc.poll() is not None:
            raise ClientError(
                f"the manager stopped at once (exit {proc.returncode}); see {state}/manager.log"
            )
        if time.monotonic() > end:
            raise ClientError(f"the manager did not answer at {url} within {wait:.0f}s")
        time.sleep(0.2)
    return Started(mode, detail, state)


def token_from_store(state: Path, site_file: Path, secrets_path: Path | None) -> str:
    """The API token the manager generated into the site's store (never printed)."""
    from mora.api import site_secrets

    found = site_secrets(state / "credentials", site_file=site_file, secrets_path=secrets_path)
    entry = found.store.get("api_token") if found.store is not None else None  # type: ignore[attr-defined]
    if entry is None:
        raise ClientError("no API token for the manager in the site store: set MORA_MANAGER_TOKEN")
    return str(entry.value())
