"""API requests generated from the served OpenAPI document (schemathesis), against the real app.

For every operation: no generated request gets a 500; each response has a status and body the
document declares; the same request without credentials is refused (401); and no response
carries any value of the site's store (the project's secrets, the answers given, the manager's
own credentials). The site has a pushed project with a secret and an answered input, so the
generated requests meet real deployments, inputs and runs, not only 404s.

Applies that the generated requests start run in the background against this host's podman
(or fail there, logged, when it has none): either way they never show in a response as an
error of the request. Their containers are removed at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from mora.manager.app import create_app
from mora.manager.core import Manager
from tests.manager.lab import make_manager, shop, store_values

ANSWER = "answer-for-web-4be1d7c05a"


class Site:
    def __init__(self, tmp: Path) -> None:
        self.project = f"moraapi{secrets.token_hex(3)}"
        self.manager: Manager = make_manager(tmp)
        self.app = create_app(self.manager)
        self.client = TestClient(self.app, base_url="http://127.0.0.1")
        self.client.__enter__()  # runs the lifespan: the apply worker
        self.headers = {"Authorization": f"Bearer {self.manager.credentials.api_token}"}
        r = self.client.post(
            "/api/deployments",
            json={"files": {"main.mora": shop(project=self.project)}},
            headers=self.headers,
        )
        assert r.status_code == 201, r.text
        r = self.client.put(
            f"/api/projects/{self.project}/inputs/web_key",
            json={"value": ANSWER},
            headers=self.headers,
        )
        assert r.status_code == 200, r.text
        self.checked = 0

    def secret_values(self) -> list[str]:
        return [ANSWER, *store_values(self.manager, [self.project, "mora_manager"])]

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        podman = os.environ.get("MORA_PODMAN") or "podman"
        env = dict(os.environ)
        if os.environ.get("MORA_CONTAINERS_CONF"):
            env["CONTAINERS_CONF"] = os.environ["MORA_CONTAINERS_CONF"]
        try:
            label = f"label=mora.project={self.project}"
            ids = subprocess.run(
                [podman, "ps", "-a", "-q", "--filter", label],
                capture_output=True, text=True, env=env, timeout=60,
            ).stdout.split()  # fmt: skip
            if ids:
                subprocess.run([podman, "rm", "-f", "-t", "0", *ids], env=env, capture_output=True)
            names = subprocess.run(
                [podman, "secret", "ls", "--format", "{{.Name}}"],
                capture_output=True, text=True, env=env, timeout=60,
            ).stdout.split()  # fmt: skip
            doomed = [n for n in names if n.startswith(f"{self.project}-")]
            if doomed:
                subprocess.run([podman, "secret", "rm", *doomed], env=env, capture_output=True)
            subprocess.run(
                [podman, "network", "rm", "-f", self.project], env=env, capture_output=True
            )
        except FileNotFoundError:
            pass  # no podman here: the applies failed in the background, nothing to remove


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)  # function scope: after conftest points the key files at a test folder
    try:
        yield s
    finally:
        s.close()


def check(case: schemathesis.Case, site: Site) -> None:
    """One generated request: with the token, then without any credentials."""
    response = case.call(headers=site.headers)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        headers=site.headers,
    )
    assert response.status_code != 401, response.text  # the token is good: never refused
    anonymous = case.call()
    assert anonymous.status_code == 401, (case.method, case.formatted_path, anonymous.text)
    for value in site.secret_values():
        for text in (response.text, anonymous.text):
            assert value not in text, f"a secret value in {case.method} {case.formatted_path}"
    site.checked += 1


@pytest.mark.slow
def test_generated_requests(site: Site) -> None:
    api = schemathesis.openapi.from_asgi("/api/openapi.json", site.app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) == 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case: schemathesis.Case) -> None:
            check(case, site)

        run()
    assert site.checked >= 12 * 10
