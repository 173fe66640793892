"""Writing many files costs few system calls, with every guarantee of `mora.output` kept.

A compile of 1,000 services writes 10,000 files, most into folders it has just made. There is
nothing to compare with or replace in such a folder (no `stat`, no read, no temporary name and no
rename), a file is created with its final mode when the umask allows (no `fchmod`), and a
temporary name needs no random bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mora import output


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _count(monkeypatch: pytest.MonkeyPatch, *names: str) -> dict[str, int]:
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(os, name)

        def counted(*args: object, _real: object = real, _name: str = name, **kw: object) -> object:
            if _name != "stat" or "dir_fd" in kw:  # a file's stat (not the session's checks)
                calls[_name] += 1
            return _real(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(os, name, counted)
    return calls


def test_a_fresh_folder_costs_no_stat_and_no_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: None
) -> None:
    calls = _count(monkeypatch, "stat", "fchmod")
    with output.session():
        for i in range(20):
            output.write_file(
                tmp_path, f"kubernetes/app/f{i}.yaml", "x\n", 0o600 if i % 2 else 0o644
            )
    assert calls == {"stat": 0, "fchmod": 0}
    assert (tmp_path / "kubernetes" / "app" / "f1.yaml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "kubernetes" / "app" / "f0.yaml").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in (tmp_path / "kubernetes" / "app").iterdir()) == sorted(
        f"f{i}.yaml" for i in range(20)
    )


def test_modes_are_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        with output.session():
            for mode in (0o644, 0o600, 0o755, 0o640):
                output.write_file(tmp_path, f"d/m{mode:o}", "x", mode)
    finally:
        os.umask(old)
    for mode in (0o644, 0o600, 0o755, 0o640):
        assert (tmp_path / "d" / f"m{mode:o}").stat().st_mode & 0o777 == mode


def test_secret_files_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: None
) -> None:
    created: list[int] = []
    real_open = os.open

    def recording_open(path: str, flags: int, mode: int = 0o777, **kw: object) -> int:
        if flags & os.O_CREAT:
            created.append(mode)
        return real_open(path, flags, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", recording_open)
    with output.session():
        output.write_file(tmp_path, "k/secret.yaml", "token: x\n", 0o600)
        output.write_file(tmp_path, "k/run.sh", "#!/bin/sh\n", 0o755)  # group-executable later
    assert created == [0o600, 0o600]
    assert (tmp_path / "k" / "run.sh").stat().st_mode & 0o777 == 0o755


def test_unchanged_files_in_an_existing_folder_stay_untouched(tmp_path: Path) -> None:
    output.write_file(tmp_path, "q/a.container", "x\n")
    before = (tmp_path / "q" / "a.container").stat().st_mtime_ns
    with output.session():  # the folder exists: compared, and left alone
        output.write_file(tmp_path, "q/a.container", "x\n")
        output.write_file(tmp_path, "q/b.container", "y\n")
    assert (tmp_path / "q" / "a.container").stat().st_mtime_ns == before
    assert (tmp_path / "q" / "b.container").read_text() == "y\n"


def test_a_symlink_planted_in_a_fresh_folder_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    out = tmp_path / "out"
    with output.session():
        output.write_file(out, "k/app/first.yaml", "a\n")
        (out / "k" / "app" / "second.yaml").symlink_to(victim)
        output.write_file(out, "k/app/second.yaml", "b\n")
    assert victim.read_text() == "keep\n"
    second = out / "k" / "app" / "second.yaml"
    assert not second.is_symlink() and second.read_text() == "b\n"


def test_no_temporary_file_is_left(tmp_path: Path) -> None:
    with output.session():
        for i in range(30):
            output.write_file(tmp_path, f"p/{i}/f", str(i))
    assert not [p for p in tmp_path.rglob(".*")]


def test_file_contents_are_written_with_plain_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No buffered file object (its isatty ioctl, fstat and lseek); the bytes are exact."""

    def no_file_object(*args: object, **kwargs: object) -> object:
        raise AssertionError("os.fdopen called")

    monkeypatch.setattr(os, "fdopen", no_file_object)
    text = "".join(f"line {i}: ü€😀\n" for i in range(50_000))  # about 1 MiB, multi-byte
    with output.session():
        output.write_file(tmp_path, "big/a.txt", text)
    output.write_file(tmp_path, "big/b.txt", "")  # an existing folder, an empty file
    assert (tmp_path / "big" / "a.txt").read_bytes() == text.encode("utf-8")
    assert (tmp_path / "big" / "b.txt").read_bytes() == b""


