"""What a compile does before its backends run (fifteenth round, perfeval15): the check cache's
program file, the secret store's open and the evaluator load only what they use.

Each command runs in a fresh interpreter, as `tests/test_startup.py` does, and reports the
modules it loaded; docs/performance.md says what each of them costs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mora import check_cache
from tests.probe import bare_modules as _bare
from tests.probe import checked_media_copy
from tests.probe import loaded as _loaded

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "projects" / "media"

def test_a_warm_compile_loads_no_lock_and_no_module_names(tmp_path: Path) -> None:
    """A compile that finds every secret in the store reads it without taking its lock
    (`fcntl` is for writing), and with no stored name left over it words no rename warning
    (`mora.modules.resolve` names a module's services in that warning)."""
    args = ["compile", str(MEDIA), "--domain", "example.org"]
    code, _ = _loaded([*args, "--out", str(tmp_path / "first")], tmp_path)  # makes the store
    assert code == 0
    code, modules = _loaded([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert code == 0
    assert {"mora.secrets.store", "mora.moved", "mora.eval"} <= modules  # the probe is sound
    assert not {"mora.modules", "mora.modules.resolve"} & modules
    assert "fcntl" not in modules - _bare(tmp_path)


def test_a_compile_finds_its_store_without_the_secrets_commands(tmp_path: Path) -> None:
    """Where the store is (`default_store_path`, the legacy store's migration) lives in
    mora.secrets.store: a compile, the first one that makes the store included, imports no
    `mora secrets` command logic; the old names still import from mora.secrets.commands."""
    from mora.secrets import commands, store

    args = ["compile", str(MEDIA), "--domain", "example.org"]
    for out in ("first", "second"):
        code, modules = _loaded([*args, "--out", str(tmp_path / out)], tmp_path)
        assert code == 0
        assert "mora.secrets.store" in modules  # the probe is sound
        assert "mora.secrets.commands" not in modules
    assert (tmp_path / ".mora" / store.DEFAULT_SITE_STORE).is_file()
    for name in ("default_store_path", "legacy_store_path", "migrate_legacy"):
        assert getattr(commands, name) is getattr(store, name)


def test_a_check_without_caches_loads_neither_struct_nor_importlib(tmp_path: Path) -> None:
    """The checker reads the generator catalogue (mora.secrets.generators), whose SSH key
    writer packs lengths with `int.to_bytes`, not `struct`; the `mora.secrets` package loads
    `importlib` only when one of its lazy names is asked for."""
    code, modules = _loaded(["check", str(MEDIA)], tmp_path, no_cache=True)
    assert code == 0
    assert "mora.secrets.generators" in modules  # the probe is sound
    assert not {"struct", "_struct", "importlib"} & (modules - _bare(tmp_path))


def test_the_stored_program_is_named_by_its_blake2b_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The program's file is named by its BLAKE2b digest (the builtin one, faster than the
    builtin SHA-256), and a file whose bytes are not the ones its name says is not loaded."""
    import hashlib

    from mora.api import cached_check

    shutil.copytree(MEDIA, tmp_path / "media")
    monkeypatch.chdir(tmp_path)
    assert cached_check(Path("media")).program is not None  # a miss: checks, keeps it
    entry = check_cache.lookup_entry(Path("media"))
    assert entry is not None
    stored = Path(check_cache.cache_dir()) / f"{entry['program']}.pickle"
    data = stored.read_bytes()
    assert entry["program"] == hashlib.blake2b(data, digest_size=32).hexdigest()
    assert check_cache.load_program(entry) is not None
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    assert check_cache.load_program(entry) is None


def test_a_command_freezes_its_objects_before_the_interpreter_exits(tmp_path: Path) -> None:
    """The interpreter's collections at exit scanned every object a compile or check left
    alive (~8 ms of either on the media project): `mora` freezes them at exit instead (the
    operating system frees the memory), after the other exit handlers have run."""
    code = (
        "import atexit, gc, sys\n"
        "from mora.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "before = gc.get_freeze_count()\n"
        "atexit._run_exitfuncs()\n"
        "print(before, gc.get_freeze_count())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MORA_NO_CACHE", None)
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", str(MEDIA)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    before, after = map(int, proc.stdout.split())
    assert before == 0  # nothing frozen while the command ran
    assert after > 1000  # the modules' objects at least


def test_a_check_after_an_edit_and_a_replayed_check_load_no_json(tmp_path: Path) -> None:
    """The check cache's entries are marshal's format (builtin), not JSON: a check that reads a
    stale entry and writes a new one, and a check replayed from its entry, import no `json`
    (~1.5 ms); only `--format json` does."""
    project = checked_media_copy(tmp_path)
    with open(project / "media.mora", "a") as f:
        f.write("# an edit\n")
    code, modules = _loaded(["check", str(project)], tmp_path)  # the stale entry: checks again
    assert code == 0 and "mora.checker" in modules
    bare = _bare(tmp_path)
    assert not {"json", "json.decoder", "json.encoder"} & (modules - bare)
    code, modules = _loaded(["check", str(project)], tmp_path)  # replayed
    assert code == 0 and "mora.checker" not in modules
    assert not {"json", "json.decoder", "json.encoder"} & (modules - bare)
    code, modules = _loaded(["check", "--format", "json", str(project)], tmp_path)
    assert code == 0 and "json" in modules
