"""`mora plan` shows where a previous run's setup steps stopped (issue 13).

The executor runs the steps of tests/micro/test_executor.py's project against its loopback app
with the site's real (file) store; `mora plan` is then run as a person would, with the site.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

from mora.api import check_project, compile_project, open_store
from mora.micro.hook import SetupHook
from tests.cli import run_mora
from tests.micro.test_executor import PROJECT, _App, _fast, _Local, _serve

WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_plan_shows_done_failed_with_when_and_not_yet(tmp_path: Path, monkeypatch) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site" / "site.yaml"
    site.parent.mkdir()
    site.write_text("domain: example.org\n")
    app = _App(late=0)
    server = _serve(app)
    try:
        project = tmp_path / "p"
        project.mkdir()
        (project / "main.mora").write_text(PROJECT.format(port=server.server_address[1]))
        plan = run_mora(["plan", str(project), "--site", str(site)], cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        assert "setup steps so far" not in plan.stdout  # nothing ran yet: nothing to show

        compiled = compile_project(project, site_file=site).compiled
        assert compiled is not None
        store = open_store(check_project(project).program, site, None)  # type: ignore[arg-type]
        good = app.token

        def say(where: str, status: str, _detail: str) -> None:
            if where == "app.login" and status == "ran":
                app.token = "tok-forgotten-000"  # the app forgets the key it just gave

        hook = SetupHook(compiled.manifest, store, _Local(), say)  # type: ignore[arg-type]
        _fast(hook)
        assert hook("app") is not None  # find_item failed: the run stopped there

        plan = run_mora(["plan", str(project), "--site", str(site)], cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        shown = plan.stdout[plan.stdout.index("setup steps so far") :]
        assert re.search(rf"app\.wait_ready +done {WHEN}\n", shown)
        assert re.search(rf"app\.login +done {WHEN}\n", shown)
        assert re.search(rf"app\.find_item +failed {WHEN}  <- the last apply stopped here", shown)
        assert re.search(r"app\.add_item +not yet\n", shown)
        assert re.search(r"app\.echo_key +not yet\n", shown)
        password = store.get("admin_password").parts["value"]  # type: ignore[union-attr]
        assert good not in plan.stdout + plan.stderr and password not in plan.stdout
        as_json = run_mora(["plan", str(project), "--site", str(site), "--format", "json"])
        steps = json.loads(as_json.stdout)["setup_steps"]
        assert [(s["step"], s["status"]) for s in steps] == [
            ("wait_ready", "done"),
            ("login", "done"),
            ("find_item", "failed"),
            ("add_item", "not yet"),
            ("echo_key", "not yet"),
        ]

        # the app has its key again: the next run finishes, and the failure is forgotten
        app.token = good
        again = SetupHook(compiled.manifest, store, _Local(), lambda *a: None)  # type: ignore[arg-type]
        assert again("app") is None
        plan = run_mora(["plan", str(project), "--site", str(site)], cwd=tmp_path)
        shown = plan.stdout[plan.stdout.index("setup steps so far") :]
        assert "failed" not in shown and "not yet" not in shown
        assert len(re.findall(rf" done {WHEN}\n", shown)) == 5
    finally:
        server.shutdown()


def test_a_changed_step_shows_it_runs_again(tmp_path: Path, monkeypatch) -> None:
    """A step whose definition changed since it ran is `changed`, not `done`."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    monkeypatch.chdir(tmp_path)
    site = tmp_path / "site" / "site.yaml"
    site.parent.mkdir()
    site.write_text("domain: example.org\n")
    app = _App(late=0)
    server = _serve(app)
    try:
        project = tmp_path / "p"
        project.mkdir()
        text = PROJECT.format(port=server.server_address[1])
        (project / "main.mora").write_text(text)
        compiled = compile_project(project, site_file=site).compiled
        store = open_store(check_project(project).program, site, None)  # type: ignore[arg-type]
        hook = SetupHook(compiled.manifest, store, _Local(), lambda *a: None)  # type: ignore[union-attr]
        assert hook("app") is None
        (project / "main.mora").write_text(text.replace("timeout = 20s", "timeout = 30s"))
        plan = run_mora(["plan", str(project), "--site", str(site)], cwd=tmp_path)
        assert re.search(rf"app\.wait_ready +changed since it ran {WHEN}; runs again", plan.stdout)
        assert re.search(rf"app\.login +done {WHEN}\n", plan.stdout)
    finally:
        server.shutdown()
