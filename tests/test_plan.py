"""The plan and the setup wizard, driven as a user would: through stdin and an answers file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from mora.plan import build_plan, render_plan
from tests.cli import run_mora
from tests.unit.helpers import compile_src

REPO = Path(__file__).resolve().parent.parent

STACK = """
service db { image = "docker.io/library/postgres:16.4" ports { pg = 5432 } }
service jellyfin { image = "docker.io/jellyfin/jellyfin:10.9.11" subdomain = "tv"
  ports { http = 8096 } depends_on = [db] }
service janitorr {
  image = "ghcr.io/schaka/janitorr:v1.6.0"
  input jellyfin_key: secret {
    after = jellyfin
    prompt = "Open ${jellyfin.url}/web/#/dashboard/keys, create a key, paste it here"
  }
  environment { JELLYFIN_KEY = input.jellyfin_key }
}
"""


def test_stages_follow_dependencies_and_inputs(tmp_path: Path) -> None:
    manifest = compile_src(tmp_path, STACK).compiled.manifest  # type: ignore[union-attr]
    plan = build_plan(manifest)
    assert [(s.kind, s.services or [q.name for q in s.inputs]) for s in plan.stages] == [
        ("deploy", ["db"]),
        ("deploy", ["jellyfin"]),
        ("input", ["jellyfin_key"]),
        ("deploy", ["janitorr"]),
    ]
    (question,) = plan.pending_inputs
    assert question.prompt == (
        "Open https://tv.example.org/web/#/dashboard/keys, create a key, paste it here"
    )
    assert plan.held == ["janitorr"]


def test_answered_inputs_leave_only_new_steps(tmp_path: Path) -> None:
    grown = (
        STACK
        + """
    service seerr {
      image = "ghcr.io/fallenbagel/jellyseerr:2.0.1"
      input seerr_key: secret { after = jellyfin prompt = "key for seerr" }
      environment { KEY = input.seerr_key }
    }
    """
    )
    result = compile_src(tmp_path, grown, answers={"input.jellyfin_key": "k1"})
    plan = build_plan(result.compiled.manifest)  # type: ignore[union-attr]
    assert [q.name for q in plan.pending_inputs] == ["seerr_key"]
    assert plan.answered == ["jellyfin_key"]
    assert plan.held == ["seerr"]


def test_a_service_held_for_step_outputs_is_not_said_to_wait_for_answers(tmp_path: Path) -> None:
    """`held until its inputs are answered` stood under `nothing to ask` in projects/media's
    plan: its janitor waits for keys that setup steps produce, not for a person."""
    asked = render_plan(build_plan(compile_src(tmp_path, STACK).compiled.manifest))  # type: ignore[union-attr]
    assert "   held until its inputs are answered: janitorr\n" in asked
    media = str(REPO / "projects" / "media")
    proc = run_mora(["plan", media, "--domain", "example.org"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "   held until its inputs are produced by the steps: janitor\n" in proc.stdout
    assert "answered: janitor" not in proc.stdout


def _mora(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_mora(args, cwd, stdin=stdin, timeout=120)


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "stack.mora").write_text(STACK)
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text("domain: example.org\n")
    return site


def test_plan_cli_text_and_json(tmp_path: Path) -> None:
    site = _project(tmp_path)
    text = _mora(["plan", "../project", "--site", "site.yaml"], site)
    assert text.returncode == 0, text.stderr
    assert "3. ask a person:" in text.stdout and "jellyfin_key for janitorr" in text.stdout
    doc = json.loads(
        _mora(["plan", "../project", "--site", "site.yaml", "--format", "json"], site).stdout
    )
    assert [s["kind"] for s in doc["stages"]] == ["deploy", "deploy", "input", "deploy"]


def test_setup_through_stdin_then_asks_nothing_more(tmp_path: Path) -> None:
    site = _project(tmp_path)
    secret_answer = "sk-this-is-the-jellyfin-key"
    first = _mora(["setup", "../project", "--site", "site.yaml"], site, stdin=secret_answer + "\n")
    assert first.returncode == 0, first.stderr
    assert "jellyfin_key: stored" in first.stderr
    assert secret_answer not in first.stdout + first.stderr
    manifest = json.loads((site / "build" / "manifest.json").read_text())
    assert manifest["inputs"]["jellyfin_key"]["answered"] is True
    assert manifest["services"]["janitorr"]["environment"]["JELLYFIN_KEY"]["secret"]
    assert secret_answer not in (site / "build" / "manifest.json").read_text()
    again = _mora(["setup", "../project", "--site", "site.yaml"], site)
    assert "nothing to ask" in again.stderr


def test_setup_with_inputs_still_pending_exits_5_and_0_once_all_are_answered(
    tmp_path: Path,
) -> None:
    """A script running `mora setup` must tell "done" from "waiting for a person"."""
    site = _project(tmp_path)
    skipped = _mora(["setup", "../project", "--site", "site.yaml"], site, stdin="\n")
    assert skipped.returncode == 5, skipped.stderr
    assert "jellyfin_key: skipped (still pending)" in skipped.stderr
    assert "1 input(s) still pending" in skipped.stderr
    assert (site / "build" / "manifest.json").is_file()  # the recompile still happened
    answered = _mora(["setup", "../project", "--site", "site.yaml"], site, stdin="k\n")
    assert answered.returncode == 0, answered.stderr
    assert "every input is answered" in answered.stderr


def test_setup_from_an_answers_file(tmp_path: Path) -> None:
    site = _project(tmp_path)
    (site / "answers.yaml").write_text("jellyfin_key: from-file\n")
    proc = _mora(["setup", "../project", "--site", "site.yaml", "--answers", "answers.yaml"], site)
    assert proc.returncode == 0, proc.stderr
    shown = _mora(["secrets", "show", "jellyfin_key", "../project", "--site", "site.yaml"], site)
    assert shown.stdout.strip() == "from-file"


TYPED = """
service app {
  image = "docker.io/library/busybox:1.36"
  input admin: email { prompt = "admin e-mail?" }
  input level: enum("low", "high") { prompt = "level?" }
  environment { ADMIN = input.admin LEVEL = input.level }
}
"""


def _typed_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.mora").write_text(TYPED)
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text("domain: example.org\n")
    return site


def test_setup_rejects_answers_that_do_not_fit_the_input_type(tmp_path: Path) -> None:
    site = _typed_project(tmp_path)
    proc = _mora(["setup", "../project", "--site", "site.yaml"], site, stdin="not-an-email\nhigh\n")
    assert proc.returncode == 1
    assert "the answer to `admin` is not a valid email" in proc.stderr
    assert "level: stored" in proc.stderr
    plan = json.loads(
        _mora(["plan", "../project", "--site", "site.yaml", "--format", "json"], site).stdout
    )
    assert [i["name"] for s in plan["stages"] for i in s.get("inputs", [])] == ["admin"]


def test_answers_file_problems_are_reported_not_crashes(tmp_path: Path) -> None:
    site = _typed_project(tmp_path)
    (site / "bad.yaml").write_text("admin: [\n")
    bad = _mora(["setup", "../project", "--site", "site.yaml", "--answers", "bad.yaml"], site)
    assert bad.returncode == 2 and "is not valid YAML (line" in bad.stderr
    (site / "typo.yaml").write_text("admn: me@example.org\ninput.level: low\n")
    typo = _mora(["setup", "../project", "--site", "site.yaml", "--answers", "typo.yaml"], site)
    assert "answers `admn`, which is no input of this project; did you mean `admin`?" in typo.stderr
    assert "level: stored" in typo.stderr


def test_secrets_commands_name_unknown_secrets(tmp_path: Path) -> None:
    site = _project(tmp_path)
    proc = _mora(["secrets", "show", "jellyfin_ky", "../project", "--site", "site.yaml"], site)
    assert proc.returncode == 1
    assert "no secret or input named `jellyfin_ky` is declared" in proc.stderr
    assert "did you mean `jellyfin_key`?" in proc.stderr
