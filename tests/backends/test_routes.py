"""Routes on every backend: the Caddyfiles pass Debian's `caddy validate`, the Traefik objects an
Ingress names exist, and keys parse as documented.

The golden output itself is compared by test_kubernetes.py / test_quadlet.py (folders route-*),
and tests/cases/route-* hold the manifest and the diagnostics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from mora.backends.caddy import ProxyRoute, caddyfile_text
from mora.routes import split_key
from tests.toolchain import caddy

ROOT = Path(__file__).resolve().parents[2]
QUADLET = ROOT / "tests" / "backends" / "quadlet"
KUBERNETES = ROOT / "tests" / "backends" / "kubernetes"


def _caddyfiles() -> list[Path]:
    return sorted(QUADLET.glob("*/expected/quadlet/*/files/*Caddyfile*"))


def _validate(path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(
        [str(caddy()), "validate", "--adapter", "caddyfile", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_every_golden_caddyfile_is_valid(tmp_path: Path) -> None:
    files = _caddyfiles()
    assert any("route-options" in str(f) for f in files)  # the one with every option
    for path in files:
        proc = _validate(path, tmp_path)
        assert proc.returncode == 0, f"{path}:\n{proc.stderr[-3000:]}"


def test_caddy_validate_refuses_a_wrong_subdirective(tmp_path: Path) -> None:
    """The check above can fail: the same writer with one subdirective misspelt is refused."""
    route = ProxyRoute("a.example.org", "/api", "app", 8080, timeout_seconds=5)
    text = caddyfile_text("p", "local", None, [route])
    assert "read_timeout 5s" in text
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(text)
    bad.write_text(text.replace("read_timeout", "read_timeuot"))
    assert _validate(good, tmp_path).returncode == 0
    proc = _validate(bad, tmp_path)
    assert proc.returncode != 0 and "read_timeuot" in proc.stderr


def test_caddyfile_of_a_plain_route_is_unchanged() -> None:
    """One route at `/` without options is still one `reverse_proxy` line (as before routes)."""
    text = caddyfile_text("p", "local", None, [ProxyRoute("a.example.org", "/", "app", 80)])
    assert text.endswith("a.example.org {\n\treverse_proxy app:80\n}\n")


@pytest.mark.parametrize("folder", ["route-traefik", "route-nginx", "route-other-class"])
def test_ingress_references_resolve(folder: str) -> None:
    """Every Middleware and ServersTransport an annotation names is written, in its namespace;
    every Secret an Ingress names for a host is the one its owner asks cert-manager for."""
    docs = [yaml.safe_load(p.read_text()) for p in (KUBERNETES / folder).rglob("expected/*/*.yaml")]
    have = {(d["kind"], f"{d['metadata']['namespace']}-{d['metadata']['name']}") for d in docs}
    secrets: dict[str, set[str]] = {}
    issued: dict[str, str] = {}
    for d in docs:
        notes = d["metadata"].get("annotations", {})
        for ref in filter(None, notes.get(_MW, "").split(",")):
            assert ("Middleware", ref.removesuffix("@kubernetescrd")) in have, ref
        if ref := notes.get(_TRANSPORT):
            assert ("ServersTransport", ref.removesuffix("@kubernetescrd")) in have, ref
        if d["kind"] == "Ingress":
            (tls,) = d["spec"]["tls"]
            (host,) = tls["hosts"]
            secrets.setdefault(host, set()).add(tls["secretName"])
            if "cert-manager.io/cluster-issuer" in notes:
                assert host not in issued, f"two certificates for {host}"
                issued[host] = tls["secretName"]
        if d["apiVersion"].startswith("traefik.io/"):
            assert d["apiVersion"] == "traefik.io/v1alpha1"
    assert all(len(names) == 1 for names in secrets.values()), secrets
    assert {h: next(iter(n)) for h, n in secrets.items()} == issued
    kinds = {k for k, _ in have}
    assert ("Middleware" in kinds) == (folder == "route-traefik")


_MW = "traefik.ingress.kubernetes.io/router.middlewares"
_TRANSPORT = "traefik.ingress.kubernetes.io/service.serverstransport"


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("photos", ("photos", "/")),
        ("photos/", ("photos", "/")),
        ("photos/api/", ("photos", "/api")),
        ("media.home/v1/x", ("media.home", "/v1/x")),
        ("@", (None, "/")),
        ("@/api", (None, "/api")),
    ],
)
def test_route_keys(key: str, parsed: tuple[str | None, str]) -> None:
    assert split_key(key) == parsed


@pytest.mark.parametrize("key", ["Photos", "", "/api", "a//b", "a/../b", "a/b c", "@@", "a_b"])
def test_route_keys_refused(key: str) -> None:
    assert isinstance(split_key(key), str)


@pytest.mark.slow
def test_checkov_on_routes_and_storage(tmp_path: Path) -> None:
    """checkov over the route and storage golden output (Ingresses, Traefik objects, PVs) fails
    only the checks the examples' allow-list already allows."""
    import json
    import shutil

    from tests.backends.test_kubernetes import _allowlist
    from tests.toolchain import checkov

    for folder in ("route-traefik", "route-nginx", "storage-nfs"):
        shutil.copytree(KUBERNETES / folder / "expected", tmp_path / folder)
    proc = subprocess.run(
        [*checkov(), "-d", str(tmp_path)], capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        (report,) = report
    results = report.get("results", {})
    assert not results.get("parsing_errors"), results.get("parsing_errors")
    kinds = {c["resource"].split(".")[0] for c in results.get("passed_checks", [])}
    failed = {c["check_id"] for c in results.get("failed_checks", [])}
    assert failed <= set(_allowlist()), sorted(failed - set(_allowlist()))
    assert report["summary"]["resource_count"] > 0, kinds
