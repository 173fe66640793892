"""Every request of the automation plan (tests/apispec/plan.yaml, rendered as
docs/stdlib/automation.md) is admitted by the app's published API description, every step
cites its source, values are produced before they are consumed, and the page is current."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.apispec.check import Request, check_request, load_spec, response_fields
from tests.apispec.plandoc import PAGE, load_plan, render

REPO = Path(__file__).resolve().parents[2]
PLAN = load_plan()
KINDS = {"http", "env", "log", "command", "file", "none"}
SAMPLES = {"integer": 1, "number": 1.5, "boolean": True, "string": "x", "array": [], "object": {}}


def _steps() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [(app, entry, step) for app, entry in PLAN["apps"].items() for step in entry["steps"]]


def fill(value: Any) -> Any:
    """Replace typed run-time values ({$value, type}) by a sample of their type."""
    if isinstance(value, dict):
        if "$value" in value:
            return SAMPLES[value["type"]]
        return {k: fill(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v) for v in value]
    return value


def to_request(api: str, spec: dict[str, Any]) -> Request:
    """A plan request (or idempotence read) as the checker's Request."""
    query = list(spec.get("query", []))
    assert set(spec.get("query_values", {})) <= set(query), spec
    return Request(
        app=api,
        method=spec["method"],
        path=spec["path"],
        query=query,
        body=fill(spec.get("body")),
        form=fill(spec.get("form")),
        graphql=fill(spec.get("graphql")),
    )


HTTP = [(a, e, s) for a, e, s in _steps() if s.get("kind", "http") == "http"]


@pytest.mark.parametrize(("app", "entry", "step"), HTTP, ids=[s["id"] for _, _, s in HTTP])
def test_planned_request_is_admitted(app: str, entry: dict[str, Any], step: dict[str, Any]) -> None:
    assert check_request(to_request(entry["api"], step["request"])) == []


CHECKS = [(a, e, s) for a, e, s in _steps() if isinstance(s["idempotence"], dict)]


@pytest.mark.parametrize(("app", "entry", "step"), CHECKS, ids=[s["id"] for _, _, s in CHECKS])
def test_idempotence_read_is_admitted(
    app: str, entry: dict[str, Any], step: dict[str, Any]
) -> None:
    """The read that tells whether a step already happened exists, and returns the field used."""
    check = step["idempotence"]
    assert check_request(to_request(entry["api"], check)) == []
    if "field" in check:
        assert check["field"] in response_fields(entry["api"], check["method"], check["path"])


READS = [(a, e, s) for a, e, s in HTTP if "reads" in s]


@pytest.mark.parametrize(("app", "entry", "step"), READS, ids=[s["id"] for _, _, s in READS])
def test_response_fields_read_exist(app: str, entry: dict[str, Any], step: dict[str, Any]) -> None:
    """What a step takes from a response is a field the description says the response has."""
    request = step["request"]
    if "graphql" in request:
        call = request["graphql"]
        op = load_spec(entry["api"])["paths"][request["path"]]["post"]["x-graphql"]
        roots = op["mutations" if call["operation"] == "mutation" else "queries"]
        returned = roots[call["field"]]["returns"].strip("[]!")
        known = set(op["outputs"][returned])
    else:
        known = response_fields(entry["api"], request["method"], request["path"])
    assert set(step["reads"]) <= known, set(step["reads"]) - known


def test_every_step_is_described_and_cited() -> None:
    seen: set[str] = set()
    for _, entry, step in _steps():
        assert step["id"] not in seen, step["id"]
        seen.add(step["id"])
        assert step["id"].startswith(entry["service"] + "."), step["id"]
        kind = step.get("kind", "http")
        assert kind in KINDS, step["id"]
        assert ("request" in step) == (kind == "http"), step["id"]
        assert step["does"].strip() and step["idempotence"], step["id"]
        # a citation names an upstream file (path with an extension, or file:line) or a URL
        assert re.search(
            r"\w+\.(cs|json|yml|yaml|ts|rs|cpp|h|graphql|sh|md|mora)\b|https://", step["cite"]
        ), step["id"]


def _name(entry: str) -> str:
    return entry.split(" ", 1)[0]


def test_values_are_produced_before_they_are_consumed() -> None:
    """The plan's order is an executable order: no step consumes a value no earlier step made."""
    available: set[str] = set()
    for _, _, step in _steps():
        for item in step.get("consumes", []):
            if "generated" in item:
                available.add(_name(item))
        for item in step.get("consumes", []):
            name = _name(item)
            if name == "session":
                continue
            assert name in available, f"{step['id']} consumes {name} before any step produces it"
        for ref in re.findall(r"\$\{out\.(\w+)\}", json.dumps(step.get("request", {}))):
            assert ref in available, f"{step['id']} sends out.{ref} before any step produces it"
        for ref in re.findall(r"'\$value': 'out\.(\w+)'", repr(step.get("request", {}))):
            assert ref in available, f"{step['id']} sends out.{ref} before any step produces it"
        available |= {_name(p) for p in step.get("produces", [])}


def test_janitorr_inputs_all_have_producers() -> None:
    """Each value Janitorr once asked a person for (now a `secret` argument that the project
    fills from a producer, other than the *arr keys mora generates) is named in the plan's
    Janitorr step."""
    source = (REPO / "stdlib" / "janitorr.mora").read_text(encoding="utf-8")
    inputs = [
        n
        for n in re.findall(r"^\s*(\w+): secret,", source, flags=re.M)
        if not n.startswith(("sonarr_", "radarr_"))
    ]
    assert inputs, "janitorr.mora takes no produced values any more: update the plan"
    step = next(s for _, _, s in _steps() if s["id"] == "janitor.inputs")
    words = step["does"].replace("-", "_").replace(" ", "_").lower()
    for name in inputs:
        service, _, what = name.partition("_")  # jellyfin_api_key -> jellyfin, api_key
        assert service in words and what in words, name


def test_page_is_generated_from_the_plan() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(PLAN), (
        "docs/stdlib/automation.md is stale: run python -m tests.apispec.plandoc"
    )
