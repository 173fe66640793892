"""Bind mounts on podman (issue 10): a missing host directory is created with the right owner, or
the deploy stops before its first container with a message naming the path.

- quadlet: `tmpfiles.d/<project>.conf` is applied by the real systemd-tmpfiles (`--root`, so
  nothing outside the test's folder is touched): every path exactly, owner and mode only on a
  directory it creates.
- podman script: run for real with podman; a created directory belongs to the service's user and
  the container writes it; a missing read-only bind, or a path that cannot be created, stops
  run.sh with the path named and no container started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from mora.backends._podman_binds import tmpfiles_conf
from tests.backends.test_podman import _cleanup, _podman
from tests.backends.test_quadlet import GOLDEN, build, with_podman, write_targets
from tests.toolchain import BUSYBOX_IMAGE, missing, podman_env


def _tmpfiles() -> str:
    found = shutil.which("systemd-tmpfiles")
    if found is None:
        missing("systemd-tmpfiles (Debian's systemd)")
    return found


def _apply(conf: Path, root: Path) -> None:
    proc = subprocess.run(
        [_tmpfiles(), "--create", f"--root={root}", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_tmpfiles_creates_every_path_exactly(tmp_path: Path) -> None:
    """Spaces, backslashes, quotes, `$` and `%` reach systemd-tmpfiles as the same path."""
    case = GOLDEN / "bind-paths"
    compiled = build(case / "input", site=case / "site.yaml")
    write_targets(compiled, tmp_path / "out", targets=("quadlet",))
    conf = tmp_path / "out" / "quadlet" / "local" / "tmpfiles.d" / "binds.conf"
    root = tmp_path / "root"
    root.mkdir()
    _apply(conf, root)
    made = sorted("/" + str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())
    wanted = [m.host_path for m in compiled.manifest.services["web"].volumes if not m.readonly]
    assert [p for p in made if p in wanted] == sorted(wanted)  # type: ignore[type-var]
    assert not (root / "srv" / "p%h").exists()  # read-only: nothing to create


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root (CI runs as root)")
def test_tmpfiles_owner_only_for_a_new_directory(tmp_path: Path) -> None:
    src = tmp_path / "project"
    src.mkdir()
    (src / "main.mora").write_text(
        'project own\nservice web {\n  image = "docker.io/library/nginx:1.27"\n'
        '  user = "33:44"\n  volumes {\n    "/new" = bind("/srv/new")\n'
        '    "/old" = bind("/srv/old")\n  }\n}\n'
    )
    compiled = build(src, domain="example.org")
    write_targets(compiled, tmp_path / "out", targets=("quadlet",))
    conf = tmp_path / "out" / "quadlet" / "local" / "tmpfiles.d" / "own.conf"
    assert "d /srv/new :0755 :33 :44 -" in conf.read_text().splitlines()
    root = tmp_path / "root"
    (root / "srv" / "old").mkdir(parents=True)
    os.chmod(root / "srv" / "old", 0o700)
    _apply(conf, root)
    new, old = (root / "srv" / "new").stat(), (root / "srv" / "old").stat()
    assert (new.st_uid, new.st_gid, new.st_mode & 0o777) == (33, 44, 0o755)
    assert (old.st_uid, old.st_gid, old.st_mode & 0o777) == (0, 0, 0o700)  # left as it was


def test_rootless_tmpfiles_leave_the_owner_to_podman_unshare() -> None:
    from mora.backends._podman_binds import BindDir

    text = tmpfiles_conf("p", "h", [BindDir("/srv/a", (33, 33), False, ("web",))], rootless=True)
    assert text is not None
    assert "d /srv/a :0755 - - -" in text.splitlines()
    assert "podman unshare chown 33:33" in text
    assert tmpfiles_conf("p", "h", [BindDir("/srv/a", None, True, ("web",))], False) is None


# --- the podman script, for real ----------------------------------------------------------------

PROJECT = """\
project {name}

service first {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "exec sleep 600"]
}}

service web {{
  image = "{image}"
  user = "65534:65534"
  command = ["sh", "-c", "echo written > /data/file; exec sleep 600"]
  volumes {{
    "/data" = bind("{data}")
    {extra}
  }}
  depends_on = [first]
}}
"""


def _project(tmp_path: Path, data: Path, extra: str = "") -> tuple[str, Path]:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    name = f"morabind{secrets.token_hex(4)}"
    src = tmp_path / "project"
    src.mkdir()
    text = PROJECT.format(name=name, image=BUSYBOX_IMAGE, data=data, extra=extra)
    (src / "main.mora").write_text(text)
    compiled = with_podman(build(src, domain="example.org"), proxy=False)
    out = tmp_path / "out"
    _, diags = write_targets(compiled, out, targets=("podman",))
    assert not diags.has_errors
    return name, out / "podman" / "run.sh"


def _run(script: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(script)], env=podman_env(), capture_output=True, text=True, timeout=240
    )


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman here (CI runs as root)")
def test_missing_bind_directory_is_created_for_the_service_user(tmp_path: Path) -> None:
    data = tmp_path / "host" / "data"
    name, script = _project(tmp_path, data)
    try:
        run = _run(script)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"created {data} (owner 65534:65534)" in run.stdout
        st = data.stat()
        assert (st.st_uid, st.st_gid) == (65534, 65534)
        proc = _podman(podman_env(), "exec", f"{name}-web", "cat", "/data/file")
        assert proc.stdout == "written\n", proc.stderr
    finally:
        _cleanup(podman_env(), name, [])


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["readonly", "uncreatable"])
def test_a_bad_bind_stops_before_any_container(tmp_path: Path, problem: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    if problem == "readonly":
        data, bad = tmp_path / "data", tmp_path / "media"
        extra = f'"/media" = bind("{bad}", readonly: true)'
        message = f"{bad} does not exist: it is mounted read-only"
    else:
        data = bad = blocker / "data"
        extra = ""
        message = f"cannot create {bad}, the host directory of a bind mount"
    name, script = _project(tmp_path, data, extra)
    try:
        run = _run(script)
        assert run.returncode != 0
        assert message in run.stderr
        # nothing started, not even the service that does not bind anything
        listed = _podman(podman_env(), "ps", "-a", "-q", "--filter", f"label=mora.project={name}")
        assert listed.stdout.split() == []
    finally:
        _cleanup(podman_env(), name, [])
