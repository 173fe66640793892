"""A large project's Kubernetes text is not held as text until every document is checked.

The backend writes nothing when a document is wrong, so it used to hold the text of every
document until the end: 64 MiB at 10,000 services, the peak of a large compile
(docs/performance.md, eighth round). Past `HELD_TEXT_MAX` the rest is held zlib-compressed
(twelfth round; the tenth made the documents again instead, which cost more). The files are the
same bytes either way, each document is made once, and nothing is written when a problem is
found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mora.api import compile_project
from mora.backends import Options, kubernetes, write_target
from mora.backends.kubernetes import ingress
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]


def _compiled(tmp_path: Path, project: Path) -> Any:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(project, site_file=site, provider=MemoryProvider(seed=b"spill"))
    assert result.compiled is not None
    return result.compiled


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _write(compiled: Any, out: Path) -> list[Path]:
    return write_target("kubernetes", compiled, out, Options(), Diagnostics())


@pytest.mark.parametrize("project", ["media", "homelab"])
def test_text_held_compressed_gives_the_same_files(
    project: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _compiled(tmp_path, REPO / "projects" / project)
    held = _write(compiled, tmp_path / "held")
    made: list[int] = []
    documents = kubernetes._service_documents

    def counted(*args: Any) -> Any:
        made.append(1)
        return documents(*args)

    monkeypatch.setattr(kubernetes, "_service_documents", counted)
    monkeypatch.setattr(kubernetes, "HELD_TEXT_MAX", 1)
    spilled: list[int] = []
    add = kubernetes._Spill.add

    def counted_add(self: Any, docs: Any) -> None:
        docs = list(docs)
        spilled.append(len(docs))
        add(self, docs)

    monkeypatch.setattr(kubernetes._Spill, "add", counted_add)
    again = _write(compiled, tmp_path / "again")
    assert len(made) == 1  # made once: the text past the limit was held compressed
    assert sum(spilled) == len(held) - 1  # every document but the kustomization
    assert [p.relative_to(tmp_path / "again") for p in again] == [
        p.relative_to(tmp_path / "held") for p in held
    ]
    assert _files(tmp_path / "again") == _files(tmp_path / "held")
    assert (tmp_path / "again" / "kubernetes" / "kustomization.yaml").is_file()


def test_a_small_project_is_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _compiled(tmp_path, REPO / "projects" / "media")
    made: list[int] = []
    documents = kubernetes._service_documents

    def counted(*args: Any) -> Any:
        made.append(1)
        return documents(*args)

    monkeypatch.setattr(kubernetes, "_service_documents", counted)
    assert _write(compiled, tmp_path / "out")
    assert made == [1]


@pytest.mark.parametrize("limit", [1, kubernetes.HELD_TEXT_MAX])
def test_nothing_is_written_when_a_late_document_is_wrong(
    limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last service (by name) runs as root without saying so: E0605, and no file at all,
    though the text of the services before it was let go and they were fine."""
    project = tmp_path / "p"
    project.mkdir()
    services = "".join(
        f'service s{i} {{\n  image = "docker.io/library/nginx:1.27"\n  user = "101:101"\n'
        f"  ports {{ http = 80 }}\n}}\n"
        for i in range(5)
    )
    bad = 'service z {\n  image = "docker.io/library/nginx:1.27"\n  user = 0\n}\n'
    (project / "main.mora").write_text(f"project p\n\n{services}{bad}")
    compiled = _compiled(tmp_path, project)
    monkeypatch.setattr(kubernetes, "HELD_TEXT_MAX", limit)
    diags = Diagnostics()
    out = tmp_path / "out"
    assert write_target("kubernetes", compiled, out, Options(), diags) == []
    assert [d.code for d in diags if d.is_error] == ["E0605"]
    assert not (out / "kubernetes").exists()


def test_the_plans_by_name_are_made_once_per_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ingress_documents` made the name -> plan table of every service for each service: a
    quadratic 10,000 x 10,000 at 10,000 services. The rendering passes one table."""
    compiled = _compiled(tmp_path, REPO / "projects" / "media")
    tables: list[int] = []
    documents = ingress.ingress_documents

    def seen(*args: Any, **kwargs: Any) -> Any:
        tables.append(id(kwargs.get("by_name")))
        assert kwargs.get("by_name") is not None
        return documents(*args, **kwargs)

    monkeypatch.setattr(ingress, "ingress_documents", seen)
    assert kubernetes.render(compiled, False, Diagnostics()) is not None
    assert len(tables) == len(compiled.manifest.services) and len(set(tables)) == 1


def test_the_writer_remembers_a_bounded_number_of_texts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The block writer memoised every distinct text of the run (names, hosts, secret values:
    ~20 MiB at 10,000 services); it now starts afresh past `MEMO_MAX`, writing the same text."""
    from mora.backends.kubernetes import emit

    compiled = _compiled(tmp_path, REPO / "projects" / "homelab")
    docs = kubernetes.render(compiled, False, Diagnostics())
    assert docs is not None
    unbounded = kubernetes.new_writer()
    want = [kubernetes.to_yaml(d.body, writer=unbounded) for d in docs]
    assert len(unbounded._texts) > 50
    monkeypatch.setattr(emit, "MEMO_MAX", 10)
    bounded = kubernetes.new_writer()
    sizes = []
    got = []
    for d in docs:
        got.append(kubernetes.to_yaml(d.body, writer=bounded))
        sizes.append(len(bounded._texts))
    assert got == want
    assert max(sizes) <= 10


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=3000), st.booleans()),
        max_size=40,
    )
)
def test_the_spill_gives_back_every_document_in_order(docs: list[tuple[str, str, bool]]) -> None:
    """Texts of any size and any characters (several compressed chunks, empty bodies)."""
    spill = kubernetes._Spill()
    given_docs = [kubernetes.Document(path, body * 7, secret) for path, body, secret in docs]
    half = len(given_docs) // 2
    spill.add(given_docs[:half])
    spill.add(given_docs[half:])
    assert list(spill.documents()) == given_docs
