"""What `mora check` and `mora compile` cost a user: real processes, CPU and wall time, memory.

Each measurement starts the command as a user does (the installed `mora` script beside the
interpreter, else `python -m mora` with a note; bytecode compiled, the parse cache warm after a
first run, a fresh output folder each time) and reads the child's own resource usage
(`os.wait4`): CPU (user + system) and wall medians, peak resident memory, services per second,
and how the time grows between sizes (the factor per doubling of the services: 2.0 is linear).
Peers run in the same session on equivalent input (see `peers.py`): `podman-compose config`
beside `mora check`, `helm template` beside `mora compile` (their runs in turn, so a changing
load weighs on both alike); a missing peer is skipped with a note (`--install-peers` fetches
them from PyPI).

    python benchmarks/run.py                         # 10 / 100 / 1,000 / 10,000 services
    python benchmarks/run.py --quick                 # a smoke test: 10 services, one run
    python benchmarks/run.py --profile --sizes 1000  # top functions per phase, in-process
    python benchmarks/run.py --markdown table.md     # also write the tables as Markdown

Asserts nothing about time: the figures and the targets are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import compileall
import cProfile
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import peers  # noqa: E402
from generate import GENERATORS  # noqa: E402

TARGETS = ("manifest", "kubernetes", "quadlet", "podman")


@dataclass
class Figures:
    """Medians of repeated runs of one command."""

    cpu: float  # seconds, user + system
    wall: float  # seconds
    peak_mib: float  # the largest resident set of any run

    def __str__(self) -> str:
        return f"{self.cpu:8.3f} {self.wall:8.3f} {self.peak_mib:7.0f}"


@dataclass
class Row:
    group: str  # generator (or "media")
    services: int
    command: str  # what was run, as a user would type it (less paths)
    mora: Figures
    peer: str = ""
    peer_figures: Figures | None = None
    notes: list[str] = field(default_factory=list)


def run_once(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """(CPU s, wall s, peak MiB) of one run of `cmd`; fails loudly when the command fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0,):
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return cpu, wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def measure(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    repeat: int,
    fresh: Path | None = None,
    before: Any = None,
) -> Figures:
    """Medians over `repeat` runs; `fresh` (an output folder) is emptied and `before` (a
    callable) called before each run."""
    samples = []
    for _ in range(repeat):
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        if before is not None:
            before()
        samples.append(run_once(cmd, cwd, env))
    cpus, walls, peaks = zip(*samples, strict=True)
    return Figures(statistics.median(cpus), statistics.median(walls), max(peaks))


def measure_paired(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    fresh: Path,
    peer: list[str],
    peer_cwd: Path,
    repeat: int,
) -> tuple[Figures, Figures]:
    """`measure` of `cmd` and of the peer's command, their runs interleaved (in turn first): a
    load that changes during the session (this machine is shared) weighs on both alike, so their
    ratio holds for one run, which issue 11's "<= 2x helm template in one paired run" asks."""
    ours, theirs = [], []
    peer_env = dict(os.environ)
    for i in range(repeat):
        shutil.rmtree(fresh, ignore_errors=True)
        if i % 2:
            theirs.append(run_once(peer, peer_cwd, peer_env))
            ours.append(run_once(cmd, cwd, env))
        else:
            ours.append(run_once(cmd, cwd, env))
            theirs.append(run_once(peer, peer_cwd, peer_env))

    def figures(samples: list[tuple[float, float, float]]) -> Figures:
        cpus, walls, peaks = zip(*samples, strict=True)
        return Figures(statistics.median(cpus), statistics.median(walls), max(peaks))

    return figures(ours), figures(theirs)


def mora_env() -> dict[str, str]:
    """This checkout, bytecode compiled (as an installed package is), the user's parse cache."""
    compileall.compile_dir(REPO / "mora", quiet=1)
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MORA_NO_CACHE")
    }
    env["PYTHONPATH"] = str(REPO)
    return env


def mora_command(python: str = sys.executable) -> tuple[list[str], str]:
    """How a user starts mora, and a line saying so: the installed console script (`mora`
    beside the interpreter, in the virtual environment's `bin/`), which imports `mora.main`
    directly; `python -m mora` also pays for `runpy` and `importlib.util` (~5 ms). Without a
    script (mora not installed into this environment) it falls back to `python -m mora`."""
    script = Path(python).with_name("mora")  # not resolved: the venv's bin/, not pyenv's
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], f"mora runs as {script} (the installed console script)"
    note = (
        f"note: no `mora` script beside {python}: mora runs as `python -m mora`, which also "
        "imports runpy and importlib.util (~5 ms more than the installed script)"
    )
    return [python, "-m", "mora"], note


