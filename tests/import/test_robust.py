"""Bad input never crashes the importer: any shape of value under any compose key ends in
diagnostics and a written (or refused) project, never in a Python exception."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.diagnostics import Diagnostics
from mora.importer import render_project

KEYS = [
    "image", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
    "tmpfs", "depends_on", "restart", "user", "devices", "labels", "healthcheck", "hostname",
    "working_dir", "stop_grace_period", "stop_signal", "init", "shm_size", "dns", "extra_hosts",
    "sysctls", "ulimits", "network_mode", "cap_add", "cap_drop", "privileged", "read_only",
    "group_add", "mem_limit", "cpus", "deploy", "secrets", "configs", "networks", "profiles",
    "build", "logging",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(alphabet="ab:/.$-{}=_ 0189CMD", max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from([*KEYS, "target", "source", "test", "soft"]), inner, max_size=3
        ),
    ),
    max_leaves=8,
)
services = st.dictionaries(
    st.sampled_from(["app", "db", "my-app", "self"]),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    services=services,
    top=st.dictionaries(
        st.sampled_from(["volumes", "secrets", "configs", "networks", "name"]), values, max_size=2
    ),
)
def test_any_shape_is_diagnosed_not_raised(tmp_path: Path, services: dict, top: dict) -> None:  # type: ignore[type-arg]
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump({"services": services, **top}))
    diags = Diagnostics()
    rendered = render_project([path], diags, project_directory=Path("/srv/x"))
    assert rendered is not None or diags.has_errors


def test_byte_sizes_with_a_bare_b_or_zero_are_diagnosed(tmp_path: Path) -> None:
    """Hypothesis found `shm_size: 0b`: the unit `b` crashed the size conversion (ValueError)."""
    path = tmp_path / "compose.yaml"
    services = {
        "a": {"image": "x:1", "shm_size": "0b", "mem_limit": "512b"},
        "b": {"image": "x:1", "mem_limit": "64mb"},
    }
    path.write_text(yaml.safe_dump({"services": services}))
    diags = Diagnostics()
    rendered = render_project([path], diags, project_directory=Path("/srv/x"))
    assert rendered is not None
    text = "\n".join(str(d.message) for d in diags)
    assert "size `0b`" in text  # zero is "no limit" to docker: not imported, said so
    assert "64Mi" in str(rendered)
