"""The REST API under /api, and its OpenAPI 3.1 document generated from the same route table.

Every route but the document itself needs a session cookie (plus the CSRF header for calls that
change something) or `Authorization: Bearer <api_token>`; without one the answer is 401. Errors
are `Problem` objects with the status that says what happened (404, 409, 422, 429); an
unexpected exception is a bug and a 500 (the API tests make sure generated requests find none).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mora import __version__
from mora.manager import models as api
from mora.manager.auth import CSRF_HEADER, SESSION_COOKIE, same
from mora.manager.core import Manager, ManagerError
from mora.manager.db import Deployment, Run

MAX_BODY = 8 * 1024 * 1024


@dataclass
class Op:
    """One API operation: what the handler does and what the document says about it."""

    method: str
    path: str
    operation_id: str
    summary: str
    handler: Callable[..., Any]
    response: type[BaseModel] | None
    many: bool = False
    body: type[BaseModel] | None = None
    params: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    errors: tuple[int, ...] = ()


def _int_param(name: str) -> tuple[str, str, dict[str, Any]]:
    return (name, "path", {"type": "integer", "minimum": 1, "maximum": 2**62})


def _name_param(name: str) -> tuple[str, str, dict[str, Any]]:
    return (
        name,
        "path",
        {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]*$", "maxLength": 128},
    )


def deployment_out(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "project": d.project,
        "pushed_at": d.pushed_at,
        "digest": d.digest,
        "status": d.status,
        "files": sorted(d.files),
    }


def run_out(r: Run) -> dict[str, Any]:
    return {
        "id": r.id,
        "deployment": r.deployment,
        "project": r.project,
        "kind": r.kind,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "status": r.status,
        "summary": r.summary,
    }


class Api:
    """The operations over one `Manager`; `auth(request, changes)` is the app's gate."""

    def __init__(self, manager: Manager, auth: Callable[[Request, bool], Awaitable[bool]]) -> None:
        self.m = manager
        self.auth = auth
        self.ops = [
            Op(
                "get",
                "/api/projects",
                "listProjects",
                "Projects and their deployments",
                self.projects,
                api.ProjectOut,
                many=True,
            ),
            Op(
                "get",
                "/api/services",
                "listServices",
                "Every service: state, health, URL, stage",
                self.services,
                api.ServiceOut,
                many=True,
            ),
            Op(
                "get",
                "/api/projects/{project}/plan",
                "getPlan",
                "The stages of the running deployment",
                self.plan,
                api.PlanOut,
                params=[_name_param("project")],
                errors=(404, 409, 422),
            ),
            Op(
                "get",
                "/api/inputs",
                "listInputs",
                "Pending inputs, in plan order",
                self.inputs,
                api.InputOut,
                many=True,
            ),
            Op(
                "put",
                "/api/projects/{project}/inputs/{name}",
                "answerInput",
                "Answer an input (write-only; stored encrypted)",
                self.answer,
                api.AnswerResult,
                body=api.Answer,
                params=[_name_param("project"), _name_param("name")],
                errors=(404, 409, 422),
            ),
            Op(
                "post",
                "/api/deployments",
                "pushDeployment",
                "Receive a project's source; returns its change set",
                self.push,
                api.PushResult,
                body=api.Push,
                status=201,
                errors=(409, 422),
            ),
            Op(
                "get",
                "/api/deployments",
                "listDeployments",
                "Deployments, newest first",
                self.deployments,
                api.DeploymentOut,
                many=True,
            ),
            Op(
                "get",
                "/api/deployments/{id}",
                "getDeployment",
                "One deployment",
                self.deployment,
                api.DeploymentOut,
                params=[_int_param("id")],
                errors=(404,),
            ),
            Op(
                "get",
                "/api/deployments/{id}/changes",
                "getChanges",
                "What applying this deployment would change",
                self.changes,
                api.Changes,
                params=[_int_param("id")],
                errors=(404, 409, 422),
            ),
            Op(
                "post",
                "/api/deployments/{id}/apply",
                "applyDeployment",
                "Apply a deployment in the background",
                self.apply,
                api.RunOut,
                params=[_int_param("id")],
                status=202,
                errors=(404, 409, 422),
            ),
            Op(
                "get",
                "/api/runs",
                "listRuns",
                "Runs, newest first",
                self.runs,
                api.RunOut,
                many=True,
            ),
            Op(
                "get",
                "/api/runs/{id}",
                "getRun",
                "One run and its log lines (poll with `after` for live progress)",
                self.run,
                api.RunDetail,
                params=[
                    _int_param("id"),
                    ("after", "query", {"type": "integer", "minimum": 0, "maximum": 2**62}),
                ],
                errors=(404,),
            ),
        ]

    # -- routes -----------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        out = [Route("/api/openapi.json", self.document, methods=["GET"])]
        by_path: dict[str, list[Op]] = {}
        for op in self.ops:
            by_path.setdefault(op.path, []).append(op)
        for path, ops in by_path.items():
            out.append(Route(path, self._endpoint(ops), methods=[o.method.upper() for o in ops]))
        return out

    def _endpoint(self, ops: list[Op]) -> Callable[[Request], Awaitable[Response]]:
        table = {o.method.upper(): o for o in ops}

        async def endpoint(request: Request) -> Response:
            op = table[request.method if request.method != "HEAD" else "GET"]
            changes = op.method != "get"
            if not await self.auth(request, changes):
                return problem(401, "log in first, or send Authorization: Bearer <api token>")
            try:
                args: dict[str, Any] = {}
                for name, where, schema in op.params:
                    raw = (request.path_params if where == "path" else request.query_params).get(
                        name
                    )
                    if raw is None:
                        continue
                    args[name] = _coerce(name, str(raw), schema)
                if op.body is not None:
                    args["body"] = await _body(request, op.body)
                result = await run_in_threadpool(op.handler, **args)
            except ManagerError as err:
                return problem(err.status, err.message, err.help)
            return JSONResponse(result, status_code=op.status)

        return endpoint

    async def document(self, request: Request) -> Response:
        return JSONResponse(self.openapi())

    # -- handlers (run in a thread: they compile and may call podman) ------------------------

    def projects(self) -> list[dict[str, Any]]:
        out = []
        for name in self.m.db.projects():
            current = self.m.db.current(name)
            latest = self.m.db.deployments(name, limit=1)
            out.append(
                {
                    "name": name,
                    "current": current.id if current else None,
                    "latest": latest[0].id if latest else None,
                }
            )
        return out

    def services(self) -> list[dict[str, Any]]:
        return self.m.services()

    def plan(self, project: str) -> dict[str, Any]:
        return self.m.plan(project)

    def inputs(self) -> list[dict[str, Any]]:
        return self.m.inputs()

    def answer(self, project: str, name: str, body: api.Answer) -> dict[str, Any]:
        run = self.m.answer(project, name, body.value)
        return {"stored": True, "run": run}

    def push(self, body: api.Push) -> dict[str, Any]:
        dep = self.m.push(body.files)
        return {"deployment": deployment_out(dep), "changes": self.m.changes(dep.id)}

    def deployments(self) -> list[dict[str, Any]]:
        return [deployment_out(d) for d in self.m.db.deployments()]

    def deployment(self, id: int) -> dict[str, Any]:
        return deployment_out(self.m.deployment(id))

    def changes(self, id: int) -> dict[str, Any]:
        return self.m.changes(id)

    def apply(self, id: int) -> dict[str, Any]:
        run = self.m.db.run(self.m.start_apply(id))
        assert run is not None
        return run_out(run)

    def runs(self) -> list[dict[str, Any]]:
        return [run_out(r) for r in self.m.db.runs()]

    def run(self, id: int, after: int = 0) -> dict[str, Any]:
        run = self.m.db.run(id)
        if run is None:
            raise ManagerError(404, f"no run {id}")
        lines = [vars(line) for line in self.m.db.lines(id, after)]
        return {**run_out(run), "lines": lines}

    # -- the document -----------------------------------------------------------------------

    def openapi(self) -> dict[str, Any]:
        """OpenAPI 3.1 from the route table and the pydantic models (JSON Schema 2020-12)."""
        from pydantic.json_schema import models_json_schema

        models: list[type[BaseModel]] = [api.Problem]
        for op in self.ops:
            for m in (op.body, op.response):
                if m is not None and m not in models:
                    models.append(m)
        refs, defs = models_json_schema(
            [(m, "validation" if m in (api.Push, api.Answer) else "serialization") for m in models],
            ref_template="#/components/schemas/{model}",
        )
        schemas = defs.get("$defs", {})

        def ref(model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
            return refs[(model, mode)]

        def problem_response(text: str) -> dict[str, Any]:
            return {
                "description": text,
                "content": {"application/json": {"schema": ref(api.Problem)}},
            }

        paths: dict[str, dict[str, Any]] = {}
        texts = {
            401: "not logged in, no valid token, or a missing CSRF token",
            404: "no such thing",
            409: "the site's store or deployment record refuses (see the message)",
            422: "the request or the project is not valid",
        }
        for op in self.ops:
            schema = ref(op.response) if op.response else {}
            if op.many:
                schema = {"type": "array", "items": schema}
            entry: dict[str, Any] = {
                "operationId": op.operation_id,
                "summary": op.summary,
                "parameters": [
                    {"name": n, "in": w, "required": w == "path", "schema": s}
                    for n, w, s in op.params
                ],
                "responses": {
                    str(op.status): {
                        "description": op.summary,
                        "content": {"application/json": {"schema": schema}},
                    },
                    **{str(c): problem_response(texts[c]) for c in (401, *op.errors)},
                },
                "security": [{"bearer": []}, {"session": []}],
            }
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(op.body, "validation")}},
                }
            paths.setdefault(op.path, {})[op.method] = entry
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "mora manager",
                "version": __version__,
                "description": "Receive deployments, answer inputs, apply, read history. "
                "Authenticate with `Authorization: Bearer <api_token>` (read it with "
                "`mora secrets show api_token STATE/credentials --site SITE`) or a session "
                f"cookie `{SESSION_COOKIE}` plus the `{CSRF_HEADER}` header on changes.",
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
                },
            },
        }


def problem(status: int, message: str, help: str = "") -> JSONResponse:
    return JSONResponse({"error": message, "help": help}, status_code=status)


def _coerce(name: str, raw: str, schema: dict[str, Any]) -> Any:
    if schema.get("type") == "integer":
        try:
            value = int(raw)
        except ValueError:
            raise ManagerError(422, f"`{name}` must be a whole number") from None
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            raise ManagerError(422, f"`{name}` is out of range")
        return value
    if len(raw) > schema.get("maxLength", 1024):
        raise ManagerError(422, f"`{name}` is too long")
    return raw


async def _body(request: Request, model: type[BaseModel]) -> BaseModel:
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
        raise ManagerError(422, f"the request body is larger than {MAX_BODY // 1024 // 1024} MiB")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ManagerError(
                422, f"the request body is larger than {MAX_BODY // 1024 // 1024} MiB"
            )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ManagerError(422, "the request body is not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()[:5]
        )
        raise ManagerError(422, f"the request body does not fit: {where}") from None


def session_csrf_ok(request: Request, expected: str) -> bool:
    """The CSRF token of a cookie-authenticated call that changes something."""
    return same(request.headers.get(CSRF_HEADER), expected)