MORA, MORA_NOTE = mora_command()


def write_project(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def bench_project(
    group: str,
    n: int,
    project: Path,
    work: Path,
    env: dict[str, str],
    args: argparse.Namespace,
    found: dict[str, list[str]],
    cold_check: bool = False,
) -> list[Row]:
    """check, compile (all targets) and, up to --each-target-max, each target alone."""
    repeat = args.repeat if n < args.once_from else 1
    site = work / "site"  # the cwd: the secret store is made in ./.mora on the first compile
    site.mkdir(parents=True, exist_ok=True)
    # The output folder: beside the project (this machine's disk) unless --out names a parent
    # (e.g. /dev/shm: tmpfs, where creating the files costs what it does on a desktop's SSD,
    # not what this VM's ext4 charges for a new folder; `helm template` writes to stdout).
    out = args.out / f"{work.parent.name}-{work.name}-out" if args.out else work / "out"
    compile_all = [*MORA, "compile", str(project), "--domain", "example.org", "--out", str(out)]
    run_once(compile_all, site, env)  # warm up: secret store, parse cache, page cache
    rows = []
    # What a pre-commit hook sees on an unchanged project: the check cache's replay (a hit).
    check = [*MORA, "check", str(project)]
    run_once(check, site, env)  # stores the result the runs below replay
    rows.append(Row(group, n, "mora check", measure(check, site, env, repeat)))
    # What it sees after an edit: one file of a copy of the project gets a new comment before
    # each run, so the check cache misses and that file is parsed again (the others' trees come
    # from the parse cache).
    rows.append(
        Row(group, n, "mora check (after an edit)", check_after_edit(project, work, env, repeat))
    )
    if cold_check:
        figures = measure(check, site, env | {"MORA_NO_CACHE": "1"}, repeat)
        rows.append(Row(group, n, "mora check (no parse cache)", figures))
    helm = None  # `helm template` of an equivalent chart, run in turn with the compiles
    if not args.no_peers and "helm" in found:
        helm = [*found["helm"], "template", "bench", str(peers.helm_chart(work / "chart", n))]
        run_once(helm, work, dict(os.environ))  # warm up: page cache

    def compile_row(command: str, cmd: list[str]) -> Row:
        if helm is not None and command in _HELM_ROWS:
            ours, theirs = measure_paired(cmd, site, env, out, helm, work, repeat)
            return Row(group, n, command, ours, "helm template", theirs)
        return Row(group, n, command, measure(cmd, site, env, repeat, out))

    rows.append(compile_row("mora compile (all)", compile_all))
    if n <= args.each_target_max:
        for target in TARGETS:
            cmd = [*compile_all, "--target", target]
            rows.append(compile_row(f"mora compile --target {target}", cmd))
    if args.no_peers:
        return rows
    if "podman-compose" in found and n <= args.compose_max:
        compose = work / "compose.yml"
        compose.write_text(peers.compose_file(n))
        cmd = [*found["podman-compose"], "-f", str(compose), "config"]
        figures = measure(cmd, work, dict(os.environ), repeat)
        for row in rows:
            if row.command.startswith("mora check"):
                row.peer, row.peer_figures = "podman-compose config", figures
    return rows


#: the rows `helm template` is timed beside, in turn with mora's runs (`measure_paired`)
_HELM_ROWS = ("mora compile (all)", "mora compile --target kubernetes")


def check_after_edit(project: Path, work: Path, env: dict[str, str], repeat: int) -> Figures:
    """`mora check` of a copy of `project` whose first file gets a new comment before each run."""
    copy = work / "edited"
    shutil.copytree(project, copy)
    edited = sorted(copy.glob("*.mora"))[0]
    original = edited.read_text(encoding="utf-8")
    runs = [0]

    def edit() -> None:
        runs[0] += 1
        edited.write_text(f"{original}\n# benchmark edit {runs[0]}\n", encoding="utf-8")

    check = [*MORA, "check", str(copy)]
    run_once(check, work, env)  # the copy's other files: as warm as the project's
    return measure(check, work, env, repeat, before=edit)


def growth(rows: list[Row]) -> dict[int, float]:
    """Row index -> CPU factor per doubling of the services since the previous size."""
    out: dict[int, float] = {}
    last: dict[tuple[str, str], tuple[int, float]] = {}
    for i, row in enumerate(rows):
        key = (row.group, row.command)
        if key in last:
            n0, cpu0 = last[key]
            if row.services > n0 and cpu0 > 0:
                out[i] = (row.mora.cpu / cpu0) ** (math.log(2) / math.log(row.services / n0))
        last[key] = (row.services, row.mora.cpu)
    return out


HEADER = (
    "group", "services", "command", "CPU s", "wall s", "peak MiB", "services/s",
    "x per doubling", "peer", "peer CPU s", "mora/peer CPU",
)  # fmt: skip


def cells(rows: list[Row]) -> list[list[str]]:
    factors = growth(rows)
    table = []
    for i, row in enumerate(rows):
        f = row.mora
        peer = row.peer_figures
        table.append(
            [
                row.group,
                f"{row.services:,}",
                row.command,
                f"{f.cpu:.3f}",
                f"{f.wall:.3f}",
                f"{f.peak_mib:.0f}",
                f"{row.services / f.cpu:,.0f}" if f.cpu else "",
                f"{factors[i]:.2f}" if i in factors else "",
                row.peer,
                f"{peer.cpu:.3f}" if peer else "",
                f"{f.cpu / peer.cpu:.2f}" if peer and peer.cpu else "",
            ]
        )
    return table


def print_table(rows: list[Row]) -> None:
    table = [list(HEADER), *cells(rows)]
    widths = [max(len(r[c]) for r in table) for c in range(len(HEADER))]
    for r in table:
        print(
            "  ".join(
                c.rjust(w) if c[:1].isdigit() else c.ljust(w)
                for c, w in zip(r, widths, strict=True)
            ).rstrip()
        )
    sys.stdout.flush()


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in cells(rows)]
    return "\n".join(lines) + "\n"


