"""Running one service's setup steps.

A step's values are `model.StepExpr`s: literals known at compile time and references read now
(declared secrets and inputs from the store, earlier outputs, the step's own response). Every
value read from the store or from a response is remembered as a secret of this run, and every
text the executor reports (errors, progress) goes through `redact` first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from mora import model as M

STATE = "setup."
FAILED = ":failed"  # `setup.SVC.STEP:failed` holds when the step last failed (UTC); no output
# name can contain `:`, and only the time is kept: a stored text counts as a secret in reports
BODY_LIMIT = 2000  # characters of a response body shown in a failure report


class Store(Protocol):
    """What the executor needs of the site's store (`SecretStore` fits)."""

    def get(self, name: str) -> object | None: ...
    def set_value(self, name: str, value: str, kind: str = "set") -> bool: ...
    def names(self) -> list[str]: ...
    def save(self) -> bool: ...
    def remove(self, name: str) -> bool: ...


@dataclass
class Response:
    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """How steps reach a service: HTTP requests and commands in its container."""

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response: ...

    def exec(
        self, service: str, argv: list[str], stdin: str | None, timeout: float
    ) -> Response: ...


class StepFailed(Exception):
    """A step gave up; the message is redacted already."""


@dataclass
class StepResult:
    """`ran`, `unchanged` (a once step done before), `skipped` (`when` is false), `failed`."""

    service: str
    step: str
    status: str
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.status == "ran"


Say = Callable[[str, str, str], None]  # (service.step, status, detail)


class _Missing(Exception):
    """A reference to a value that is not in the store (an output never produced)."""


