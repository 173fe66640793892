"""Does an app's published API description admit a request?

The trimmed descriptions in this folder (`<app>.json`) hold only the operations mora's setup
steps use, in OpenAPI 3 form, plus two extensions of ours for what OpenAPI cannot say:

- `x-provider-fields`: for the *arr apps' provider resources (download clients, applications),
  whose `fields: [{name, value}]` list is typed by a C# settings class, not by the document;
- `x-graphql`: for LLDAP, the GraphQL mutations and queries and their input types.

`check_request` answers with a list of problems (empty: admitted). It is deliberately strict:
a body field the schema does not name is a problem even where OpenAPI would allow it, because
a field the app ignores is a setup step that silently does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "delete", "patch")


@dataclass
class Request:
    """One planned request: what a setup step will send."""

    app: str
    method: str
    path: str
    query: list[str] = field(default_factory=list)
    body: Any = None
    form: dict[str, Any] | None = None
    graphql: dict[str, Any] | None = None


@cache
def load_spec(app: str) -> dict[str, Any]:
    """The trimmed description of `app` (tests/apispec/<app>.json)."""
    path = HERE / f"{app}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no API description for {app!r} ({path.name})")
    return json.loads(path.read_text(encoding="utf-8"))


def _segments(path: str) -> list[str]:
    return [s for s in path.split("?")[0].split("/") if s]


def _is_template(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def match_path(spec: dict[str, Any], path: str) -> str | None:
    """The described path that `path` names; literal segments beat `{templates}`."""
    want = _segments(path)
    best: tuple[int, str] | None = None
    for candidate in spec.get("paths", {}):
        have = _segments(candidate)
        if len(have) != len(want):
            continue
        literal = 0
        for h, w in zip(have, want, strict=True):
            if _is_template(h):
                continue
            if h != w:
                break
            literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, candidate)
    return best[1] if best else None


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (`#/components/schemas/Name`)."""
    seen = 0
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local references are supported: {ref}")
        node: Any = spec
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
        seen += 1
        if seen > 50:
            raise ValueError(f"reference loop at {ref}")
    return schema


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def check_value(
    spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str, *, request: bool = True
) -> list[str]:
    """Problems with `value` against `schema` (resolved through the spec)."""
    schema = resolve(spec, schema)
    if value is None:
        return [] if schema.get("nullable") or not schema else [f"{where}: null is not allowed"]
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = resolve(spec, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return check_value(spec, merged, value, where, request=request)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [check_value(spec, s, value, where, request=request) for s in schema[key]]
            if any(not o for o in options):
                return []
            return [f"{where}: matches none of the {key} alternatives: {options[0][0]}"]
    problems: list[str] = []
    kind = schema.get("type")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind and not _type_ok(kind, value):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "x-json" in schema and isinstance(value, str):
        try:
            inner = json.loads(value)
        except ValueError:
            return [f"{where}: not JSON"]
        problems += check_value(spec, schema["x-json"], inner, f"{where}<json>", request=request)
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            problems += check_value(spec, schema["items"], item, f"{where}[{i}]", request=request)
    if kind == "object":
        problems += _check_object(spec, schema, value, where, request=request)
    return problems


def _check_object(
    spec: dict[str, Any],
    schema: dict[str, Any],
    value: dict[str, Any],
    where: str,
    *,
    request: bool,
) -> list[str]:
    problems: list[str] = []
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        if name in props:
            sub = resolve(spec, props[name])
            if request and sub.get("readOnly"):
                problems.append(f"{where}.{name}: read-only field in a request")
                continue
            problems += check_value(spec, props[name], item, f"{where}.{name}", request=request)
        elif isinstance(extra, dict):
            problems += check_value(spec, extra, item, f"{where}.{name}", request=request)
        elif extra is not True:
            problems.append(f"{where}.{name}: unknown field")
    for name in schema.get("required", []):
        if name not in value and not resolve(spec, props.get(name, {})).get("readOnly"):
            problems.append(f"{where}.{name}: required field missing")
    return problems


def _provider_problems(
    spec: dict[str, Any], schema_name: str | None, body: Any, where: str
) -> list[str]:
    """The `fields: [{name, value}]` list of an *arr provider against its settings class."""
    table = spec.get("x-provider-fields", {}).get(schema_name or "")
    if not table or not isinstance(body, dict):
        return []
    implementation = body.get("implementation")
    if implementation not in table:
        return [f"{where}.implementation: {implementation!r} is not one of {sorted(table)}"]
    provider = table[implementation]
    problems = []
    contract = provider.get("configContract")
    if contract and body.get("configContract") != contract:
        problems.append(f"{where}.configContract: expected {contract!r}")
    known: dict[str, str] = provider["fields"]
    for i, item in enumerate(body.get("fields") or []):
        name = item.get("name") if isinstance(item, dict) else None
        if name not in known:
            problems.append(f"{where}.fields[{i}].name: {name!r} is not a {implementation} setting")
            continue
        if not _type_ok(known[name], item.get("value")):
            problems.append(f"{where}.fields[{i}] ({name}): expected {known[name]}")
    return problems


_GQL_SCALARS = {"String": "string", "Int": "integer", "Boolean": "boolean", "Float": "number"}


def _gql_check(gql: dict[str, Any], type_ref: str, value: Any, where: str) -> list[str]:
    """A GraphQL value against a type reference such as `[String!]!` or `CreateUserInput!`."""
    required = type_ref.endswith("!")
    inner = type_ref[:-1] if required else type_ref
    if value is None:
        return [f"{where}: required (non-null {type_ref})"] if required else []
    if inner.startswith("["):
        if not isinstance(value, list):
            return [f"{where}: expected a list {type_ref}"]
        out: list[str] = []
        for i, item in enumerate(value):
            out += _gql_check(gql, inner[1:-1], item, f"{where}[{i}]")
        return out
    if inner in _GQL_SCALARS:
        kind = _GQL_SCALARS[inner]
        return [] if _type_ok(kind, value) else [f"{where}: expected {inner}"]
    if inner in gql.get("enums", {}):
        allowed = gql["enums"][inner]
        return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
    fields = gql.get("inputs", {}).get(inner)
    if fields is None:
        return [f"{where}: unknown input type {inner}"]
    if not isinstance(value, dict):
        return [f"{where}: expected an input object {inner}"]
    out = []
    for name, item in value.items():
        if name not in fields:
            out.append(f"{where}.{name}: unknown field of {inner}")
        else:
            out += _gql_check(gql, fields[name], item, f"{where}.{name}")
    for name, ref in fields.items():
        if ref.endswith("!") and name not in value:
            out.append(f"{where}.{name}: required field of {inner} missing")
    return out


def _graphql_problems(op: dict[str, Any], call: dict[str, Any]) -> list[str]:
    gql = op.get("x-graphql")
    if gql is None:
        return ["graphql: this operation is not a GraphQL endpoint"]
    kind = call.get("operation", "query")
    roots = gql.get("mutations" if kind == "mutation" else "queries", {})
    name = call.get("field")
    if name not in roots:
        return [f"graphql: {kind} field {name!r} is not in the schema"]
    params: dict[str, str] = roots[name]["args"]
    args: dict[str, Any] = call.get("args", {})
    out: list[str] = []
    for arg, value in args.items():
        if arg not in params:
            out.append(f"graphql {name}({arg}): unknown argument")
        else:
            out += _gql_check(gql, params[arg], value, f"graphql {name}({arg})")
    for arg, ref in params.items():
        if ref.endswith("!") and arg not in args:
            out.append(f"graphql {name}({arg}): required argument missing")
    return out


def find_operation(
    spec: dict[str, Any], method: str, path: str
) -> tuple[str | None, Any, list[str]]:
    """The described path and operation for `method path`, or the problem."""
    described = match_path(spec, path)
    if described is None:
        return None, None, [f"{method.upper()} {path}: unknown path"]
    ops = spec["paths"][described]
    op = ops.get(method.lower())
    if op is None:
        allowed = ", ".join(m.upper() for m in ops if m in METHODS)
        return described, None, [f"{method.upper()} {path}: wrong method (described: {allowed})"]
    return described, op, []


def check_request(req: Request) -> list[str]:
    """Every way the published description does not admit `req` (empty list: admitted)."""
    spec = load_spec(req.app)
    described, op, problems = find_operation(spec, req.method, req.path)
    if op is None:
        return problems
    assert described is not None
    params = spec["paths"][described].get("parameters", []) + op.get("parameters", [])
    query = {p["name"]: p for p in params if p.get("in") == "query"}
    for key in req.query:
        if key not in query:
            problems.append(f"query {key!r}: unknown parameter")
    for name, p in query.items():
        if p.get("required") and name not in req.query:
            problems.append(f"query {name!r}: required parameter missing")
    body_spec = op.get("requestBody")
    content = (body_spec or {}).get("content", {})
    if req.graphql is not None:
        return problems + _graphql_problems(op, req.graphql)
    if req.form is not None:
        schema = content.get("application/x-www-form-urlencoded", {}).get("schema")
        if schema is None:
            return [*problems, "form body: the operation takes no form body"]
        return problems + check_value(spec, schema, req.form, "form")
    if req.body is None:
        if body_spec and body_spec.get("required"):
            problems.append("body: required request body missing")
        return problems
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return [*problems, "body: the operation takes no JSON body"]
    problems += check_value(spec, schema, req.body, "body")
    problems += _provider_problems(spec, _ref_name(schema), req.body, "body")
    return problems


def response_fields(app: str, method: str, path: str) -> set[str]:
    """Top-level field names of the success response (for 'produces' and idempotence reads)."""
    spec = load_spec(app)
    _, op, problems = find_operation(spec, method, path)
    if op is None:
        raise KeyError(problems[0])
    for code, resp in sorted(op.get("responses", {}).items()):
        if not code.startswith("2"):
            continue
        for media in resp.get("content", {}).values():
            schema = resolve(spec, media.get("schema", {}))
            if schema.get("type") == "array":
                schema = resolve(spec, schema.get("items", {}))
            names = set(schema.get("properties", {}))
            for part in schema.get("allOf", []):
                names |= set(resolve(spec, part).get("properties", {}))
            return names
    return set()
