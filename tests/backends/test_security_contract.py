"""The security contract (docs/security.md) on Kubernetes, and its sameness across backends.

The kubelet refuses some pods only when it meets the image: `runAsNonRoot: true` is checked
against the image's USER at container creation, which no validator of shapes (kubernetes-validate,
checkov) sees. The rules below restate the kubelet's and the API server's, as read in the
Kubernetes source (kubernetes/kubernetes, checked with the search tool):

* `pkg/kubelet/kuberuntime/security_context_others.go`, `verifyRunAsNonRoot`: with an effective
  `runAsNonRoot: true`, a `runAsUser` of 0 is refused, any other `runAsUser` passes; without a
  `runAsUser` the image's user decides: a name ("cannot verify user is non-root") and uid 0 ("image
  will run as root") are refused, a numeric non-root uid passes.
* `pkg/securitycontext/util.go`, `DetermineEffectiveSecurityContext`: a container's fields
  override the pod's.
* `pkg/apis/core/validation/validation.go`, `ValidateSecurityContext`: `allowPrivilegeEscalation:
  false` is invalid next to `privileged: true` or an added CAP_SYS_ADMIN; ids are 0..2147483647.

Every pod mora writes (examples, stdlib tests, golden cases, Kubernetes feature folders) is put
through them for three kinds of image: one that starts as root (USER empty or 0), one with a
numeric non-root USER and one with a named USER. None may be refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mora.api import check_project
from mora.backends._podman_common import plan as podman_plan
from mora.backends._podman_common import read_settings
from mora.backends.kubernetes import render
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics, render_text
from mora.model import RUNTIME_DEFAULT_CAPABILITIES, SWITCH_USER_CAPABILITIES
from tests.backends.test_quadlet import compile_dir, write_targets

ROOT = Path(__file__).resolve().parents[2]
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Image:
    """What the kubelet learns from an image's config: a numeric uid, or a user name."""

    kind: str
    uid: int | None
    username: str = ""


IMAGES = (
    Image("starts as root", 0),
    Image("numeric non-root USER", 1000),
    Image("named USER", None, "app"),
)


def _effective(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    merged = {
        k: v
        for k, v in (pod.get("securityContext") or {}).items()
        if k in ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")
    }
    merged.update(container.get("securityContext") or {})
    return merged


def refusals(pod: dict[str, Any], image: Image) -> list[str]:
    """Why the kubelet or the API server would refuse this pod spec on this image ([] = none)."""
    out = []
    for section in ("initContainers", "containers"):
        for c in pod.get(section) or []:
            sc = _effective(pod, c)
            name = c["name"]
            for key in ("runAsUser", "runAsGroup"):
                if key in sc and not 0 <= sc[key] <= MAX_ID:
                    out.append(f"{name}: invalid {key} {sc[key]}")
            if sc.get("allowPrivilegeEscalation") is False:
                if sc.get("privileged"):
                    out.append(f"{name}: allowPrivilegeEscalation false with privileged")
                added = (sc.get("capabilities") or {}).get("add") or []
                if "CAP_SYS_ADMIN" in added or "SYS_ADMIN" in added:
                    out.append(f"{name}: allowPrivilegeEscalation false with CAP_SYS_ADMIN")
            if not sc.get("runAsNonRoot"):
                continue
            if "runAsUser" in sc:
                if sc["runAsUser"] == 0:
                    out.append(f"{name}: runAsUser breaks non-root policy")
                continue
            # Only init containers run mora's own image; the others run the project's.
            if image.uid is None and image.username:
                out.append(f"{name}: runAsNonRoot and image has non-numeric user")
            elif image.uid == 0:
                out.append(f"{name}: runAsNonRoot and image will run as root")
    fs_group = (pod.get("securityContext") or {}).get("fsGroup")
    if fs_group is not None and not 0 <= fs_group <= MAX_ID:
        out.append(f"invalid fsGroup {fs_group}")
    return out


# --- every pod mora writes -----------------------------------------------------------------------


def _sources() -> Iterator[tuple[str, Path, Path | None, str | None]]:
    """(name, project folder, site file, domain) of every compiling project the tests know."""
    for p in sorted((ROOT / "projects").iterdir()):
        if p.is_dir():
            site = p / "site.yaml"
            yield f"projects/{p.name}", p, site if site.exists() else None, "example.org"
    for group in ("tests/stdlib", "tests/backends/kubernetes", "tests/backends/quadlet"):
        for folder in sorted((ROOT / group).iterdir()):
            if (folder / "input").is_dir():
                site = folder / "site.yaml"
                yield (
                    f"{group}/{folder.name}",
                    folder / "input",
                    (site if site.exists() else None),
                    "example.org",
                )
    for case in sorted((ROOT / "tests" / "cases").iterdir()):
        if (case / "site.yaml").exists() and (case / "input").is_dir():
            yield f"tests/cases/{case.name}", case / "input", case / "site.yaml", None


@pytest.fixture(scope="module")
def compiled_all() -> list[tuple[str, Compiled]]:
    out = []
    for name, project, site, domain in _sources():
        result = compile_dir(project, site=site, domain=None if site else domain)
        if isinstance(result.compiled, Compiled) and not result.diagnostics.has_errors:
            out.append((name, result.compiled))
    assert len(out) > 30  # the examples, the stdlib tests and the golden folders
    return out


def _pods(compiled: Compiled) -> Iterator[tuple[str, dict[str, Any]]]:
    docs = render(compiled, no_secrets=True, diags=Diagnostics())
    for doc in docs or []:
        body = doc.body
        if body.get("kind") in ("Deployment", "StatefulSet"):
            yield body["metadata"]["name"], body["spec"]["template"]["spec"]


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.kind)
def test_the_kubelet_refuses_no_pod_mora_writes(
    image: Image, compiled_all: list[tuple[str, Compiled]]
) -> None:
    refused = []
    count = 0
    for name, compiled in compiled_all:
        for workload, pod in _pods(compiled):
            count += 1
            refused += [f"{name} {workload}: {why}" for why in refusals(pod, image)]
    assert count > 50
    assert not refused, "\n".join(refused)


