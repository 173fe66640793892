"""The standard library (stdlib/*.mora) and the example projects (projects/*).

Golden tests: each stdlib module has a small project under tests/stdlib/<module>/input/ that
instantiates its templates. It is compiled against example.org with seeded secrets, and compared
to `expected.manifest.json` (the manifest) and `expected.material.json` (the secret material the
backends deliver: rendered secret files and secret environment values, generated from the seed).
An optional `answers.yaml` answers the inputs. MORA_UPDATE_GOLDEN=1 rewrites the expected files
(read the diff before committing).

Every project under projects/ must check with no diagnostic at all (not even a warning) and
compile to a manifest that holds every service it declares.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest

from mora.api import check_project, compile_project
from mora.diagnostics import render_text
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parent.parent
STDLIB = REPO / "stdlib"
GOLDEN = Path(__file__).resolve().parent / "stdlib"
PROJECTS = REPO / "projects"
DOCS = REPO / "docs" / "stdlib"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"
DOMAIN = "example.org"


def _modules() -> list[str]:
    return sorted(p.stem for p in STDLIB.glob("*.mora"))


def _projects() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if p.is_dir() and any(p.glob("*.mora")))


def _answers(case: Path) -> dict[str, str]:
    path = case / "answers.yaml"
    if not path.exists():
        return {}
    import yaml

    return {str(k): str(v) for k, v in (yaml.safe_load(path.read_text()) or {}).items()}


def _compile(project: Path, answers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    provider = MemoryProvider(seed=b"stdlib", values=answers or {})
    return compile_project(project, domain=DOMAIN, provider=provider)


def _diagnostics(result: object) -> str:
    return "\n\n".join(render_text(d) for d in result.diagnostics.sorted())  # type: ignore[attr-defined]


def _missing_services(result: object) -> list[str]:
    """Services the project declares but the manifest lacks (a compile must drop none)."""
    declared = set(result.program.services)  # type: ignore[attr-defined]
    compiled = set(result.compiled.manifest.services)  # type: ignore[attr-defined]
    return sorted(declared - compiled)


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, (
        f"{path.relative_to(REPO)} differs (MORA_UPDATE_GOLDEN=1 rewrites it)"
    )


# --- the standard library ------------------------------------------------------------------------


def test_every_module_has_a_golden_case_and_a_reference_page() -> None:
    modules = _modules()
    assert modules, "stdlib/ has no modules"
    assert [m for m in modules if not (GOLDEN / m / "input").is_dir()] == []
    assert [m for m in modules if not (DOCS / f"{m}.md").is_file()] == []
    assert sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) == modules


def test_every_module_checks_on_its_own() -> None:
    """A module is only templates: importing it alone gives no diagnostic."""
    for module in _modules():
        diags = check_project(STDLIB / f"{module}.mora").diagnostics
        assert not list(diags.sorted()), f"{module}: " + "\n".join(
            d.message for d in diags.sorted()
        )


@pytest.mark.parametrize("module", _modules())
def test_module_golden(module: str) -> None:
    case = GOLDEN / module
    result = _compile(case / "input", _answers(case))
    assert result.compiled is not None and not _diagnostics(result), _diagnostics(result)
    assert _missing_services(result) == [], (
        "the compile dropped services without a diagnostic: "
        "a template with its own `secret` given a secret argument (see the report)"
    )
    manifest = result.compiled.manifest
    templates = {s.template for s in manifest.services.values()} - {None}
    assert templates, f"the {module} case instantiates no template"
    _compare(case / "expected.manifest.json", manifest_json(manifest))
    material = json.dumps(result.compiled.material, indent=2, sort_keys=True, ensure_ascii=False)
    _compare(case / "expected.material.json", material + "\n")


def test_a_template_with_its_own_secret_takes_a_secret_argument(tmp_path: Path) -> None:
    """The pattern most stdlib templates rely on: Sonarr generates its API key and is given the
    database password. Evaluating the instance's arguments must not need the secrets it is
    asked to generate."""
    (tmp_path / "main.mora").write_text(
        """
        secret db_password = password(length: 20)
        template app(db_password: secret) {
          image = "docker.io/library/busybox:1.36"
          secret api_key = hex(16)
          environment { KEY = secret.api_key  DB = args.db_password }
        }
        service a = app(db_password: secret.db_password)
        """
    )
    result = _compile(tmp_path)
    assert result.compiled is not None, _diagnostics(result)
    assert list(result.compiled.manifest.services) == ["a"], (
        "service `a` was dropped without a diagnostic: Evaluator.secret_requests() evaluates "
        "every argument of the instance that owns `a_api_key`, `secret.db_password` has no "
        "value yet at that point, and the _Abort makes secret_requests() return None"
    )


def test_template_secrets_are_named_after_the_instance() -> None:
    """`secret api_key` in the sonarr template is `secret.<instance>_api_key` in the project."""
    result = _compile(GOLDEN / "sonarr" / "input")
    assert result.compiled is not None, _diagnostics(result)
    manifest = result.compiled.manifest
    assert "tv_api_key" in manifest.secrets
    env = manifest.services["tv"].environment["SONARR__AUTH__APIKEY"]
    assert env.sources == ["secret.tv_api_key"] and env.value is None


def test_input_prompts_carry_the_real_urls() -> None:
    result = _compile(GOLDEN / "janitorr" / "input")
    assert result.compiled is not None, _diagnostics(result)
    inputs = result.compiled.manifest.inputs
    key = inputs["janitor_jellyfin_api_key"]
    assert key.after == ["watch"] and not key.answered
    assert "https://watch.example.org/web/#/dashboard/keys" in (key.prompt or "")
    assert "https://requests.example.org/settings/main" in (
        inputs["janitor_seerr_api_key"].prompt or ""
    )
    janitor = result.compiled.manifest.services["janitor"]
    assert janitor.files[0].pending == sorted(inputs)


# --- the example projects ------------------------------------------------------------------------


def test_there_are_example_projects() -> None:
    assert {"media", "identity", "homelab"} <= set(_projects())


@pytest.mark.parametrize("project", _projects())
def test_project_checks_without_any_diagnostic(project: str) -> None:
    diags = check_project(PROJECTS / project).diagnostics
    assert not list(diags.sorted()), "\n\n".join(render_text(d) for d in diags.sorted())


@pytest.mark.parametrize("project", _projects())
def test_project_compiles_every_service(project: str) -> None:
    result = _compile(PROJECTS / project)
    assert result.compiled is not None and not _diagnostics(result), _diagnostics(result)
    assert _missing_services(result) == []
    for name, svc in result.compiled.manifest.services.items():
        assert svc.image.split("/")[-1].count(":") == 1, f"{name}: image without a pinned tag"


def test_caddy_needs_the_podman_proxy_off(tmp_path: Path) -> None:
    """The caddy template publishes 80/443 like mora's own podman proxy: with the proxy on
    (the default) the podman targets refuse it (E0707), with `proxy: false` in the site they
    write it cleanly. Both are what the template's header and docs say."""
    from mora.backends import Options, podman, quadlet
    from mora.diagnostics import Diagnostics

    case = GOLDEN / "caddy" / "input"
    for proxy, clash in ((True, True), (False, False)):
        site = tmp_path / f"site-{proxy}.yaml"
        site.write_text(f"domain: {DOMAIN}\npodman:\n  proxy: {str(proxy).lower()}\n")
        result = compile_project(case, site_file=site, provider=MemoryProvider(seed=b"stdlib"))
        assert result.compiled is not None, _diagnostics(result)
        for backend in (quadlet, podman):
            diags = Diagnostics()
            backend.write(result.compiled, tmp_path / f"out-{proxy}", Options(), diags)
            codes = {d.code for d in diags.sorted()}
            assert ("E0707" in codes) == clash, (proxy, backend.__name__, codes)
            if not clash:
                assert not diags.has_errors, [render_text(d) for d in diags.sorted()]


