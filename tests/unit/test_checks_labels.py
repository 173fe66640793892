"""A project's labels never replace mora's own keys (issue 9, defect 4).

The golden case tests/cases/err-reserved-labels shows the check-time diagnostics; here: keys that
only exist at compile time (a map param from the site), and the backends' own guard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.backends import Options, kubernetes, quadlet
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.reserved import reserved_label
from tests.unit.helpers import codes, compile_src

SOURCE = """
project labels
param extra: map(string) = {}
service web {
  image = "docker.io/library/nginx:1.27"
  user = "1000:1000"
  labels = param.extra
}
"""


@pytest.mark.parametrize(
    "key",
    [
        "mora.project",
        "mora.service",
        "mora.dev/security-reason",
        "mora.dev/host-paths",
        "MORA.DEV/files-sha256",
        "checkov.io/skip1",
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/managed-by",
    ],
)
def test_reserved_keys(key: str) -> None:
    assert reserved_label(key)


@pytest.mark.parametrize(
    "key", ["org.example/owner", "app.kubernetes.io/description", "moravia", "traefik.enable"]
)
def test_ordinary_keys(key: str) -> None:
    assert reserved_label(key) is None


def test_a_reserved_key_from_the_site_is_an_error(tmp_path: Path) -> None:
    result = compile_src(
        tmp_path,
        SOURCE,
        sets=['extra={"mora.project": "media", "checkov.io/skip3": "CKV_K8S_8=x"}'],
    )
    assert codes(result.diagnostics) == ["E0320", "E0320"]
    messages = " ".join(d.message for d in result.diagnostics)
    assert "`mora.project`" in messages and "`checkov.io/skip3`" in messages


def test_backends_keep_moras_keys(tmp_path: Path) -> None:
    """Even given a manifest with such labels, the backends write mora's values, not the label."""
    result = compile_src(tmp_path, SOURCE, sets=['extra={"org.example/a": "1"}'])
    assert isinstance(result.compiled, Compiled) and not result.diagnostics.has_errors
    manifest = result.compiled.manifest
    svc = manifest.services["web"]
    forged = {"mora.project": "media", "mora.dev/pending-inputs": "x", "checkov.io/skip1": "y"}
    svc = svc.model_copy(update={"labels": {**svc.labels, **forged}})
    manifest = manifest.model_copy(update={"services": {"web": svc}})
    compiled = Compiled(manifest, dict(result.compiled.material))
    out = tmp_path / "out"
    diags = Diagnostics()
    quadlet.write(compiled, out, Options(), diags)
    kubernetes.write(compiled, out, Options(), diags)
    unit = (out / "quadlet" / "local" / "labels-web.container").read_text()
    assert "Label=mora.project=labels" in unit and "mora.project=media" not in unit
    assert "org.example/a=1" in unit
    k8s = "".join(p.read_text() for p in (out / "kubernetes").rglob("*.yaml"))
    assert "checkov.io/skip1" not in k8s and "pending-inputs" not in k8s
    assert "org.example/a" in k8s
