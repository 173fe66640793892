"""Sessions, CSRF tokens and the login rate limit.

A session is a signed cookie (HMAC-SHA256 under the manager's `session_key`, a secret of the
site's store): `HttpOnly`, `SameSite=Strict`, `Secure` when served over HTTPS, valid for
`SESSION_TTL` seconds. It carries its own CSRF token, which every form and every state-changing
API call made with the cookie must echo (a hidden field, or the `X-CSRF-Token` header). Scripts
use `Authorization: Bearer <api_token>` instead and need no CSRF token (no browser sends it on
its own). The login form itself is protected by a double-submit token (a cookie and a field).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

SESSION_COOKIE = "mora_session"
LOGIN_COOKIE = "mora_login"
SESSION_TTL = 12 * 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Session:
    sid: str
    csrf: str
    expires: int


def _sign(key: bytes, data: str) -> str:
    return hmac.new(key, data.encode(), hashlib.sha256).hexdigest()


class Sessions:
    """Issues and checks signed session cookies; logged-out sessions are refused until expiry."""

    def __init__(self, key: bytes, ttl: int = SESSION_TTL) -> None:
        self._key = key
        self._ttl = ttl
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    def issue(self) -> tuple[str, Session]:
        session = Session(
            secrets.token_hex(16), secrets.token_urlsafe(32), int(time.time()) + self._ttl
        )
        data = json.dumps({"s": session.sid, "c": session.csrf, "e": session.expires})
        body = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
        return f"{body}.{_sign(self._key, body)}", session

    def read(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 4096 or "." not in cookie:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, _sign(self._key, body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            session = Session(str(data["s"]), str(data["c"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = int(time.time())
        with self._lock:
            if session.sid in self._revoked or session.expires < now:
                return None
        return session

    def revoke(self, session: Session) -> None:
        now = int(time.time())
        with self._lock:
            self._revoked = {s: e for s, e in self._revoked.items() if e >= now}
            self._revoked[session.sid] = session.expires


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


class RateLimit:
    """At most `attempts` failed logins per client in `window` seconds, and `total` for all
    clients together (a password guesser spread over many addresses is slowed too)."""

    def __init__(self, attempts: int = 5, total: int = 30, window: float = 300.0) -> None:
        self.attempts = attempts
        self.total = total
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, q: deque[float], now: float) -> None:
        while q and q[0] < now - self.window:
            q.popleft()

    def allowed(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            mine = self._failures.setdefault(client, deque())
            self._trim(mine, now)
            self._trim(self._all, now)
            return len(mine) < self.attempts and len(self._all) < self.total

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)
            if len(self._failures) > 10_000:  # bounded memory under a flood of addresses
                self._failures = {k: v for k, v in self._failures.items() if v}
