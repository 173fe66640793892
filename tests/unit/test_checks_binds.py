"""Bind host paths reach systemd's `RequiresMountsFor=` intact (issue 9, defect 7).

quadlet copies a `Volume=` host path verbatim into `RequiresMountsFor=`, a space-separated list
that systemd unquotes and unescapes, after joining a line that ends in `\\`: `/srv/a\\` swallowed
the next mount dependency and `/srv/my dir` became `/srv/my` and `dir`. mora now writes such
paths itself, quoted (`mounts_for`), and passes the mount as a `PodmanArgs=--volume=` word.

The golden folder tests/backends/quadlet/bind-paths holds the units; here the real quadlet
generator and `systemd-analyze verify` show that every host path is one mount dependency (a
marker mount unit beside the service is loaded for exactly that path) and one podman argument.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mora.backends.systemd import UnitValueError, mounts_for, plain_mount_path
from tests.backends.test_quadlet import (
    GOLDEN,
    build,
    resolve_word,
    split_words,
    verify_problems,
    write_targets,
)
from tests.toolchain import quadlet as quadlet_binary
from tests.toolchain import systemd_analyze

CASE = GOLDEN / "bind-paths"
MARKER = "MoraMarker"


@pytest.mark.parametrize(
    ("path", "word"),
    [
        ("/srv/ok", "/srv/ok"),
        ("/srv/p%h", "/srv/p%%h"),
        ("/srv/a\\", '"/srv/a\\\\"'),
        ("/srv/my dir", '"/srv/my dir"'),
        ("/srv/q'x", '"/srv/q\'x"'),
        ('/srv/q"x', '"/srv/q\\"x"'),
        ("/srv/d$x", '"/srv/d$x"'),
    ],
)
def test_mounts_for_words(path: str, word: str) -> None:
    assert mounts_for(path) == word
    assert plain_mount_path(path) == (word.lstrip('"') == word)


def test_mounts_for_refuses_control_characters() -> None:
    with pytest.raises(UnitValueError):
        mounts_for("/srv/a\nRequiresMountsFor=/x")


@pytest.mark.slow
def test_every_host_path_is_one_mount_dependency(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    compiled = build(CASE / "input", site=CASE / "site.yaml")
    binds = {m.path: m.host_path for m in compiled.manifest.services["web"].volumes}
    assert len(binds) == 9
    write_targets(compiled, tmp_path / "out", targets=("quadlet",))
    gen = tmp_path / "gen"
    gen.mkdir()
    env = {**os.environ, "QUADLET_UNIT_DIRS": str((tmp_path / "out/quadlet/local").resolve())}
    proc = subprocess.run(
        [str(quadlet_binary()), "-no-kmsg-log", str(gen)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    service = gen / "binds-web.service"
    # Each host path gets a mount unit of its own name (systemd's escaping) with an unknown key:
    # systemd loads it, and so names it, only when the service requires mounts for that path.
    for host_path in binds.values():
        assert host_path is not None
        escaped = subprocess.run(
            ["systemd-escape", "--path", "--suffix=mount", host_path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (gen / escaped).write_text(f"[Mount]\nWhat=tmpfs\nType=tmpfs\n{MARKER}=1\n")
    verify = subprocess.run(
        [str(analyze), "verify", service.name],
        cwd=gen,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = verify.stderr + verify.stdout
    loaded = sorted(line for line in output.splitlines() if f"Unknown key '{MARKER}'" in line)
    assert len(loaded) == len(binds), output
    others = "\n".join(line for line in output.splitlines() if line not in loaded)
    assert verify.returncode == 0 and not verify_problems(others, [service.name]), output

    exec_start = next(
        line for line in service.read_text().splitlines() if line.startswith("ExecStart=")
    )
    argv = [resolve_word(w) if "%t/%N" not in w else w for w in split_words(exec_start[10:])]
    volumes = [argv[i + 1] for i, w in enumerate(argv) if w == "-v"]
    volumes += [w.removeprefix("--volume=") for w in argv if w.startswith("--volume=")]
    expected = [f"{host}:{path}" for path, host in binds.items()]
    expected = [v + (":ro" if v.endswith(":/c") else "") for v in expected]
    assert sorted(volumes) == sorted(expected)
