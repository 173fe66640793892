"""Every app that can, behind the one login (issue 15): `tests/cases/sso-fwd` by the real CLI.

Lidarr, Bazarr, Stirling-PDF, SABnzbd, qBittorrent, Transmission, Syncthing, Uptime Kuma,
Navidrome, n8n and Jellystat given `identity` go through the provider's forward auth on both
backends. Lidarr's own login becomes External and Stirling-PDF's is turned off; Uptime Kuma's
push endpoint, n8n's webhooks and Navidrome's Subsonic API stay open, except where Navidrome
trusts the proxy's Remote-User (then an open /rest would let anyone name a user). The podman Caddyfile and the Kubernetes ingresses
are golden files beside the case (MORA_UPDATE_GOLDEN=1 rewrites them); the manifest is the
case's expected.manifest.json (tests/test_cases.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sso.case_build import CASES, check_golden, compiled_case

CASE = CASES / "sso-fwd"
# service -> (public host, internal host:port)
APPS = {
    "music": ("lidarr", "music:8686"),
    "subtitles": ("bazarr", "subtitles:6767"),
    "pdf": ("pdf", "pdf:8080"),
    "usenet": ("sabnzbd", "usenet:8080"),
    "downloads": ("downloads", "downloads:8080"),
    "torrents": ("torrents", "torrents:9091"),
    "sync": ("sync", "sync:8384"),
    "status": ("status", "status:3001"),
    "listen": ("music", "listen:4533"),
    "listen2": ("music2", "listen2:4533"),
    "flows": ("n8n", "flows:5678"),
    "stats": ("stats", "stats:3000"),
}
# the paths left open on a guarded host (the rest of the host is behind the provider)
OPEN = {
    "status": ["/api/push"],
    "listen": ["/rest"],
    "flows": ["/form", "/form-waiting", "/webhook", "/webhook-test", "/webhook-waiting"],
}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compiled_case("sso-fwd", tmp_path_factory.mktemp("sso-fwd"))


def _golden(name: str, actual: str) -> None:
    check_golden("sso-fwd", name, actual)


def _site(caddyfile: str, host: str) -> str:
    return caddyfile[caddyfile.index(f"\n{host}.example.org {{") :].split("\n}\n")[0]


def test_podman_routes_go_through_forward_auth(build: Path) -> None:
    files = build / "podman" / "files"
    (caddyfile,) = [p for p in files.iterdir() if "-Caddyfile" in p.name]
    text = caddyfile.read_text()
    _golden("expected.podman.Caddyfile", text)
    for name, (host, upstream) in APPS.items():
        site = _site(text, host)
        guarded = site.index("forward_auth auth:9091")
        assert guarded < site.rindex(f"reverse_proxy {upstream}"), name
        if name in OPEN:  # the open paths are served before, and without, the forward auth
            for path in OPEN[name]:
                opened = site.index(f" path {path} {path}/*")
                block = site[opened:].split("\t}\n")[0]  # its `handle`: straight to the app
                assert f"reverse_proxy {upstream}" in block and "forward_auth" not in block
                assert opened < guarded, name
            assert site.count("reverse_proxy") == len(OPEN[name]) + 1, name
        else:
            assert site.count("reverse_proxy") == 1, name


def test_kubernetes_ingresses_carry_the_middleware(build: Path) -> None:
    parts = []
    for name in APPS:
        folder = build / "kubernetes" / name
        ingresses = sorted(folder.glob("ingress*.yaml"))
        middleware = (folder / f"middleware-{name}-auth.yaml").read_text()
        assert "/api/authz/forward-auth" in middleware
        guarded = [p for p in ingresses if f"input-{name}-auth@kubernetescrd" in p.read_text()]
        assert len(guarded) == 1, (name, [p.name for p in ingresses])
        assert len(ingresses) == len(OPEN.get(name, [])) + 1, name
        for path in ingresses:
            parts.append(f"# {name}/{path.name}\n{path.read_text()}")
    _golden("expected.kubernetes.yaml", "---\n".join(parts))


def test_own_logins_step_aside_only_where_the_provider_replaces_them(build: Path) -> None:
    services = json.loads((build / "manifest.json").read_text())["services"]
    env = {name: services[name]["environment"] for name in APPS}
    assert env["music"]["LIDARR__AUTH__METHOD"] == {"value": "External"}
    assert env["pdf"]["SECURITY_ENABLELOGIN"] == {"value": "false"}
    assert "SECURITY_INITIALLOGIN_PASSWORD" not in env["pdf"]
    assert env["torrents"]["PASS"]["sources"] == ["secret.torrents_password"]  # kept
    assert env["sync"]["GUI_PASSWORD"]["sources"] == ["secret.sync_gui_password"]  # kept
    assert "set_password" in [s["name"] for s in services["downloads"]["setup"]]  # its own login
    # Navidrome trusts the header only with the proxy's own range, and then /rest is guarded
    assert not any(k.startswith("ND_EXTAUTH") for k in env["listen"])
    assert env["listen2"]["ND_EXTAUTH_USERHEADER"] == {"value": "Remote-User"}
    assert env["listen2"]["ND_EXTAUTH_TRUSTEDSOURCES"] == {"value": "10.89.0.2/32"}
    assert [r.get("path") for r in services["listen2"]["routes"]] == [None]


# --- apps that keep their own login say why, and E0306's help quotes it -------------------------

OWN = ["homeassistant", "seerr", "janitorr", "adguardhome", "pihole", "ntfy", "actual"]


@pytest.mark.parametrize("template", OWN)
def test_an_own_login_template_says_why_when_given_an_identity(
    template: str, tmp_path: Path
) -> None:
    from mora.api import check_project
    from mora.contracts.login import login_note
    from mora.diagnostics import render_text

    stdlib = Path(__file__).resolve().parents[2] / "stdlib"
    note = login_note((stdlib / f"{template}.mora").read_text(encoding="utf-8"))
    assert note is not None and note.split(":")[0] in ("own", "none"), note
    main = (CASE / "input" / "main.mora").read_text(encoding="utf-8")
    head = main[: main.index("defaults {")]  # the imports, without the services
    (tmp_path / "main.mora").write_text(
        f"{head}import {template}\n\nservice app = {template}(identity: auth)\n"
    )
    diags = check_project(tmp_path).diagnostics
    (e0306,) = [d for d in diags if d.code == "E0306" and "identity" in d.message]
    text = render_text(e0306)
    reason = note.partition(":")[2].strip().rstrip(".")
    assert reason in text and "route(auth:" not in text, text  # the why, not forward auth
    assert "login is `" + note.split(":")[0] + "`" in text
