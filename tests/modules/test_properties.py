"""Property: one project used under two aliases compiles to two disjoint sets of objects.

Random alias names and random service sets: every service, volume, secret (store key) and route
of one copy differs from every one of the other, and the compile reports no error or warning.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.api import compile_project
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

RESERVED = {"param", "secret", "input", "site", "args", "self", "service", "import", "front"}
WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(
    lambda w: (
        w not in RESERVED
        and w not in {"true", "false", "none", "if", "else", "unordered", "as", "project"}
    )
)


def _module(services: list[str]) -> str:
    """A module of `services`, each with a port, a route, a volume and a secret of its own."""
    out = ["param host: string", "param uid: int = 1000", ""]
    for name in services:
        out += [
            f"secret {name}_key = password()",
            f"service {name} {{",
            '  image = "docker.io/library/nginx:1.27"',
            '  user = "${param.uid}:${param.uid}"',
            "  ports { http = 8080 }",
            f'  subdomain = "${{param.host}}-{name}"',
            f"  environment {{ KEY = secret.{name}_key }}",
            '  volumes { "/data" = volume(size: 1Gi) }',
            "}",
            "",
        ]
    return "\n".join(out)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    aliases=st.lists(WORDS, min_size=2, max_size=2, unique=True),
    services=st.lists(WORDS, min_size=1, max_size=4, unique=True),
)
def test_two_aliases_are_disjoint(tmp_path: Path, aliases: list[str], services: list[str]) -> None:
    # A folder of its own per example: hypothesis may draw the same names again (a replayed or
    # shrunk example), and tmp_path is shared by every example of one test.
    root = Path(tempfile.mkdtemp(dir=tmp_path)) / f"{aliases[0]}-{aliases[1]}-{'-'.join(services)}"
    (root / "lib").mkdir(parents=True)
    (root / ".git").mkdir()  # the boundary of imports: this directory
    (root / "lib" / "lib.mora").write_text(_module(services))
    a, b = aliases
    (root / "main.mora").write_text(
        f'project lab\nimport "./lib" as {a} (host: "{a}")\nimport "./lib" as {b} (host: "{b}")\n'
    )
    result = compile_project(root, domain="example.org", provider=MemoryProvider(seed=b"p"))
    loud = [d for d in result.diagnostics.sorted() if d.severity in ("error", "warning")]
    assert not loud, [d.message for d in loud]
    assert result.compiled is not None
    manifest = json.loads(manifest_json(result.compiled.manifest))  # type: ignore[attr-defined]

    def objects(alias: str) -> set[str]:
        found: set[str] = set()
        for name, svc in manifest["services"].items():
            if not name.startswith(alias + "-"):
                continue
            found.add(f"service:{name}")
            found |= {f"volume:{v['name']}" for v in svc.get("volumes") or [] if v.get("name")}
            found.add(f"route:{svc['subdomain']}")
        found |= {f"secret:{k}" for k in manifest["secrets"] if k.startswith(alias + "-")}
        return found

    one, two = objects(a), objects(b)
    per_copy = 3 * len(services) + len(services)  # service, volume, route, secret
    assert len(one) == per_copy and len(two) == per_copy
    assert one.isdisjoint(two)
    assert len(manifest["services"]) == 2 * len(services)
    assert len(manifest["secrets"]) == 2 * len(services)
