"""Setup steps built once per template where they can be (docs/performance.md, fourteenth round).

A step value that reads nothing of an instance (a literal, the step's own response) is built
once and shared by every copy of a template; one that reads an argument, a name, a secret or
an earlier step is built per instance. These tests pin both halves on the realistic benchmark
(copies of the media stack), so a wrongly shared value shows as another instance's text.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mora import model as M
from mora.api import compile_project
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from generate import realistic  # noqa: E402


def _services(tmp_path: Path) -> dict[str, M.Service]:
    for name, text in realistic(14).items():  # two copies of the media stack
        (tmp_path / name).write_text(text)
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(b"steps"))
    assert result.compiled is not None, result.diagnostics.items
    return result.compiled.manifest.services  # type: ignore[attr-defined, no-any-return]


def _step(svc: M.Service, name: str) -> M.Step:
    return next(s for s in svc.setup if s.name == name)


def test_a_constant_step_value_is_one_object_for_every_copy(tmp_path: Path) -> None:
    services = _services(tmp_path)
    first, second = _step(services["tv0"], "host_config"), _step(services["tv1"], "host_config")
    assert first.outputs["config"].value.ref == "response.body"
    assert first.outputs["config"].value is second.outputs["config"].value
    has_user = first.outputs["has_user"].value  # `body.username != ""`: an operation, shared
    assert has_user.op == "!=" and has_user is second.outputs["has_user"].value
    # servarr's step in sonarr and radarr: each body is its own (it names the instance's
    # secret), its constants are one object
    tv, movies = _step(services["tv0"], "login"), _step(services["movies1"], "login")
    assert tv.body is not None and movies.body is not None and tv.body is not movies.body
    assert tv.body.entries is not None and movies.body.entries is not None
    assert tv.body.entries["password"].ref == "secret.tv0_admin_password"
    assert movies.body.entries["password"].ref == "secret.movies1_admin_password"
    assert tv.body.entries["username"] is movies.body.entries["username"]


def test_a_value_that_reads_the_instance_is_its_own(tmp_path: Path) -> None:
    """`add the root folder ${args.library}` reads an argument: sonarr's and radarr's copies of
    servarr's step differ, and each instance's URL names its own service."""
    services = _services(tmp_path)
    tv, movies = _step(services["tv0"], "root_folder"), _step(services["movies0"], "root_folder")
    assert tv.description == "add the root folder /data/media/tv"
    assert movies.description == "add the root folder /data/media/movies"
    urls = {n: _step(services[n], "root_folders").url for n in ("tv0", "tv1", "movies0")}
    texts = {n: "".join(str(p.lit) for p in u.concat or [u]) for n, u in urls.items() if u}
    assert texts == {
        "tv0": "http://tv0:8989/api/v3/rootfolder",
        "tv1": "http://tv1:8989/api/v3/rootfolder",
        "movies0": "http://movies0:7878/api/v3/rootfolder",
    }


def test_a_plain_environment_value_is_one_object_for_every_copy(tmp_path: Path) -> None:
    """`TZ` is the same text in every copy: one `Value`; a per-instance one is its own."""
    services = _services(tmp_path)
    tv0, tv1 = services["tv0"].environment, services["tv1"].environment
    assert tv0["TZ"].value == "Etc/UTC" and tv0["TZ"] is tv1["TZ"]
    assert tv0["TZ"].sources == [] and tv0["TZ"].pending == []
    differ = [k for k in tv0 if tv0[k].value is not None and tv0[k].value != tv1[k].value]
    assert differ and all(tv0[k] is not tv1[k] for k in differ)


def test_a_finished_service_leaves_no_argument_values_behind(tmp_path: Path) -> None:
    """Each service's arguments are let go once it is evaluated (they were held to the end of
    the pass: ~20 MiB at 10,000 services); one a later service reads is evaluated again (the
    same value: the goldens pass unchanged)."""
    from mora.api import check_project
    from mora.diagnostics import Diagnostics
    from mora.eval import Evaluator
    from mora.site import load_site

    for name, text in realistic(14).items():
        (tmp_path / name).write_text(text)
    program = check_project(tmp_path).program
    assert program is not None
    diags = Diagnostics()
    site = load_site(None, "example.org", [], diags)
    ev = Evaluator(program, site, MemoryProvider(b"steps"), diags)
    assert ev.run() is not None
    assert len(program.services) == 14
    # what stays is read again by a later service: the databases' `user` (their contract's
    # field), evaluated anew after `db0` was done
    assert ev._arg_values and {svc for svc, _ in ev._arg_values} <= {"db0", "db1"}