def test_the_rules_refuse_what_the_kubelet_refuses() -> None:
    """The rules are not vacuous: main's old output for an undeclared user is refused."""
    old = {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "app", "securityContext": {"runAsNonRoot": True}}],
    }
    root, numeric, named = IMAGES
    assert refusals(old, root) == ["app: runAsNonRoot and image will run as root"]
    assert refusals(old, named) == ["app: runAsNonRoot and image has non-numeric user"]
    assert refusals(old, numeric) == []
    with_user = {"containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]}
    with_user["securityContext"] = {"runAsNonRoot": True}
    assert refusals(with_user, numeric) == ["a: runAsUser breaks non-root policy"]
    privileged = {
        "containers": [
            {
                "name": "a",
                "securityContext": {"privileged": True, "allowPrivilegeEscalation": False},
            }
        ]
    }
    assert refusals(privileged, root) == ["a: allowPrivilegeEscalation false with privileged"]


# --- one meaning on every backend ----------------------------------------------------------------


def _k8s_containers(compiled: Compiled) -> dict[str, dict[str, Any]]:
    out = {}
    for _, pod in _pods(compiled):
        c = pod["containers"][0]
        out[c["name"]] = {"pod": pod.get("securityContext") or {}, **c}
    return out


def _podman_args(compiled: Compiled) -> dict[str, list[str]]:
    diags = Diagnostics()
    settings = read_settings(compiled.manifest, diags)
    dep = podman_plan(compiled, settings, diags, one_host=True)
    return {
        c.service.name: [a for o in c.opts for a in o.args]
        for hd in dep.hosts
        for c in hd.containers
    }


def test_the_same_capabilities_on_kubernetes_and_podman(
    compiled_all: list[tuple[str, Compiled]],
) -> None:
    checked = 0
    for name, compiled in compiled_all:
        k8s = _k8s_containers(compiled)
        for service, args in _podman_args(compiled).items():
            if service not in compiled.manifest.services:
                continue  # the podman reverse proxy has no Kubernetes twin
            svc = compiled.manifest.services[service]
            container = k8s.get(service)
            if container is None:
                continue  # renamed for Kubernetes (My_App -> my-app): compared elsewhere
            sc = container["securityContext"]
            if "--privileged" in args:
                assert sc["privileged"] is True, (name, service)
                continue
            assert "--cap-drop=all" in args and sc["capabilities"]["drop"] == ["ALL"]
            podman_caps = sorted(a.split("=", 1)[1] for a in args if a.startswith("--cap-add="))
            k8s_caps = sc["capabilities"].get("add", [])
            if svc.user and not svc.user.split(":")[0].isdigit():
                continue  # a named user: podman can use it, Kubernetes cannot (W0610)
            assert podman_caps == k8s_caps, (name, service)
            checked += 1
    assert checked > 40


def _compile_src(tmp_path: Path, src: str) -> tuple[Compiled, Diagnostics]:
    (tmp_path / "main.mora").write_text(src)
    result = compile_dir(tmp_path, domain="example.org")
    assert isinstance(result.compiled, Compiled), [render_text(d) for d in result.diagnostics]
    return result.compiled, result.diagnostics


CASES_SRC = """project p

service unknown {
  image = "docker.io/library/postgres:16.4"
  volumes { "/var/lib/postgresql/data" = volume() }
}

service numeric {
  image = "docker.io/library/redis:7.4"
  user = "999"
  volumes { "/data" = volume() }
}

service root {
  image = "lscr.io/linuxserver/sonarr:4.0.9"
  security {
    run_as_root = true
    reason = "s6 starts as root, chowns /config and drops to PUID"
  }
}

service admin {
  image = "docker.io/qmcgaw/gluetun:v3.39"
  security {
    privileged = true
    reason = "routes"
  }
}

service named {
  image = "docker.io/curlimages/curl:8.10.1"
  user = "curl_user"
}
"""


def test_each_case_of_the_contract(tmp_path: Path) -> None:
    compiled, diags = _compile_src(tmp_path, CASES_SRC)
    notes = [d for d in diags if d.code == "W0005"]
    assert [d.message.split("`")[1] for d in notes] == ["unknown"]  # once, for that one only
    assert notes[0].help and "user = " in notes[0].help and "run_as_root" in notes[0].help
    k8s = _k8s_containers(compiled)
    podman = _podman_args(compiled)

    # (c) nothing declared: no runAsNonRoot, podman's default set on both backends.
    sc = k8s["unknown"]["securityContext"]
    assert "runAsNonRoot" not in sc and "runAsNonRoot" not in k8s["unknown"]["pod"]
    assert sc["capabilities"]["add"] == sorted(RUNTIME_DEFAULT_CAPABILITIES)
    assert not any(a.startswith("--user") for a in podman["unknown"])
    # (a) a numeric user: runAsNonRoot beside runAsUser, the group owns fresh volumes.
    sc = k8s["numeric"]["securityContext"]
    assert (sc["runAsNonRoot"], sc["runAsUser"], sc["runAsGroup"]) == (True, 999, 999)
    assert k8s["numeric"]["pod"]["fsGroup"] == 999
    assert "add" not in sc["capabilities"]
    assert "--user=999:999" in podman["numeric"]
    # (b) run_as_root: exactly the switch-user set, on both.
    sc = k8s["root"]["securityContext"]
    assert "runAsNonRoot" not in sc and sc["capabilities"]["add"] == sorted(
        SWITCH_USER_CAPABILITIES
    )
    assert [a for a in podman["root"] if a.startswith("--cap-")] == [
        "--cap-drop=all",
        *(f"--cap-add={c}" for c in sorted(SWITCH_USER_CAPABILITIES)),
    ]
    # (d) privileged implies root.
    sc = k8s["admin"]["securityContext"]
    assert sc["privileged"] is True and sc["allowPrivilegeEscalation"] is True
    assert "runAsNonRoot" not in sc and "runAsNonRoot" not in k8s["admin"]["pod"]
    assert "--privileged" in podman["admin"]
    # A named user: Kubernetes cannot verify it (W0610, case c there); podman uses it.
    sc = k8s["named"]["securityContext"]
    assert "runAsNonRoot" not in sc and "runAsUser" not in sc
    assert sc["capabilities"]["add"] == sorted(RUNTIME_DEFAULT_CAPABILITIES)
    assert "--user=curl_user" in podman["named"] and "--cap-add=CHOWN" not in podman["named"]
    render(compiled, no_secrets=True, diags=(k8s_diags := Diagnostics()))
    assert [d.code for d in k8s_diags if d.code.startswith("W06")] == ["W0610"]


def test_volumes_are_created_owned_by_the_declared_user(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    compiled, _ = _compile_src(tmp_path / "src", CASES_SRC)
    out = tmp_path / "out"
    write_targets(compiled, out)
    unit = (out / "quadlet" / "local" / "p-numeric-data.volume").read_text()
    assert unit.endswith("User=999\nGroup=999\n")
    assert (
        "User="
        not in (out / "quadlet" / "local" / "p-unknown-var-lib-postgresql-data.volume").read_text()
    )
    run = (out / "podman" / "run.sh").read_text()
    assert "volume create --label mora.project=p --opt o=uid=999,gid=999 p-numeric-data " in run
    assert "volume create --label mora.project=p p-unknown-var" in run


def test_group_add_reaches_both_backends(tmp_path: Path) -> None:
    src = """project p
service transcoder {
  image = "docker.io/jellyfin/jellyfin:10.9.11"
  devices = ["/dev/dri"]
  security {
    run_as_user = 1000
    group_add = [44, 105]
  }
}
"""
    compiled, _ = _compile_src(tmp_path, src)
    assert _k8s_containers(compiled)["transcoder"]["pod"]["supplementalGroups"] == [44, 105]
    args = _podman_args(compiled)["transcoder"]
    assert "--group-add=44" in args and "--group-add=105" in args


def test_the_same_memory_ceiling_on_every_backend(
    compiled_all: list[tuple[str, Compiled]],
) -> None:
    """Kubernetes' memory limit and podman's `--memory` are one figure (1Gi when undeclared)."""
    units = {"Gi": "g", "Mi": "m", "Ki": "k"}
    checked = 0
    for name, compiled in compiled_all:
        k8s = _k8s_containers(compiled)
        for service, args in _podman_args(compiled).items():
            memory = [a.split("=", 1)[1] for a in args if a.startswith("--memory=")]
            assert len(memory) == 1, (name, service, args)
            if service not in k8s:
                continue
            limit = k8s[service]["resources"]["limits"]["memory"]
            assert memory[0] == limit[:-2] + units[limit[-2:]], (name, service)
            checked += 1
    assert checked > 40


# --- probes --------------------------------------------------------------------------------------


def test_start_period_is_a_startup_probe_not_a_delay(tmp_path: Path) -> None:
    """compose's start_period forgives failures while the app starts: readiness is not delayed."""
    src = """project p
service db {
  image = "docker.io/library/postgres:16.4"
  user = "999"
  ports { postgres = 5432 }
  healthcheck {
    test = ["CMD-SHELL", "pg_isready"]
    interval = 10s
    retries = 5
    start_period = 5m
  }
}
"""
    compiled, _ = _compile_src(tmp_path, src)
    container = _k8s_containers(compiled)["db"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert "initialDelaySeconds" not in container[probe]
        assert container[probe]["failureThreshold"] == 5
    startup = container["startupProbe"]
    assert startup["exec"] == container["readinessProbe"]["exec"]
    assert startup["periodSeconds"] == 10
    assert startup["failureThreshold"] == 30 + 5  # five minutes of 10s periods, then the retries


# --- the checker's side --------------------------------------------------------------------------


def _check(tmp_path: Path, src: str) -> list[tuple[str, str]]:
    (tmp_path / "main.mora").write_text(src)
    diags = check_project(tmp_path).diagnostics
    return [(d.code, d.message) for d in diags.sorted()]


def test_security_keys_are_typed(tmp_path: Path) -> None:
    found = _check(
        tmp_path,
        """project p
service a {
  image = "docker.io/library/nginx:1.27"
  security {
    run_as_user = 101
    run_as_group = "www"
    group_add = ["video"]
    run_as_gruop = 101
  }
}
""",
    )
    codes = [c for c, _ in found]
    assert codes.count("E0301") == 2, found  # the group and the groups must be numbers
    assert any(c == "E0207" and "run_as_gruop" in m for c, m in found), found


def test_the_unknown_user_note_once_per_service_or_template(tmp_path: Path) -> None:
    found = _check(
        tmp_path,
        """project p
template web(port: port = 80) {
  image = "docker.io/library/nginx:1.27"
  ports { http = args.port }
}
service one = web()
service two = web()
service plain {
  image = "docker.io/library/nginx:1.27"
}
service declared {
  image = "docker.io/library/nginx:1.27"
  security {
    run_as_root = true
    reason = "nginx binds 80 and drops to nginx"
  }
}
""",
    )
    notes = [m for c, m in found if c == "W0005"]
    assert len(notes) == 2, found
    assert notes[0].startswith("this template's service") or notes[1].startswith("this template")
    assert any("`plain`" in m for m in notes)


def test_no_unknown_user_note_while_there_are_errors(tmp_path: Path) -> None:
    found = _check(tmp_path, 'project p\nservice a {\n  image = "a:1"\n  restart = "never"\n}\n')
    assert [c for c, _ in found] == ["E0305"], found  # and no W0005 beside it
