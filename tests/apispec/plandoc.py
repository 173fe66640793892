"""Render tests/apispec/plan.yaml as docs/stdlib/automation.md.

    python -m tests.apispec.plandoc          # rewrite the page
    python -m tests.apispec.plandoc --check  # exit 1 when the page is stale

The plan is the source; the page is generated so the two cannot drift (the test compares them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PLAN = HERE / "plan.yaml"
PAGE = HERE.parent.parent / "docs" / "stdlib" / "automation.md"

INTRO = """\
# Automating the stdlib apps' first setup

<!-- Generated from tests/apispec/plan.yaml by `python -m tests.apispec.plandoc`: edit the plan,
not this page. -->

What replaces each app's manual "after it starts" work (issue 13): the requests a setup step
sends, in order, what each produces and consumes, how a re-run knows it already happened, and
where upstream says so. Every request and idempotence read below is checked against the app's
published API description, trimmed and stored with its provenance in `tests/apispec/`
(`tests/apispec/test_automation_plan.py`); when the stdlib steps are written, the same checker
(`tests/apispec/check.py`) validates them.

Service names are those of `projects/media` and `projects/identity`. `${secret.X}` is a secret
mora generates, `${out.X}` a value an earlier step produced; `{$value: X, type: T}` is such a
value of a JSON type other than string. Paths with `{id}` take the id of the resource read
first. Steps of kind `env`, `log`, `command`, `file` and `none` send no HTTP request.
"""


def _code(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _fields(request: dict[str, Any]) -> str:
    """The request's body, form, GraphQL call or query, compact."""
    if "graphql" in request:
        call = request["graphql"]
        return _code(f"{call['operation']} {call['field']}{json.dumps(call.get('args', {}))}")
    for key in ("body", "form"):
        if key in request:
            return _code(json.dumps(request[key], separators=(", ", ": ")))
    if "query_values" in request:
        return "query " + _code("&".join(f"{k}={v}" for k, v in request["query_values"].items()))
    return ""


def _idempotence(check: Any) -> str:
    if isinstance(check, dict):
        return f"{_code(check['method'] + ' ' + check['path'])}: {_cell(check['rule'])}"
    return _cell(check)


def render(plan: dict[str, Any]) -> str:
    """The whole page."""
    out = [INTRO]
    for app, entry in plan["apps"].items():
        out.append(f"\n## {app} (service `{entry['service']}`)\n")
        if "api" in entry:
            out.append(
                f"Checked against `tests/apispec/{entry['api']}.json`. Auth: {_cell(entry['auth'])}\n"
            )
        if "notes" in entry:
            out.append(_cell(entry["notes"]) + "\n")
        out.append(
            "| # | step | kind | request | body / query | produces | consumes | done already when | source |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for n, step in enumerate(entry["steps"], 1):
            request = step.get("request")
            row = [
                str(n),
                f"`{step['id']}`: {_cell(step['does'])}",
                step.get("kind", "http"),
                _code(f"{request['method']} {request['path']}") if request else "",
                _fields(request) if request else "",
                _cell(", ".join(step.get("produces", [])))
                + (f" (reads {', '.join(step['reads'])})" if "reads" in step else ""),
                _cell(", ".join(step.get("consumes", []))),
                _idempotence(step["idempotence"]),
                _cell(step["cite"]),
            ]
            out.append("| " + " | ".join(row) + " |")
    out.append("\n## Human inputs per example project\n")
    out.append("| project | today | after automation (and why) |")
    out.append("| --- | --- | --- |")
    for name, entry in plan["projects"].items():
        today = "<br>".join(_cell(i) for i in entry["inputs_today"])
        after = "<br>".join(_cell(i) for i in entry["after"])
        out.append(f"| {name} | {today} | {after} |")
    out.append("")
    for name, entry in plan["projects"].items():
        out.append(f"- **{name}**: {_cell(entry['note'])}")
    return "\n".join(out) + "\n"


def load_plan() -> dict[str, Any]:
    """The plan, parsed."""
    return yaml.safe_load(PLAN.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check report whether it is current."""
    argv = sys.argv[1:] if argv is None else argv
    page = render(load_plan())
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        return 0 if current == page else 1
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
