"""A fuzz harness for mora: random and hostile source through the library and the CLI.

A shared project is untrusted input (issue 9): whatever bytes it holds, mora must answer with
diagnostics, never an internal error (an exception, exit 3) and never a hang. The harness makes
inputs four ways:

- `bytes`:    random bytes, sometimes seeded with mora's own punctuation;
- `soup`:     grammar-aware token soup: keywords, names, punctuation, strings with `${...}`,
              triple-quoted strings, escapes, sizes, in random order;
- `mutation`: every project, stdlib module and golden case input, mutated (spans deleted,
              duplicated, swapped, spliced from another file, bytes replaced, truncated);
- `deep`:     deep nesting of every kind: brackets, maps, calls, `!`, `&&`/`||` chains,
              blocks, `if`, types, interpolations inside strings.

In-process, each input is checked; one that checks clean is compiled and written by every
backend, and its plan rendered; every diagnostic is rendered as text and JSON. Through the CLI,
`mora check --format json` runs on it (and `mora compile` when it checks clean). Each input has a
time limit; an input that fails is saved for reproduction. The full run:

    python -m fuzz.harness --inputs 100000 --cli 2000

prints its counts and exits 1 if there was any internal error or hang. CI runs a short slice
(tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KINDS = ("bytes", "soup", "mutation", "deep")

KEYWORDS = [
    "project", "import", "param", "secret", "input", "service", "template", "if", "else",
    "true", "false", "self", "args", "site", "as", "require", "version", "moved",
]  # fmt: skip
PUNCT = [
    "{", "}", "[", "]", "(", ")", "=", ":", ",", ".", "&&", "||", "!", "==", "!=", "#", "//",
    "\n", "\n", "\n", " ", "  ", "\t", "\r\n", "-", "/", "$", "\\",
    "->",
]  # fmt: skip
ATOMS = [
    '"text"', '"${param.x}"', '"${"', '"${}"', '"\\0"', '"\\q"', '"/etc/${a}.conf"', '"a\\${b}"',
    '"""\n  a\\0b ${x}\n  """', '"""', '"', "0", "1", "65536", "-1", "10Gi", "30s", "1.5",
    "99999999999999999999999", "x", "db", "web", "param.x", "secret.db", "input.tok",
    "self.url", "args.name", "password(length: 20)", "json({a: 1})", "bind(\"/\")",
    "string", "list(string)", "map(int)", "bool", "port", "path", "url", "secret",
    'image = "docker.io/library/nginx:1.27"', "\u202e", "é", "\ufeff", "\x00", "\x1b[31m",
]  # fmt: skip
SERVICE = 'service web {\n  image = "docker.io/library/nginx:1.27"\n}\n'


def corpus() -> list[tuple[str, bytes]]:
    """Every project, stdlib module and golden case file: the seeds for mutations."""
    files: list[Path] = []
    files += sorted((REPO / "projects").rglob("*.mora"))
    files += sorted((REPO / "stdlib").glob("*.mora"))
    files += sorted((REPO / "tests").rglob("*.mora"))
    return [(str(p.relative_to(REPO)), p.read_bytes()) for p in files if p.is_file()]


# --- generators ----------------------------------------------------------------------------------


def gen_bytes(rng: random.Random) -> bytes:
    n = int(rng.expovariate(1 / 200))
    if rng.random() < 0.5:
        return rng.randbytes(n)
    alphabet = b'{}[]()=:,."$\\!&|#\n \tabcxyz019_-/'
    return bytes(rng.choice(alphabet) for _ in range(n))


def gen_soup(rng: random.Random) -> bytes:
    out: list[str] = []
    for _ in range(int(rng.expovariate(1 / 40)) + 1):
        r = rng.random()
        pool = KEYWORDS if r < 0.25 else PUNCT if r < 0.6 else ATOMS
        out.append(rng.choice(pool))
        if rng.random() < 0.6:
            out.append(" ")
    return "".join(out).encode("utf-8", "surrogatepass")