@pytest.mark.parametrize("module, service", [("postgres", "db"), ("redis", "cache")])
def test_database_volumes_get_the_image_users_group(module: str, service: str) -> None:
    """Postgres and Redis run as uid 999 (the images' own users): their pods carry fsGroup 999,
    so a fresh volume from a storage class that hands out root-owned directories (Longhorn,
    NFS; only local-path is world-writable) is writable to them."""
    from mora.backends.kubernetes import render
    from mora.diagnostics import Diagnostics

    result = _compile(GOLDEN / module / "input")
    assert result.compiled is not None, _diagnostics(result)
    pods = {
        doc.body["metadata"]["name"]: doc.body["spec"]["template"]["spec"]
        for doc in render(result.compiled, no_secrets=True, diags=Diagnostics()) or []
        if doc.body.get("kind") in ("Deployment", "StatefulSet")
    }
    context = pods[service]["securityContext"]
    assert context["fsGroup"] == 999 and context["runAsNonRoot"] is True
    container = pods[service]["containers"][0]["securityContext"]
    assert container["runAsUser"] == 999 and container["runAsGroup"] == 999


SOURCE_KEYS = ("image", "port", "env", "state", "health", "user")
SOURCE_LINE = re.compile(
    r"^# source (?P<key>[a-z]+): (?P<text>.+) \(checked (?P<date>\d{4}-\d{2}-\d{2})\)$"
)
DEFAULT_IMAGE = re.compile(r'image: string = "(?P<image>[^"]+)"')


