"""Killed writers and concurrent writers never lose or corrupt a saved value (real processes)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from mora.secrets.store import SecretStore

from .helpers import PYTHON, subprocess_env

PRELOAD = 300


def value_for(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest() * 40  # 2.5 kB, so a write takes a while


WRITER = textwrap.dedent(
    """
    import hashlib, os, signal, sys
    from pathlib import Path
    from mora.secrets.store import SecretStore

    path, start, kill_at = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def value_for(i):
        return hashlib.sha256(str(i).encode()).hexdigest() * 40

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    real_write, real_fsync, real_replace = os.write, os.fsync, os.replace
    if kill_at == "mid-write":
        def write(fd, data):
            real_write(fd, bytes(data)[: len(data) // 2])
            die()
        os.write = write
    elif kill_at == "before-fsync":
        os.fsync = lambda fd: die()
    elif kill_at == "before-replace":
        os.replace = lambda a, b: die()
    elif kill_at == "after-replace":
        def replace(a, b):
            real_replace(a, b)
            die()
        os.replace = replace

    store = SecretStore.open(path)
    print("ready", flush=True)
    i = start
    while True:
        store.set_value(f"k{i:05d}", value_for(i))
        store.save()
        print(i, flush=True)
        i += 1
    """
)


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("MORA_SECRETS_KEY", key)
    return key


def preload(path: Path) -> None:
    store = SecretStore.open(path)
    for i in range(PRELOAD):
        store.set_value(f"k{i:05d}", value_for(i))
    store.save()


def check_store(path: Path, committed: set[int], maybe: set[int]) -> set[int]:
    """Every committed value is there and intact; anything else is a value a writer finished."""
    store = SecretStore.open(path)
    present = {int(name[1:]) for name in store.names()}
    assert committed <= present, f"lost {sorted(committed - present)[:5]}"
    assert present <= committed | maybe, f"unexpected {sorted(present - committed - maybe)[:5]}"
    for i in present:
        assert store.get(f"k{i:05d}").value() == value_for(i)  # type: ignore[union-attr]
    return present


def run_writer(
    script: Path, path: Path, start: int, kill_at: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, str(script), str(path), str(start), kill_at],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Everything a killed writer printed, including what an earlier `readline()` buffered."""
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()  # EOF once the process is dead; its stderr is tiny
    err = proc.stderr.read()
    proc.wait(timeout=30)
    return out, err


def test_finish_keeps_lines_an_earlier_readline_buffered(tmp_path: Path) -> None:
    """The reader keeps read-ahead: lines written together with "ready" are not lost."""
    script = tmp_path / "burst.py"
    script.write_text(
        "import sys\nsys.stdout.write('ready\\n' + ''.join(f'{i}\\n' for i in range(500)))\n"
    )
    proc = subprocess.Popen(
        [PYTHON, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"  # buffers far more than this line
    out, _ = finish(proc)
    assert [int(line) for line in out.split()] == list(range(500))


def test_sigkill_at_random_moments_never_loses_a_value(
    tmp_path: Path, isolated_env: Path, key_env: str
) -> None:
    path = tmp_path / "site.secrets"
    preload(path)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = subprocess_env(isolated_env, MORA_SECRETS_KEY=key_env)
    committed = set(range(PRELOAD))
    rng = random.Random(1234)
    start = PRELOAD
    for _ in range(8):
        proc = run_writer(script, path, start, "random", env)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        # Read the rest through the same buffered reader `readline()` used: `communicate()`
        # reads the pipe's fd directly and would drop lines that reader already holds, so a
        # value the writer printed (and saved) would look "unexpected" under load.
        out, err = finish(proc)
        assert proc.returncode == -signal.SIGKILL, err
        done = {int(line) for line in out.split()}
        committed |= done
        last = max(done, default=start - 1)
        # a writer may die after its rename but before it printed: that value may be there
        present = check_store(path, committed, {last + 1})
        committed |= present  # a value that made it to disk must survive every later kill
        start = max(present) + 1
    assert len(committed) > PRELOAD  # the writers did get work done between the kills


@pytest.mark.parametrize(
    ("kill_at", "new_value_kept"),
    [
        ("mid-write", False),
        ("before-fsync", False),
        ("before-replace", False),
        ("after-replace", True),
    ],
)
def test_sigkill_at_each_step_of_a_write(
    tmp_path: Path, isolated_env: Path, key_env: str, kill_at: str, new_value_kept: bool
) -> None:
    path = tmp_path / "site.secrets"
    preload(path)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = subprocess_env(isolated_env, MORA_SECRETS_KEY=key_env)
    proc = run_writer(script, path, PRELOAD, kill_at, env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    assert out.split() == ["ready"]
    present = check_store(path, set(range(PRELOAD)), {PRELOAD})
    assert (PRELOAD in present) == new_value_kept
    # the next writer cleans up the dead one's temp file and carries on
    store = SecretStore.open(path)
    store.set_value("after", "crash")
    store.save()
    assert not list(tmp_path.glob(".site.secrets.*.tmp"))
    assert "after" in SecretStore.open(path)


ADDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mora.secrets.store import SecretStore

    path, prefix, count, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    for i in range(count):
        store = SecretStore.open(path)
        store.set_value(f"{prefix}{i}", f"value-{prefix}{i}")
        store.save()
    """
)


def test_two_processes_adding_names_keep_both(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "site.secrets"
    script = tmp_path / "adder.py"
    script.write_text(ADDER)
    go = tmp_path / "go"
    env = subprocess_env(isolated_env)  # no env key: both race to create the store and its key
    procs = [
        subprocess.Popen(
            [PYTHON, str(script), str(path), prefix, "40", str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("a", "b")
    ]
    time.sleep(0.3)  # both are past their imports
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    store = SecretStore.open(path)
    expected = {f"{p}{i}" for p in "ab" for i in range(40)}
    assert set(store.names()) == expected
    assert all(store.get(n).value() == f"value-{n}" for n in expected)  # type: ignore[union-attr]
    assert len(list((isolated_env / "mora" / "keys").iterdir())) <= 2  # one used, maybe one spare


RESOLVER = textwrap.dedent(
    """
    import hashlib, json, sys, time
    from pathlib import Path
    from mora.secrets.provider import SecretRef, SecretRequest, StoreProvider
    from mora.secrets.store import SecretStore

    path, go = Path(sys.argv[1]), Path(sys.argv[2])
    requests = [
        SecretRequest("pw", "password"),
        SecretRequest("digest", "bcrypt", {"cost": 4}, {"source": SecretRef("pw")}),
        SecretRequest("wg", "wireguard"),
    ]
    while not go.exists():
        time.sleep(0.001)
    values = StoreProvider(SecretStore.open(path)).resolve(requests).values
    print(hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest())
    """
)


def test_concurrent_first_compiles_agree_on_values(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "site.secrets"
    script = tmp_path / "resolver.py"
    script.write_text(RESOLVER)
    go = tmp_path / "go"
    env = subprocess_env(isolated_env)
    procs = [
        subprocess.Popen(
            [PYTHON, str(script), str(path), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(0.3)
    go.touch()
    digests = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        digests.append(out.strip())
    assert len(set(digests)) == 1  # whoever generated first, the others reused its values
    stored = {n: dict(SecretStore.open(path).get(n).parts) for n in ("digest", "pw", "wg")}  # type: ignore[union-attr]
    assert hashlib.sha256(json.dumps(stored, sort_keys=True).encode()).hexdigest() == digests[0]