def digest(step: M.Step) -> str:
    """What a `once` step is recorded with: a changed step definition runs again."""
    data = step.model_dump(mode="json", exclude_defaults=True)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Executor:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        *,
        produced: Mapping[str, list[str]] | None = None,
        public: set[str] | None = None,
        services: set[str] | None = None,
        project: str = "",
        say: Say | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        first_backoff: float = 0.5,
        max_backoff: float = 8.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.produced = dict(produced or {})  # "svc.step.out" -> input names it fills
        # store names of outputs declared `public { }`: not secrets, never masked
        self.public = set(public or ())
        # the hosts a step may reach besides its declared `outside_hosts`: the project's
        # services (None: not restricted, for a library caller that gives no manifest)
        self.services = {s.lower() for s in services} if services is not None else None
        self.project = project
        self._service: M.Service | None = None  # the one whose steps run (its internal URL)
        self.say = say or (lambda _w, _s, _d: None)
        self.sleep = sleep
        self.clock = clock
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._secrets: set[str] = set()
        self._event = "healthy"
        for name in store.names():  # every value of the site is masked in what we report
            if name in self.public:
                continue
            entry = store.get(name)
            for value in getattr(entry, "parts", {}).values():
                self._remember(value)

    # --- secrets -------------------------------------------------------------------------------
    def _remember(self, value: str) -> None:
        if len(value) >= 4:  # very short values would mask ordinary words
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, "[secret]")
        return text

    def _read(self, name: str, part: str | None = None) -> str:
        entry = self.store.get(name)
        if entry is None:
            raise _Missing(name)
        parts: Mapping[str, str] = getattr(entry, "parts", {})
        value = parts.get(part or "value")
        if value is None:
            raise _Missing(name)
        if name not in self.public:
            self._remember(value)
        return value

    # --- running -------------------------------------------------------------------------------
    def run_service(self, service: M.Service) -> list[StepResult]:
        """Every step of `service` in order; stops at the first failure (reported, redacted)."""
        results: list[StepResult] = []
        self._service = service
        for step in service.setup:
            where = f"{service.name}.{step.name}"
            try:
                result = self._step(service.name, step)
            except StepFailed as err:
                result = StepResult(service.name, step.name, "failed", str(err))
            results.append(result)
            self._record_failure(f"{STATE}{where}", result.status == "failed")
            self.say(where, result.status, result.detail)
            if result.status == "failed":
                break
        return results

    def _record_failure(self, marker: str, failed: bool) -> None:
        """Keep when a step failed (`mora plan` shows where a run stopped); forget it once the
        step succeeds."""
        name = marker + FAILED
        if failed:
            when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            changed = self.store.set_value(name, when)
        else:
            changed = self.store.remove(name)
        if changed:
            self.store.save()

    def _step(self, service: str, step: M.Step) -> StepResult:
        marker = f"{STATE}{service}.{step.name}"
        outputs = [f"{marker}.{o}" for o in step.outputs]
        wanted = digest(step)
        done = self.store.get(marker)
        before = getattr(done, "parts", {}).get("value") if done is not None else None
        event = "healthy"
        if step.manager is not None:  # an external micromanager: what it was sent counts too
            try:
                sent = json.dumps(self._value(step.body, service, None), sort_keys=True)
            except _Missing as err:
                raise StepFailed(f"{service}.{step.name}: `{err}` was never produced") from None
            wanted += "|" + hashlib.sha256(sent.encode()).hexdigest()
            if before is not None and before.split("|")[0] == wanted.split("|")[0]:
                event = "input_answered" if before != wanted else "healthy"
        self._event = event
        if step.run == "once":
            have = all(self.store.get(o) is not None for o in outputs)
            if before == wanted and have:
                self._fill_inputs(service, step)  # inputs named later still get the value
                return StepResult(service, step.name, "unchanged")
        try:
            if step.when is not None and not _truth(self._value(step.when, service, None)):
                return StepResult(service, step.name, "skipped", "`when` is false")
        except _Missing as err:
            raise StepFailed(f"{service}.{step.name}: `{err}` was never produced") from None
        response = self._attempts(service, step)
        values = {
            name: _as_text(self._value(out.value, service, response), out.type)
            for name, out in sorted(step.outputs.items())
        }
        shown: list[str] = []
        for name, out in sorted(step.outputs.items()):
            if out.public:  # shown and put into URLs: it must not carry a secret of the site
                if self.redact(values[name]) != values[name]:
                    raise StepFailed(
                        f"{service}.{step.name}: the public output `{name}` holds a secret "
                        "value; declare it in `output { }` instead"
                    )
                shown.append(f"{name}={_printable(values[name])}")
            else:
                self._remember(values[name])
        for name, value in values.items():
            self.store.set_value(f"{marker}.{name}", value)
        self.store.set_value(marker, wanted)
        self._fill_inputs(service, step)
        self.store.save()
        return StepResult(service, step.name, "ran", ", ".join(shown))

    def _fill_inputs(self, service: str, step: M.Step) -> None:
        changed = False
        for name in step.outputs:
            for inp in self.produced.get(f"{service}.{step.name}.{name}", []):
                value = self._read(f"{STATE}{service}.{step.name}.{name}")
                changed |= self.store.set_value(f"input.{inp}", value, kind="input")
        if changed:
            self.store.save()

    def _attempts(self, service: str, step: M.Step) -> Response:
        """The request (or command) until it succeeds and `until` holds, or the timeout."""
        deadline = self.clock() + step.timeout_seconds
        wait = self.first_backoff
        last = ""
        while True:
            try:
                response, shown = self._once(service, step)
                ok = (
                    response.status in step.expect
                    if step.expect
                    else (
                        response.status == 0
                        if step.exec is not None
                        else 200 <= response.status < 300
                    )
                )
                if ok and (
                    step.until is None or _truth(self._value(step.until, service, response))
                ):
                    return response
                body = self.redact(response.text.strip())
                if len(body) > BODY_LIMIT:
                    body = body[:BODY_LIMIT] + " [...]"
                why = "" if ok else "; unexpected status" if step.exec is None else "; failed"
                cond = "; `until` does not hold" if ok else ""
                last = (
                    f"{shown}: status {response.status}{why}{cond}; response: {body or '(empty)'}"
                )
            except _Missing as err:
                raise StepFailed(f"{service}.{step.name}: `{err}` was never produced") from None
            except OSError as err:
                last = f"{self._shown(service, step)}: {self.redact(str(err))}"
            if self.clock() + wait > deadline:
                raise StepFailed(
                    f"{service}.{step.name} failed after {step.timeout_seconds:g}s: {last}"
                )
            self.say(f"{service}.{step.name}", "retrying", last)
            self.sleep(wait)
            wait = min(wait * 2, self.max_backoff)

    def _shown(self, service: str, step: M.Step) -> str:
        """How a step is named in reports: method and URL, or the argv (never secret)."""
        if step.exec is not None:
            argv = [_text(self._value(a, service, None)) for a in step.exec]
            return self.redact("exec " + " ".join(argv))
        if step.manager is not None:
            base = _text(self._value(step.manager, service, None)).rstrip("/")
            return self.redact(f"POST {base}/events")
        return self.redact(f"{step.method or 'GET'} {self._url(step, service)}")

    def _once(self, service: str, step: M.Step) -> tuple[Response, str]:
        shown = self._shown(service, step)
        per_try = max(1.0, min(30.0, step.timeout_seconds))
        if step.manager is not None:
            return self._manager(service, step, self._event, per_try), shown
        if step.exec is not None:
            argv = [_text(self._value(a, service, None)) for a in step.exec]
            stdin = _text(self._value(step.stdin, service, None)) if step.stdin else None
            return self.transport.exec(service, argv, stdin, per_try), shown
        url = self._url(step, service)
        self._allowed(service, step, url)
        headers = {k: _text(self._value(v, service, None)) for k, v in step.headers.items()}
        if step.auth is not None:
            secret = _text(self._value(step.auth.secret, service, None))
            if step.auth.kind == "bearer":
                headers["Authorization"] = f"Bearer {secret}"
            else:
                user = _text(self._value(step.auth.user, service, None)) if step.auth.user else ""
                token = base64.b64encode(f"{user}:{secret}".encode()).decode()
                self._remember(token)
                headers["Authorization"] = f"Basic {token}"
        body: bytes | None = None
        if step.body is not None:
            value = self._value(step.body, service, None)
            if step.base is not None:
                value = self._based(service, step, value)
            if step.body_format == "form":
                pairs = {k: _text(v) for k, v in (value or {}).items()}  # type: ignore[union-attr]
                body = urllib.parse.urlencode(sorted(pairs.items())).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                body = json.dumps(value, sort_keys=True).encode()
                headers.setdefault("Content-Type", "application/json")
        return self.transport.request(step.method or "GET", url, headers, body, per_try), shown

    def _based(self, service: str, step: M.Step, changes: object) -> dict[str, object]:
        """`base` and `json`: the object an earlier step read (a resource the app answered),
        with the fields of `json` set over it; the rest is sent back as the app gave it."""
        text = _text(self._value(step.base, service, None))
        try:
            base = json.loads(text)
        except ValueError:
            base = None
        if not isinstance(base, dict) or not isinstance(changes, dict):
            raise StepFailed(
                f"{service}.{step.name}: `base` is not a JSON object (the step that read it "
                "should keep the whole `body`)"
            )
        return {**base, **changes}

    def _allowed(self, service: str, step: M.Step, url: str) -> None:
        """Refuse (no retry) a URL whose host is neither a service of the project nor one the
        step declares in `outside_hosts`: whatever a value read when running holds, it cannot
        send the request (and its headers) elsewhere."""
        if self.services is None:
            return
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
        if host in self.services or host in step.outside_hosts:
            return
        raise StepFailed(
            self.redact(
                f"{service}.{step.name}: refused to send a request to `{host or url}`: it is "
                "not a service of the project, nor declared in the step's `outside_hosts`"
            )
        )

    def _url(self, step: M.Step, service: str) -> str:
        """The step's URL; a step output in it (a public one: an id from a response) is
        percent-encoded, so it stays one path segment or query value and cannot
        add a path, a query or another host."""
        e = step.url
        if e is None:
            return ""
        parts = e.concat if e.concat is not None else [e]
        text = ""
        for part in parts:
            piece = _text(self._value(part, service, None))
            from_response = (part.ref or "").startswith("output.")
            text += urllib.parse.quote(piece, safe="") if from_response else piece
        return text

    # --- external micromanagers (docs/micromanager-protocol.yaml) -----------------------------
    def _manager(self, service: str, step: M.Step, event: str, timeout: float) -> Response:
        """POST the lifecycle event; a reply that asks for inputs fails the step, saying which."""
        base = _text(self._value(step.manager, service, None)).rstrip("/")
        self._allowed(service, step, base)
        svc = self._service
        payload = {
            "event": event,
            "project": self.project,
            "service": service,
            "internal_url": svc.internal_url if svc is not None else None,
            "inputs": self._value(step.body, service, None) if step.body is not None else {},
        }
        headers = {k: _text(self._value(v, service, None)) for k, v in step.headers.items()} | {
            "Content-Type": "application/json"
        }
        if step.auth is not None and step.auth.kind == "bearer":
            headers["Authorization"] = (
                f"Bearer {_text(self._value(step.auth.secret, service, None))}"
            )
        response = self.transport.request(
            "POST", f"{base}/events", headers, json.dumps(payload, sort_keys=True).encode(), timeout
        )
        try:
            reply = json.loads(response.text or "{}")
        except ValueError:
            reply = {}
        asked = reply.get("ask") if isinstance(reply, dict) else None
        if 200 <= response.status < 300 and asked:
            wants = ", ".join(
                f"{a.get('name')} ({a.get('prompt', '')})" for a in asked if isinstance(a, dict)
            )
            raise StepFailed(
                self.redact(
                    f"{service}.{step.name}: the micromanager asks for inputs: {wants}; declare "
                    f"them as inputs, answer them (`mora setup`) and send them in `json`"
                )
            )
        for value in (reply.get("outputs") or {}).values() if isinstance(reply, dict) else []:
            self._remember(_text(value))
        return response

    def removed(self, service: M.Service) -> list[StepResult]:
        """Tell each micromanager of a removed service, and forget what its steps recorded."""
        results: list[StepResult] = []
        self._service = service
        for step in service.setup:
            marker = f"{STATE}{service.name}.{step.name}"
            if step.manager is not None:
                try:
                    self._manager(service.name, step, "removed", 10.0)
                    results.append(StepResult(service.name, step.name, "removed"))
                except (OSError, StepFailed, _Missing) as err:
                    results.append(
                        StepResult(service.name, step.name, "failed", self.redact(str(err)))
                    )
            for name in [marker, marker + FAILED, *(f"{marker}.{o}" for o in step.outputs)]:
                self.store.remove(name)
        self.store.save()
        for r in results:
            self.say(f"{r.service}.{r.step}", r.status, r.detail)
        return results

    # --- values --------------------------------------------------------------------------------
    def _value(self, e: M.StepExpr | None, service: str, response: Response | None) -> object:
        if e is None:
            return None
        if e.lit is not None:
            return e.lit
        if e.concat is not None:
            return "".join(_text(self._value(p, service, response)) for p in e.concat)
        if e.items is not None:
            return [self._value(i, service, response) for i in e.items]
        if e.entries is not None:
            return {k: self._value(v, service, response) for k, v in e.entries.items()}
        if e.op is not None:
            args = [self._value(a, service, response) for a in e.args or []]
            if e.op == "pick":
                return _pick(args[0], _text(args[1]), args[2], _text(args[3]))
            if e.op == "!":
                return not _truth(args[0])
            if e.op == "&&":
                return _truth(args[0]) and _truth(args[1])
            if e.op == "||":
                return _truth(args[0]) or _truth(args[1])
            same = _text(args[0]) == _text(args[1])
            return same if e.op == "==" else not same
        ref = e.ref or ""
        kind, _, rest = ref.partition(".")
        if kind == "secret":
            name, _, part = rest.partition(".")
            return self._read(name, part or None)
        if kind == "input":
            return self._read(ref)
        if kind == "output":
            return self._read(STATE + rest)
        if kind == "response":
            return _from_response(rest, response)
        return ""


