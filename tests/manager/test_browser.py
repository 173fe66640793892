"""The manager end to end: `mora manager` as a process, real podman containers, a real browser.

Debian's chromium driven by Playwright (no browser download: the executable is given). The
story a person goes through: `mora apply --manager` pushes and applies a project (db runs, web is
held for an input); log in; the dashboard shows both; the wizard asks for web's key, stores it and
web starts (followed live on the run page); the project gains a service between db and web; the
push shows exactly that service, its new input and web restarting; apply; the history lists every
run. Screenshots of each page go to the test's folder, and to docs/manager/ with
MORA_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import REPO, run_mora
from tests.manager.lab import PROMPT, shop
from tests.toolchain import BUSYBOX_IMAGE, missing, podman, podman_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = REPO / "docs" / "manager"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`mora manager` running as a user starts it, with its site, state and podman."""

    def __init__(self, tmp: Path) -> None:
        self.env = podman_env()
        if self.podman("image", "exists", BUSYBOX_IMAGE).returncode != 0:
            missing(BUSYBOX_IMAGE, "the podman step of scripts/install-validators imports it")
        self.env["PYTHONPATH"] = str(REPO)
        self.env["XDG_CONFIG_HOME"] = str(tmp / "config")  # the store's key file goes here
        self.project = f"moramgr{secrets.token_hex(3)}"
        self.source = tmp / "project"
        self.source.mkdir()
        site_dir = tmp / "site"
        site_dir.mkdir()
        self.site = site_dir / "site.yaml"
        self.site.write_text("domain: example.org\n")
        self.state = tmp / "state"
        self.shots = tmp / "shots"
        self.shots.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp / "manager.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mora.cli", "manager", "--site", str(self.site), "--state",
             str(self.state), "--port", str(self.port), "--timeout", "60"],
            env=self.env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.log_path = tmp / "manager.log"
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(self.log_path.read_text()) from None
                time.sleep(0.2)

    def podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(podman()), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def secret(self, name: str) -> str:
        """A credential, read the way the manager's first start says to."""
        said = self.log_path.read_text()
        command = next(
            line.split()[1:] for line in said.splitlines() if f"secrets show {name} " in line
        )
        proc = run_mora(command[1:] if command[0] == "mora" else command, env=self.env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def mora_apply(self, *extra: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MORA_MANAGER_TOKEN": self.secret("api_token")}
        return run_mora(["apply", str(self.source), "--manager", self.url, *extra], env=env)

    def running(self) -> dict[str, str]:
        """service -> container state, for this project's containers."""
        proc = self.podman(
            "ps", "-a", "--filter", f"label=mora.project={self.project}", "--format", "{{.Names}}",
        )  # fmt: skip
        out = {}
        for name in proc.stdout.split():
            state = self.podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            out[name.removeprefix(f"{self.project}-")] = state
        return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        label = f"label=mora.project={self.project}"
        ids = self.podman("ps", "-a", "-q", "--filter", label).stdout.split()
        if ids:
            self.podman("rm", "-f", "-t", "0", *ids)
        vols = self.podman("volume", "ls", "-q", "--filter", label).stdout.split()
        if vols:
            self.podman("volume", "rm", "-f", *vols)
        for name in self.podman("secret", "ls", "--format", "{{.Name}}").stdout.split():
            if name.startswith(f"{self.project}-"):
                self.podman("secret", "rm", name)
        self.podman("network", "rm", "-f", self.project)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    lab = Served(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright", "pip install -e '.[test]'")
    if not CHROMIUM.exists():
        missing("chromium", "apt-get install chromium (scripts/install-validators)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(lab: Served, page: object, name: str) -> None:
    path = lab.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("MORA_UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(exist_ok=True)
        shutil.copyfile(path, SHOTS / f"{name}.png")


def wait_for_run(page: object) -> str:
    """On a run page: wait until the live view says the run ended; its status."""
    status = page.locator("#run-status")  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        # the page may still be loading after the click that led here: no element yet is "not yet"
        "() => ['ok', 'failed'].includes(document.getElementById('run-status')?.textContent)",
        timeout=120_000,
    )
    return str(status.inner_text())


def rows(page: object, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_the_manager_in_a_browser(served: Served, browser: object) -> None:
    lab = served
    # 1. a project pushed and applied from the command line: db runs, web waits for its key
    (lab.source / "main.mora").write_text(shop(project=lab.project))
    proc = lab.mora_apply()
    assert proc.returncode == 0, proc.stderr
    assert "pushed as deployment 1" in proc.stderr and "web: held" in proc.stderr
    assert lab.running() == {"db": "running"}

    page = browser.new_page(viewport={"width": 1100, "height": 640})  # type: ignore[attr-defined]
    # 2. log in (a wrong password first: refused)
    page.goto(lab.url + "/")
    assert page.url.startswith(lab.url + "/login")
    shot(lab, page, "login")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong password."
    page.fill("#password", lab.secret("admin_password"))
    page.click("button[type=submit]")
    page.wait_for_url(lab.url + "/")

    # 3. the dashboard: each service with its state, health and stage
    states = {
        r.get_attribute("data-service"): r.locator("td").all_inner_texts()
        for r in page.locator("tr[data-service]").all()
    }
    assert states["db"][:3] == ["1", "deployed", "healthy"]
    assert states["web"][:3] == ["3", "held", "-"]
    shot(lab, page, "dashboard")

    # 4. the wizard: web's key, with its prompt; the answer is stored and web starts
    page.click("text=Setup")
    step = page.locator("li.step.current")
    assert "web_key" in step.locator("h2").inner_text()
    assert PROMPT in step.locator(".prompt").inner_text()
    assert step.locator("a[href^='https://db.example.org/keys']").count() == 1
    field = step.locator("input[name=value]")
    assert field.get_attribute("type") == "password"
    shot(lab, page, "setup")
    field.fill("web-key-0f3a9c2e71")
    step.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/setup\?run=\d+$"))
    assert "every input is answered" in page.locator("main").inner_text().lower()
    page.click("text=follow run")
    assert wait_for_run(page) == "ok"
    assert "web" in rows(page, "#log tbody tr")[-1]
    shot(lab, page, "run")
    assert lab.running() == {"db": "running", "web": "running"}
    page.goto(lab.url + "/")
    assert page.locator("tr[data-service=web] td").all_inner_texts()[1:3] == ["deployed", "healthy"]

    # 5. a service between db and web, with an input of its own: pushed, not applied yet
    (lab.source / "main.mora").write_text(shop(project=lab.project, cache=True))
    proc = lab.mora_apply("--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "pushed as deployment 2" in proc.stderr
    page.goto(lab.url + "/deployments")
    assert [r.split()[:2] for r in rows(page, "tbody tr")] == [
        ["2", lab.project],
        ["1", lab.project],
    ]
    shot(lab, page, "deployments")
    page.goto(lab.url + "/")
    page.click("text=#2")
    page.wait_for_selector("#new-services li")  # the click navigates: read the new page, not the old
    assert rows(page, "#new-services li") == ["+ cache (held until its inputs are answered or produced by a setup step)"]
    assert rows(page, "#new-inputs li") == ["cache_size: How many MiB may the cache use?"]
    assert rows(page, "#restarts li") == ["~ web: depends_on"]
    assert page.locator("#removed").count() == 0
    shot(lab, page, "changes")

    # 6. apply it from the change view: web restarts, cache waits for its answer
    page.click("text=Apply #2")
    page.wait_for_url(re.compile(r".*/runs/\d+$"))
    assert wait_for_run(page) == "ok"
    log = rows(page, "#log tbody tr")
    assert any("cache" in r and "held" in r for r in log), log
    assert any("web" in r and "healthy" in r for r in log), log
    assert lab.running() == {"db": "running", "web": "running"}

    # 7. the wizard's next step: the cache's size; answered, the cache starts
    page.goto(lab.url + "/setup")
    step = page.locator("li.step.current")
    assert "cache_size" in step.locator("h2").inner_text()
    assert step.locator("input[name=value]").get_attribute("type") == "text"
    step.locator("input[name=value]").fill("256")
    step.locator("button[type=submit]").click()
    page.click("text=follow run")
    assert wait_for_run(page) == "ok"
    assert lab.running() == {"db": "running", "cache": "running", "web": "running"}

    # 8. the history: every run, newest first
    page.click("text=History")
    # the click only starts the navigation: wait for the history page to load before reading its
    # rows (reading at once saw the run page's log or a half-parsed table under load)
    page.wait_for_url(re.compile(r".*/history$"))
    history = rows(page, "tbody tr")
    assert len(history) == 4 and all("ok" in r for r in history), history
    assert [r.split()[1] for r in history] == ["answer", "apply", "answer", "apply"]
    shot(lab, page, "history")
    page.goto(lab.url + "/")
    shot(lab, page, "dashboard-after")

    # nothing a person typed or mora generated shows in a page
    html = "".join(
        page.goto(lab.url + p).text()  # type: ignore[union-attr]
        for p in ("/", "/setup", "/history", "/deployments/1", "/deployments/2", "/runs/1")
    )
    shown = run_mora(
        ["secrets", "show", "db_password", str(lab.source), "--site", str(lab.site)], env=lab.env
    )
    assert shown.returncode == 0, shown.stderr
    for value in ("web-key-0f3a9c2e71", shown.stdout.strip(), lab.secret("admin_password")):
        assert value not in html
