"""The manager's API and pages through Starlette's test client (the real app, no podman).

What is checked: every API operation refuses a caller without a session or token (401); a
session's state-changing calls need its CSRF token; the login form is CSRF-protected, rate
limited and sets a signed HttpOnly SameSite=Strict cookie; pushes are checked (errors are
diagnostics, paths cannot escape); answers are write-only; the credentials are mora secrets
that `mora secrets show` reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mora.manager.app import create_app
from mora.manager.core import Manager
from tests.cli import run_mora
from tests.manager.lab import PROMPT, csrf_of, make_manager, shop, store_values


@pytest.fixture
def manager(tmp_path: Path) -> Manager:
    return make_manager(tmp_path)


@pytest.fixture
def client(manager: Manager) -> TestClient:
    return TestClient(create_app(manager), base_url="http://127.0.0.1")


def bearer(manager: Manager) -> dict[str, str]:
    return {"Authorization": f"Bearer {manager.credentials.api_token}"}


def login(client: TestClient, manager: Manager) -> str:
    """Log in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf": token, "password": manager.credentials.admin_password, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def example(schema: dict, path: str) -> str:
    return path.replace("{id}", "1").replace("{project}", "shop").replace("{name}", "web_key")


def test_every_operation_refuses_a_caller_without_credentials(
    client: TestClient, manager: Manager
) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    ops = [(m, p) for p, item in doc["paths"].items() for m in item]
    assert len(ops) >= 12
    for method, path in ops:
        url = example(doc, path)
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "mora_session=forged.x"}):
            r = client.request(method.upper(), url, headers=headers, json={"value": "x"})
            assert r.status_code == 401, (method, url, headers, r.text)
            assert r.json()["error"]
    # nothing was done on their behalf
    assert manager.db.deployments() == []


def test_pages_redirect_to_the_login_form(client: TestClient) -> None:
    for page in ("/", "/setup", "/deployments", "/deployments/1", "/history", "/runs/1"):
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), page


