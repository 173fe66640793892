"""Issue 9, defect 2: the output tree is written only through `mora.output`, which never follows a
symlink below `--out` and removes exactly the stale files an earlier compile recorded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mora import output
from tests.cli import run_mora

SOURCE = """project p
secret db = password(length: 20)
service {name} {{
  image = "docker.io/library/postgres:16"
  environment {{ POSTGRES_PASSWORD = secret.db }}
}}
"""


def _project(tmp_path: Path, *names: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    text = SOURCE.format(name=names[0]) + "".join(
        SOURCE.format(name=n).split("\n", 2)[2] for n in names[1:]
    )
    (project / "main.mora").write_text(text)
    return project


def _compile(tmp_path: Path, project: Path, out: Path) -> tuple[int, str]:
    env = dict(os.environ, MORA_SECRETS_KEY="", XDG_DATA_HOME=str(tmp_path / "data"))
    proc = run_mora(
        [
            "compile",
            str(project),
            "--domain",
            "example.org",
            "--out",
            str(out),
            "--secrets",
            str(tmp_path / "site.secrets"),
        ],
        cwd=tmp_path,
        env=env,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "link",
    [
        "kubernetes/db",
        "podman/secrets",
        "quadlet",
        "manifest.json",
        "kubernetes/db/secret.yaml",
        "",
    ],
)
def test_a_symlink_below_out_is_never_written_through(tmp_path: Path, link: str) -> None:
    project = _project(tmp_path, "db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "build"
    code, text = _compile(tmp_path, project, out)  # a clean compile first: the real layout
    assert code == 0, text
    planted = out / link if link else out
    if planted.is_dir():
        os.rename(planted, tmp_path / "moved")
    else:
        planted.unlink()
    target = elsewhere / "file" if "." in planted.name else elsewhere
    planted.symlink_to(target)
    code, text = _compile(tmp_path, project, out)
    assert code == 1 and "E0508" in text and "internal error" not in text, text
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_in_a_relative_out_path_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, "db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "build").symlink_to(elsewhere)  # committed by the project, say
    code, text = _compile(tmp_path, project, Path("build/site"))
    assert code == 1 and "E0508" in text, text
    assert list(elsewhere.iterdir()) == []


def test_stale_files_go_and_yours_stay(tmp_path: Path) -> None:
    project = _project(tmp_path, "db", "cache")
    out = tmp_path / "build"
    assert _compile(tmp_path, project, out)[0] == 0
    record = json.loads((out / output.RECORD).read_text())
    cache_files = [
        out / rel for paths in record["targets"].values() for rel in paths if "cache" in rel
    ]
    assert len(cache_files) >= 3 and all(p.exists() for p in cache_files)
    mine = out / "quadlet" / "local" / "p-cache.container.d" / "override.conf"
    mine.parent.mkdir(parents=True)
    mine.write_text("[Service]\nTimeoutStartSec=60\n")
    _project(tmp_path, "db")  # the `cache` service is removed
    assert _compile(tmp_path, project, out)[0] == 0
    assert [p for p in cache_files if p.exists()] == []
    assert mine.exists()
    assert (out / "kubernetes" / "db").is_dir()


def test_a_forged_record_deletes_nothing_outside_its_target(tmp_path: Path) -> None:
    out = tmp_path / "build"
    (out / "kubernetes").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    notes = out / "notes.txt"
    notes.write_text("keep me")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "x.yaml").write_text("keep me")
    (out / "kubernetes" / "via").symlink_to(linked)
    forged = [
        "../victim.txt",
        "kubernetes/../../victim.txt",
        str(victim),
        "notes.txt",
        "kubernetes/via/x.yaml",
        "podman/../notes.txt",
    ]
    (out / output.RECORD).write_text(json.dumps({"format": 1, "targets": {"kubernetes": forged}}))
    written = [output.write_file(out, "kubernetes/a.yaml", "a: 1\n")]
    output.finish_target(out, "kubernetes", written)
    assert victim.exists() and notes.exists() and (linked / "x.yaml").exists()
    assert json.loads((out / output.RECORD).read_text())["targets"]["kubernetes"] == [
        "kubernetes/a.yaml"
    ]


def test_paths_that_leave_the_tree_are_refused(tmp_path: Path) -> None:
    for rel in ("../x", "/etc/x", "a/../../x", "a/\x00b", ""):
        with pytest.raises(ValueError):
            output.write_file(tmp_path, rel, "x")


def test_files_are_atomic_and_secret_files_private_and_one_sync_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"fsync": 0, "sync": 0}
    real_fsync, real_sync = os.fsync, os.sync

    def fsync(fd: int) -> None:
        calls["fsync"] += 1
        real_fsync(fd)

    def sync() -> None:
        calls["sync"] += 1
        real_sync()

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "sync", sync)
    for i in range(50):
        output.write_file(tmp_path, f"d/f{i}", "x", 0o600 if i % 2 else 0o644)
    assert calls == {"fsync": 0, "sync": 0}
    output.sync()
    output.sync()  # nothing new written: no second flush
    assert calls == {"fsync": 0, "sync": 1}
    assert (tmp_path / "d" / "f1").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "d" / "f0").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "d").iterdir())[:2] == ["f0", "f1"]
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".")]
    before = (tmp_path / "d" / "f0").stat().st_mtime_ns
    output.write_file(tmp_path, "d/f0", "x", 0o644)  # unchanged: not rewritten
    assert (tmp_path / "d" / "f0").stat().st_mtime_ns == before


@pytest.mark.parametrize("spelling", ["{link}/", "{link}/.", "{link}//"])
def test_a_text_output_folder_that_is_a_symlink_is_refused_however_spelled(
    tmp_path: Path, spelling: str
) -> None:
    """A trailing `/` or `/.` made `os.open(O_NOFOLLOW)` follow the link (a `Path` normalised
    it away, so the library's text paths must be normalised too)."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(output.UnsafeOutput):
        output.write_file(spelling.format(link=tmp_path / "link"), "x/y.txt", "hi")
    assert list(real.iterdir()) == []


def test_an_output_folder_of_dot_names_its_files_as_pathlib_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out .`: `kubernetes/x.yaml`, not `./kubernetes/x.yaml` (what the messages print and
    the record lists, as with a `Path`)."""
    monkeypatch.chdir(tmp_path)
    written = output.write_file(".", "kubernetes/x.yaml", "a: 1\n")
    assert written == "kubernetes/x.yaml" == str(Path(".") / "kubernetes/x.yaml")
    output.finish_target(".", "kubernetes", [written])
    record = json.loads((tmp_path / output.RECORD).read_text())
    assert record["targets"]["kubernetes"] == ["kubernetes/x.yaml"]
