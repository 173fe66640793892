"""The podman backends' planning stays linear: same results as the quadratic versions it replaced.

The reference implementations below are the old ones, kept here to compare against: a selection
sort for the dependency order, and a regex per (service, other service, port) for mentions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mora.backends import Options, write_target
from mora.backends import _podman_common as common
from mora.diagnostics import Diagnostics
from mora.model import Host, Manifest, Port, Service, Value

from .helpers import compile_src


def _selection_order(manifest: Manifest, names: list[str]) -> list[str]:
    """The old order: repeatedly the smallest pending name whose dependencies are done."""
    done: list[str] = []
    pending = sorted(names)
    while pending:
        ready = [
            n
            for n in pending
            if all(d in done or d not in names for d in common.deps(manifest.services[n]))
        ]
        if not ready:
            ready = pending[:1]
        done.append(ready[0])
        pending.remove(ready[0])
    return done


def _manifest(edges: dict[str, list[str]]) -> Manifest:
    services = {n: Service(name=n, image="x", depends_on=ds) for n, ds in edges.items()}
    return Manifest(project="p", domain="example.org", services=services)


NAMES = [f"s{i:02d}" for i in range(40)] + ["a", "b-c", "zz", "m_1"]


@st.composite
def graphs(draw: st.DrawFn, acyclic: bool = True) -> tuple[dict[str, list[str]], list[str]]:
    """Random depends_on graphs (DAGs by a hidden rank, or anything), and a subset to order."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=30, unique=True))
    rank = {n: i for i, n in enumerate(draw(st.permutations(names)))}
    edges: dict[str, list[str]] = {}
    for n in names:
        targets = st.sampled_from(NAMES) if not acyclic else st.sampled_from(names)
        ds = draw(st.lists(targets, max_size=5))  # duplicates, self and unknown names included
        edges[n] = [d for d in ds if not acyclic or rank[d] < rank[n] or d == n]
    subset = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    return edges, subset


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_kahn_order_is_the_selection_order_on_dags(case: tuple[dict, list[str]]) -> None:
    edges, subset = case
    manifest = _manifest(edges)
    for names in (sorted(edges), sorted(subset)):
        assert common._kahn_order(manifest, tuple(names)) == _selection_order(manifest, names)


@settings(max_examples=300, deadline=None)
@given(graphs(acyclic=False))
def test_kahn_order_is_the_selection_order_even_with_cycles(case: tuple[dict, list[str]]) -> None:
    """The checker rejects cycles, but the fallback (smallest unplaced name) is kept as it was."""
    edges, subset = case
    manifest = _manifest({n: [d for d in ds if d in edges] for n, ds in edges.items()})
    for names in (sorted(edges), sorted(subset)):
        assert common._kahn_order(manifest, tuple(names)) == _selection_order(manifest, names)


def test_dependency_order_is_computed_once_for_both_backends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """quadlet and podman/ ask for the same order: the second asks the memo, not the sort."""
    source = "project p\n" + "".join(
        f'service s{i} {{ image = "x:1" depends_on = [{f"s{i - 1}" if i else ""}] }}\n'
        for i in range(5)
    )
    result = compile_src(tmp_path, source.replace("depends_on = []", ""))
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    calls: list[tuple[str, ...]] = []
    real = common._kahn_order

    def counting(manifest: Manifest, names: tuple[str, ...]) -> list[str]:
        calls.append(names)
        return real(manifest, names)

    monkeypatch.setattr(common, "_kahn_order", counting)
    for target in ("quadlet", "podman"):
        write_target(target, result.compiled, tmp_path / "out", Options(), Diagnostics())  # type: ignore[arg-type]
    assert calls == [("s0", "s1", "s2", "s3", "s4")]
    run = (tmp_path / "out" / "podman" / "run.sh").read_text()
    positions = [run.index(f"--name=p-s{i} ") for i in range(5)]
    assert positions == sorted(positions)


TEXT_PIECES = st.sampled_from(
    ["db", "db2", "x.db", "-db", "_db", "api", ":", "5432", "80", "8080", "0", "/", " ", "@",
     "http://", "db:5432", "api:80", "é", "٣", "\n", ".", "db:54321", "api:8"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(TEXT_PIECES.map(str), max_size=0) | TEXT_PIECES, max_size=12))
def test_mention_index_finds_what_the_regex_per_pair_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    ports = [Port(name="a", target=5432), Port(name="b", target=80), Port(name="c", target=8)]
    others = [Service(name=n, image="x", ports=ports) for n in ("db", "api", "db2", "b-c")]
    svc = Service(name="me", image="x", environment={"URL": Value(value=text)})
    compiled = common.Compiled(_manifest({}), {})
    reach = common.Reach(compiled, {})
    for other in others:
        assert reach.mentions(svc, other) == common._mentions(compiled, svc, other), text


def test_host_addresses_are_parsed_once_per_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--add-host` entries need each host's IP: parsed once per host, not once per pair."""
    source = "project p\n" + "".join(
        f'service s{i} {{ image = "x:1" placement = ["{"a" if i % 2 else "b"}"] '
        f"ports {{ http = {{ target: 80, published: {8000 + i} }} }} "
        f'environment {{ UP = "s{(i + 1) % 6}:80" }} }}\n'
        for i in range(6)
    )
    project = tmp_path / "project"
    site = tmp_path / "site.yaml"
    site.write_text(
        "domain: example.org\nhosts:\n"
        "  - {name: one, address: 10.0.0.1, tags: [a]}\n"
        "  - {name: two, address: 10.0.0.2, tags: [b]}\n"
    )
    project.mkdir()
    (project / "main.mora").write_text(source)
    from mora.api import compile_project
    from mora.secrets.provider import MemoryProvider

    result = compile_project(project, site_file=site, provider=MemoryProvider(seed=b"u"))
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    parsed: list[str | None] = []
    real = common.host_ip

    def counting(host: Host) -> str | None:
        parsed.append(host.name)
        return real(host)

    monkeypatch.setattr(common, "host_ip", counting)
    diags = Diagnostics()
    write_target("quadlet", result.compiled, tmp_path / "out", Options(), diags)  # type: ignore[arg-type]
    assert sorted(parsed) == ["one", "two"]
    unit = (tmp_path / "out" / "quadlet" / "one" / "p-s1.container").read_text()
    assert re.search(r"--add-host=s2:10\.0\.0\.2\b", unit), unit
    assert "s0:" not in unit.split("--add-host=s2")[0].split("PodmanArgs")[-1]
