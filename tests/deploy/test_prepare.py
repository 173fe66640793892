"""The bind-folder script of `mora apply` (mora/deploy/prepare.py), run by the real `sh` here
with stand-ins for `id` and `podman` where a case needs a non-root login user: everything is
checked before the first folder is made, a folder that could not be given to its owner is
removed again, a missing read-only folder is never created."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mora.deploy.prepare import Folder, ensure
from mora.deploy.targets.base import TargetError


def stand_ins(folder: Path, podman_body: str) -> dict[str, str]:
    """`id` that says uid 1000 and a `podman` running `podman_body`; the PATH finding them."""
    folder.mkdir()
    (folder / "id").write_text("#!/bin/sh\necho 1000\n")
    (folder / "podman").write_text(f"#!/bin/sh\n{podman_body}\n")
    for name in ("id", "podman"):
        (folder / name).chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def runner(env: dict[str, str]):  # type: ignore[no-untyped-def]
    def shell(_host: str, argv: list[str]) -> tuple[int, str, str]:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
        return proc.returncode, proc.stdout, proc.stderr

    return shell


def test_a_user_who_may_not_chown_fails_before_anything_is_made(tmp_path: Path) -> None:
    env = stand_ins(tmp_path / "bin", 'echo "cannot set up namespace" >&2; exit 1')
    plain = Folder("local", str(tmp_path / "plain"), None, False, ("web",))
    owned = Folder("local", str(tmp_path / "owned"), (999, 999), False, ("db",))
    with pytest.raises(TargetError) as err:
        ensure([plain, owned], "podman", runner(env), lambda *_: None)
    text = str(err.value)
    assert f"folder {owned.path} on this host must be created for `db` and given to 999:999" in text
    assert "`podman unshare` fails (cannot set up namespace)" in text
    assert f"mkdir -p {owned.path} && chown 999:999 {owned.path}" in text
    assert not Path(plain.path).exists()  # checked first: not even the folder that could be


def test_a_folder_not_given_away_is_removed_again(tmp_path: Path) -> None:
    env = stand_ins(
        tmp_path / "bin", 'if [ "$2" = chown ]; then echo "invalid argument" >&2; exit 1; fi'
    )
    owned = Folder("host1", str(tmp_path / "owned"), (999, 999), False, ("db",))
    with pytest.raises(TargetError) as err:
        ensure([owned], "podman", runner(env), lambda *_: None)
    assert (
        f"folder {owned.path} on host `host1` was created for `db` but cannot be given to"
        " 999:999 (invalid argument), so it was removed again"
    ) in str(err.value)
    assert not Path(owned.path).exists()  # the next apply does not find it wrongly owned


def test_read_only_folders_must_exist_and_existing_ones_are_left_alone(tmp_path: Path) -> None:
    env = {**os.environ}
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o700)
    said: list[tuple[str, str]] = []
    keep = Folder("local", str(existing), (os.getuid() + 1, 4242), False, ("app",))
    fresh = Folder("local", str(tmp_path / "new" / "deep"), None, False, ("app", "job"))
    ensure([keep, fresh], "podman", runner(env), lambda s, step: said.append((s, step)))
    assert said == [("app", f"folder {fresh.path}: created")]
    assert existing.stat().st_mode & 0o777 == 0o700 and existing.stat().st_gid != 4242
    missing = Folder("local", str(tmp_path / "media"), None, True, ("player",))
    with pytest.raises(TargetError, match="`player` mount it read-only, so mora does not"):
        ensure([missing], "podman", runner(env), lambda *_: None)
    assert not Path(missing.path).exists()
