"""Performance figures: parse/check/compile times for generated projects, and `mora check` wall
time on the example project. Prints figures; asserts nothing (targets are in the README of the
issue: `mora check` on the example under 150 ms, 1,000 services compiled in under 2 s).

    python benchmarks/run.py [--sizes 10,100,1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def generate(n: int) -> str:
    """A project of `n` services in the shape of a real stack: env, ports, volumes, secrets."""
    out = ["project bench", 'param timezone: string = "Etc/UTC"', 'param root: path = "/srv"']
    for i in range(n):
        out.append(f"secret key{i} = hex(16)")
    for i in range(n):
        dep = f"depends_on = [svc{i - 1}]" if i else ""
        out.append(
            f"""service svc{i} {{
  image = "ghcr.io/example/app{i % 7}:1.{i % 10}.0"
  subdomain = "app{i}"
  ports {{ http = {8000 + i % 1000} }}
  environment {{
    TZ = param.timezone
    API_KEY = secret.key{i}
    URL = "http://svc{max(i - 1, 0)}:${{svc{max(i - 1, 0)}.ports.http}}/api"
  }}
  volumes {{
    "/config" = volume(size: 1Gi)
    "/data" = bind(param.root)
  }}
  healthcheck {{ test = ["CMD", "true"] interval = 30s }}
  {dep}
}}"""
        )
    return "\n".join(out) + "\n"


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from mora.api import check_project, compile_project
    from mora.checker import check
    from mora.diagnostics import Diagnostics
    from mora.loader import load_project
    from mora.model import manifest_json
    from mora.secrets.provider import MemoryProvider

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    # The in-process figures measure the whole pipeline: no parse cache.
    os.environ["MORA_NO_CACHE"] = "1"
    print(f"{'services':>8} {'parse':>9} {'check':>9} {'compile':>9} {'services/s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            project = Path(tmp) / f"p{n}"
            project.mkdir()
            (project / "main.mora").write_text(generate(n))
            provider = MemoryProvider(seed=b"bench")
            compile_project(project, domain="example.org", provider=provider)  # warm secrets

            def parse(project: Path = project) -> None:
                load_project(project, Diagnostics())

            def checked(project: Path = project) -> None:
                d = Diagnostics()
                check(load_project(project, d), d)

            def compiled(project: Path = project, provider: MemoryProvider = provider) -> None:
                r = compile_project(project, domain="example.org", provider=provider)
                assert r.compiled is not None, [x.message for x in r.diagnostics]
                manifest_json(r.compiled.manifest)  # type: ignore[attr-defined]

            tp, tc, tx = (best(f, args.repeat) for f in (parse, checked, compiled))
            print(
                f"{n:>8} {tp * 1000:>7.1f}ms {tc * 1000:>7.1f}ms {tx * 1000:>7.1f}ms {n / tx:>11.0f}"
            )
            assert not check_project(project).diagnostics.has_errors

    # `mora check` as a pre-commit hook runs it: a fresh process, bytecode compiled (as an
    # installed package is), with the parse cache warm (the usual case) and without it.
    example = REPO / "projects" / "media"
    import compileall

    compileall.compile_dir(REPO / "mora", quiet=1)
    base_env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MORA_NO_CACHE")
    }
    base_env["PYTHONPATH"] = str(REPO)
    mora_bin = Path(sys.executable).parent / "mora"
    commands = [("python -m mora", [sys.executable, "-m", "mora", "check", str(example)])]
    if mora_bin.exists():
        commands.append(("console script", [str(mora_bin), "check", str(example)]))
    for name, cmd in commands:
        for label, extra in (("cache warm", {}), ("no parse cache", {"MORA_NO_CACHE": "1"})):
            env = base_env | extra
            subprocess.run(cmd, env=env, capture_output=True, check=True)  # warm up
            walls = []
            for _ in range(7):
                t = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                walls.append(time.perf_counter() - t)
            print(
                f"mora check projects/media, {name}, {label}: best {min(walls) * 1000:.0f} ms, "
                f"median {statistics.median(walls) * 1000:.0f} ms wall"
            )


if __name__ == "__main__":
    main()
