"""`mora apply --manager URL`: push a project's source to a manager, show its change set, apply.

Standard library HTTP only (urllib): the CLI stays light. The token comes from the environment
(`MORA_MANAGER_TOKEN`), never from the command line (it would show in `ps` and shell history).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOKEN_ENV = "MORA_MANAGER_TOKEN"


class ClientError(Exception):
    """The manager refused or could not be reached; the message says which and why."""


def project_files(root: Path) -> dict[str, str]:
    """The project's `.mora` files by relative path (hidden folders and build/ left out)."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*.mora")):
        rel = path.relative_to(root)
        if any(p.startswith(".") for p in rel.parts) or rel.parts[0] == "build":
            continue
        if path.is_file():
            files[rel.as_posix()] = path.read_text(encoding="utf-8")
    return files


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        if not self.token:
            raise ClientError(
                f"no token for the manager: set {TOKEN_ENV} (read it with "
                "`mora secrets show api_token STATE/credentials --site SITE`)"
            )
        self.timeout = timeout

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            try:
                problem = json.loads(err.read())
                text = problem.get("error", "") + (
                    f"\n  = help: {problem['help']}" if problem.get("help") else ""
                )
            except (ValueError, AttributeError):
                text = err.reason
            raise ClientError(f"the manager answered {err.code}: {text}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise ClientError(f"cannot reach the manager at {self.url}: {reason}") from None

    def push(self, root: Path) -> dict[str, Any]:
        files = project_files(root)
        if not files:
            raise ClientError(f"{root} has no .mora files")
        return self.call("POST", "/api/deployments", {"files": files})

    def apply(
        self, deployment: int, say: Callable[[str], None], poll: float = 1.0, limit: float = 3600
    ) -> dict[str, Any]:
        """Start an apply and print its progress lines until it ends."""
        run = self.call("POST", f"/api/deployments/{deployment}/apply")
        after = 0
        end = time.monotonic() + limit
        while True:
            detail = self.call("GET", f"/api/runs/{run['id']}?after={after}")
            for line in detail["lines"]:
                tail = f": {line['detail']}" if line["detail"] else ""
                say(f"[{line['elapsed']:6.1f}s] {line['service']}: {line['status']}{tail}")
                after = line["seq"]
            if detail["status"] in ("ok", "failed") or time.monotonic() > end:
                return detail
            time.sleep(poll)


def render_changes(changes: dict[str, Any]) -> str:
    """The change set as `mora diff` prints it, from the manager's JSON."""
    from mora.deploy.changes import ChangeSet, render

    cs = ChangeSet(
        changes["project"],
        added=changes["added"],
        removed=changes["removed"],
        changed=changes["changed"],
        restart=changes["restart"],
        secrets_changed=changes["secrets_changed"],
        held=changes["held"],
        new_inputs=changes["new_inputs"],
        answered_inputs=changes["answered_inputs"],
    )
    return render(cs)
