"""The Kubernetes backend: golden output per feature, the real validators, leaks, determinism.

Golden folders live in tests/backends/kubernetes/<feature>/: `input/` (the project), optionally
`site.yaml`, `answers.yaml` (answered inputs) and `options.yaml` (`no_secrets: true`), and the
expected results: `expected/` (every file written below out/kubernetes/) and
`expected.diagnostics.txt` (absent = none). MORA_UPDATE_GOLDEN=1 rewrites them.

The slow tests run the real tools once per session: `kubernetes-validate --strict` (1.29 and
1.37) over everything compiled here, and checkov over the compiled examples, whose failed checks
must be exactly the ones allowed in kubernetes/checkov-allowlist.yaml.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mora.api import compile_project
from mora.backends import Options
from mora.backends.kubernetes import render, write
from mora.backends.kubernetes.naming import (
    data_keys,
    dns_label,
    joined,
    pull_policy,
    size_quantity,
    with_suffix,
)
from mora.backends.kubernetes.workload import exec_command
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics, render_text
from mora.secrets.provider import MemoryProvider
from tests.toolchain import KUBERNETES_VERSIONS, checkov, kubernetes_validate

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN = Path(__file__).parent / "kubernetes"
PROJECTS = ROOT / "projects"
CASES = ROOT / "tests" / "cases"
ALLOWLIST = ROOT / "kubernetes" / "checkov-allowlist.yaml"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


# --- compiling -----------------------------------------------------------------------------------


@dataclass
class Built:
    name: str
    compiled: Compiled
    out: Path  # holds kubernetes/
    diagnostics: Diagnostics


def _compile(
    project: Path,
    out: Path,
    *,
    site: Path | None = None,
    domain: str | None = None,
    answers: dict[str, str] | None = None,
    no_secrets: bool = False,
    seed: bytes = b"kubernetes",
) -> tuple[Compiled | None, Diagnostics]:
    result = compile_project(
        project,
        site_file=site,
        domain=domain,
        provider=MemoryProvider(seed=seed, values=answers or {}),
    )
    diags = result.diagnostics
    if result.compiled is None or diags.has_errors:
        return None, diags
    compiled = result.compiled
    assert isinstance(compiled, Compiled)
    write(compiled, out, Options(no_secrets=no_secrets), diags)
    return compiled, diags


def _answers(folder: Path) -> dict[str, str]:
    path = folder / "answers.yaml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _examples() -> list[Path]:
    return sorted(p for p in PROJECTS.iterdir() if p.is_dir())


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "site.yaml").exists())


def _golden() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input").is_dir())


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Built]]:
    """Every example, every compiling golden case and every feature folder, compiled once."""
    base = tmp_path_factory.mktemp("k8s-built")
    groups: dict[str, list[Built]] = {"examples": [], "cases": [], "golden": []}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(base / "config"))
        mp.setenv("XDG_CACHE_HOME", str(base / "cache"))
        for project in _examples():
            out = base / "examples" / project.name
            site = project / "site.yaml"  # an example may bring a site; else only a domain
            compiled, diags = _compile(
                project,
                out,
                site=site if site.exists() else None,
                domain=None if site.exists() else "example.org",
            )
            assert compiled is not None, [render_text(d) for d in diags.sorted()]
            groups["examples"].append(Built(project.name, compiled, out, diags))
        for case in _cases():
            mp.chdir(case)
            out = base / "cases" / case.name
            compiled, diags = _compile(
                Path("input"), out, site=Path("site.yaml"), answers=_answers(case), seed=b"golden"
            )
            if compiled is not None:  # cases that are meant to fail stop before the backends
                groups["cases"].append(Built(case.name, compiled, out, diags))
        for name in _golden():
            folder = GOLDEN / name
            mp.chdir(folder)
            out = base / "golden" / name
            compiled, diags = _golden_compile(folder, out)
            assert compiled is not None, [render_text(d) for d in diags.sorted()]
            groups["golden"].append(Built(name, compiled, out, diags))
    return groups


def _golden_compile(folder: Path, out: Path) -> tuple[Compiled | None, Diagnostics]:
    site = folder / "site.yaml"
    options = folder / "options.yaml"
    opts = (yaml.safe_load(options.read_text()) or {}) if options.exists() else {}
    return _compile(
        Path("input"),
        out,
        site=Path("site.yaml") if site.exists() else None,
        domain=None if site.exists() else "example.org",
        answers=_answers(folder),
        no_secrets=bool(opts.get("no_secrets")),
        seed=b"kubernetes-golden",
    )


def _all(built: dict[str, list[Built]]) -> Iterator[Built]:
    for group in built.values():
        yield from group


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _documents(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted((out / "kubernetes").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs.append((path, doc))
    return docs


# --- golden output per feature -------------------------------------------------------------------


@pytest.mark.parametrize("name", _golden())
def test_golden(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = GOLDEN / name
    monkeypatch.chdir(folder)
    compiled, diags = _golden_compile(folder, tmp_path)
    assert compiled is not None, [render_text(d) for d in diags.sorted()]
    actual = _files(tmp_path / "kubernetes")
    text = "\n\n".join(render_text(d) for d in diags.sorted())
    text = text + "\n" if text else ""
    expected_dir = folder / "expected"
    diag_file = folder / "expected.diagnostics.txt"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, data in actual.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(data)
        if text:
            diag_file.write_text(text, encoding="utf-8")
        else:
            diag_file.unlink(missing_ok=True)
        return
    expected = _files(expected_dir) if expected_dir.exists() else {}
    assert sorted(actual) == sorted(expected), "files differ (MORA_UPDATE_GOLDEN=1 rewrites them)"
    for rel in actual:
        assert actual[rel].decode() == expected[rel].decode(), f"{rel} differs"
    want = diag_file.read_text(encoding="utf-8") if diag_file.exists() else ""
    assert text == want, "diagnostics differ (MORA_UPDATE_GOLDEN=1 rewrites them)"


# --- properties of everything compiled -----------------------------------------------------------


def test_everything_compiles(built: dict[str, list[Built]]) -> None:
    assert [b.name for b in built["examples"]] == [p.name for p in _examples()]
    assert len(built["cases"]) >= 15, "the golden cases that compile should reach the backend"
    for b in _all(built):
        assert not b.diagnostics.has_errors, (b.name, [render_text(d) for d in b.diagnostics])
        kustomization = yaml.safe_load((b.out / "kubernetes" / "kustomization.yaml").read_text())
        listed = set(kustomization["resources"])
        on_disk = {
            p.relative_to(b.out / "kubernetes").as_posix()
            for p in (b.out / "kubernetes").rglob("*.yaml")
            if p.name != "kustomization.yaml"
        }
        assert listed == on_disk, b.name


def test_one_object_per_file_with_namespace_and_labels(built: dict[str, list[Built]]) -> None:
    for b in _all(built):
        for path, doc in _documents(b.out):
            assert isinstance(doc, dict), path
            text = path.read_text()
            assert "\n---" not in text and "&id" not in text, path
            if doc["kind"] in ("Kustomization", "Namespace", "PersistentVolume"):  # cluster-wide
                continue
            meta = doc["metadata"]
            assert isinstance(meta, dict)
            assert meta["namespace"], path
            labels = meta["labels"]
            assert labels["app.kubernetes.io/managed-by"] == "mora", path
            for key in ("name", "instance", "part-of"):
                assert labels[f"app.kubernetes.io/{key}"], (path, key)


def test_selectors_use_only_stable_labels(built: dict[str, list[Built]]) -> None:
    stable = {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    for b in _all(built):
        for path, doc in _documents(b.out):
            spec = doc.get("spec")
            if not isinstance(spec, dict):
                continue
            selector = spec.get("selector")
            if doc["kind"] in ("Deployment", "StatefulSet"):
                assert isinstance(selector, dict)
                selector = selector["matchLabels"]
                labels = spec["template"]["metadata"]["labels"]
                assert all(labels[k] == v for k, v in selector.items()), path
            if doc["kind"] == "NetworkPolicy":
                selector = spec["podSelector"]["matchLabels"]
            if selector is not None:
                assert set(selector) == stable, path


def _secret_values(compiled: Compiled) -> set[str]:
    values = set()
    for text in compiled.material.values():
        values.add(text)
        values.add(base64.b64encode(text.encode()).decode())
        values.update(line for line in text.splitlines() if len(line) >= 12)
    return {v for v in values if len(v) >= 8}


def test_no_secret_leaks_outside_secret_files(built: dict[str, list[Built]]) -> None:
    checked = 0
    for b in _all(built):
        secrets = _secret_values(b.compiled)
        for path in sorted(b.out.rglob("*")):
            if not path.is_file() or path.name == "secret.yaml":
                continue
            text = path.read_text(encoding="utf-8")
            for value in secrets:
                assert value not in text, f"{b.name}: a secret value is in {path.name}"
            checked += 1
    assert checked > 50


def test_secret_files_are_private_and_hold_the_material(built: dict[str, list[Built]]) -> None:
    seen = 0
    for b in _all(built):
        for path, doc in _documents(b.out):
            if doc["kind"] != "Secret":
                continue
            seen += 1
            assert path.name == "secret.yaml"
            assert path.stat().st_mode & 0o777 == 0o600, path
            assert doc["type"] == "Opaque"
            material = set(b.compiled.material.values())
            for value in doc["data"].values():
                assert base64.b64decode(value).decode() in material
    assert seen >= 5


def test_secret_references_resolve(built: dict[str, list[Built]]) -> None:
    """Every secretKeyRef / secret volume names a Secret key that exists (or would, for
    --no-secrets, in the golden folder that compiles the same project with secrets)."""
    for b in _all(built):
        docs = _documents(b.out)
        secrets = {
            doc["metadata"]["name"]: set(doc["data"]) for _, doc in docs if doc["kind"] == "Secret"
        }
        if b.name == "secrets-omitted":
            assert not secrets
            continue
        for path, doc in docs:
            if doc["kind"] not in ("Deployment", "StatefulSet"):
                continue
            pod = doc["spec"]["template"]["spec"]
            container = pod["containers"][0]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], (path, env["name"])
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                if "secret" in volume:
                    assert mount["subPath"] in secrets[volume["secret"]["secretName"]], path


def test_no_secrets_leaves_secret_files_out(tmp_path: Path) -> None:
    media = PROJECTS / "media"
    compiled, _ = _compile(media, tmp_path / "with", domain="example.org")
    assert compiled is not None
    _compile(media, tmp_path / "without", domain="example.org", no_secrets=True)
    with_files = _files(tmp_path / "with" / "kubernetes")
    without = _files(tmp_path / "without" / "kubernetes")
    secret_files = {f for f in with_files if f.endswith("/secret.yaml")}
    assert secret_files
    assert set(without) == set(with_files) - secret_files
    kustomization = yaml.safe_load(without["kustomization.yaml"])
    assert not any(r.endswith("secret.yaml") for r in kustomization["resources"])
    # The workloads still name the Secrets, to be delivered some other way.
    for name in without:
        if name != "kustomization.yaml":
            assert without[name] == with_files[name], name
    # Compiling into the same folder again with --no-secrets removes the old Secret files.
    _compile(media, tmp_path / "with", domain="example.org", no_secrets=True)
    assert _files(tmp_path / "with" / "kubernetes") == without


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for project in _examples():
        _compile(project, tmp_path / "a" / project.name, domain="example.org")
        _compile(project, tmp_path / "b" / project.name, domain="example.org")
        first = _files(tmp_path / "a" / project.name)
        assert first == _files(tmp_path / "b" / project.name)
        _compile(project, tmp_path / "a" / project.name, domain="example.org")
        assert first == _files(tmp_path / "a" / project.name)


def test_stale_files_are_removed_and_foreign_files_kept(tmp_path: Path) -> None:
    """What the last compile recorded and this one no longer writes goes; your files stay."""
    project = tmp_path / "p"
    project.mkdir()
    web = 'service {name} {{\n  image = "docker.io/library/nginx:1.27"\n}}\n'
    (project / "main.mora").write_text("project p\n" + web.format(name="a") + web.format(name="b"))
    out = tmp_path / "out"
    _compile(project, out, domain="example.org")
    root = out / "kubernetes"
    mine = sorted(p for p in root.rglob("*") if p.is_file() and "/b/" in p.as_posix())
    assert mine
    foreign = mine[0].parent / "my-patch.yaml"
    foreign.write_text("kind: ConfigMap\n")
    planted = root / "gone" / "deployment.yaml"  # never recorded: not ours to delete
    planted.parent.mkdir()
    planted.write_text("# Generated by mora from project `p`: old\nkind: Deployment\n")
    (project / "main.mora").write_text("project p\n" + web.format(name="a"))
    _compile(project, out, domain="example.org")
    assert not any(p.exists() for p in mine)
    assert foreign.exists() and planted.exists()
    assert (root / "kustomization.yaml").exists()


# --- behaviour of single features ----------------------------------------------------------------


def _render(
    tmp_path: Path, source: str, site: str = "domain: example.org\n"
) -> tuple[dict[str, Any] | None, Diagnostics]:
    project = tmp_path / "p"
    project.mkdir(exist_ok=True)
    (project / "main.mora").write_text(source)
    (tmp_path / "site.yaml").write_text(site)
    result = compile_project(
        project, site_file=tmp_path / "site.yaml", provider=MemoryProvider(seed=b"unit")
    )
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    diags = result.diagnostics
    docs = render(result.compiled, False, diags)  # type: ignore[arg-type]
    if docs is None:
        return None, diags
    return {d.path: d.body for d in docs}, diags


def _codes(diags: Diagnostics) -> list[str]:
    return [d.code for d in diags.sorted()]


def test_site_settings_are_checked(tmp_path: Path) -> None:
    src = 'project p\nservice web {\n  image = "nginx:1.27"\n  user = "101"\n}\n'
    site = "domain: example.org\nkubernetes:\n  namespace: Bad_NS\n  storage_clas: fast\n"
    docs, diags = _render(tmp_path, src, site)
    assert docs is None
    assert _codes(diags) == ["E0601", "W0601"]
    assert "did you mean `storage_class`" in (diags.sorted()[1].help or "")
    docs, diags = _render(tmp_path, src, "domain: example.org\nkubernetes:\n  ingress_class: 3\n")
    assert docs is None and _codes(diags) == ["E0601"]


def test_names_are_made_valid_and_clashes_reported(tmp_path: Path) -> None:
    src = 'project P\nservice My_App {\n  image = "nginx:1.27"\n  user = "101"\n}\n'
    docs, diags = _render(tmp_path, src)
    assert docs is not None and "my-app/deployment.yaml" in docs
    assert _codes(diags) == ["W0602"]
    src = 'project p\nservice App { image = "nginx:1.27" }\nservice app { image = "nginx:1.27" }\n'
    docs, diags = _render(tmp_path, src)
    assert docs is None and "E0602" in _codes(diags)


def test_root_user_needs_run_as_root(tmp_path: Path) -> None:
    docs, diags = _render(tmp_path, 'project p\nservice s {\n  image = "a:1"\n  user = 0\n}\n')
    assert docs is None and _codes(diags) == ["E0605"]


def test_memory_request_above_limit_is_an_error(tmp_path: Path) -> None:
    src = (
        'project p\nservice s {\n  image = "a:1"\n  user = "1000"\n'
        "  resources {\n    memory = 2Gi\n    memory_limit = 1Gi\n  }\n}\n"
    )
    docs, diags = _render(tmp_path, src)
    assert docs is None and _codes(diags) == ["E0604"]
    # A large request with no limit raises the default ceiling to the request.
    src = 'project p\nservice s {\n  image = "a:1"\n  resources { memory = 3Gi }\n}\n'
    docs, _ = _render(tmp_path, src)
    assert docs is not None
    container = docs["s/deployment.yaml"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {
        "limits": {"memory": "3Gi"},
        "requests": {"cpu": "50m", "memory": "3Gi"},
    }


def test_privileged_allows_escalation_as_kubernetes_requires(tmp_path: Path) -> None:
    src = (
        'project p\nservice s {\n  image = "a:1"\n'
        '  security {\n    privileged = true\n    reason = "needs the host"\n  }\n}\n'
    )
    docs, _ = _render(tmp_path, src)
    assert docs is not None
    template = docs["s/deployment.yaml"]["spec"]["template"]
    ctx = template["spec"]["containers"][0]["securityContext"]
    assert ctx["privileged"] is True and ctx["allowPrivilegeEscalation"] is True
    assert template["metadata"]["annotations"]["mora.dev/security-reason"] == "needs the host"


@pytest.mark.parametrize(
    ("test", "argv"),
    [
        (["CMD", "curl", "-f", "http://x/"], ["curl", "-f", "http://x/"]),
        (["CMD-SHELL", "pg_isready -U x"], ["/bin/sh", "-c", "pg_isready -U x"]),
        (["NONE"], None),
        ([], None),
        (["curl", "-f", "http://x/a b"], ["curl", "-f", "http://x/a b"]),
        (
            ["pg_isready", "-U", "a b", "||", "exit", "1"],
            ["/bin/sh", "-c", "pg_isready -U 'a b' || exit 1"],
        ),
    ],
)
def test_healthcheck_test_to_exec(test: list[str], argv: list[str] | None) -> None:
    assert exec_command(test) == argv


def test_names_and_keys() -> None:
    assert dns_label("My_App") == "my-app"
    assert dns_label("9lives", fallback="svc") == "svc-9lives"
    long = "a" * 80
    assert len(dns_label(long)) == 63 and dns_label(long) != dns_label(long + "b")
    assert len(with_suffix(long, "secrets")) == 63 and with_suffix(long, "secrets").endswith(
        "-secrets"
    )
    assert len(joined("wait-for", long)) <= 63
    keys = data_keys(["/a/b_c", "/a/b.c", "/a.b/c", "TOKEN"])
    assert len(set(keys.values())) == 4
    assert keys["TOKEN"] == "TOKEN" and keys["/a/b_c"] == "a.b_c"
    assert all(
        set(k) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
        for k in keys.values()
    )


def test_pull_policy_and_quantities() -> None:
    assert pull_policy("nginx:1.27") == "IfNotPresent"
    assert pull_policy("nginx") == "Always"
    assert pull_policy("nginx:latest") == "Always"
    assert pull_policy("registry.lan:5000/nginx") == "Always"
    assert pull_policy("nginx@sha256:" + "0" * 64) == "IfNotPresent"
    assert size_quantity("1K") == "1k"
    assert size_quantity("1.5Gi") == "1.5Gi"
    assert size_quantity("5 bananas") is None


# --- the real validators (slow) ------------------------------------------------------------------


def _run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_kubernetes_validate_strict(built: dict[str, list[Built]]) -> None:
    prefix = kubernetes_validate()
    files: list[str] = []
    kinds: Counter[str] = Counter()
    for b in _all(built):
        for path, doc in _documents(b.out):
            if doc["kind"] == "Kustomization":
                continue  # not a Kubernetes object: no schema
            if str(doc["apiVersion"]).startswith("traefik.io/"):
                continue  # Traefik's CRDs: no schema here (tests/backends/test_routes.py)
            files.append(str(path))
            kinds[str(doc["kind"])] += 1
    versions = [arg for v in KUBERNETES_VERSIONS for arg in ("-k", v)]
    proc = _run([*prefix, "--strict", "--quiet", *versions, *files])
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, output[-4000:]
    # A kind or apiVersion without a schema is only a WARN with exit 0: fail on those too.
    assert not output, output[-4000:]
    print(
        f"kubernetes-validate: {len(files)} objects valid for {KUBERNETES_VERSIONS}: {dict(kinds)}"
    )
    for kind in ("Namespace", "Deployment", "StatefulSet", "Service", "Ingress", "Secret"):
        assert kinds[kind] > 0, kind
    for kind in ("ConfigMap", "PersistentVolumeClaim", "NetworkPolicy"):
        assert kinds[kind] > 0, kind


def _allowlist() -> dict[str, str]:
    data = yaml.safe_load(ALLOWLIST.read_text(encoding="utf-8"))
    allowed = {}
    for entry in data["allow"]:
        assert str(entry.get("reason", "")).strip(), f"{entry['check']} needs a reason"
        allowed[entry["check"]] = entry["reason"]
    return allowed


@pytest.mark.slow
def test_checkov_only_allowed_failures(built: dict[str, list[Built]], tmp_path: Path) -> None:
    scan = tmp_path / "examples"
    for b in built["examples"]:
        shutil.copytree(b.out / "kubernetes", scan / b.name)
    proc = _run([*checkov(), "-d", str(scan)])
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one report per framework; we asked for one
        (report,) = report
    results = report.get("results", {})
    assert not results.get("parsing_errors"), results.get("parsing_errors")
    assert report["summary"]["resource_count"] > 0
    failed = results.get("failed_checks", [])
    allowed = _allowlist()
    new = sorted(
        {
            f"{c['check_id']} {c['check_name']} ({c['resource']})"
            for c in failed
            if c["check_id"] not in allowed
        }
    )
    assert not new, "checks failing that kubernetes/checkov-allowlist.yaml does not allow:\n" + (
        "\n".join(new)
    )
    failing = {c["check_id"] for c in failed}
    unneeded = sorted(set(allowed) - failing)
    assert not unneeded, f"allow-list entries no longer needed (remove them): {unneeded}"
    summary = report["summary"]
    print(f"checkov: {summary['passed']} passed, {summary['failed']} failed (all allowed)")


def test_wait_script_runs_with_a_minimal_busybox(tmp_path: Path) -> None:
    """The init containers' wait loop: exits 0 once the port answers, keeps waiting before."""
    import socket

    from mora.backends.kubernetes.workload import WAIT_SCRIPT

    busybox = shutil.which("busybox")
    if busybox is None:
        from tests.toolchain import missing

        missing("busybox (Debian's busybox-static)")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    script = WAIT_SCRIPT.replace("sleep 2", "sleep 0")
    closed = subprocess.run(
        [busybox, "sh", "-c", script.replace(" 300 ", " 2 "), "wait-for", "127.0.0.1", str(port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert closed.returncode == 1 and "timed out" in closed.stderr
    server.listen(5)
    try:
        opened = subprocess.run(
            [busybox, "sh", "-c", script, "wait-for", "127.0.0.1", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.close()
    assert opened.returncode == 0, opened.stderr


def test_a_dependency_held_for_inputs_is_not_waited_for(tmp_path: Path) -> None:
    """Waiting for a 0-replica service would keep the pod in Init forever."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.mora").write_text(
        """
        service auth {
          image = "docker.io/authelia/authelia:4.38.17"
          ports { http = 9091 }
          input key: secret { prompt = "signing key?" }
          environment { KEY = input.key }
        }
        service db { image = "docker.io/library/postgres:16.4" ports { pg = 5432 } }
        service app {
          image = "ghcr.io/example/app:1.0.0"
          ports { http = 80 }
          depends_on = [auth, db]
        }
        """
    )
    compiled, diags = _compile(project, tmp_path / "out", domain="example.org")
    assert compiled is not None
    docs = {
        (d["kind"], d["metadata"]["name"]): d
        for _, d in _documents(tmp_path / "out")
        if "metadata" in d  # kustomization.yaml has none
    }
    app = docs[("Deployment", "app")]["spec"]["template"]["spec"]
    assert [c["name"] for c in app["initContainers"]] == ["wait-for-db"]
    assert docs[("Deployment", "auth")]["spec"]["replicas"] == 0
    assert [d.code for d in diags if d.code == "W0607"] == ["W0607"]