def _mutate(rng: random.Random, data: bytes, seeds: list[tuple[str, bytes]]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        n = len(buf)
        op = rng.randrange(7)
        i = rng.randrange(n + 1)
        j = min(n, i + int(rng.expovariate(1 / 20)) + 1)
        if op == 0:  # delete a span
            del buf[i:j]
        elif op == 1:  # duplicate a span
            buf[i:i] = buf[i:j]
        elif op == 2 and n:  # replace a byte
            buf[min(i, n - 1)] = rng.randrange(256)
        elif op == 3:  # insert a token
            pool = rng.choice((KEYWORDS, PUNCT, ATOMS))
            buf[i:i] = rng.choice(pool).encode("utf-8", "surrogatepass")
        elif op == 4:  # splice from another file
            other = rng.choice(seeds)[1]
            k = rng.randrange(len(other) + 1)
            buf[i:i] = other[k : k + int(rng.expovariate(1 / 80)) + 1]
        elif op == 5:  # truncate
            del buf[i:]
        else:  # swap two spans
            k = rng.randrange(n + 1)
            l_ = min(n, k + (j - i))
            if j <= k:
                buf[i:l_] = buf[k:l_] + buf[j:k] + buf[i:j]
    return bytes(buf)


def gen_mutation(rng: random.Random, seeds: list[tuple[str, bytes]]) -> bytes:
    return _mutate(rng, rng.choice(seeds)[1], seeds)


# Each: (opening, innermost, closing, where it goes): `where` wraps the nest into a file.
_NESTS: list[tuple[str, str, str, str]] = [
    ("[", "1", "]", "param x: list(int) = {}\n"),
    ("{a: ", "1", "}", 'service s {{\n  image = "i:1"\n  files {{ "/a" = json({}) }}\n}}\n'),
    ("(", "true", ")", "param x: bool = {}\n"),
    ("!", "true", "", "param x: bool = {}\n"),
    ("true && ", "true", "", "param x: bool = {}\n"),
    ("false || ", "true", "", "param x: bool = {}\n"),
    ("json(", "1", ")", 'service s {{\n  image = "i:1"\n  files {{ "/a" = {} }}\n}}\n'),
    ("list(", "string", ")", 'param x: {} = "a"\n'),
    ('"${', '"x"', '}"', "param x: string = {}\n"),
    ("if param.c {\n", 'restart = "always"\n', "}\n", 'param c: bool = true\nservice s {{\n  image = "i:1"\n{}}}\n'),
    ("labels { a = ", '"b"', " }", 'service s {{\n  image = "i:1"\n  {}\n}}\n'),
    ("[{a: ", "1", "}]", "param x: list(map(int)) = {}\n"),
]  # fmt: skip


def gen_deep(rng: random.Random) -> bytes:
    opening, inner, closing, where = rng.choice(_NESTS)
    depth = int(2 ** rng.uniform(0, 11.5))  # 1 .. ~2900, log-uniform
    body = opening * depth + inner + closing * depth
    if rng.random() < 0.2:  # unbalanced
        body = body[: rng.randrange(len(body) + 1)]
    return ("project p\n" + where.format(body) + SERVICE).encode()


def inputs(
    seed: int, count: int, seeds: list[tuple[str, bytes]], plain_seeds: bool = True
) -> Iterator[tuple[str, bytes]]:
    """`count` inputs: first every seed file as it is (unless not asked), then the four kinds
    in turn."""
    rng = random.Random(seed)
    made = 0
    for name, data in seeds if plain_seeds else []:
        if made >= count:
            return
        yield f"seed:{name}", data
        made += 1
    gens: dict[str, Callable[[], bytes]] = {
        "bytes": lambda: gen_bytes(rng),
        "soup": lambda: gen_soup(rng),
        "mutation": lambda: gen_mutation(rng, seeds),
        "deep": lambda: gen_deep(rng),
    }
    while made < count:
        kind = KINDS[made % len(KINDS)]
        yield kind, gens[kind]()
        made += 1


# --- running -------------------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm when an input takes too long (not an Exception: never swallowed)."""


@dataclass
class Counts:
    inputs: Counter[str] = field(default_factory=Counter)
    internal_errors: int = 0
    hangs: int = 0
    checked_clean: int = 0
    compiled: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self, what: str) -> str:
        total = sum(self.inputs.values())
        kinds = ", ".join(f"{k} {self.inputs[k]}" for k in sorted(self.inputs))
        return (
            f"{what}: {total} inputs ({kinds}); internal errors {self.internal_errors}, "
            f"hangs {self.hangs}; checked clean {self.checked_clean}, compiled {self.compiled}; "
            f"{self.seconds:.0f} s"
        )


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang


def _save(save: Path, kind: str, data: bytes, why: str, counts: Counts) -> None:
    save.mkdir(parents=True, exist_ok=True)
    name = f"{len(counts.failures):04d}-{kind.split(':')[0]}"
    (save / f"{name}.mora").write_bytes(data)
    (save / f"{name}.txt").write_text(why)
    counts.failures.append(f"{save / name}.mora: {why.splitlines()[-1] if why else ''}")


