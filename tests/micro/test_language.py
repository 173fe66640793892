"""Setup steps in the language: no secret value in the manifest, byte-identical output, a plan
that names producers, and no input (however malformed) that crashes the checker."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.api import check_project, compile_project
from mora.model import manifest_json
from mora.plan import build_plan
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

CASE = Path(__file__).resolve().parents[1] / "cases" / "setup_ok" / "input"


def _compile(path: Path, store: SecretStore) -> str:
    result = compile_project(path, domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    return manifest_json(result.compiled.manifest)


def test_the_manifest_holds_references_never_values_and_is_deterministic() -> None:
    store = SecretStore.in_memory()
    first = _compile(CASE, store)
    values = [v for n in store.names() for v in store.get(n).parts.values()]  # type: ignore[union-attr]
    assert len(values) == 2  # admin_password and the template instance's role_password
    for value in values:
        assert value not in first
    assert '"ref": "secret.admin_password"' in first
    assert '"ref": "secret.db_role_password"' in first  # a template's own secret, per instance
    assert _compile(CASE, store) == first


def test_the_plan_names_producers_and_steps_in_json() -> None:
    result = compile_project(
        CASE, domain="example.org", provider=StoreProvider(SecretStore.in_memory())
    )
    plan = build_plan(result.compiled.manifest).to_json()  # type: ignore[union-attr]
    produce = [s for s in plan["stages"] if s["kind"] == "produce"]  # type: ignore[union-attr,index]
    assert produce[0]["inputs"][0]["producer"] == "syncthing.read_key.key"  # type: ignore[index]
    assert not [s for s in plan["stages"] if s["kind"] == "input"]  # type: ignore[union-attr,index]
    assert plan["setup_steps"]["web"] == ["wait_ready", "register"]  # type: ignore[index]
    # web reads syncthing's and db's outputs: it is deployed after both
    order = [s.get("services", []) for s in plan["stages"]]  # type: ignore[union-attr]
    stage_of = {svc: i for i, names in enumerate(order) for svc in names}
    assert stage_of["web"] > stage_of["syncthing"] and stage_of["web"] > stage_of["db"]


_VALUES = st.sampled_from(
    [
        '"x"',
        "1",
        "true",
        "[]",
        '["a"]',
        "{}",
        "{ a: 1 }",
        "setup.s0.o",
        "setup.s9.o",
        "self.setup.s0.o",
        "a.setup.s0.o",
        "zz.setup.s.o",
        "status",
        "body.x",
        "stdout",
        "secret.k",
        "input.i",
        "param.p",
        "bearer(secret.k)",
        "basic(1)",
        "join([])",
        "!status",
        "status == 1",
        '"${secret.k}"',
        "1s",
        "self.internal_url",
        "x.y",
    ]
)
_KEYS = st.sampled_from(
    ["url", "exec", "manager", "method", "json", "form", "stdin", "expect", "until", "when",
     "run", "timeout", "description", "auth", "bogus", "output", "headers"]
)  # fmt: skip


@st.composite
def _project(draw: st.DrawFn) -> str:
    steps = []
    for i in range(draw(st.integers(0, 3))):
        entries = []
        for key in draw(st.lists(_KEYS, max_size=5)):
            value = draw(_VALUES)
            if key in ("output", "headers") and draw(st.booleans()):
                entries.append(f"{key} {{ o = {value} }}")
            else:
                entries.append(f"{key} = {value}")
        steps.append(f"s{i} {{\n" + "\n".join(entries) + "\n}")
    inp = draw(
        st.sampled_from(
            ["", "input i: secret { from = a.setup.s0.o }", 'input i: secret { prompt = "p" }']
        )
    )
    return (
        'project p\nparam p: string = "v"\nsecret k = hex(8)\n'
        f'service a {{\nimage = "i:1"\nuser = "1"\nports {{ http = 80 }}\n{inp}\n'
        "setup {\n" + "\n".join(steps) + "\n}\n}\n"
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_project())
def test_any_setup_block_ends_in_diagnostics_or_a_manifest(text: str, tmp_path: Path) -> None:
    folder = tmp_path / "p"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "main.mora").write_text(text)
    checked = check_project(folder)
    if checked.diagnostics.has_errors:
        assert all(d.code for d in checked.diagnostics)
        return
    result = compile_project(
        folder, domain="example.org", provider=StoreProvider(SecretStore.in_memory())
    )
    assert result.compiled is not None or result.diagnostics.has_errors
    if result.compiled is not None:
        json.loads(manifest_json(result.compiled.manifest))
