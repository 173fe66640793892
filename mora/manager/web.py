"""The pages: server-rendered with Jinja2 (autoescaped), plain forms, a few lines of JS for the
live progress of a run. Every page is a view over the same `Manager` calls the API makes.

Forms carry the session's CSRF token; a page without a session redirects to the login form.
No page renders a secret value: answers are password fields that are never filled back in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mora.manager.auth import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    RateLimit,
    Session,
    Sessions,
    same,
)
from mora.manager.core import Manager, ManagerError

HERE = Path(__file__).parent
MAX_FORM = 128 * 1024


class Web:
    def __init__(self, manager: Manager, sessions: Sessions, limit: RateLimit) -> None:
        self.m = manager
        self.sessions = sessions
        self.limit = limit
        self.env = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def routes(self) -> list[Route]:
        return [
            Route("/", self.dashboard, methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/setup", self.setup, methods=["GET"]),
            Route("/setup/{project}/{name}", self.answer, methods=["POST"]),
            Route("/deployments", self.deployments, methods=["GET"]),
            Route("/deployments/{id:int}", self.deployment, methods=["GET"]),
            Route("/deployments/{id:int}/apply", self.apply, methods=["POST"]),
            Route("/history", self.history, methods=["GET"]),
            Route("/runs/{id:int}", self.run, methods=["GET"]),
        ]

    # -- helpers ----------------------------------------------------------------------------

    def page(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        html = self.env.get_template(template).render(
            session=session,
            csrf=session.csrf if session else "",
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def session(self, request: Request) -> Session | None:
        session = self.sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            request.state.session = session
        return session

    def to_login(self, request: Request) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    async def form(self, request: Request) -> dict[str, str]:
        size = request.headers.get("content-length")
        if size is None or not size.isdigit() or int(size) > MAX_FORM:
            raise ManagerError(413, "the form is too large")
        form = await request.form(max_files=0, max_fields=20)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    async def checked_form(self, request: Request) -> tuple[Session | None, dict[str, str]]:
        """The session and the form, if the form's CSRF token is the session's."""
        session = self.session(request)
        if session is None:
            return None, {}
        form = await self.form(request)
        if not same(form.get(CSRF_FIELD), session.csrf):
            return None, {}
        return session, form

    def error(self, request: Request, err: ManagerError) -> HTMLResponse:
        return self.page(
            request, "error.html", status=err.status, message=err.message, help=err.help
        )

    # -- login ------------------------------------------------------------------------------

    async def login_form(self, request: Request, message: str = "", status: int = 200) -> Response:
        import secrets

        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        response = self.page(
            request,
            "login.html",
            status=status,
            login_csrf=token,
            next=_safe_next(request.query_params.get("next")),
            message=message,
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/login",
        )
        return response

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if not self.limit.allowed(client):
            return await self.login_form(
                request, "Too many failed attempts: wait a few minutes and try again.", 429
            )
        try:
            form = await self.form(request)
        except ManagerError as err:
            return self.error(request, err)
        if not same(form.get(CSRF_FIELD), request.cookies.get(LOGIN_COOKIE)):
            return await self.login_form(request, "The form expired: please try again.", 400)
        if not same(form.get("password"), self.m.credentials.admin_password):
            self.limit.failed(client)
            return await self.login_form(request, "Wrong password.", 401)
        cookie, _session = self.sessions.issue()
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_TTL,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        session, _form = await self.checked_form(request)
        if session is not None:
            self.sessions.revoke(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- pages ------------------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        try:
            services = await run_in_threadpool(self.m.services)
            inputs = await run_in_threadpool(self.m.inputs)
        except ManagerError as err:
            return self.error(request, err)
        pushed = [d for d in self.m.db.deployments(limit=20) if d.status == "pushed"]
        return self.page(
            request,
            "dashboard.html",
            services=services,
            inputs=inputs,
            pushed=pushed,
            runs=self.m.db.runs(limit=5),
        )

    async def setup(self, request: Request, message: str = "", status: int = 200) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        try:
            inputs = await run_in_threadpool(self.m.inputs)
            services = await run_in_threadpool(self.m.services, False)
        except ManagerError as err:
            return self.error(request, err)
        ready = [i for i in inputs if i["ready"]]
        return self.page(
            request,
            "setup.html",
            status=status,
            inputs=inputs,
            step=ready[0] if ready else None,
            services=services,
            message=message,
            run=request.query_params.get("run"),
        )

    async def answer(self, request: Request) -> Response:
        try:
            session, form = await self.checked_form(request)
        except ManagerError as err:
            return self.error(request, err)
        if session is None:
            return self.to_login(request)
        project = request.path_params["project"]
        name = request.path_params["name"]
        try:
            run = await run_in_threadpool(self.m.answer, project, name, form.get("value", ""))
        except ManagerError as err:
            return await self.setup(request, err.message, err.status)
        target = "/setup" + (f"?run={run}" if run else "")
        return RedirectResponse(target, status_code=303)

    async def deployments(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        return self.page(request, "deployments.html", deployments=self.m.db.deployments())

    async def deployment(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        try:
            dep = self.m.deployment(request.path_params["id"])
            changes = await run_in_threadpool(self.m.changes, dep.id)
        except ManagerError as err:
            return self.error(request, err)
        return self.page(request, "changes.html", dep=dep, changes=changes)

    async def apply(self, request: Request) -> Response:
        try:
            session, _form = await self.checked_form(request)
        except ManagerError as err:
            return self.error(request, err)
        if session is None:
            return self.to_login(request)
        try:
            run = await run_in_threadpool(self.m.start_apply, request.path_params["id"])
        except ManagerError as err:
            return self.error(request, err)
        return RedirectResponse(f"/runs/{run}", status_code=303)

    async def history(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        return self.page(request, "history.html", runs=self.m.db.runs())

    async def run(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.to_login(request)
        run = self.m.db.run(request.path_params["id"])
        if run is None:
            return self.error(request, ManagerError(404, "no such run"))
        return self.page(request, "run.html", run=run, lines=self.m.db.lines(run.id))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