def test_login_sets_a_signed_strict_httponly_cookie(client: TestClient, manager: Manager) -> None:
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"csrf": token, "password": manager.credentials.admin_password, "next": "/setup"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/setup"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("mora_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert client.get("/").status_code == 200
    # a cookie whose signature does not match is no session
    value = client.cookies.get("mora_session")
    assert value
    client.cookies.set("mora_session", value[:-2] + ("00" if value[-2:] != "00" else "11"))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_needs_the_form_token_and_refuses_open_redirects(
    client: TestClient, manager: Manager
) -> None:
    password = manager.credentials.admin_password
    r = client.post("/login", data={"password": password}, follow_redirects=False)
    assert r.status_code == 400 and "mora_session" not in r.headers.get("set-cookie", "")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = csrf_of(client.get("/login").text)  # a login uses its form token up
        r = client.post(
            "/login",
            data={"csrf": token, "password": password, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/", target


def test_login_is_rate_limited(client: TestClient, manager: Manager) -> None:
    token = csrf_of(client.get("/login").text)
    statuses = [
        client.post("/login", data={"csrf": token, "password": f"guess{i}"}).status_code
        for i in range(7)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    # even the right password waits now
    r = client.post("/login", data={"csrf": token, "password": manager.credentials.admin_password})
    assert r.status_code == 429 and "Too many failed attempts" in r.text


def test_session_calls_that_change_something_need_the_csrf_token(
    client: TestClient, manager: Manager
) -> None:
    csrf = login(client, manager)
    body = {"files": {"main.mora": shop()}}
    assert client.post("/api/deployments", json=body).status_code == 401
    assert (
        client.post("/api/deployments", json=body, headers={"X-CSRF-Token": "no"}).status_code
        == 401
    )
    r = client.post("/api/deployments", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    # reading needs no token; forms without it are refused
    assert client.get("/api/deployments").status_code == 200
    r = client.post("/deployments/1/apply", data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert manager.db.runs() == []
    # logging out ends the session, even if the cookie is replayed
    cookie = client.cookies.get("mora_session")
    client.post("/logout", data={"csrf": csrf})
    client.cookies.set("mora_session", cookie or "")
    assert client.get("/api/services").status_code == 401


def test_push_shows_the_change_set_and_the_pending_input(
    client: TestClient, manager: Manager
) -> None:
    r = client.post(
        "/api/deployments", json={"files": {"main.mora": shop()}}, headers=bearer(manager)
    )
    assert r.status_code == 201, r.text
    changes = r.json()["changes"]
    assert changes["added"] == ["db"] and changes["held"] == ["web"]
    assert changes["new_services"] == ["db", "web"] and changes["new_inputs"] == ["web_key"]
    inputs = client.get("/api/inputs", headers=bearer(manager)).json()
    assert [(i["name"], i["prompt"], i["ready"], i["holds"]) for i in inputs] == [
        ("web_key", PROMPT, False, ["web"])
    ]
    services = client.get("/api/services", headers=bearer(manager)).json()
    assert [(s["name"], s["state"], s["stage"]) for s in services] == [
        ("db", "not deployed", 1),
        ("web", "held", 3),
    ]
    plan = client.get("/api/projects/shop/plan", headers=bearer(manager)).json()
    assert [s["kind"] for s in plan["stages"]] == ["deploy", "input", "deploy"]


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"../x.mora": "project x\n"}, "not a relative .mora path"),
        ({"/etc/x.mora": "project x\n"}, "not a relative .mora path"),
        ({".hidden/x.mora": "project x\n"}, "not a relative .mora path"),
        ({"x.txt": "project x\n"}, "not a relative .mora path"),
        ({}, "at least one .mora file"),
        ({"main.mora": "project shop\nservice web {\n  imag = 1\n}\n"}, "main.mora:3:"),
        ({"main.mora": "project mora_manager\n"}, "the manager's own namespace"),
    ],
)
def test_bad_pushes_are_refused_with_the_reason(
    client: TestClient, manager: Manager, files: dict[str, str], why: str
) -> None:
    r = client.post("/api/deployments", json={"files": files}, headers=bearer(manager))
    assert r.status_code == 422, r.text
    assert why in r.json()["error"]
    assert manager.db.deployments() == []
    assert not any((manager.state / "deployments").iterdir())


def test_an_answer_is_stored_encrypted_and_never_returned(
    client: TestClient, manager: Manager
) -> None:
    client.post("/api/deployments", json={"files": {"main.mora": shop()}}, headers=bearer(manager))
    answer = "answer-7c1e0e4d9b2a44f1"
    r = client.put(
        "/api/projects/shop/inputs/web_key", json={"value": answer}, headers=bearer(manager)
    )
    assert r.status_code == 200 and r.json() == {"stored": True, "run": None}  # nothing applied yet
    assert answer in store_values(manager, ["shop"])
    store = (manager.site_file.parent / "site.secrets").read_bytes()
    assert answer.encode() not in store
    db = (manager.state / "manager.sqlite3").read_bytes()
    assert answer.encode() not in db
    seen = []
    for path in (
        "/api/inputs",
        "/api/services",
        "/api/deployments/1/changes",
        "/api/projects/shop/plan",
    ):
        seen.append(client.get(path, headers=bearer(manager)).text)
    login(client, manager)
    for page in ("/", "/setup", "/deployments/1"):
        seen.append(client.get(page).text)
    for text in seen:
        assert answer not in text
    # answered: no longer pending, web is no longer held
    assert client.get("/api/inputs", headers=bearer(manager)).json() == []
    # a wrongly typed answer is refused without echoing it
    client.post(
        "/api/deployments",
        json={"files": {"main.mora": shop(cache=True)}},
        headers=bearer(manager),
    )
    r = client.put(
        "/api/projects/shop/inputs/cache_size",
        json={"value": "lots-9f8e7d"},
        headers=bearer(manager),
    )
    assert r.status_code == 422 and "lots-9f8e7d" not in r.text
    assert (
        client.put(
            "/api/projects/shop/inputs/nope", json={"value": "x"}, headers=bearer(manager)
        ).status_code
        == 404
    )


def test_no_response_carries_a_secret_value(client: TestClient, manager: Manager) -> None:
    """Every route, pages included, read with full rights after a push and an answer."""
    client.post("/api/deployments", json={"files": {"main.mora": shop()}}, headers=bearer(manager))
    client.put(
        "/api/projects/shop/inputs/web_key",
        json={"value": "k3y-for-web-5d1c"},
        headers=bearer(manager),
    )
    csrf = login(client, manager)
    values = store_values(manager, ["shop", "mora_manager"])
    assert len(values) >= 5  # db_password, web_key, admin_password, api_token, session_key
    texts = [
        client.get(p).text
        for p in ("/", "/setup", "/deployments", "/deployments/1", "/history", "/login")
    ]
    doc = client.get("/api/openapi.json").json()
    for path, item in doc["paths"].items():
        if "get" in item:
            texts.append(client.get(example(doc, path), headers={"X-CSRF-Token": csrf}).text)
    for text in texts:
        for value in values:
            assert value not in text


def test_the_credentials_are_mora_secrets(tmp_path: Path) -> None:
    manager = make_manager(tmp_path)
    assert manager.credentials.created
    again = Manager(manager.site_file, manager.state)
    assert not again.credentials.created
    assert again.credentials.admin_password == manager.credentials.admin_password
    assert repr(manager.credentials) == "Credentials(<hidden>)"
    command = manager.read_command("admin_password").split()
    assert command[:3] == ["mora", "secrets", "show"]
    proc = run_mora(command[1:])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == manager.credentials.admin_password


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/login", "/api/openapi.json", "/static/style.css", "/api/services", "/nope"):
        r = client.get(path)
        assert "default-src 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_openapi_document_names_every_model(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    text = json.dumps(doc)
    for model in ("Push", "Answer", "Changes", "ServiceOut", "InputOut", "RunDetail", "Problem"):
        assert model in doc["components"]["schemas"], model
    assert "#/$defs/" not in text


def test_apply_to_a_manager_needs_a_token_and_a_reachable_manager(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    (project / "main.mora").write_text(shop())
    env = {k: v for k, v in os.environ.items() if k != "MORA_MANAGER_TOKEN"}
    proc = run_mora(["apply", str(project), "--manager", "http://127.0.0.1:9"], env=env)
    assert (
        proc.returncode == 1 and "no token for the manager: set MORA_MANAGER_TOKEN" in proc.stderr
    )
    env["MORA_MANAGER_TOKEN"] = "t"
    proc = run_mora(["apply", str(project), "--manager", "http://127.0.0.1:9"], env=env)
    assert proc.returncode == 1
    assert "cannot reach the manager at http://127.0.0.1:9" in proc.stderr
    # a project with errors is not pushed at all
    (project / "main.mora").write_text("project shop\nservice web {\n  imag = 1\n}\n")
    proc = run_mora(["apply", str(project), "--manager", "http://127.0.0.1:9"], env=env)
    assert proc.returncode == 1 and "main.mora:3:" in proc.stderr
    assert "cannot reach" not in proc.stderr


def test_stopping_drops_queued_applies(manager: Manager) -> None:
    """Queued runs are not started by a stopping manager (the worker was never started here),
    and are marked failed rather than left queued forever."""
    dep = manager.push({"main.mora": shop()})
    first = manager.start_apply(dep.id)
    second = manager.start_apply(dep.id)
    manager.stop()
    for run in (first, second):
        found = manager.db.run(run)
        assert found is not None and (found.status, found.summary) == ("failed", "not started")
        assert [line.detail for line in manager.db.lines(run)] == [
            "the manager stopped before this run started"
        ]
