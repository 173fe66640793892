"""The stdlib's setup steps, as the example projects compile them, against the apps' published
API descriptions and the automation plan.

Every HTTP step of the compiled manifests (method, URL path after the service's own address,
query names, JSON or form body field names and literal types) must be admitted by the app's
trimmed description (tests/apispec/check.py), and each app's steps must be the plan's requests
(tests/apispec/plan.yaml), in the plan's order: a step is either a planned request or one of the
plan's idempotence reads. Planned requests the language cannot express yet are listed in GAPS,
each with the reason; a gap that gets written (or a step that disappears) fails the test.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from mora import model as M
from mora.api import compile_project
from mora.secrets.provider import MemoryProvider
from tests.apispec.check import Request, check_request, load_spec, match_path
from tests.apispec.plandoc import load_plan

REPO = Path(__file__).resolve().parents[2]
PLAN = load_plan()
PROJECTS = ("media", "identity", "homelab")
# A run-time value (a secret, an input, an earlier step's output) in a body: always text, since
# the executor sends every stored value as a string.
RUNTIME = "<runtime>"

# Planned requests with no step, and why (each stdlib page's "After it starts" says so too).
GAPS = {
    "directory.user_create": "the example projects name no people (only a person knows them): "
    "with `people` set, `add_user[ID]` sends it (test_lldap_steps_... checks it)",
    "directory.user_group": "done inside the `user_groups` command per user (GraphQL addUserToGroup): a step repeats over one list, and this is per user and per group",
}


def _manifest(project: str) -> M.Manifest:
    result = compile_project(
        REPO / "projects" / project,
        domain="example.org",
        provider=MemoryProvider(seed=b"steps", values={}),
    )
    assert result.compiled is not None, [d.message for d in result.diagnostics.sorted()]
    return result.compiled.manifest


MANIFESTS = {p: _manifest(p) for p in PROJECTS}
APPS = {entry["service"]: (app, entry) for app, entry in PLAN["apps"].items()}


def _sample(e: M.StepExpr | None) -> Any:
    """A step value as the app will see it: literals as written, run-time values as text."""
    if e is None:
        return None
    if e.lit is not None:
        return e.lit
    if e.entries is not None:
        return {k: _sample(v) for k, v in e.entries.items()}
    if e.items is not None:
        return [_sample(i) for i in e.items]
    if e.concat is not None:  # a string with run-time values inside (a JSON text, say)
        return "".join(str(p.lit) if p.lit is not None else RUNTIME for p in e.concat)
    return RUNTIME  # a reference or a string with one in it


def _url(service: str, step: M.Step) -> str:
    assert step.url is not None
    if step.url.lit is not None:
        return str(step.url.lit)
    parts = step.url.concat or []
    return "".join(str(p.lit) if p.lit is not None else RUNTIME for p in parts)


def to_request(api: str, service: str, step: M.Step) -> Request:
    """One compiled HTTP step as the checker's Request; its URL must be the service's own."""
    url = urllib.parse.urlsplit(_url(service, step))
    assert url.hostname == service, f"{service}.{step.name} calls {url.hostname}, not itself"
    # with `base`, the body is an earlier response (the app's own resource, read with GET)
    # with these fields set over it: the fields set are what is checked
    body = _sample(step.body)
    if api == "lldap" and url.path == "/api/graphql" and isinstance(body, dict):
        return Request(app=api, method=step.method or "GET", path=url.path, graphql=_gql(body))
    return Request(
        app=api,
        method=step.method or "GET",
        path=url.path,
        query=[k for k, _ in urllib.parse.parse_qsl(url.query, keep_blank_values=True)],
        body=body if step.body_format == "json" else None,
        form=body if step.body_format == "form" else None,
    )


def _gql(body: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL request body (`query` text and `variables`) as the checker's call: the
    operation, the first field and its arguments (`name: $var` filled from the variables)."""
    import re

    text = str(body.get("query", ""))
    variables = body.get("variables") or {}
    inner = text[text.index("{") + 1 :]
    m = re.match(r"\s*(\w+)\s*(\(([^)]*)\))?", inner)
    assert m is not None, text
    args = {
        name: variables.get(var, RUNTIME)
        for name, var in re.findall(r"(\w+)\s*:\s*\$(\w+)", m.group(3) or "")
    }
    kind = "mutation" if text.lstrip().startswith("mutation") else "query"
    return {"operation": kind, "field": m.group(1), "args": args}


