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
from mora.model import Host, Manifest, Mount, Port, Service, Value

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


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


_SHARED_SOURCE = (
    "project p\n"
    'service db { image = "postgres:16" healthcheck { test = ["CMD", "true"] } }\n'
    'service app { image = "x:1" depends_on = [db] environment { DB = "db:5432" }'
    " ports { http = { target: 80, published: 8080 } } }\n"
    'service cron {\n  image = "x:1"\n  input token: secret { prompt = "the token" }\n'
    "  environment { T = input.token }\n}\n"
)


def _separately(compiled: object, out: Path, target: str) -> tuple[dict[str, bytes], list[str]]:
    """A target written on its own (nothing shared), its files and diagnostics."""
    compiled.shared.clear()  # type: ignore[attr-defined]
    diags = Diagnostics()
    write_target(target, compiled, out, Options(), diags)  # type: ignore[arg-type]
    compiled.shared.clear()  # type: ignore[attr-defined]
    return _tree(out / target), [f"{d.code} {d.message}" for d in diags]


def _count_deploys(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """A list that grows by one for each deployment the backends make (`_deploy`)."""
    made: list[bool] = []
    real = common._deploy

    def counting(*args: object) -> object:
        made.append(True)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(common, "_deploy", counting)
    return made


def test_quadlet_and_podman_share_one_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without site hosts the two backends' deployments are equal: the second takes the first's
    (one `_deploy`, not two), with the same files and the same diagnostics as on its own."""
    result = compile_src(tmp_path, _SHARED_SOURCE)
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    alone = {t: _separately(result.compiled, tmp_path / t, t) for t in ("quadlet", "podman")}
    made = _count_deploys(monkeypatch)
    diags = Diagnostics()
    seen: dict[str, list[str]] = {}
    for target in ("quadlet", "podman"):
        before = len(diags.items)
        write_target(target, result.compiled, tmp_path / "both", Options(), diags)  # type: ignore[arg-type]
        seen[target] = [f"{d.code} {d.message}" for d in diags.items[before:]]
    assert len(made) == 1
    assert not result.compiled.shared  # taken by podman: nothing held after the compile
    for target in ("quadlet", "podman"):
        assert _tree(tmp_path / "both" / target) == alone[target][0]
        assert seen[target] == alone[target][1]
    assert any(line.startswith("W0706") for line in seen["podman"])  # `cron` waits for input


def test_a_plan_is_shared_within_one_compile_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan waits on the compile's own model (`Compiled.shared`), not in a module: a second
    compile's podman backend plans its own even when quadlet ran just before on the first, and
    the first's plan goes with the first's model."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = compile_src(tmp_path / "a", _SHARED_SOURCE).compiled
    second = compile_src(tmp_path / "b", _SHARED_SOURCE).compiled
    assert first is not None and second is not None and first == second
    made = _count_deploys(monkeypatch)
    write_target("quadlet", first, tmp_path / "out1", Options(), Diagnostics())  # type: ignore[arg-type]
    assert list(first.shared) == [common._SHARED_PLAN] and not second.shared
    write_target("podman", second, tmp_path / "out2", Options(), Diagnostics())  # type: ignore[arg-type]
    assert len(made) == 2  # the second compile planned its own
    assert list(first.shared) == [common._SHARED_PLAN]  # still the first's, until it is taken
    assert list(second.shared) == [common._SHARED_PLAN]  # podman's plan, left for quadlet


def test_a_plan_is_not_shared_across_hosts(tmp_path: Path) -> None:
    """With site hosts quadlet places services on them and podman/ on one host: each plans its
    own, and each writes what it writes on its own."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.mora").write_text(
        _SHARED_SOURCE.replace('"x:1" depends', '"x:1" placement = ["b"] depends')
    )
    site = tmp_path / "site.yaml"
    site.write_text(
        "domain: example.org\nhosts:\n"
        "  - {name: one, address: 10.0.0.1, tags: [a]}\n"
        "  - {name: two, address: 10.0.0.2, tags: [b]}\n"
    )
    from mora.api import compile_project
    from mora.secrets.provider import MemoryProvider

    result = compile_project(project, site_file=site, provider=MemoryProvider(seed=b"u"))
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    alone = {t: _separately(result.compiled, tmp_path / t, t) for t in ("quadlet", "podman")}
    diags = Diagnostics()
    for target in ("quadlet", "podman"):
        before = len(diags.items)
        write_target(target, result.compiled, tmp_path / "both", Options(), diags)  # type: ignore[arg-type]
        assert _tree(tmp_path / "both" / target) == alone[target][0]
        assert [f"{d.code} {d.message}" for d in diags.items[before:]] == alone[target][1]
    assert sorted(p.name for p in (tmp_path / "both" / "quadlet").iterdir()) == ["one", "two"]
    assert any(line.startswith("W0703") for line in alone["quadlet"][1])  # app -> db across hosts


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 7),
    st.integers(0, 12),
    st.integers(0, 3),
    st.sampled_from(sorted(common.KEY_SINCE)),
)
def test_supports_compares_as_versions_do(major: int, minor: int, patch: int, key: str) -> None:
    """`supports` compares plain tuples: the same answer as comparing the `Version` records."""
    version = common.Version(major, minor, patch)
    assert common.supports(version, key) == (version >= common.KEY_SINCE[key])


def test_unit_file_refuses_a_bad_key_after_good_ones() -> None:
    """`UnitFile.add` remembers the (section, key) pairs it found valid, never an invalid one."""
    from mora.backends.systemd import UnitFile, UnitValueError

    u = UnitFile()
    for _ in range(2):
        u.add("Container", "Image", "x")
        for section, key in (("Container", "Ima ge"), ("Con tainer", "Image"), ("Container", "")):
            with pytest.raises(UnitValueError):
                u.add(section, key, "x")
    assert u.render() == "[Container]\nImage=x\nImage=x\n"


class _Name(str):
    """A service name that counts how often it is compared for equality."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Name.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_directory_every_service_binds_is_gathered_in_linear_time() -> None:
    """`bind_dirs` kept who mounts a directory in a list and asked `in` it per service: with a
    `param.root` bound by all 10,000 services that was 50 million comparisons (2.2 s of the
    quadlet and podman backends). Who mounts it is the same, in the same order, each once."""
    from mora.backends._podman_binds import bind_dirs

    n = 400
    names = [_Name(f"svc{i}") for i in range(n)]
    containers = [
        common.Container(
            service=Service(name=name, image="x", user="1000:1000"),
            name=f"p-{name}",
            alias=name,
            binds=[
                Mount(path="/data", kind="bind", host_path="/srv", readonly=i % 2 == 0),
                Mount(path="/again", kind="bind", host_path="/srv"),
            ],
        )
        for i, name in enumerate(names)
    ]
    _Name.compared = 0
    (found,) = bind_dirs(common.HostDeployment(Host(name="local"), containers=containers))
    assert _Name.compared < 4 * n  # a list's `in` made n * n / 2 (80,000) comparisons here
    assert found.services == tuple(names)
    assert (found.path, found.owner, found.readonly) == ("/srv", (1000, 1000), False)