def test_temporary_names_ask_the_process_id_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One `getpid` system call for a compile's files, not one a file; a forked child asks again."""
    calls = _count(monkeypatch, "getpid")
    output._forget_pid()
    (tmp_path / "q").mkdir()  # an existing folder: files go through temporary names there
    with output.session():
        for i in range(20):
            output.write_file(tmp_path, f"q/f{i}", str(i))
    assert calls == {"getpid": 1}
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == sorted(f"f{i}" for i in range(20))
    pid = os.fork()
    if pid == 0:  # the child: its own id in its temporary names
        code = 0 if output._pid is None else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_fresh_folder_gets_its_files_without_temporary_names_or_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: None
) -> None:
    """Nothing was there to replace: create, write, close (three system calls a file, not four)."""
    calls = _count(monkeypatch, "replace", "rename", "getpid")
    created: list[str] = []
    real_open = os.open

    def recording_open(path: str, flags: int, mode: int = 0o777, **kw: object) -> int:
        if flags & os.O_CREAT:
            assert flags & os.O_EXCL and flags & os.O_NOFOLLOW
            created.append(path)
        return real_open(path, flags, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", recording_open)
    output._forget_pid()
    with output.session():
        for i in range(10):
            output.write_file(tmp_path, f"k/app/f{i}.yaml", f"{i}\n", 0o600 if i % 2 else 0o644)
        output.write_chunks(tmp_path, "k/app/m.json", iter(["{", "}"]))
    assert calls == {"replace": 0, "rename": 0, "getpid": 0}
    assert created == [*(f"f{i}.yaml" for i in range(10)), "m.json"]
    app = tmp_path / "k" / "app"
    assert sorted(p.name for p in app.iterdir()) == sorted(created)
    assert all((app / f"f{i}.yaml").read_text() == f"{i}\n" for i in range(10))
    assert [(app / f"f{i}.yaml").stat().st_mode & 0o777 for i in range(2)] == [0o644, 0o600]
    assert (app / "m.json").read_text() == "{}"


def test_a_failed_write_in_a_fresh_folder_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is created under its own name there: a failure while filling it removes it."""

    def failing(fd: int, data: bytes) -> None:
        os.write(fd, data[:2])
        os.close(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output, "_write_all", failing)
    with output.session(), pytest.raises(OSError, match="No space"):
        output.write_file(tmp_path, "k/app/a.yaml", "abcdef\n")
    assert list((tmp_path / "k" / "app").iterdir()) == []


def test_the_umask_is_read_without_a_text_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/proc/self/status is read with plain reads (no codec, no buffered file object)."""
    import builtins

    def no_open(*args: object, **kwargs: object) -> object:
        raise AssertionError("open() called")

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(builtins, "open", no_open)
        monkeypatch.setattr(os, "umask", no_open)  # read from /proc, not set and put back
        with output.session():
            assert output._process_umask() == 0o027
    finally:
        monkeypatch.undo()
        os.umask(old)


@pytest.mark.parametrize("out", ["build", ".", "/", "/tmp/o", "a/b", "build/../x"])
@pytest.mark.parametrize("rel", ["manifest.json", "kubernetes/app/d.yaml", "q/.hidden"])
def test_the_record_lists_the_paths_relative_to_the_output_directory(out: str, rel: str) -> None:
    """The record's paths are cut from the text of the written path: what `relative_to` gives."""
    from pathlib import PurePosixPath

    base = Path(out)
    path = base.joinpath(*rel.split("/"))
    expected = PurePosixPath(path.relative_to(base)).as_posix()
    assert output._relative(base, path) == expected == rel
    with pytest.raises(ValueError):
        output._relative(Path("/elsewhere"), Path("/tmp/o/x"))


def test_an_existing_file_is_compared_with_one_plain_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recompile into an existing output: each file is stat-ed, opened, read once and closed
    (no buffered file object: no fstat, isatty ioctl, lseek or second read); an unchanged file
    keeps its modification time, a changed one of the same size or longer is replaced."""
    texts = {f"q/f{i}.yaml": f"value {i}\n" for i in range(10)}
    for rel, text in texts.items():
        output.write_file(tmp_path, rel, text)
    before = {rel: (tmp_path / rel).stat().st_mtime_ns for rel in texts}

    def no_file_object(*args: object, **kwargs: object) -> object:
        raise AssertionError("os.fdopen called")

    monkeypatch.setattr(os, "fdopen", no_file_object)
    calls = _count(monkeypatch, "read")
    with output.session():
        for rel, text in texts.items():
            output.write_file(tmp_path, rel, text)
    assert calls == {"read": 10}
    assert {rel: (tmp_path / rel).stat().st_mtime_ns for rel in texts} == before
    with output.session():
        output.write_file(tmp_path, "q/f0.yaml", "VALUE 0\n")  # same size, other bytes
        output.write_file(tmp_path, "q/f1.yaml", "value 1\nand more\n")  # longer
        output.write_file(tmp_path, "q/f2.yaml", "value 2")  # shorter
    assert [(tmp_path / f"q/f{i}.yaml").read_text() for i in range(3)] == [
        "VALUE 0\n",
        "value 1\nand more\n",
        "value 2",
    ]


@pytest.mark.parametrize("out", ["build", "a/b", "/tmp/o"])
def test_the_returned_path_is_out_joined_with_the_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """In a session a file's `Path` is made from its folder's, once per folder: the same path
    `joinpath` gives, for files at the top, in one folder and in nested ones."""
    monkeypatch.chdir(tmp_path)
    base = tmp_path / out.lstrip("/") if out.startswith("/") else Path(out)
    rels = ["manifest.json", "k/a.yaml", "k/b.yaml", "k/app/c.yaml", "q/.hidden", "k/a.yaml"]
    with output.session():
        got = [output.write_file(base, rel, rel) for rel in rels]
    assert got == [base.joinpath(*rel.split("/")) for rel in rels]
    assert [str(p) for p in got] == [os.path.join(str(base), rel) for rel in rels]
    assert all(p.read_text() == rel for p, rel in zip(got, rels, strict=True))


@pytest.mark.parametrize("out", ["build", "a/b", "absolute"])
def test_a_text_output_folder_gives_text_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """`mora compile` gives the output folder as text (no pathlib at start-up): the paths come
    back as text, `os.path.join` of the folder and the names, in a session and outside one,
    and the record lists them as it lists a `Path` folder's."""
    monkeypatch.chdir(tmp_path)
    base = str(tmp_path / "abs") if out == "absolute" else out
    rels = ["manifest.json", "k/a.yaml", "k/b.yaml", "k/app/c.yaml", "q/.hidden", "k/a.yaml"]
    with output.session():
        got = [output.write_file(base, rel, rel) for rel in rels]
    got.append(output.write_file(base, "k/d.yaml", "k/d.yaml"))
    got.append(output.write_chunks(base, "k/e.yaml", iter(["k/e", ".yaml"])))
    rels += ["k/d.yaml", "k/e.yaml"]
    assert all(type(p) is str for p in got)
    assert got == [os.path.join(base, rel) for rel in rels]
    assert all(Path(p).read_text() == rel for p, rel in zip(got, rels, strict=True))
    output.finish_target(base, "k", sorted({p for p in got if "/k/" in p}))
    record = json.loads(Path(base, output.RECORD).read_text())
    assert record["targets"]["k"] == [
        "k/a.yaml",
        "k/app/c.yaml",
        "k/b.yaml",
        "k/d.yaml",
        "k/e.yaml",
    ]
