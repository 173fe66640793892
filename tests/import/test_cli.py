"""`mora import` on the command line: the default output folder, JSON diagnostics, usage errors."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

# `import` is a keyword: the golden module's helpers are reached through importlib
_golden = importlib.import_module("tests.import.test_golden")
GOLDEN: Path = _golden.GOLDEN
run_import = _golden.run_import


def test_default_out_is_named_after_the_project(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "routes" / "compose.yaml", tmp_path / "compose.yaml")
    done = run_import(["compose.yaml", "--name", "Web Stack"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "web_stack" / "web_stack.mora").is_file()
    assert "wrote web_stack/web_stack.mora" in done.stderr


def test_json_diagnostics_on_stdout(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "unsupported" / "compose.yaml", tmp_path / "compose.yaml")
    done = run_import(["compose.yaml", "--out", "out", "--format", "json"], tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    codes = {d["code"] for d in doc["diagnostics"]}
    assert {"W0902", "W0903", "W0908"} <= codes
    logging = next(d for d in doc["diagnostics"] if "`logging`" in d["message"])
    # merged in from an anchor (`<<: *logging`): the place is where the anchor defines it
    assert logging["span"]["file"] == "compose.yaml" and logging["span"]["line"] == 6


def test_missing_file_and_no_file(tmp_path: Path) -> None:
    done = run_import(["nope.yaml", "--out", "out"], tmp_path)
    assert done.returncode == 1 and "E0901" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
    assert run_import([], tmp_path).returncode == 2


def test_an_existing_project_is_replaced_only_with_force(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "routes" / "compose.yaml", tmp_path / "compose.yaml")
    assert run_import(["compose.yaml", "--out", "out"], tmp_path).returncode == 0
    (project,) = (tmp_path / "out").glob("*.mora")
    project.write_text(project.read_text() + "# edited by hand\n")
    again = run_import(["compose.yaml", "--out", "out"], tmp_path)
    assert again.returncode == 1 and "E0903" in again.stderr and "--force" in again.stderr
    assert project.read_text().endswith("# edited by hand\n")
    forced = run_import(["compose.yaml", "--out", "out", "--force"], tmp_path)
    assert forced.returncode == 0 and "edited by hand" not in project.read_text()


def test_never_writes_through_a_symlink(tmp_path: Path) -> None:
    shutil.copy(GOLDEN / "routes" / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
    done = run_import(["compose.yaml", "--out", "out"], tmp_path)
    assert done.returncode == 1 and "E0903" in done.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