# --- profile mode --------------------------------------------------------------------------------


def profile(generator: str, n: int, top: int) -> None:
    """The top functions (own time) of each phase, in-process, as the command runs them."""
    import gc

    from mora.api import check_project, compile_project
    from mora.backends import Options, write_target
    from mora.diagnostics import Diagnostics
    from mora.main import GC_THRESHOLDS
    from mora.secrets.provider import MemoryProvider

    gc.set_threshold(*GC_THRESHOLDS)
    with tempfile.TemporaryDirectory() as tmp:
        project = write_project(Path(tmp) / "project", GENERATORS[generator](n))
        provider = MemoryProvider(seed=b"bench")
        compile_project(project, domain="example.org", provider=provider)  # warm the parse cache
        phases = [
            ("parse + check", lambda: check_project(project)),
            (
                "parse + check + evaluate",
                lambda: compile_project(project, domain="example.org", provider=provider),
            ),
        ]
        compiled = compile_project(project, domain="example.org", provider=provider).compiled
        for target in TARGETS:
            out = Path(tmp) / "out"

            def backend(target: str = target, out: Path = out) -> object:
                return write_target(target, compiled, out, Options(), Diagnostics())  # type: ignore[arg-type]

            phases.append((f"backend {target}", backend))
        for name, fn in phases:
            prof = cProfile.Profile()
            start = time.process_time()
            prof.enable()
            fn()
            prof.disable()
            print(
                f"\n== {name}: {time.process_time() - start:.3f} s CPU ({generator}, {n} services)"
            )
            pstats.Stats(prof).sort_stats("tottime").print_stats(top)


# --- memory mode ---------------------------------------------------------------------------------


def memory(generator: str, n: int) -> None:
    """Peak resident memory and CPU of each phase of `mora compile` (all targets), in a fresh
    process as the command runs them: where the peak of a large compile is."""
    env = mora_env()
    with tempfile.TemporaryDirectory(prefix="mora-memory-") as tmp:
        project = write_project(Path(tmp) / "project", GENERATORS[generator](n))
        warm = [*MORA, "check", str(project)]  # the parse cache, as a user's is
        subprocess.run(warm, cwd=tmp, env=env, check=False, capture_output=True)
        print(f"\n== memory by phase: {generator}, {n} services (parse cache warm)")
        print(f"{'phase':<12} {'peak MiB':>9} {'end MiB':>8} {'CPU s':>7}", flush=True)
        child = [sys.executable, str(HERE / "run.py"), "--memory-child", str(project), "out"]
        subprocess.run(child, cwd=tmp, env=env, check=True)