def _from_response(path: str, response: Response | None) -> object:
    if response is None:
        return ""
    if path == "status":
        return response.status
    if path == "stdout":
        return response.text.strip()
    if path == "cookie":  # the session a sign-in sets, to send back as a `Cookie` header
        return response.headers.get("set-cookie", "").split(";")[0].strip()
    # body[.field...]: the JSON body, or its text when it is not JSON
    try:
        value: object = json.loads(response.text)
    except ValueError:
        value = response.text.strip()
    return _walk(value, path.split(".")[1:])


def _walk(value: object, names: list[str]) -> object:
    """`a.b.0.c` inside a JSON value; "" where the path leads nowhere."""
    for name in names:
        if isinstance(value, dict):
            value = value.get(name, "")
        elif isinstance(value, list) and name.isdigit() and int(name) < len(value):
            value = value[int(name)]
        else:
            return ""
    return value


def _pick(items: object, field: str, wanted: object, path: str) -> object:
    """The first item of `items` whose `field` equals `wanted` (as text), then `path` in it;
    "" when no item matches. An earlier output holding a list is stored as JSON text."""
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except ValueError:
            return ""
    if not isinstance(items, list):
        return ""
    want = _text(wanted)
    for item in items:
        if _text(_walk(item, field.split("."))) == want:
            return _walk(item, path.split(".")) if path else item
    return ""


def _printable(text: str, limit: int = 80) -> str:
    """A public value in progress output: one line, control characters escaped, bounded."""
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[:limit] + "..."


def _truth(value: object) -> bool:
    if isinstance(value, str):
        return value not in ("", "false", "0")
    return bool(value)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _as_text(value: object, kind: str) -> str:
    """An output as stored: text, an integer's digits, or `true`/`false`."""
    if kind == "bool":
        return "true" if _truth(value) else "false"
    if kind == "int":
        try:
            return str(int(_text(value)))
        except ValueError:
            return "0"
    return _text(value)
