"""What a check walks: the costs a warm `mora check` of a real project must not pay again
(docs/performance.md, eighth round). Counts calls, never times them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mora import ast
from mora.contracts import check as contracts_check
from tests.unit.helpers import check_src, codes

IMG = 'image = "docker.io/library/busybox:1.36"'


def test_param_narrowing_walks_only_the_body_that_reads_the_param(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`param.relay` inside `if param.relay != none` is a string: finding that out walks the one
    service holding the reference, not every service and template of the program (the first
    `param.x` used to walk them all: 18 ms of a 50 ms warm check of projects/media)."""
    walked: list[str] = []
    narrow_ranges = contracts_check._narrow_ranges

    def counting(root: object, head: str = "args") -> object:
        if head == "param":
            walked.append(root.name.text)  # type: ignore[attr-defined]
        return narrow_ranges(root, head)  # type: ignore[arg-type]

    monkeypatch.setattr(contracts_check, "_narrow_ranges", counting)
    others = "\n".join(f'service s{i} {{ {IMG} user = "1000" }}' for i in range(6))
    src = f"""
    param relay: optional(string)
    {others}
    service app {{ {IMG} user = "1000" environment {{
      if param.relay != none {{ RELAY = param.relay }}
      if param.relay != none {{ AGAIN = param.relay }}
    }} }}
    template t(x: string) {{ {IMG} user = "1000" }}
    """
    assert codes(check_src(tmp_path, src).diagnostics) == []
    assert walked == ["app"]  # once, although `param.relay` is read twice


def test_param_narrowing_still_refuses_a_param_outside_its_if(tmp_path: Path) -> None:
    """Only walking the holding body keeps the answer: outside the `if` the value may be none."""
    src = f"""
    param relay: optional(string)
    service other {{ {IMG} user = "1000" environment {{
      if param.relay != none {{ RELAY = param.relay }}
    }} }}
    service app {{ {IMG} user = "1000" environment {{ RELAY = param.relay }} }}
    """
    assert codes(check_src(tmp_path, src).diagnostics) == ["E0301"]


def _reference_nodes(node: object) -> list[object]:
    """The walk as first written (a generator of field values per node): the oracle."""
    out: list[object] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        elif isinstance(item, ast.Node):
            out.append(item)
            stack.extend(getattr(item, f) for f in item._fields if f != "span")
    return out


def test_the_contract_walk_visits_the_same_nodes_in_the_same_order_as_before() -> None:
    """`_nodes` reads each node's fields with one getter per class: same nodes, same order, on
    every file of the stdlib and the example projects."""
    from mora.diagnostics import Diagnostics
    from mora.parse_cache import load_module
    from mora.source import SourceFile

    repo = Path(__file__).resolve().parents[2]
    files = sorted((repo / "stdlib").rglob("*.mora")) + sorted((repo / "projects").rglob("*.mora"))
    assert len(files) > 20
    for path in files:
        module = load_module(SourceFile(str(path), path.read_text()), Diagnostics())
        got = list(contracts_check._nodes(module))
        want = _reference_nodes(module)
        assert len(got) == len(want) and all(a is b for a, b in zip(got, want, strict=True))


_SHARED = """
import contracts

service deaf {
  user = "65534:65534"
  image = "docker.io/library/busybox:1.36"
  subdomain = "deaf"
  ports { http = 80 }
  provides identity {
    issuer = self.url
    ldap_host = "ldap"
    base_dn = "dc=x"
  }
}

service hub {
  image = "localhost/app:1"
  user = "1000"
  setup {
    give {
      exec = ["cat", "/hub"]
      stdin = app1.setup.give.value
      output { value = stdout }
    }
  }
}

template app(identity: optional(identity) = none, name: string = "app") {
  user = "65534:65534"
  image = "docker.io/library/busybox:1.36"
  subdomain = args.name
  ports { http = 80 }
  depends_on = [deaf]
  secret oidc = password(length: 64)
  secret oidc_digest = pbkdf2_sha512(secret.oidc)
  if args.identity != none {
    request args.identity oidc_client {
      client_id = self.name
      client_name = "x"
      client_secret = secret.oidc_digest
      redirect_uris = ["${self.url}/cb"]
    }
  }
  setup {
    give {
      exec = ["cat", "/app"]
      stdin = hub.setup.give.value
      output { value = stdout }
    }
  }
}
"""


