"""`auth_method: "Basic"` on the *arr apps still gets the login user (issue 15).

Radarr 6 and Prowlarr rewrite Basic into Forms (ConfigFileProvider.cs@v6.0.3.10276:218-224,
Prowlarr's @v2.3.5.5327:219-225) and Sonarr asks for a user with HTTP basic auth: in every case
a login with no user in the database lets nobody in. So the steps that create the user must be
built for Basic as they are for Forms, and only External (or `identity`) drops them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mora.api import compile_project
from mora.secrets.provider import MemoryProvider

PROJECT = """\
import sonarr
import radarr
import prowlarr

service tv = sonarr(media: "/srv/media", auth_method: "{method}")
service movies = radarr(media: "/srv/media", auth_method: "{method}")
service indexers = prowlarr(auth_method: "{method}")
"""


def _steps(tmp_path: Path, method: str) -> dict[str, list[str]]:
    (tmp_path / "main.mora").write_text(PROJECT.format(method=method), encoding="utf-8")
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, result.diagnostics
    services = result.compiled.manifest.services  # type: ignore[attr-defined]
    return {
        name: [step.name for step in services[name].setup] for name in ("tv", "movies", "indexers")
    }


@pytest.mark.parametrize("method", ["Forms", "Basic"])
def test_the_login_user_is_set_unless_external(tmp_path: Path, method: str) -> None:
    for name, steps in _steps(tmp_path, method).items():
        assert "host_config" in steps and "login" in steps, (method, name, steps)


def test_external_builds_no_login_steps(tmp_path: Path) -> None:
    for name, steps in _steps(tmp_path, "External").items():
        assert "login" not in steps and "host_config" not in steps, (name, steps)


LIDARR = """\
import lidarr

service music = lidarr(media: "/srv/media", auth_method: "{method}")
"""


@pytest.mark.parametrize("method", ["Forms", "Basic"])
def test_lidarr_leaves_forms_and_basic_to_its_first_visit(tmp_path: Path, method: str) -> None:
    """Lidarr has no login steps: a method in the environment with no user would lock it.

    Its first-visit dialog only opens while the method is None (PageConnector.js:170).
    """
    (tmp_path / "main.mora").write_text(LIDARR.format(method=method), encoding="utf-8")
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, result.diagnostics
    env = result.compiled.manifest.services["music"].environment  # type: ignore[attr-defined]
    assert "LIDARR__AUTH__METHOD" not in env, env


def test_lidarr_external_is_still_set(tmp_path: Path) -> None:
    (tmp_path / "main.mora").write_text(LIDARR.format(method="External"), encoding="utf-8")
    result = compile_project(tmp_path, domain="example.org", provider=MemoryProvider(seed=b"t"))
    assert result.compiled is not None, result.diagnostics
    env = result.compiled.manifest.services["music"].environment  # type: ignore[attr-defined]
    assert "LIDARR__AUTH__METHOD" in env, env
