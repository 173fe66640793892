"""Properties of amends, over generated programs.

1. Whatever an amend says, the merged service is what the merge rules say (a model of them in
   Python below): environment entries by key (an `if` only where it holds), `placement` unioned,
   `user` replaced, the keys of several amends independent of their order.
2. Whatever text an amend holds, mora answers with diagnostics, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.api import check_project, compile_project
from mora.diagnostics import render_text
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider

BASE = """\
param flag: bool = false

service web {
  image = "docker.io/library/nginx:1.27.3"
  user = "1:1"
  environment {
    A = "a0"
    B = "b0"
  }
  placement = ["p0"]
}
"""
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# One amend: (env entries: key -> (value, conditional)), placement, user or None.
Amend = tuple[dict[str, tuple[str, bool]], list[str], str | None]

_KEYS = ["A", "B", "C"]


@st.composite
def amends(draw: st.DrawFn) -> list[Amend]:
    """One to three amends; no two set the same key (that is E0371, tested in the cases)."""
    keys = draw(st.permutations(_KEYS))
    n = draw(st.integers(1, 3))
    cuts = sorted(draw(st.lists(st.integers(0, len(keys)), min_size=n - 1, max_size=n - 1)))
    groups = [keys[a:b] for a, b in zip([0, *cuts], [*cuts, len(keys)], strict=True)]
    user_owner = draw(st.integers(-1, n - 1))
    out: list[Amend] = []
    for i, group in enumerate(groups):
        env = {k: (draw(st.sampled_from(["x", "y"])), draw(st.booleans())) for k in group}
        placement = draw(st.lists(st.sampled_from(["p0", "p1", "p2"]), max_size=2, unique=True))
        out.append((env, placement, f"{i + 2}:{i + 2}" if i == user_owner else None))
    return out


def _source(amend: Amend) -> str:
    env, placement, user = amend
    lines = ["amend web {"]
    if env:
        lines.append("  environment {")
        for k, (v, cond) in env.items():
            entry = f'{k} = "{v}"'
            lines.append(f"    if param.flag {{ {entry} }}" if cond else f"    {entry}")
        lines.append("  }")
    if placement:
        lines.append("  placement = [" + ", ".join(f'"{p}"' for p in placement) + "]")
    if user:
        lines.append(f'  user = "{user}"')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _expected(ams: list[Amend], flag: bool) -> tuple[dict[str, str], list[str], str]:
    env = {"A": "a0", "B": "b0"}
    placement = ["p0"]
    user = "1:1"
    for am_env, am_placement, am_user in ams:
        for k, (v, cond) in am_env.items():
            if flag or not cond:
                env[k] = v
        placement += [p for p in am_placement if p not in placement]
        user = am_user or user
    return env, placement, user


@SETTINGS
@given(ams=amends(), flag=st.booleans())
def test_the_merged_service_is_what_the_rules_say(
    tmp_path_factory, ams: list[Amend], flag: bool
) -> None:  # type: ignore[no-untyped-def]
    project = tmp_path_factory.mktemp("p")
    (project / "base.mora").write_text(BASE)
    (project / "site.mora").write_text("\n".join(_source(a) for a in ams))
    result = compile_project(
        project,
        domain="example.org",
        sets=[f"flag={'true' if flag else 'false'}"],
        provider=MemoryProvider(seed=b"p"),
    )
    assert result.compiled is not None, [render_text(d) for d in result.diagnostics]
    web = json.loads(manifest_json(result.compiled.manifest))["services"]["web"]
    env, placement, user = _expected(ams, flag)
    assert {k: v["value"] for k, v in web["environment"].items()} == env
    assert web["placement"] == placement
    assert web["user"] == user


_PIECES = [
    "amend", "web", "media.web", "{", "}", "=", "if", "param.flag", "else", "environment",
    "placement", '["p1"]', '"x"', "A", "security", "privileged", "true", "reason", "image",
    "secret", "s", "input", "depends_on", "[web]", "args.x", "self.url", "\n",
]  # fmt: skip


@SETTINGS
@given(tokens=st.lists(st.sampled_from(_PIECES), max_size=40))
def test_any_amend_text_gives_diagnostics_never_a_traceback(
    tmp_path_factory, tokens: list[str]
) -> None:  # type: ignore[no-untyped-def]
    project: Path = tmp_path_factory.mktemp("t")
    (project / "base.mora").write_text(BASE)
    (project / "site.mora").write_text("amend web {\n" + " ".join(tokens) + "\n}\n")
    checked = check_project(project)
    for d in checked.diagnostics.sorted():
        render_text(d)
    if not checked.diagnostics.has_errors:
        compile_project(project, domain="example.org", provider=MemoryProvider(seed=b"p"))
