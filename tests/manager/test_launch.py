"""`mora apply --manager URL --site FILE` starts the manager when it is not running, then hands
it the deployment. The process mode runs for real here; the container mode's command is the one
the generated (and validated) podman/manager.sh runs."""

from __future__ import annotations

import base64
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mora.manager.launch import choose_mode, container_command
from tests.cli import run_mora
from tests.manager.lab import shop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    project = tmp_path / "shop"
    project.mkdir()
    (project / "main.mora").write_text(shop())
    site = tmp_path / "site" / "site.yaml"
    site.parent.mkdir()
    site.write_text("domain: example.org\n")
    env = {k: v for k, v in os.environ.items() if k != "MORA_MANAGER_TOKEN"}
    env.update(
        MORA_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode(),
        XDG_STATE_HOME=str(tmp_path / "state-home"),
        MORA_PODMAN="/nonexistent/podman",  # never touched by a dry run
    )
    yield project, site, env
    pid_file = tmp_path / "state-home" / "mora" / "manager" / "manager.pid"
    if pid_file.exists():  # the manager this test started, by its own pid
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass


def test_apply_starts_the_manager_as_a_process_then_pushes(lab: tuple[Path, Path, dict]) -> None:
    project, site, env = lab
    url = f"http://127.0.0.1:{_free_port()}"
    args = ["apply", str(project), "--site", str(site), "--manager", url, "--dry-run"]
    first = run_mora(args, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"starting the manager as a process on {url}" in first.stderr
    assert "pushed as deployment 1" in first.stderr
    assert "db" in first.stderr and "web" in first.stderr  # the change set, from the manager
    state = Path(env["XDG_STATE_HOME"]) / "mora" / "manager"
    assert (state / "manager.sqlite3").is_file()
    pid = int((state / "manager.pid").read_text())
    os.kill(pid, 0)  # it outlives the apply
    # The token came from the site store: no secret value is printed.
    assert "api_token" not in first.stdout + first.stderr
    # Running: the next apply only pushes to it.
    second = run_mora(args, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "starting the manager" not in second.stderr
    assert "pushed as deployment 2" in second.stderr
    assert int((state / "manager.pid").read_text()) == pid


def test_a_manager_elsewhere_is_not_started(lab: tuple[Path, Path, dict]) -> None:
    project, site, env = lab
    url = "http://192.0.2.1:8470"  # TEST-NET: nothing answers there
    proc = run_mora(["apply", str(project), "--site", str(site), "--manager", url], env=env)
    assert proc.returncode == 1
    assert "only a manager on this machine" in proc.stderr


def test_without_a_site_the_manager_cannot_be_started(lab: tuple[Path, Path, dict]) -> None:
    project, _site, env = lab
    url = f"http://127.0.0.1:{_free_port()}"
    proc = run_mora(["apply", str(project), "--manager", url], env=env)
    assert proc.returncode == 1
    assert "starting the manager" not in proc.stderr
    assert "no token for the manager" in proc.stderr
    assert not (Path(env["XDG_STATE_HOME"]) / "mora").exists()


def test_the_mode_is_a_process_without_the_image_or_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\nmanager:\n  image: localhost/no-such-image:1\n")
    monkeypatch.delenv("MORA_SECRETS_KEY", raising=False)
    assert choose_mode(site)[0] == "process"
    monkeypatch.setenv("MORA_SECRETS_KEY", "x")
    mode, why = choose_mode(site, podman=str(tmp_path / "no-podman"))
    assert (mode, why) == ("process", "podman is not available")


def test_the_container_command_keeps_the_security_contract(tmp_path: Path) -> None:
    argv = container_command("localhost/mora-manager:local", tmp_path / "site.yaml", "127.0.0.1", 9)
    text = " ".join(argv)
    assert "--user 10001:10001 --read-only --cap-drop all" in text
    assert "--secret mora-manager-key,type=env,target=MORA_SECRETS_KEY" in text
    assert "-p 127.0.0.1:9:8470" in text and f"{tmp_path}:/var/lib/mora/site:Z" in text