def _source_problems(text: str) -> list[str]:
    """What a module's `# source KEY: ... (checked DATE)` lines lack (docs/stdlib/README.md)."""
    problems: list[str] = []
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("# source "):
            continue
        match = SOURCE_LINE.match(line)
        if match is None:
            problems.append(f"malformed source line: {line!r}")
            continue
        key, body = match["key"], match["text"].strip()
        if key not in (*SOURCE_KEYS, "resources", "sso"):  # sso: docs/stdlib/sso.md
            problems.append(f"unknown source key {key!r}")
        try:
            date.fromisoformat(match["date"])
        except ValueError:
            problems.append(f"bad date in {line!r}")
        if len(body) < 10:
            problems.append(f"source {key} says too little: {body!r}")
        found.setdefault(key, []).append(body)
    problems += [f"no `# source {key}:` line" for key in SOURCE_KEYS if key not in found]
    for match in DEFAULT_IMAGE.finditer(text):
        tag = match["image"].rsplit(":", 1)[-1]
        if not any(tag in body for body in found.get("image", [])):
            problems.append(f"the default image tag {tag!r} is on no `# source image:` line")
    return problems


@pytest.mark.parametrize("module", _modules())
def test_every_module_cites_its_sources(module: str) -> None:
    problems = _source_problems((STDLIB / f"{module}.mora").read_text(encoding="utf-8"))
    assert problems == [], f"{module}: " + "; ".join(problems)


# The apps whose memory and CPU needs their own docs state (issue 10): their `resources` block
# cites them on a `# source resources:` line, and asks for memory and CPU explicitly.
RESOURCES_CITED = ("immich", "jellyfin", "mariadb", "postgres")


@pytest.mark.parametrize("module", RESOURCES_CITED)
def test_resource_numbers_cite_the_apps_requirements(module: str) -> None:
    text = (STDLIB / f"{module}.mora").read_text(encoding="utf-8")
    lines = [m for m in map(SOURCE_LINE.match, text.splitlines()) if m and m["key"] == "resources"]
    assert lines, f"{module}: no `# source resources:` line"
    assert re.search(r"https?://|docs/", lines[0]["text"]), "a resources source names its page"
    blocks = re.findall(r"\n  resources \{(.*?)\n  \}", text, re.S)
    assert blocks and all("memory" in b and "memory_limit" in b for b in blocks), module


def test_the_sources_check_catches_what_is_missing() -> None:
    """The check above can fail: a bumped tag, a missing key, a line without its date."""
    good = (STDLIB / "seerr.mora").read_text(encoding="utf-8")
    assert _source_problems(good) == []
    bumped = good.replace('seerr:v3.1.0"', 'seerr:v3.9.9"')
    assert any("v3.9.9" in p for p in _source_problems(bumped))
    no_health = "\n".join(x for x in good.splitlines() if not x.startswith("# source health:"))
    assert "no `# source health:` line" in _source_problems(no_health)
    undated = good.replace(" (checked 2026-11-30)", "", 1)
    assert any("malformed" in p for p in _source_problems(undated))


