"""The benchmark runs (its figures are read by people, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_the_real_commands() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("group") and "peak MiB" in line for line in lines)
    commands = {" ".join(line.split()[2:4]) for line in lines if line.startswith("synthetic")}
    assert commands == {"mora check", "mora compile"}, proc.stdout


def test_generated_projects_check_clean(tmp_path: Path) -> None:
    """Both generators make projects without diagnostics (what the benchmark times is real)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from generate import GENERATORS
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from mora.api import check_project

    for name, generate in GENERATORS.items():
        project = tmp_path / name
        project.mkdir()
        for file, text in generate(14).items():
            (project / file).write_text(text)
        result = check_project(project)
        assert not list(result.diagnostics), [d.message for d in result.diagnostics]
        assert result.program is not None and len(result.program.services) == 14


def test_large_synthetic_projects_stay_under_the_file_size_limit(tmp_path: Path) -> None:
    """10,000 services in one file broke E0105's 1 MiB limit: the generator splits them."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from generate import SERVICES_PER_FILE, synthetic
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from mora.api import check_project

    files = synthetic(2 * SERVICES_PER_FILE + 1)
    assert len(files) == 3
    assert all(len(text.encode()) < 1024 * 1024 for text in files.values())
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    result = check_project(tmp_path)
    assert not list(result.diagnostics), [d.message for d in result.diagnostics][:3]
    assert result.program is not None and len(result.program.services) == 2 * SERVICES_PER_FILE + 1


def test_memory_mode_prints_each_phase_of_a_compile() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "run.py"),
            "--memory",
            "--sizes",
            "10",
            "--generators",
            "synthetic",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line}
    for phase in ("check+eval", "manifest", "kubernetes", "quadlet", "podman", "sync"):
        peak, end, cpu = (float(x) for x in rows[phase])
        assert peak >= end > 0 and cpu >= 0, proc.stdout


def test_large_realistic_projects_are_split_into_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10,000 realistic services were one 2.1 MB file (E0105): copies of the stack are split,
    each file importing the templates; small files here, checked clean."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import generate
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from mora.api import check_project

    big = generate.realistic(10_000)
    assert len(big) > 1 and all(len(t.encode()) < 1024 * 1024 for t in big.values())
    monkeypatch.setattr(generate, "STACKS_PER_FILE", 2)
    files = generate.realistic(5 * generate.STACK_SIZE)
    assert sorted(files) == ["main.mora", "stacks1.mora", "stacks2.mora"]
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    result = check_project(tmp_path)
    assert not list(result.diagnostics), [d.message for d in result.diagnostics]
    assert result.program is not None and len(result.program.services) == 35


def test_the_benchmark_starts_the_installed_script_and_falls_back_to_python_m(
    tmp_path: Path,
) -> None:
    """Users run the `mora` console script, which skips `python -m`'s runpy and importlib.util
    (~5 ms): every mora row starts it when it is installed beside the interpreter."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from run import mora_command
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = str(bin_dir / "python")
    command, note = mora_command(python)
    assert command == [python, "-m", "mora"] and note.startswith("note: no `mora` script")
    script = bin_dir / "mora"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    command, note = mora_command(python)
    assert command == [str(script)] and "installed console script" in note


def test_a_compile_and_its_peer_run_in_turn(tmp_path: Path) -> None:
    """`measure_paired` alternates the two commands (each first in turn) and empties the output
    folder before each pair of runs, so a load that changes weighs on both alike."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from run import measure_paired
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    log = tmp_path / "log"
    out = tmp_path / "out"

    def command(tag: str) -> list[str]:
        code = (
            "import os, sys; p = sys.argv[1]; o = sys.argv[2]; "
            "open(p, 'a').write(sys.argv[3] + ('+' if os.path.exists(o) else '') + ' '); "
            "sys.argv[3] == 'm' and os.makedirs(o, exist_ok=True)"  # ours makes the folder
        )
        return [sys.executable, "-c", code, str(log), str(out), tag]

    ours, theirs = measure_paired(command("m"), tmp_path, {}, out, command("p"), tmp_path, 4)
    assert log.read_text().split() == ["m", "p+", "p", "m", "m", "p+", "p", "m"]
    assert ours.cpu > 0 and theirs.cpu > 0 and ours.peak_mib > 0
