"""The request checker against the trimmed upstream descriptions: requests that the published
API admits pass, and each kind of mistake a setup step could make is caught."""

from __future__ import annotations

import json

import pytest

from tests.apispec.check import HERE, Request, check_request, match_path, response_fields

APPS = sorted(p.stem for p in HERE.glob("*.json"))


def test_every_description_names_its_upstream_source() -> None:
    """Provenance: repository, ref, commit and the sha256 of every upstream document used."""
    assert {
        "sonarr",
        "radarr",
        "prowlarr",
        "lidarr",
        "seerr",
        "jellyfin",
        "lldap",
        "qbittorrent",
    } <= set(APPS)
    for app in APPS:
        spec = json.loads((HERE / f"{app}.json").read_text(encoding="utf-8"))
        prov = spec["x-provenance"]
        assert prov["repository"].startswith("github.com/"), app
        assert len(prov["commit"]) == 40, app
        assert prov["ref"] and prov["image_tag"] and prov["note"], app
        assert prov["documents"], app
        for doc in prov["documents"]:
            assert len(doc["sha256"]) == 64 and doc["path"], app


ADMITTED = [
    Request("sonarr", "POST", "/api/v3/rootfolder", body={"path": "/data/media/tv"}),
    Request("sonarr", "GET", "/api/v3/downloadclient"),
    Request(
        "sonarr",
        "POST",
        "/api/v3/downloadclient",
        body={
            "name": "downloads",
            "enable": True,
            "protocol": "torrent",
            "priority": 1,
            "implementation": "QBittorrent",
            "configContract": "QBittorrentSettings",
            "fields": [
                {"name": "host", "value": "downloads"},
                {"name": "port", "value": 8080},
                {"name": "tvCategory", "value": "tv"},
            ],
        },
    ),
    Request("sonarr", "PUT", "/api/v3/config/host/1", body={"username": "admin"}),
    Request("radarr", "POST", "/api/v3/rootfolder", body={"path": "/data/media/movies"}),
    Request(
        "prowlarr",
        "POST",
        "/api/v1/applications",
        body={
            "name": "tv",
            "implementation": "Sonarr",
            "configContract": "SonarrSettings",
            "syncLevel": "fullSync",
            "fields": [
                {"name": "prowlarrUrl", "value": "http://indexers:9696"},
                {"name": "baseUrl", "value": "http://tv:8989"},
                {"name": "apiKey", "value": "k"},
                {"name": "syncCategories", "value": [5000]},
            ],
        },
    ),
    Request(
        "seerr",
        "POST",
        "/api/v1/auth/jellyfin",
        body={"username": "admin", "password": "p", "hostname": "watch", "serverType": 2},
    ),
    Request("seerr", "GET", "/api/v1/settings/jellyfin/library", query=["sync"]),
    Request("jellyfin", "POST", "/Startup/User", body={"Name": "admin", "Password": "p"}),
    Request("jellyfin", "POST", "/Auth/Keys", query=["app"]),
    Request(
        "jellyfin",
        "POST",
        "/Library/VirtualFolders",
        query=["name", "collectionType", "paths", "refreshLibrary"],
    ),
    Request("lldap", "POST", "/auth/simple/login", body={"username": "admin", "password": "p"}),
    Request(
        "lldap",
        "POST",
        "/api/graphql",
        graphql={
            "operation": "mutation",
            "field": "createUser",
            "args": {"user": {"id": "ann", "email": "ann@example.org", "displayName": "Ann"}},
        },
    ),
    Request(
        "lldap",
        "POST",
        "/api/graphql",
        graphql={
            "operation": "mutation",
            "field": "addUserToGroup",
            "args": {"userId": "ann", "groupId": 3},
        },
    ),
    Request(
        "qbittorrent", "POST", "/api/v2/auth/login", form={"username": "admin", "password": "p"}
    ),
    Request(
        "qbittorrent",
        "POST",
        "/api/v2/app/setPreferences",
        form={"json": json.dumps({"web_ui_password": "longenough"})},
    ),
]


@pytest.mark.parametrize("req", ADMITTED, ids=lambda r: f"{r.app} {r.method} {r.path}")
def test_admitted(req: Request) -> None:
    assert check_request(req) == []