def _sso_problems(text: str) -> list[str]:
    """A template with an `identity` parameter needs a `# source sso:` line (README.md)."""
    from mora import ast
    from mora.diagnostics import Diagnostics
    from mora.parser import parse_module
    from mora.source import SourceFile

    tree = parse_module(SourceFile("module.mora", text), Diagnostics())
    takes = [
        d.name.text
        for d in tree.decls
        if isinstance(d, ast.TemplateDecl)
        for p in d.params
        if any(isinstance(n, ast.Name) and n.text == "identity" for n in _names(p.type))
    ]
    cited = any(m and m["key"] == "sso" for m in map(SOURCE_LINE.match, text.splitlines()))
    return [] if cited or not takes else [f"{', '.join(takes)} takes `identity`: no `# source sso:`"]


def _names(node: object) -> list[object]:
    from mora import ast

    if isinstance(node, ast.TypeExpr):
        return [node.name, *(n for a in node.args for n in _names(a))]
    return []


@pytest.mark.parametrize("module", _modules())
def test_a_template_taking_identity_cites_its_sign_in(module: str) -> None:
    assert _sso_problems((STDLIB / f"{module}.mora").read_text(encoding="utf-8")) == []


def test_the_sso_check_catches_a_missing_line() -> None:
    good = (STDLIB / "grafana.mora").read_text(encoding="utf-8")
    assert _sso_problems(good) == []
    bare = "\n".join(x for x in good.splitlines() if not x.startswith("# source sso:"))
    assert _sso_problems(bare) == ["grafana takes `identity`: no `# source sso:`"]


def test_the_media_project_has_a_download_client_on_the_same_tree() -> None:
    """Sonarr and Radarr can only import what a download client fetched if the client writes
    under the same host directory, at the same container path (/data), so the paths it reports
    are valid in theirs and the files can be hardlinked."""
    result = _compile(PROJECTS / "media")
    assert result.compiled is not None, _diagnostics(result)
    services = result.compiled.manifest.services
    client = services["downloads"]
    assert client.template == "qbittorrent"

    def data_source(name: str) -> str:
        (mount,) = [v for v in services[name].volumes if v.path == "/data"]
        return str(mount.host_path)

    assert data_source("downloads") == data_source("tv") == data_source("movies")
    defaults = next(f for f in client.files if f.path == "/defaults/qBittorrent.conf")
    assert "Downloads\\SavePath=/data/downloads/" in (defaults.content or "")


