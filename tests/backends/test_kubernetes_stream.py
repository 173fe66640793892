"""The Kubernetes backend turns each service's objects into text as soon as the service is done.

A 10,000-service compile held every object of every service until all were checked (the peak of
a large compile, docs/performance.md). The text is the same as rendering the objects first and
dumping them after; nothing is written when a problem is found (tests/backends/test_kubernetes.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mora.api import compile_project
from mora.backends import kubernetes
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]


def _compiled(tmp_path: Path, project: Path) -> Any:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(project, site_file=site, provider=MemoryProvider(seed=b"stream"))
    assert result.compiled is not None
    return result.compiled


@pytest.mark.parametrize("project", ["media", "homelab", "identity"])
def test_text_as_it_goes_is_the_text_of_the_whole_rendering(project: str, tmp_path: Path) -> None:
    compiled = _compiled(tmp_path, REPO / "projects" / project)
    whole = kubernetes.render(compiled, False, Diagnostics())
    assert whole
    writer = kubernetes.new_writer()
    streamed = kubernetes.render(
        compiled, False, Diagnostics(), text=lambda b: kubernetes.to_yaml(b, writer=writer)
    )
    assert streamed is not None
    assert [(d.path, d.secret) for d in streamed] == [(d.path, d.secret) for d in whole]
    assert [d.body for d in streamed] == [kubernetes.to_yaml(d.body, pure=True) for d in whole]


def test_a_services_objects_are_text_before_the_next_service_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    services = "\n".join(
        f'service s{i} {{\n  image = "docker.io/library/nginx:1.27"\n  user = "101:101"\n'
        f"  ports {{ http = 80 }}\n}}\n"
        for i in range(4)
    )
    (project / "main.mora").write_text(f"project p\n\n{services}")
    compiled = _compiled(tmp_path, project)
    dumped: list[dict[str, Any]] = []
    seen_at_build: list[int] = []
    build = kubernetes.build_workload

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        seen_at_build.append(len(dumped))
        return build(*args, **kwargs)

    monkeypatch.setattr(kubernetes, "build_workload", counting_build)

    def text(body: dict[str, Any]) -> str:
        dumped.append(body)
        return kubernetes.to_yaml(body)

    docs = kubernetes.render(compiled, False, Diagnostics(), text=text)
    assert docs is not None and all(isinstance(d.body, str) for d in docs)
    # namespace first, then every earlier service's documents: never all held at once
    assert seen_at_build[0] == 1
    assert seen_at_build == sorted(set(seen_at_build)) and len(seen_at_build) == 4
    assert len(dumped) == len(docs)