def _http_steps(project: str) -> list[tuple[str, str, M.Step]]:
    found = []
    for name, svc in sorted(MANIFESTS[project].services.items()):
        for step in svc.setup:
            if step.url is not None and step.manager is None and name in APPS:
                found.append((project, name, step))
    return found


HTTP = [s for p in PROJECTS for s in _http_steps(p)]


def problems_of(service: str, step: M.Step) -> list[str]:
    _app, entry = APPS[service]
    return check_request(to_request(entry["api"], service, step))


@pytest.mark.parametrize(
    ("project", "service", "step"), HTTP, ids=[f"{p}-{s}.{st.name}" for p, s, st in HTTP]
)
def test_step_is_admitted_by_the_published_description(
    project: str, service: str, step: M.Step
) -> None:
    assert problems_of(service, step) == []


def _key(api: str, method: str, path: str, query: list[str]) -> tuple[str, str, tuple[str, ...]]:
    described = match_path(load_spec(api), path) or path
    return method.upper(), described, tuple(sorted(query))


def _planned(app: str) -> tuple[list[tuple[str, Any]], set[Any]]:
    entry = PLAN["apps"][app]
    requests, reads = [], set()
    for step in entry["steps"]:
        if "request" in step:
            r = step["request"]
            requests.append(
                (step["id"], _key(entry["api"], r["method"], r["path"], r.get("query", [])))
            )
        if isinstance(step["idempotence"], dict):
            c = step["idempotence"]
            reads.add(_key(entry["api"], c["method"], c["path"], c.get("query", [])))
    return requests, reads


CASES = [
    (p, service)
    for p in PROJECTS
    for service in sorted(MANIFESTS[p].services)
    if service in APPS and "api" in APPS[service][1]
]


