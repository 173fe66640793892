"""Issue 9, defect 1: a shared project is untrusted, so what it can make mora read is confined.

Every test runs the real CLI and looks at both output formats: a secret-looking text that lives
outside the project (or in a file that is not mora source) must never reach stdout or stderr.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli import run_mora

FAKE_KEY = "MORA-FAKE-KEY-5f3a9c"
SERVICE = 'service web {\n  image = "docker.io/library/nginx:1.27"\n}\n'


def _check(project: Path, cwd: Path) -> list[tuple[str, str, str, int]]:
    """`mora check` in both formats with a fake key in the environment: (fmt, out, err, code)."""
    env = dict(os.environ, MORA_SECRETS_KEY=FAKE_KEY, MORA_NO_CACHE="1")
    runs = []
    for fmt in ("text", "json"):
        proc = run_mora(["check", "--format", fmt, str(project)], cwd=cwd, env=env)
        runs.append((fmt, proc.stdout, proc.stderr, proc.returncode))
    return runs


def _codes(json_out: str) -> list[str]:
    return [d["code"] for d in json.loads(json_out)["diagnostics"]]


def _project(tmp_path: Path, source: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.mora").write_text("project p\n" + source + SERVICE)
    return project


def _assert_refused(runs: list[tuple[str, str, str, int]], code: str, *hidden: str) -> None:
    for fmt, out, err, rc in runs:
        assert rc == 1, (fmt, err)
        assert "internal error" not in err
        for text in (FAKE_KEY, *hidden):
            assert text not in out and text not in err, (fmt, text)
        if fmt == "json":
            assert code in _codes(out)


def test_proc_self_environ_is_refused_and_never_printed(tmp_path: Path) -> None:
    project = _project(tmp_path, 'import "/proc/self/environ"\n')
    _assert_refused(_check(project, tmp_path), "E0104", "PATH=")


def test_etc_passwd_is_refused_and_never_printed(tmp_path: Path) -> None:
    project = _project(tmp_path, 'import "/etc/passwd"\nimport "../../../../../../../etc/passwd"\n')
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0104", "root:")
    assert _codes(runs[1][1]) == ["E0104", "E0104"]


def test_a_dot_dot_escape_is_refused_without_reading(tmp_path: Path) -> None:
    (tmp_path / "private.mora").write_text(f"token {FAKE_KEY} oops\n")
    project = _project(tmp_path, 'import "../private.mora"\nimport "../private"\n')
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0104")
    assert "main.mora:2:8" in runs[0][2]  # the import's own span


def test_symlinks_out_of_the_project_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.mora").write_text(f"{FAKE_KEY} is not mora\n")
    project = _project(tmp_path, 'import "./linkdir"\nimport "./linked.mora"\n')
    (project / "linkdir").symlink_to(outside)
    (project / "linked.mora").symlink_to(outside / "leak.mora")  # also found by the glob
    (project / "env.mora").symlink_to("/proc/self/environ")
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0104", "PATH=")
    assert _codes(runs[1][1]).count("E0104") == 4


def test_a_symlink_inside_the_project_is_followed(tmp_path: Path) -> None:
    project = _project(tmp_path, 'import "./lib"\n')
    (project / "real").mkdir()
    (project / "real" / "x.mora").write_text('param x: string = "a"\n')
    (project / "lib").symlink_to(project / "real")
    proc = run_mora(["check", str(project)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_a_file_that_is_not_text_is_never_quoted(tmp_path: Path) -> None:
    """Named explicitly (the user's choice), /proc/self/environ is read but, with its NUL
    separators, refused as not mora source: nothing of it is shown."""
    runs = _check(Path("/proc/self/environ"), tmp_path)
    _assert_refused(runs, "E0007", "PATH=")
    project = _project(tmp_path, "")
    (project / "bin.mora").write_bytes(
        b'param x: string = "' + FAKE_KEY.encode() + b'\x1b]0;\x07"\n'
    )
    (project / "latin1.mora").write_bytes(b"# \xe9 " + FAKE_KEY.encode() + b"\n")
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0007")
    assert sorted(_codes(runs[1][1])) == ["E0006", "E0007"]


def test_special_and_huge_files_are_never_read(tmp_path: Path) -> None:
    project = _project(tmp_path, 'import "./big.mora"\nimport "./notes.txt"\n')
    os.mkfifo(project / "pipe.mora")  # opening it for reading would block forever
    (project / "big.mora").write_text("# " + "x" * (1024 * 1024) + "\n")
    (project / "notes.txt").write_text(f"{FAKE_KEY}\n")
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0105")
    assert sorted(_codes(runs[1][1])) == ["E0105", "E0105", "E0105"]


def test_projects_of_one_git_work_tree_may_import_each_other(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "shared").mkdir()
    (repo / "shared" / "common.mora").write_text('param c: string = "x"\n')
    (tmp_path / "private.mora").write_text(f"{FAKE_KEY}\n")
    project = repo / "proj"
    project.mkdir()
    (project / "main.mora").write_text('project p\nimport "../shared/common.mora"\n' + SERVICE)
    assert run_mora(["check", str(project)], cwd=tmp_path).returncode == 0
    (project / "main.mora").write_text('project p\nimport "../../private.mora"\n' + SERVICE)
    _assert_refused(_check(project, tmp_path), "E0104")


@pytest.mark.parametrize(
    ("path", "word"),
    [("./a\\0b.mora", "NUL"), ("./" + "n" * 300 + ".mora", "longer than 255")],
)
def test_unusable_import_paths_are_diagnostics(tmp_path: Path, path: str, word: str) -> None:
    project = _project(tmp_path, f'import "{path}"\n')
    proc = run_mora(["check", str(project)], cwd=tmp_path)
    assert proc.returncode == 1 and "E0105" in proc.stderr and word in proc.stderr, proc.stderr


def test_a_symlink_loop_in_the_project_folder_is_a_diagnostic(tmp_path: Path) -> None:
    """A `*.mora` symlink loop committed to a project was an internal error (the loader's
    resolve raised); it is refused like any unusable file, and the rest is checked."""
    project = _project(tmp_path, "")
    (project / "loop.mora").symlink_to(project / "loop.mora")
    runs = _check(project, tmp_path)
    _assert_refused(runs, "E0105")
    assert "`proj/loop.mora` is a symlink loop" in runs[0][2]


def test_a_gitdir_file_naming_no_folder_is_no_git_work_tree(tmp_path: Path) -> None:
    """A project's `.git` file holding only `gitdir:` made the store's project identity raise
    IndexError; it names no repository, so the project has no Git identity."""
    from mora.secrets.identity import project_identity

    project = tmp_path / "proj"
    project.mkdir()
    (project / ".git").write_text("gitdir:\n")
    identity = project_identity(str(project))
    assert identity.path == str(project.resolve())
    assert identity.origin is None
