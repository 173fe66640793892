"""`mora plan` of the example projects, run as a user does: no person is asked anything, and the
stdlib's setup steps are listed. What a person still gives is not an input: the people of
projects/identity are a site param, and the rest is named in each project's header and in
docs/stdlib/*.md (indexers in Prowlarr, Immich's and Forgejo's own first accounts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import REPO, run_mora

STEPS = {
    "media": {
        "downloads": ["signed_in", "temporary_password", "login", "set_password"],
        "watch": [
            "wizard_state",
            "wizard_configuration",
            "wizard_user_read",
            "wizard_user",
            "library_shows",
            "library_movies",
            "wizard_complete",
            "sign_in",
            "user_janitorr",
            "janitorr_user",
            "policy_janitorr",
            "key_janitorr",
            "key_homepage",
            "keys",
        ],
        "tv": [
            "host_config",
            "login",
            "root_folders",
            "root_folder",
            "download_client",
            "quality_profile",
        ],
        "movies": [
            "host_config",
            "login",
            "root_folders",
            "root_folder",
            "download_client",
            "quality_profile",
        ],
        "indexers": ["host_config", "login", "app_sonarr", "app_radarr"],
        "requests": [
            "state",
            "link_jellyfin",
            "libraries_sync",
            "libraries_enable",
            "sonarr",
            "radarr",
            "initialize",
            "api_key",
        ],
    },
    "identity": {
        "directory": [
            "sign_in",
            "list_groups",
            "add_group[media_users]",
            # Authelia's own bind user (stdlib/authelia.mora, `ldap_bind`): no admin password
            "list_users",
            "add_bind_user[authelia]",
            "bind_user_access[authelia]",
        ]
    },
}
# homelab uses media and identity as modules: their services carry the alias as a prefix
STEPS["homelab"] = {
    **{f"media-{name}": steps for name, steps in STEPS["media"].items()},
    **{f"identity-{name}": steps for name, steps in STEPS["identity"].items()},
    "git": ["oidc_source"],  # Forgejo signs in through identity.auth (its defaults)
}
# ... and the *arr apps sit behind its forward auth (media's `identity` param): no Forms login
for _name in ("media-tv", "media-movies", "media-indexers"):
    STEPS["homelab"][_name] = [
        s for s in STEPS["homelab"][_name] if s not in ("host_config", "login")
    ]
# ... and Jellyfin signs people in with the directory's accounts: its LDAP-Auth plugin is
# installed and pointed at LLDAP with its own bind user, which LLDAP's steps create
STEPS["homelab"]["media-watch"] = [
    *STEPS["homelab"]["media-watch"],
    *("ldap_plugin", "ldap_install", "ldap_restart", "ldap_read", "ldap_configure"),
]
_directory = STEPS["homelab"]["identity-directory"]
STEPS["homelab"]["identity-directory"] = [
    *_directory[:-1],
    "add_bind_user[bind-media-watch]",
    _directory[-1],
    "bind_user_access[bind-media-watch]",
]
PRODUCED = {
    "media": {
        "janitor_jellyfin_key": "watch.keys.janitorr",
        "janitor_seerr_key": "requests.api_key.key",
    },
    "identity": {},
}
PRODUCED["homelab"] = {f"media-{k}": f"media-{v}" for k, v in PRODUCED["media"].items()}


def _plan(project: str, tmp_path: Path, *extra: str) -> tuple[str, dict[str, object]]:
    args = [
        "plan",
        str(REPO / "projects" / project),
        "--domain",
        "example.org",
        "--secrets",
        str(tmp_path / "site.secrets"),
        *extra,
    ]
    text = run_mora(args, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    data = run_mora([*args, "--format", "json"], cwd=tmp_path)
    assert data.returncode == 0, data.stderr
    return text.stdout, json.loads(data.stdout)


@pytest.mark.parametrize("project", sorted(STEPS))
def test_nobody_is_asked_and_the_steps_are_listed(project: str, tmp_path: Path) -> None:
    text, plan = _plan(project, tmp_path)
    assert "nothing to ask" in text, text
    stages = plan["stages"]
    assert not [s for s in stages if s["kind"] == "input"], stages  # type: ignore[union-attr]
    produced = {
        i["name"]: i["producer"]
        for s in stages  # type: ignore[union-attr]
        if s["kind"] == "produce"
        for i in s["inputs"]
    }
    assert produced == PRODUCED[project]
    assert plan["setup_steps"] == STEPS[project]
    for service, steps in STEPS[project].items():
        shown = service.replace("-", ".", 1)  # a module's service as written: `media.watch`
        assert f"then set up {shown}: {', '.join(steps)}" in text


def test_the_people_are_the_one_thing_identity_is_given(tmp_path: Path) -> None:
    """With the site's people set, LLDAP's setup creates them too; still nobody is asked."""
    text, plan = _plan("identity", tmp_path, "--set", "people=ann=ann@example.org")
    assert plan["setup_steps"] == {
        "directory": [
            "sign_in",
            "list_groups",
            "add_group[media_users]",
            "list_users",
            "add_user[ann]",
            "user_groups[ann]",
            "add_bind_user[authelia]",
            "bind_user_access[authelia]",
        ]
    }
    assert "nothing to ask" in text