def memory_child(project: Path, out: Path) -> None:
    """The phases of `mora.main.run_compile`, each with the largest resident set seen while it
    ran (a thread reads /proc/self/statm every 2 ms) and its CPU time."""
    import gc
    import threading

    from mora.api import compile_project
    from mora.backends import Options, write_target
    from mora.diagnostics import Diagnostics
    from mora.main import GC_THRESHOLDS
    from mora.output import sync

    gc.set_threshold(*GC_THRESHOLDS)
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    peak = [0.0]
    running = [True]

    def rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    def watch() -> None:
        while running[0]:
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    threading.Thread(target=watch, daemon=True).start()

    def phase(name: str, fn: Any) -> Any:
        peak[0] = rss()
        start = time.process_time()
        result = fn()
        peak[0] = max(peak[0], rss())
        print(f"{name:<12} {peak[0]:9.0f} {rss():8.0f} {time.process_time() - start:7.2f}")
        sys.stdout.flush()
        return result

    result = phase("check+eval", lambda: compile_project(project, domain="example.org"))
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    result.program = None  # as run_compile does: the backends read only the model
    diags = Diagnostics()
    for target in TARGETS:
        phase(target, lambda t=target: write_target(t, result.compiled, out, Options(), diags))
    phase("sync", sync)
    running[0] = False


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10,100,1000,10000", help="service counts")
    ap.add_argument("--generators", default="synthetic,realistic", help="synthetic, realistic")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command (median)")
    ap.add_argument("--once-from", type=int, default=5000, help="sizes run once from here on")
    ap.add_argument(
        "--each-target-max", type=int, default=1000, help="largest size timed per target"
    )
    ap.add_argument("--no-peers", action="store_true", help="time mora only")
    ap.add_argument(
        "--compose-max", type=int, default=100, help="largest size for podman-compose (slow)"
    )
    ap.add_argument("--install-peers", action="store_true", help="fetch podman-compose and helm")
    ap.add_argument("--no-media", action="store_true", help="skip the projects/media comparison")
    ap.add_argument(
        "--quick", action="store_true", help="smoke test: 10 services, one run, mora only"
    )
    ap.add_argument("--profile", action="store_true", help="top functions per phase (in-process)")
    ap.add_argument("--top", type=int, default=12, help="functions per phase in --profile")
    ap.add_argument("--markdown", type=Path, help="also write the table here as Markdown")
    ap.add_argument(
        "--out",
        type=Path,
        help="write the compiles' output below this folder (e.g. /dev/shm) instead of the disk",
    )
    ap.add_argument("--memory", action="store_true", help="peak memory per phase of a compile")
    ap.add_argument("--memory-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.generators, args.repeat = "10", "synthetic", 1
        args.no_peers, args.no_media, args.each_target_max = True, True, 0
    sizes = [int(s) for s in args.sizes.split(",")]
    generators = args.generators.split(",")
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if args.memory:
        for generator in generators:
            for n in sizes:
                memory(generator, n)
        return
    if args.profile:
        for generator in generators:
            for n in sizes:
                profile(generator, n, args.top)
        return
    if args.install_peers:
        peers.install()
    found = {} if args.no_peers else peers.find()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; CPU = user + system of the process"
    )
    print(MORA_NOTE)
    if args.out:
        print(f"compile output below {args.out} (--out)")
    if not args.no_peers:
        for name in ("podman-compose", "helm"):
            if name not in found:
                print(f"note: {name} is not installed: skipped (--install-peers fetches it)")
    env = mora_env()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="mora-bench-") as tmp:
        if not args.no_media:
            work = Path(tmp) / "media"
            rows += bench_project(
                "media", 7, REPO / "projects" / "media", work, env, args, found, True
            )
        for generator in generators:
            for n in sizes:
                work = Path(tmp) / f"{generator}-{n}"
                project = write_project(work / "project", GENERATORS[generator](n))
                count = n if generator == "synthetic" else 7 * max(1, round(n / 7))
                rows += bench_project(generator, count, project, work, env, args, found)
                print(f"... {generator} {count} services done", file=sys.stderr, flush=True)
        if args.out:
            for left in args.out.glob(f"{Path(tmp).name}-*-out"):
                shutil.rmtree(left, ignore_errors=True)
    print_table(rows)
    if args.markdown:
        args.markdown.write_text(markdown(rows))


if __name__ == "__main__":
    main()