@pytest.mark.parametrize(("project", "service"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_steps_follow_the_plan_in_order(project: str, service: str) -> None:
    app, entry = APPS[service]
    planned, reads = _planned(app)
    steps = [st for p, s, st in HTTP if p == project and s == service]
    keys = [
        _key(entry["api"], r.method, r.path, r.query)
        for r in (to_request(entry["api"], service, st) for st in steps)
    ]
    # every step is a planned request or a planned idempotence read
    planned_keys = {k for _, k in planned}
    strays = [st.name for st, k in zip(steps, keys, strict=True) if k not in planned_keys | reads]
    assert not strays, f"steps the plan does not have: {strays}"
    # the planned requests, minus the known gaps, come in the plan's order
    wanted = [k for sid, k in planned if sid not in GAPS]
    made = [k for k in keys if k in planned_keys]
    it = iter(made)
    missing = [k for k in wanted if not any(k == m for m in it)]
    assert not missing, f"planned requests missing or out of order: {missing}"
    # and each gap is really not there (a gap that gets written must leave GAPS)
    for sid, k in planned:
        if sid in GAPS and k not in {w for w in wanted}:
            assert k not in made, f"{sid} is written now: remove it from GAPS"


def test_every_gap_is_a_planned_step() -> None:
    ids = {s["id"] for e in PLAN["apps"].values() for s in e["steps"]}
    assert set(GAPS) <= ids


def test_a_misspelt_field_is_caught() -> None:
    """The check can fail: Sonarr's root folder step with `path` misspelt is refused."""
    svc = MANIFESTS["media"].services["tv"]
    step = next(s for s in svc.setup if s.name == "root_folder")
    assert problems_of("tv", step) == []
    assert step.body is not None and step.body.entries is not None
    wrong = step.body.model_copy(update={"entries": {"paht": step.body.entries["path"]}})
    bad = step.model_copy(update={"body": wrong})
    assert any("paht" in p for p in problems_of("tv", bad)), problems_of("tv", bad)


def test_a_misspelt_provider_field_is_caught() -> None:
    """...and so is a download client setting QBittorrentSettings does not have."""
    step = next(
        s for s in MANIFESTS["media"].services["movies"].setup if s.name == "download_client"
    )
    request = to_request("radarr", "movies", step)
    request.body["fields"][0]["name"] = "hostname"
    assert check_request(request) != []


# --- what the stdlib steps need from the language, run for real against a loopback server ------

LANG = """\
project lab
secret pw = password(length: 16)
service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = {port} }}
  setup {{
    login {{
      method = "POST"
      url    = "${{self.internal_url}}/login"
      form   = {{ username: "admin", password: secret.pw }}
      output {{ session = cookie }}
    }}
    first {{
      url     = "${{self.internal_url}}/items"
      headers {{ Cookie = setup.login.session }}
      output  {{ id = body.0.id }}
    }}
    never {{
      when = "{host}" != ""
      url  = "${{self.internal_url}}/never"
    }}
  }}
}}
"""


def test_cookie_list_items_and_compile_time_when(tmp_path: Path) -> None:
    """A sign-in's session cookie is sent back, `body.0.id` reads a list's first item, and a
    step whose `when` is false when compiling is not in the manifest (qBittorrent's and Seerr's
    sessions, the *arr quality profile, a template's optional steps)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mora.micro.executor import STATE, Executor
    from mora.micro.transport import HttpTransport
    from mora.secrets.provider import StoreProvider
    from mora.secrets.store import SecretStore

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, cookie: str | None = None) -> None:
            self.send_response(status)
            if cookie:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._send(200, b"Ok.", cookie="SID=s3ss10n; HttpOnly; path=/")

        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers.get('Cookie')}")
            if self.headers.get("Cookie") == "SID=s3ss10n":
                self._send(200, b'[{"id": 7, "name": "Any"}, {"id": 8}]')
            else:
                self._send(403, b"Forbidden")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = SecretStore.in_memory()
        (tmp_path / "p").mkdir()
        text = LANG.format(port=server.server_address[1], host="")
        (tmp_path / "p" / "main.mora").write_text(text)
        result = compile_project(
            tmp_path / "p", domain="example.org", provider=StoreProvider(store)
        )
        assert result.compiled is not None, [str(d) for d in result.diagnostics]
        app = result.compiled.manifest.services["app"]
        assert [s.name for s in app.setup] == ["login", "first"]
        ex = Executor(store, HttpTransport(lambda h: "127.0.0.1" if h == "app" else None))
        assert [r.status for r in ex.run_service(app)] == ["ran", "ran"]
        assert seen == ["/items SID=s3ss10n"]
        assert store.get(f"{STATE}app.first.id").parts["value"] == "7"  # type: ignore[union-attr]
        # with the argument given, the optional step is there
        (tmp_path / "p" / "main.mora").write_text(LANG.format(port=1, host="x"))
        again = compile_project(tmp_path / "p", domain="example.org", provider=StoreProvider(store))
        assert again.compiled is not None
        assert [s.name for s in again.compiled.manifest.services["app"].setup][-1] == "never"
    finally:
        server.shutdown()


# --- LLDAP's commands, run by busybox (the image's sh and wget) against a stand-in GraphQL API ----


def test_lldap_steps_create_what_is_missing_and_nothing_twice(tmp_path: Path) -> None:
    """The lldap template's steps, as compiled, run by the executor against a loopback stand-in
    for LLDAP's GraphQL API (LLDAP cannot run here): groups and users read once, then created
    per item only when missing; each new user's command (busybox, as in the image) adds it to
    the groups and sets the first password with the image's tool (a stand-in recording its
    arguments); a second run changes nothing. The GraphQL each sends is checked against
    LLDAP's description."""
    import json
    import shutil
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.apispec.check import check_request
    from tests.toolchain import missing

    busybox = shutil.which("busybox")
    if busybox is None:
        missing("busybox", "apt busybox-static")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "wget", "grep", "cut", "tr", "echo", "printf", "cat"):
        (bindir / tool).symlink_to(busybox)
    calls: list[dict[str, Any]] = []
    groups = {"admins": 1}
    users = {"admin"}

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/auth/simple/login":  # the sign-in: its token
                out = json.dumps({"token": "t0ken"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            assert self.headers["Authorization"] == "Bearer t0ken"
            calls.append(body)
            q, v = body["query"], body.get("variables", {})
            if "createGroup" in q:
                groups[v["n"]] = len(groups) + 1
                data: Any = {"createGroup": {"id": groups[v["n"]]}}
            elif "createUser" in q:
                users.add(v["u"]["id"])
                data = {"createUser": {"id": v["u"]["id"]}}
            elif "addUserToGroup" in q:
                data = {"addUserToGroup": {"ok": True}}
            elif "users" in q:
                data = {"users": [{"id": u} for u in sorted(users)]}
            else:
                data = {"groups": [{"id": i, "displayName": g} for g, i in groups.items()]}
            out = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    record = tmp_path / "set_password.log"
    tool = tmp_path / "lldap_set_password"
    tool.write_text(f'#!{busybox} sh\necho "$LLDAP_USER_PASSWORD $*" >> {record}\n')
    tool.chmod(0o755)
    source = (
        'import lldap\nservice directory = lldap(base_dn: "dc=x", groups: "admins media_users",'
        ' users: "ann=ann@example.org admin=admin@example.org")\n'
    )
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.mora").write_text(source)
    result = compile_project(tmp_path / "p", domain="example.org", provider=MemoryProvider())
    assert result.compiled is not None
    steps = {s.name: s for s in result.compiled.manifest.services["directory"].setup}
    assert list(steps) == [
        "sign_in",
        "list_groups",
        "add_group[admins]",
        "add_group[media_users]",
        "list_users",
        "add_user[ann]",
        "add_user[admin]",
        "user_groups[ann]",
        "user_groups[admin]",
    ]
    import subprocess

    from mora.micro.executor import Executor, Response
    from mora.micro.transport import HttpTransport
    from mora.secrets.store import SecretStore

    address = f"127.0.0.1:{server.server_address[1]}"

    class Standin(HttpTransport):
        """LLDAP's address is the stand-in's; a command runs here with busybox, its URL and
        the image's password tool pointed at the stand-ins."""

        def request(self, method, url, headers, body, timeout):  # type: ignore[no-untyped-def]
            url = url.replace("directory:17170", address)
            return super().request(method, url, headers, body, timeout)

        def exec(self, service, argv, stdin, timeout):  # type: ignore[no-untyped-def]
            argv = list(argv)
            argv[2] = (
                argv[2]
                .replace("http://localhost:17170", f"http://{address}")
                .replace("/app/lldap_set_password", str(tool))
            )
            done = subprocess.run(
                argv,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=30,
                env={"PATH": str(bindir)},
            )
            return Response(done.returncode, done.stdout + done.stderr)

    directory = result.compiled.manifest.services["directory"]
    store = SecretStore.in_memory()
    store.set_value("directory_admin_password", "pw-of-admin")
    store.set_value("directory_first_password", "first-pw")

    def run_steps() -> list[str]:
        ex = Executor(store, Standin(lambda h: h), services={"directory"})
        return [f"{r.step}:{r.status}" for r in ex.run_service(directory)]

    try:
        assert run_steps() == [
            "sign_in:ran",
            "list_groups:ran",
            "add_group[admins]:skipped",  # exists: check-then-act
            "add_group[media_users]:ran",
            "list_users:ran",
            "add_user[ann]:ran",
            "add_user[admin]:skipped",
            "user_groups[ann]:ran",
            "user_groups[admin]:skipped",
        ]
        assert groups == {"admins": 1, "media_users": 2}
        assert users == {"admin", "ann"}
        made = [c for c in calls if c["query"].startswith("mutation")]
        assert [c["variables"] for c in made] == [
            {"n": "media_users"},
            {"u": {"id": "ann", "email": "ann@example.org"}},
            {"u": "ann", "g": 1},
            {"u": "ann", "g": 2},
        ]
        assert record.read_text().split("\n")[0].startswith("first-pw --base-url")
        assert "--username ann" in record.read_text()
        for c in made:  # each mutation is one LLDAP's schema has, with its argument types
            field = c["query"].split("{")[1].split("(")[0].strip()
            args = {
                "createGroup": {"name": "x"},
                "createUser": {"user": {"id": "x", "email": "y"}},
                "addUserToGroup": {"userId": "x", "groupId": 1},
            }[field]
            gql = {"operation": "mutation", "field": field, "args": args}
            assert check_request(Request("lldap", "POST", "/api/graphql", graphql=gql)) == []
        # a second run: nothing is created
        before = len(made)
        assert [r for r in run_steps() if r.endswith(":ran")] == [
            "sign_in:ran",
            "list_groups:ran",
            "list_users:ran",
        ]
        assert len([c for c in calls if c["query"].startswith("mutation")]) == before
    finally:
        server.shutdown()


def _response_schema(api: str, method: str, path: str) -> dict[str, Any]:
    from tests.apispec.check import find_operation, resolve

    spec = load_spec(api)
    _, op, problems = find_operation(spec, method, path)
    assert op is not None, problems
    for code, resp in sorted(op.get("responses", {}).items()):
        if code.startswith("2"):
            for media in resp.get("content", {}).values():
                return resolve(spec, media.get("schema", {}))
    return {}


def _field(api: str, schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema at a dotted path of `schema` (lists: their items); None when not described."""
    from tests.apispec.check import resolve

    spec = load_spec(api)
    for name in [n for n in path.split(".") if n]:
        schema = resolve(spec, schema)
        if schema.get("type") == "array" and name.isdigit():
            schema = schema.get("items", {})
            continue
        props = schema.get("properties", {})
        if name not in props:
            return None
        schema = props[name]
    return resolve(spec, schema)


def _picks(e: M.StepExpr | None) -> list[M.StepExpr]:
    if e is None:
        return []
    found = [e] if e.op == "pick" else []
    for sub in [*(e.args or []), *(e.items or []), *(e.concat or []), *(e.entries or {}).values()]:
        found += _picks(sub)
    return found


PICKS = [
    (p, s, st, pick)
    for p, s, st in HTTP
    for out in st.outputs.values()
    for pick in _picks(out.value)
    if (pick.args or [M.StepExpr()])[0].ref and pick.args[0].ref.startswith("response.body")  # type: ignore[index,union-attr]
]


def test_the_jellyfin_keys_are_picked_by_their_app_name() -> None:
    keys = next(st for p, s, st in HTTP if APPS[s][0] == "jellyfin" and st.name == "keys")
    picked = {n: _picks(o.value) for n, o in keys.outputs.items()}
    assert {n: [(a.lit or a.ref) for a in p[0].args or []] for n, p in picked.items()} == {
        "homepage": ["response.body.Items", "AppName", "homepage", "AccessToken"],
        "janitorr": ["response.body.Items", "AppName", "janitorr", "AccessToken"],
    }


@pytest.mark.parametrize(
    ("project", "service", "step", "pick"),
    PICKS,
    ids=[f"{p}-{s}.{st.name}-{i}" for i, (p, s, st, _) in enumerate(PICKS)],
)
def test_a_picked_field_is_in_the_described_response(
    project: str, service: str, step: M.Step, pick: M.StepExpr
) -> None:
    """`pick(body.LIST, FIELD == V, "PATH")`: LIST is a described list of the response, and
    FIELD and PATH are described fields of its items."""
    _app, entry = APPS[service]
    request = to_request(entry["api"], service, step)
    schema = _response_schema(entry["api"], request.method, request.path)
    args = pick.args or []
    listed = _field(entry["api"], schema, (args[0].ref or "").removeprefix("response.body"))
    assert listed is not None and listed.get("type") == "array", args[0].ref
    item = listed.get("items", {})
    for path in (str(args[1].lit), str(args[3].lit)):
        assert _field(entry["api"], item, path) is not None, path
