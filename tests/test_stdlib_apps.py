"""What the stdlib templates added for issue 15 promise beyond their golden files: the choices
their headers explain (one web port for AdGuard Home's wizard and dashboard, Grafana's data
source only when asked for, authentik's worker sharing the server's secrets and data, Mealie's
built-in password replaced by a step that is skipped once done)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_stdlib import GOLDEN, _compile, _diagnostics


def _services(case: str):  # type: ignore[no-untyped-def]
    result = _compile(GOLDEN / case / "input")
    assert result.compiled is not None and not _diagnostics(result), _diagnostics(result)
    return result.compiled.manifest.services, result.compiled.material


def test_adguardhome_keeps_wizard_and_dashboard_on_the_routed_port() -> None:
    """Upstream proposes port 80 for the dashboard after its wizard on 3000: the route would lose
    it. --web-addr pins the UI to the routed port at every start and the wizard proposes it."""
    services, _ = _services("adguardhome")
    dns = services["dns"]
    http = next(p for p in dns.ports if p.name == "http")
    assert dns.command[-2:] == ["--web-addr", f"0.0.0.0:{http.target}"]
    assert dns.environment["ADGUARD_HOME_DEFAULT_WEB_PORT"].value == str(http.target)
    assert f":{http.target}/" in " ".join(dns.healthcheck.test)


def test_grafana_provisions_a_data_source_only_when_given_one(tmp_path: Path) -> None:
    services, _ = _services("grafana")
    (given,) = services["dashboards"].files
    assert "url: http://metrics:9090" in (given.content or "")
    (tmp_path / "main.mora").write_text("import grafana\n\nservice dashboards = grafana()\n")
    result = _compile(tmp_path)
    assert result.compiled is not None, _diagnostics(result)
    (empty,) = result.compiled.manifest.services["dashboards"].files
    assert empty.content == "apiVersion: 1\ndatasources: []\n"


def test_authentik_worker_shares_the_servers_secrets_and_data() -> None:
    services, material = _services("authentik")
    for name in ("AUTHENTIK_SECRET_KEY", "AUTHENTIK_BOOTSTRAP_PASSWORD"):
        assert material[f"auth/env/{name}"] == material[f"authworker/env/{name}"], name
    data = {s: [v.name for v in services[s].volumes if v.path == "/data"] for s in services}
    assert data["auth"] == data["authworker"] == ["authentik-data"]
    assert services["auth"].command == ["server"] and services["authworker"].command == ["worker"]


def test_mealie_replaces_its_builtin_password_once() -> None:
    """The check runs at every apply; the two steps that change the password only when the
    generated one does not sign in yet."""
    services, _ = _services("mealie")
    steps = {s.name: s for s in services["recipes"].setup}
    assert list(steps) == ["signed_in", "login", "set_password"]
    assert steps["signed_in"].when is None
    for name in ("login", "set_password"):
        when = steps[name].when
        assert when is not None and when.op == "!"
        assert when.args[0].ref == "output.recipes.signed_in.done"


@pytest.mark.parametrize(
    ("module", "engine"),
    [
        ("gitea", ("GITEA__database__DB_TYPE", "postgres")),
        ("mealie", ("DB_ENGINE", "postgres")),
        ("n8n", ("DB_TYPE", "postgresdb")),
    ],
)
def test_an_optional_postgres_consumer_waits_for_its_provider(
    tmp_path: Path, module: str, engine: tuple[str, str]
) -> None:
    """`db: optional(postgres)`: a provider passed makes the app use Postgres and start after it
    (no `depends_on` written); `none` keeps SQLite and waits for nothing."""

    def compiled(name: str, call: str):  # type: ignore[no-untyped-def]
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.mora").write_text(
            f'import {module}\nimport postgres\n\nservice store = postgres(user: "app")\n\n'
            f"service app = {module}({call})\n"
        )
        result = _compile(tmp_path / name)
        assert result.compiled is not None and not _diagnostics(result), _diagnostics(result)
        return result.compiled.manifest.services["app"]

    app, alone = compiled("with", "db: store"), compiled("without", "")
    assert app.depends_on == ["store"] and alone.depends_on == []
    key, value = engine
    assert app.environment[key].value == value
    assert key not in alone.environment or alone.environment[key].value != value
    assert not any("PASS" in name.upper() for name in alone.environment)


def test_an_optional_service_argument_is_read_only_where_it_is_set(tmp_path: Path) -> None:
    """Grafana's `prometheus: optional(service)`: its fields are a service's inside `if
    args.x != none` (the data source) and E0354 outside it."""
    (tmp_path / "main.mora").write_text(
        "template t(p: optional(service) = none) {\n"
        '  image = "docker.io/library/busybox:1.36"\n'
        '  user = "1000:1000"\n'
        "  environment {\n"
        "    if args.p != none { INSIDE = args.p.internal_url }\n"
        "    OUTSIDE = args.p.internal_url\n"
        "  }\n"
        "}\n\n"
        "service s = t()\n"
    )
    result = _compile(tmp_path)
    errors = [d for d in result.diagnostics.sorted() if d.is_error]
    codes = [(d.code, d.span.line if d.span else None) for d in errors]
    assert codes == [("E0354", 6)], _diagnostics(result)
