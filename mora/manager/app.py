"""The ASGI application: the API, the pages, the static files and the security headers.

Starlette (and uvicorn to serve it) because it is the small, well-kept ASGI toolkit the Python
field builds on (FastAPI is Starlette plus a router we do not need: our pydantic models and the
OpenAPI document are generated from one route table in `api`). Jinja2 renders the pages.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mora.manager.api import Api, problem
from mora.manager.auth import CSRF_HEADER, SESSION_COOKIE, RateLimit, Sessions, same
from mora.manager.core import Manager
from mora.manager.web import Web

HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds the headers above to every response (pages, API, static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in HEADERS if k not in have
                ]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(manager: Manager) -> Starlette:
    """The whole service over one manager; starts its apply worker with the app."""
    sessions = Sessions(manager.credentials.session_key)
    limit = RateLimit()
    creds = manager.credentials

    async def auth(request: Request, changes: bool) -> bool:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            return same(header[7:].strip(), creds.api_token)
        session = sessions.read(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return False
        return not changes or same(request.headers.get(CSRF_HEADER), session.csrf)

    api = Api(manager, auth)
    web = Web(manager, sessions, limit)

    async def server_error(request: Request, exc: Exception) -> Response:
        # a bug: say so without details (they could carry anything); the log has the trace
        if request.url.path.startswith("/api/"):
            return problem(500, "internal error in the manager")
        return PlainTextResponse("internal error in the manager", status_code=500)

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return problem(404, "no such API path")
        return PlainTextResponse("not found", status_code=404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "method not allowed", "help": ""}, status_code=405)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        manager.start()
        try:
            yield
        finally:
            manager.stop()

    app = Starlette(
        routes=[
            *api.routes(),
            *web.routes(),
            Mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static"))),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={500: server_error, 404: not_found, 405: not_allowed},
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.state.api = api
    return app


def serve(manager: Manager, host: str, port: int) -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(manager),
        host=host,
        port=port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
    )
