"""`mora fmt`: the layout (golden cases) and the command (in place, --check, --diff, stdin,
syntax errors), run as a user runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mora.fmt import format_source
from tests.cli import run_mora

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"
CASES = sorted(p.stem for p in GOLDEN.glob("*.mora"))


@pytest.mark.parametrize("name", CASES)
def test_golden_layout(name: str) -> None:
    source = (GOLDEN / f"{name}.mora").read_text()
    result = format_source(source, f"{name}.mora")
    assert result.text is not None
    expected = GOLDEN / f"{name}.expected"
    if UPDATE:
        expected.write_text(result.text)
    assert result.text == expected.read_text()
    assert format_source(result.text).text == result.text


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 2


UGLY = 'service web {\nimage="nginx:1"   # the image\nports {http=80}\n}\n'
PRETTY = 'service web {\n  image = "nginx:1"  # the image\n  ports { http = 80 }\n}\n'


def test_fmt_rewrites_in_place_and_keeps_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.mora"
    path.write_text(UGLY)
    path.chmod(0o640)
    done = run_mora(["fmt", str(tmp_path)])
    assert done.returncode == 0, done.stderr
    assert path.read_text() == PRETTY
    assert path.stat().st_mode & 0o777 == 0o640
    assert "reformatted" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["a.mora"]  # no temporary file left
    again = run_mora(["fmt", "--check", str(path)])
    assert again.returncode == 0 and again.stdout == ""


def test_check_names_files_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.mora").write_text(UGLY)
    (tmp_path / "b.mora").write_text(PRETTY)
    done = run_mora(["fmt", "--check", "."], cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == "would reformat a.mora\n"
    assert (tmp_path / "a.mora").read_text() == UGLY


def test_diff_prints_a_unified_diff(tmp_path: Path) -> None:
    (tmp_path / "a.mora").write_text(UGLY)
    done = run_mora(["fmt", "--diff", "a.mora"], cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("--- a.mora (original)\n+++ a.mora (formatted)\n@@")
    assert (
        '-image="nginx:1"   # the image\n-ports {http=80}\n+  image = "nginx:1"  # the image\n'
        in done.stdout
    )
    assert (tmp_path / "a.mora").read_text() == UGLY
    checked = run_mora(["fmt", "--diff", "--check", "a.mora"], cwd=tmp_path)
    assert checked.returncode == 1 and checked.stdout == done.stdout


def test_a_file_that_does_not_parse_is_reported_and_left_alone(tmp_path: Path) -> None:
    broken = "service web {\n  image = \n"
    (tmp_path / "bad.mora").write_text(broken)
    (tmp_path / "good.mora").write_text(UGLY)
    done = run_mora(["fmt", "."], cwd=tmp_path)
    assert done.returncode == 1
    assert "error[E0001]: unexpected end of file" in done.stderr
    assert "--> bad.mora:2" in done.stderr
    assert (tmp_path / "bad.mora").read_text() == broken
    assert (tmp_path / "good.mora").read_text() == PRETTY


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "latin1.mora").write_bytes(b"project caf\xe9\n")
    done = run_mora(["fmt", "."], cwd=tmp_path)
    assert done.returncode == 1
    assert "E0006" in done.stderr
    assert (tmp_path / "latin1.mora").read_bytes() == b"project caf\xe9\n"


def test_stdin_to_stdout() -> None:
    done = run_mora(["fmt", "-"], stdin=UGLY)
    assert done.returncode == 0
    assert done.stdout == PRETTY


def test_hidden_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".mora").mkdir()
    (tmp_path / ".mora" / "x.mora").write_text(UGLY)
    done = run_mora(["fmt", "--check", "."], cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""


def test_pre_commit_hooks_name_real_commands(tmp_path: Path) -> None:
    """Each hook's entry, run the way pre-commit runs it, works on a formatted file."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    hooks = {h["id"]: h for h in yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())}
    assert {"mora-fmt", "mora-check"} <= set(hooks)
    (tmp_path / "a.mora").write_text(PRETTY)
    for hook in hooks.values():
        assert hook["files"] == r"\.mora$"
        command, *args = hook["entry"].split()
        assert command == "mora"
        files = [] if hook.get("pass_filenames") is False else ["a.mora"]
        done = run_mora([*args, *files], cwd=tmp_path)
        assert done.returncode == 0, (hook["id"], done.stderr)


def test_require_and_moved_declarations_are_formatted() -> None:
    """`require` and `moved` (issue 17) print in one layout; they once raised TypeError."""
    source = (
        'project x\nrequire   media = "github.com/a/b//c"   version "v1.2.0"  # pin\n'
        'require stdlib version "v0.3.0"\n\n\nmoved  db->mediadb\n'
    )
    result = format_source(source)
    assert result.text == (
        'project x\nrequire media = "github.com/a/b//c" version "v1.2.0"  # pin\n'
        'require stdlib version "v0.3.0"\n\nmoved db -> mediadb\n'
    )


def test_the_repository_is_formatted() -> None:
    """The stdlib and the projects are in the canonical layout (CI fails on a file that is not:
    run `mora fmt stdlib projects`)."""
    root = Path(__file__).resolve().parents[2]
    done = run_mora(["fmt", "--check", "stdlib", "projects"], cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