def _walks_and_diagnostics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, instances: int
) -> tuple[int, list[tuple[str, str, int]]]:
    """The `find` walks of the setup and request checks for `instances` copies of a template
    with setup steps and a request, and what the check reports."""
    from mora.contracts import requests
    from mora.steps import check as steps_check

    walks: list[object] = []
    for module in (requests, steps_check):
        real = module.find

        def counting(root: object, *args: object, _real: object = real, **kw: object) -> object:
            walks.append(root)
            return _real(root, *args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(module, "find", counting)
    apps = "\n".join(
        f'service app{i} = app(identity: deaf, name: "app{i}")' for i in range(instances)
    )
    (tmp_path / str(instances)).mkdir()
    result = check_src(tmp_path / str(instances), _SHARED + apps)
    found = [(d.code, d.message, d.span.line) for d in result.diagnostics.sorted()]
    return len(walks), found


def test_the_setup_and_request_checks_walk_a_template_once_not_once_per_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The instances of a template share its body: the steps' references to other services,
    the `depends_on` names and the requests a body sends are found once per body (a
    realistic project of 1,001 instances walked the same seven bodies 7,876 times, 1.2 s of
    a 2.3 s check under the profiler). Each instance still gets its own edges and errors."""
    few, few_found = _walks_and_diagnostics(tmp_path, monkeypatch, 3)
    many, many_found = _walks_and_diagnostics(tmp_path, monkeypatch, 12)
    assert few == many
    unread = [f for f in many_found if f[0] == "E0362"]
    assert [m for _c, m, _l in unread] == [
        f"`deaf` reads no `oidc_client` requests, so `app{i}`'s would be lost" for i in range(12)
    ]
    cycles = [m for c, m, _l in many_found if c == "E0934"]
    assert cycles == ["services wait for each other through setup steps: hub -> app1 -> hub"]
    assert [f for f in few_found if f[0] == "E0934"] == [f for f in many_found if f[0] == "E0934"]


def test_an_instance_s_parameters_are_shared_per_template_and_file_defaults(
    tmp_path: Path,
) -> None:
    """The parameter views an instance's arguments are bound against are made once per
    template and set of `defaults` its file gives: an argument the file's defaults give is
    not required there, and still required in a file without them, whichever comes first."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "lib.mora").write_text(
        'service b = app(name: "b")\nservice d = app(name: "d", uid: 3)\n', encoding="utf-8"
    )
    (project / "main.mora").write_text(
        "template app(uid: int, name: string) {\n"
        '  image = "docker.io/library/busybox:1.36"\n'
        '  user = "${args.uid}:${args.uid}"\n'
        "  environment { NAME = args.name }\n"
        "}\n"
        'import "lib.mora"\n'
        "defaults {\n  uid = 5\n}\n"
        'service a = app(name: "a")\n'
        'service c = app(name: "c")\n',
        encoding="utf-8",
    )
    from mora.api import check_project

    found = [
        (d.code, d.message, d.span.file.path.rsplit("/", 1)[-1])
        for d in check_project(project).diagnostics.sorted()
    ]
    assert found == [("E0306", "template `app` is missing `uid`", "lib.mora")]


def test_an_instance_s_arguments_are_checked_without_a_context_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arguments sit outside any service or template: they share one frozen context instead
    of a new record per argument (60,000 of them for 10,000 realistic instances)."""
    from mora.check.context import _Ctx

    made: list[object] = []
    real = _Ctx.__init__

    def counting(self: object, *args: object, **kwargs: object) -> None:
        made.append(self)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_Ctx, "__init__", counting)
    counts = []
    for n in (2, 10):
        made.clear()
        apps = "\n".join(f'service app{i} = app(identity: deaf, name: "app{i}")' for i in range(n))
        (tmp_path / str(n)).mkdir()
        result = check_src(tmp_path / str(n), _SHARED + apps)
        assert "E0362" in codes(result.diagnostics)
        counts.append(len(made))
    assert counts[0] == counts[1]


def test_a_body_s_ports_are_read_once_for_all_its_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`self.internal_url` and `X.ports.NAME` need the body's port names: read once per body,
    not once per reference (a template's steps ask for them in every URL). A body without
    ports, and a port it lacks, are still refused at each reference."""
    from mora.check import expressions

    asked: list[object] = []
    real = expressions.static_keys

    def counting(body: ast.Body, attr: str) -> list[ast.Key]:
        asked.append((id(body), attr))
        return real(body, attr)

    monkeypatch.setattr(expressions, "static_keys", counting)
    steps = "\n".join(
        f'    s{i} {{ url = "${{self.internal_url}}/{i}" method = "POST" }}' for i in range(6)
    )
    src = f"""
    template t() {{
      {IMG} user = "1000" ports {{ http = 80 }}
      environment {{ A = self.ports.http  B = self.ports.other }}
      setup {{
    {steps}
      }}
    }}
    service a = t()
    service b = t()
    service bare {{ {IMG} user = "1000" environment {{ U = self.internal_url  V = a.internal_url }} }}
    """
    found = [(d.code, d.message) for d in check_src(tmp_path, src).diagnostics.sorted()]
    assert found == [
        ("E0210", "`self` has no port `other`"),
        ("E0210", "`self` has no ports, so it has no `internal_url`"),
    ]
    assert len(asked) == len(set(asked)) == 2  # the template's body (also a's), bare's


def test_a_builtin_function_s_parameters_are_viewed_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The argument binding's views of a builtin function's parameters are made on its first
    call, not on every call: `mora.builtins` does not change while a process runs."""
    from mora.builtins import FUNCTIONS
    from mora.check.context import _ParamView

    made: list[object] = []
    real = _ParamView.__init__

    def counting(self: object, *args: object, **kwargs: object) -> None:
        made.append(args[0] if args else kwargs.get("name"))
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_ParamView, "__init__", counting)
    services = "\n".join(
        f'service s{i} {{ {IMG} user = "1000" volumes {{ "/d" = volume(size: 1Gi) }} }}'
        for i in range(6)
    )
    bad = "service t { " + IMG + ' user = "1000" volumes { "/d" = volume(size: "x") } }'
    for n, src in enumerate((services, services + "\n" + bad)):
        made.clear()
        (tmp_path / str(n)).mkdir()
        found = [d.code for d in check_src(tmp_path / str(n), src).diagnostics.sorted()]
        assert found == ([] if n == 0 else ["E0308"])  # still a wrong size per call
        assert len(made) <= len(FUNCTIONS["volume"].params)  # the first check only