@pytest.mark.slow
def test_every_module_writes_every_target_cleanly(tmp_path: Path) -> None:
    """Each module's golden case, answered, goes through every backend with no error or warning,
    its Kubernetes objects pass kubernetes-validate --strict and its quadlet units pass
    quadlet -dryrun (the projects cover only the templates they use; this covers the rest).
    Issue 15's proof: every template is instantiated by a case (a base through the templates
    built on it), every input is answered, and checkov fails only the allow-listed checks."""
    import shutil
    import subprocess

    from mora.backends import TARGETS, Options, write_target
    from mora.diagnostics import Diagnostics
    from mora.stdlib_table import read_stdlib, rows
    from tests.backends.test_kubernetes import _allowlist
    from tests.backends.test_quadlet import dryrun, host_dirs, quadlet_problems
    from tests.toolchain import KUBERNETES_VERSIONS, checkov, kubernetes_validate

    k8s_files: list[str] = []
    instantiated: set[str | None] = set()
    scan = tmp_path / "checkov"
    for module in _modules():
        case = GOLDEN / module
        # A site with Let's Encrypt (else the podman proxy notes its local CA); caddy takes the
        # proxy's place (see test_caddy_needs_the_podman_proxy_off).
        site = tmp_path / f"{module}.site.yaml"
        proxy = "false" if module == "caddy" else "true"
        site.write_text(
            f"domain: {DOMAIN}\npodman:\n  acme_email: admin@{DOMAIN}\n  proxy: {proxy}\n"
        )
        provider = MemoryProvider(seed=b"stdlib", values=_answers(case))
        result = compile_project(case / "input", site_file=site, provider=provider)
        assert result.compiled is not None, _diagnostics(result)
        manifest = result.compiled.manifest
        unanswered = sorted(k for k, i in manifest.inputs.items() if not i.answered)
        assert not unanswered, f"{module}: answers.yaml leaves inputs open: {unanswered}"
        instantiated |= {s.template for s in manifest.services.values()}
        out = tmp_path / module
        diags = Diagnostics()
        for target in TARGETS:
            write_target(target, result.compiled, out, Options(), diags)
        shutil.copytree(out / "kubernetes", scan / module)
        # Notes stay (a host mount ties a pod to its node: W0603 says so), and so does W0604 for
        # the jellyfin case's GPU (Kubernetes needs the hardware's device plugin, the warning's
        # point); nothing else may.
        loud = [d for d in diags.sorted() if d.severity.value != "note" and d.code != "W0604"]
        assert not loud, f"{module}: " + "\n".join(render_text(d) for d in loud)
        k8s_files += [
            str(p)
            for p in sorted((out / "kubernetes").rglob("*.yaml"))
            if "kind: Kustomization" not in p.read_text(encoding="utf-8")
        ]
        for host in host_dirs(out):
            proc = dryrun(host)
            problems = quadlet_problems(proc)
            assert proc.returncode == 0 and not problems, f"{module}/{host.name}: {problems}"
    versions = [arg for v in KUBERNETES_VERSIONS for arg in ("-k", v)]
    proc = subprocess.run(
        [*kubernetes_validate(), "--strict", "--quiet", *versions, *k8s_files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not output, output[-4000:]

    table = rows(read_stdlib(STDLIB))
    bases = {r.base for r in table if r.base}
    templates = {r.name for r in table if not r.group} - bases
    assert sorted(templates - instantiated) == [], "templates no golden case instantiates"

    # checkov once over every module's objects (one run: it starts slowly)
    proc = subprocess.run(
        [*checkov(), "-d", str(scan)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one report per framework; we asked for one
        (report,) = report
    results = report.get("results", {})
    assert not results.get("parsing_errors"), results.get("parsing_errors")
    assert report["summary"]["resource_count"] > 0
    allowed = _allowlist()
    new = sorted(
        {
            f"{c['check_id']} {c['check_name']} ({c['file_path']}: {c['resource']})"
            for c in results.get("failed_checks", [])
            if c["check_id"] not in allowed
        }
    )
    assert not new, "checks failing that kubernetes/checkov-allowlist.yaml does not allow:\n" + (
        "\n".join(new)
    )


def test_gluetun_carries_another_services_traffic(tmp_path: Path) -> None:
    """A service in gluetun's network namespace (`network_mode = "service:vpn"`, the point of
    the template): with quadlet it joins the VPN's container and the units pass quadlet -dryrun,
    the VPN's firewall lets the joined service's port in; Kubernetes refuses it (E0606), as the
    template's header and docs page say."""
    from mora.backends import Options, kubernetes, quadlet
    from mora.diagnostics import Diagnostics
    from tests.backends.test_quadlet import dryrun, host_dirs, quadlet_problems

    project = tmp_path / "project"
    project.mkdir()
    case = GOLDEN / "gluetun"
    (project / "main.mora").write_text(
        (case / "input" / "main.mora").read_text(encoding="utf-8")
        + """
service downloads {
  image = "docker.io/library/busybox:1.36"
  user = "1000"
  command = ["httpd", "-f", "-p", "8080"]
  network_mode = "service:vpn"
  subdomain = "downloads"
  ports { http = 8080 }
}
""",
        encoding="utf-8",
    )
    result = _compile(project, _answers(case))
    assert result.compiled is not None and not _diagnostics(result), _diagnostics(result)
    vpn = result.compiled.manifest.services["vpn"]
    assert vpn.environment["FIREWALL_INPUT_PORTS"].value == "8080"

    diags = Diagnostics()
    quadlet.write(result.compiled, tmp_path / "out", Options(), diags)
    assert not diags.has_errors, [render_text(d) for d in diags.sorted()]
    (host,) = host_dirs(tmp_path / "out")
    unit = (host / "project-downloads.container").read_text(encoding="utf-8")
    assert "Network=container:project-vpn" in unit
    vpn_unit = (host / "project-vpn.container").read_text(encoding="utf-8")
    assert "AddDevice=/dev/net/tun" in vpn_unit and "AddCapability=NET_ADMIN" in vpn_unit
    proc = dryrun(host)
    assert proc.returncode == 0 and not quadlet_problems(proc), quadlet_problems(proc)

    diags = Diagnostics()
    kubernetes.write(result.compiled, tmp_path / "k8s", Options(), diags)
    assert "E0606" in {d.code for d in diags.sorted()}