REJECTED = [
    # (request, a fragment of the expected problem)
    (Request("sonarr", "POST", "/api/v3/rootfolders", body={"path": "/x"}), "unknown path"),
    (Request("sonarr", "DELETE", "/api/v3/rootfolder", body=None), "wrong method"),
    (
        Request("sonarr", "POST", "/api/v3/rootfolder", body={"path": "/x", "folder": "/y"}),
        "body.folder: unknown field",
    ),
    (Request("sonarr", "POST", "/api/v3/rootfolder", body={"path": 7}), "expected string"),
    (
        Request(
            "sonarr",
            "POST",
            "/api/v3/downloadclient",
            body={
                "name": "d",
                "protocol": "magnet",
                "implementation": "QBittorrent",
                "configContract": "QBittorrentSettings",
                "fields": [],
            },
        ),
        "is not one of",
    ),
    (
        Request(
            "sonarr",
            "POST",
            "/api/v3/downloadclient",
            body={
                "name": "d",
                "implementation": "QBittorrent",
                "configContract": "QBittorrentSettings",
                "fields": [{"name": "movieCategory", "value": "tv"}],
            },
        ),
        "not a QBittorrent setting",
    ),
    (
        Request(
            "sonarr",
            "POST",
            "/api/v3/downloadclient",
            body={
                "name": "d",
                "implementation": "QBittorrent",
                "configContract": "QBittorrentSettings",
                "fields": [{"name": "port", "value": "8080"}],
            },
        ),
        "expected integer",
    ),
    (
        Request(
            "sonarr",
            "POST",
            "/api/v3/downloadclient",
            body={
                "name": "d",
                "implementation": "Deluge",
                "configContract": "DelugeSettings",
                "fields": [],
            },
        ),
        "is not one of",
    ),
    # Radarr's qBittorrent settings have no API key field (Sonarr 4.0.19's do).
    (
        Request(
            "radarr",
            "POST",
            "/api/v3/downloadclient",
            body={
                "name": "d",
                "implementation": "QBittorrent",
                "configContract": "QBittorrentSettings",
                "fields": [{"name": "apiKey", "value": "k"}],
            },
        ),
        "not a QBittorrent setting",
    ),
    (
        Request(
            "prowlarr",
            "POST",
            "/api/v1/applications",
            body={
                "name": "tv",
                "implementation": "Sonarr",
                "configContract": "SonarrSettings",
                "syncLevel": "always",
                "fields": [],
            },
        ),
        "is not one of",
    ),
    (Request("sonarr", "GET", "/api/v3/rootfolder", query=["page"]), "unknown parameter"),
    (
        Request("seerr", "POST", "/api/v1/auth/jellyfin", body={"username": "admin"}),
        "body.password: required field missing",
    ),
    (
        Request("seerr", "POST", "/api/v1/settings/sonarr", body={"id": 1, "name": "tv"}),
        "read-only field",
    ),
    (
        Request("seerr", "POST", "/api/v1/settings/sonarr", body={"name": "tv"}),
        "required field missing",
    ),
    (Request("jellyfin", "POST", "/Auth/Keys"), "query 'app': required parameter missing"),
    # A user policy is replaced whole: its two provider ids are [Required] in UserPolicy.cs.
    (
        Request("jellyfin", "POST", "/Users/abc/Policy", body={"EnableContentDeletion": True}),
        "body.AuthenticationProviderId: required field missing",
    ),
    (
        Request("jellyfin", "POST", "/Users/New", body={"Password": "p"}),
        "body.Name: required field missing",
    ),
    (
        Request("jellyfin", "POST", "/Startup/Configuration", body=None),
        "required request body missing",
    ),
    (
        Request("jellyfin", "POST", "/Startup/User", body={"name": "admin", "Password": "p"}),
        "unknown field",
    ),
    (Request("jellyfin", "POST", "/Startup/Complete", body={"done": True}), "takes no JSON body"),
    (
        Request(
            "lldap",
            "POST",
            "/api/graphql",
            graphql={
                "operation": "mutation",
                "field": "createUser",
                "args": {"user": {"email": "a@b"}},
            },
        ),
        "required field of CreateUserInput missing",
    ),
    (
        Request(
            "lldap",
            "POST",
            "/api/graphql",
            graphql={
                "operation": "mutation",
                "field": "addUserToGroup",
                "args": {"userId": "ann", "groupId": "admins"},
            },
        ),
        "expected Int",
    ),
    (
        Request(
            "lldap",
            "POST",
            "/api/graphql",
            graphql={"operation": "mutation", "field": "createUsers", "args": {}},
        ),
        "not in the schema",
    ),
    (
        Request(
            "lldap",
            "POST",
            "/api/graphql",
            graphql={"operation": "mutation", "field": "createGroup", "args": {"title": "x"}},
        ),
        "unknown argument",
    ),
    (
        Request(
            "qbittorrent", "POST", "/api/v2/auth/login", body={"username": "a", "password": "p"}
        ),
        "takes no JSON body",
    ),
    (Request("qbittorrent", "GET", "/api/v2/auth/login"), "wrong method"),
    (
        Request("qbittorrent", "POST", "/api/v2/app/setPreferences", form={"json": "{not json"}),
        "not JSON",
    ),
]


@pytest.mark.parametrize(
    ("req", "expected"),
    REJECTED,
    ids=lambda v: f"{v.app} {v.method} {v.path}" if isinstance(v, Request) else "",
)
def test_rejected(req: Request, expected: str) -> None:
    problems = check_request(req)
    assert any(expected in p for p in problems), problems


def test_literal_segments_beat_templates() -> None:
    """`/settings/sonarr/test` is its own operation, not `/settings/sonarr/{sonarrId}`."""
    spec = json.loads((HERE / "sonarr.json").read_text(encoding="utf-8"))
    assert match_path(spec, "/api/v3/config/host/1") == "/api/v3/config/host/{id}"
    assert match_path(spec, "/api/v3/config/host") == "/api/v3/config/host"
    assert match_path(spec, "/api/v3/config/host/1/x") is None


def test_response_fields() -> None:
    assert "apiKey" in response_fields("seerr", "GET", "/api/v1/settings/main")
    assert "Items" in response_fields("jellyfin", "GET", "/Auth/Keys")
    assert "token" in response_fields("lldap", "POST", "/auth/simple/login")
    with pytest.raises(KeyError):
        response_fields("sonarr", "GET", "/api/v3/nothing")


def test_unknown_app() -> None:
    with pytest.raises(FileNotFoundError):
        check_request(Request("plex", "GET", "/"))