def run_library(
    seed: int,
    count: int,
    timeout: float,
    save: Path,
    progress: bool = False,
    plain_seeds: bool = True,
) -> Counts:
    """Check every input in this process (compile and write the clean ones)."""
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="mora-fuzz-cache-"))
    from mora.api import check_project, compile_project
    from mora.backends import TARGETS, NotBuilt, Options, write_target
    from mora.diagnostics import Diagnostics, render_json, render_text
    from mora.plan import build_plan, render_plan
    from mora.secrets.provider import MemoryProvider

    counts = Counts()
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory(prefix="mora-fuzz-") as tmp:
        project = Path(tmp) / "p"
        project.mkdir()
        out = Path(tmp) / "out"
        source = project / "main.mora"
        for n, (kind, data) in enumerate(inputs(seed, count, corpus(), plain_seeds)):
            counts.inputs[kind.split(":")[0]] += 1
            source.write_bytes(data)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                checked = check_project(project)
                diags = checked.diagnostics
                items = diags.sorted()
                for d in items:
                    render_text(d)
                    counts.codes[d.code] += 1
                render_json(items)
                if checked.program is not None and not diags.has_errors:
                    counts.checked_clean += 1
                    result = compile_project(
                        project, domain="example.org", provider=MemoryProvider(seed=b"fuzz")
                    )
                    if result.compiled is not None and not result.diagnostics.has_errors:
                        counts.compiled += 1
                        backend = Diagnostics()
                        for target in TARGETS:
                            with contextlib.suppress(NotBuilt):
                                write_target(target, result.compiled, out, Options(), backend)  # type: ignore[arg-type]
                        for d in backend.sorted():
                            render_text(d)
                        render_plan(build_plan(result.compiled.manifest))  # type: ignore[attr-defined]
            except Hang:
                counts.hangs += 1
                _save(save, kind, data, f"hang: over {timeout} s", counts)
            except Exception:
                counts.internal_errors += 1
                _save(save, kind, data, traceback.format_exc(), counts)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if progress and (n + 1) % 1000 == 0:
                counts.seconds = time.monotonic() - start
                print(counts.line(f"  ... {n + 1}"), file=sys.stderr, flush=True)
    signal.signal(signal.SIGALRM, previous)
    counts.seconds = time.monotonic() - start
    return counts


def run_cli(seed: int, count: int, timeout: float, save: Path, progress: bool = False) -> Counts:
    """Run `mora check` (and `mora compile` when clean) as a user would, on every input."""
    counts = Counts()
    start = time.monotonic()
    rng = random.Random(seed)
    seeds = corpus()
    picked = list(inputs(seed + 1, count, seeds, plain_seeds=False))
    rng.shuffle(picked)
    with tempfile.TemporaryDirectory(prefix="mora-fuzz-cli-") as tmp:
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO),
            XDG_CACHE_HOME=str(Path(tmp) / "cache"),
            XDG_DATA_HOME=str(Path(tmp) / "data"),
            MORA_SECRETS_KEY="",
        )
        env.pop("MORA_DEBUG", None)
        project = Path(tmp) / "p"
        project.mkdir()
        for n, (kind, data) in enumerate(picked[:count]):
            counts.inputs[kind] += 1
            (project / "main.mora").write_bytes(data)
            commands = [["check", "--format", "json", str(project)]]
            for i, args in enumerate(commands):
                try:
                    proc = subprocess.run(
                        [sys.executable, "-m", "mora.cli", *args],
                        cwd=tmp,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        timeout=timeout,
                    )
                except subprocess.TimeoutExpired:
                    counts.hangs += 1
                    _save(save, kind, data, f"hang: `mora {args[0]}` over {timeout} s", counts)
                    break
                if proc.returncode not in (0, 1):
                    counts.internal_errors += 1
                    why = f"`mora {' '.join(args[:1])}` exit {proc.returncode}\n"
                    _save(save, kind, data, why + proc.stderr.decode(errors="replace"), counts)
                    break
                if i == 0:
                    try:
                        doc = json.loads(proc.stdout)
                    except ValueError:
                        counts.internal_errors += 1
                        _save(save, kind, data, "check --format json: not JSON", counts)
                        break
                    for d in doc["diagnostics"]:
                        counts.codes[d["code"]] += 1
                    if proc.returncode == 0:
                        counts.checked_clean += 1
                        out = str(Path(tmp) / "out")
                        secrets = str(Path(tmp) / "s.secrets")
                        commands.append(
                            ["compile", str(project), "--domain", "example.org", "--out", out,
                             "--secrets", secrets, "--format", "json"]
                        )  # fmt: skip
                elif proc.returncode == 0:
                    counts.compiled += 1
            if progress and (n + 1) % 100 == 0:
                counts.seconds = time.monotonic() - start
                print(counts.line(f"  ... cli {n + 1}"), file=sys.stderr, flush=True)
    counts.seconds = time.monotonic() - start
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="in-process inputs")
    parser.add_argument("--cli", type=int, default=2_000, help="inputs through the CLI")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per input")
    parser.add_argument("--save", type=Path, default=Path(tempfile.gettempdir()) / "mora-fuzz")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    failed = 0
    for what, run, n in (("library", run_library, args.inputs), ("cli", run_cli, args.cli)):
        if n <= 0:
            continue
        counts = run(args.seed, n, args.timeout, args.save, args.progress)
        print(counts.line(what), flush=True)
        top = ", ".join(
            f"{c} {k}" for c, k in sorted(counts.codes.items(), key=lambda x: -x[1])[:12]
        )
        print(f"  most frequent diagnostics: {top}")
        for failure in counts.failures:
            print(f"  {failure}")
        failed += counts.internal_errors + counts.hangs
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
