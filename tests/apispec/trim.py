"""Rebuild the trimmed API descriptions from upstream clones (run by hand, not by the tests).

    python -m tests.apispec.trim --mirror-root /path/to/clones [app ...]

Each clone is a bare git repository at <root>/<owner>+<name>/repo. For `kind: openapi` apps
(sources.yaml) the listed operations are cut out of the upstream document together with every
schema they reference, and the *arr provider settings classes are read for their fields. For
`kind: source` apps the hand-written file is kept and only its provenance (the commit and the
sha256 of each upstream file) is refreshed. The facts are upstream's; only the cutting is ours.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def _show(repo: Path, ref: str, path: str) -> bytes:
    return _git(repo, "show", f"{ref}:{path}")


def _refs(node: Any) -> set[str]:
    """Every `#/components/schemas/X` named anywhere inside `node`."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


_DROP = ("description", "summary", "example", "tags", "operationId", "x-codeSamples")


def _strip(node: Any) -> Any:
    """Prose and examples out: the checker needs names and types only."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _DROP}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


_CS_TYPES = {
    "string": "string",
    "int": "integer",
    "long": "integer",
    "bool": "boolean",
    "double": "number",
    "decimal": "number",
}
_ARGS = r"""\((?:"[^"]*"|[^()"]|\([^()]*\))*\)"""
_FIELD = re.compile(
    rf"\[FieldDefinition{_ARGS}\]\s*(?:\[\w+{_ARGS}\]\s*)*"
    r"public\s+([\w<>\[\]?]+)\s+(\w+)\s*\{"
)


def provider_fields(source: str) -> dict[str, str]:
    """FieldDefinition properties of a C# settings class, named as the API names them."""
    fields: dict[str, str] = {}
    for cs_type, name in _FIELD.findall(source):
        base = cs_type.rstrip("?")
        if base.startswith("IEnumerable<") or base.endswith("[]"):
            kind = "array"
        else:
            kind = _CS_TYPES.get(base, "integer" if base[:1].isupper() else "string")
        fields[name[0].lower() + name[1:]] = kind
    return fields


def trim_openapi(entry: dict[str, Any], repo: Path, commit: str) -> dict[str, Any]:
    """The operations of `entry` and the schemas they reach, out of the upstream document."""
    raw = _show(repo, commit, entry["document"])
    doc = yaml.safe_load(raw) if entry["document"].endswith((".yml", ".yaml")) else json.loads(raw)
    base = entry.get("base_path", "")
    paths: dict[str, Any] = {}
    for method, path in entry["operations"]:
        item = doc["paths"][path]
        out = paths.setdefault(base + path, {})
        if "parameters" in item:
            out["parameters"] = _strip(item["parameters"])
        out[method] = _strip(item[method])
    schemas = doc.get("components", {}).get("schemas", {})
    keep: set[str] = set()
    todo = _refs(paths)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo |= _refs(schemas[name]) - keep
    components: dict[str, Any] = {"schemas": {n: _strip(schemas[n]) for n in sorted(keep)}}
    if "securitySchemes" in doc.get("components", {}):
        components["securitySchemes"] = doc["components"]["securitySchemes"]
    result: dict[str, Any] = {
        "x-provenance": _provenance(entry, commit, {entry["document"]: raw}),
        "openapi": doc.get("openapi"),
        "security": doc.get("security", []),
        "paths": paths,
        "components": components,
    }
    providers: dict[str, Any] = {}
    for schema, table in (entry.get("providers") or {}).items():
        for implementation, path in table.items():
            source = _show(repo, commit, path)
            providers.setdefault(schema, {})[implementation] = {
                "configContract": Path(path).stem,
                "source": f"{path}@{entry['ref']} sha256 {hashlib.sha256(source).hexdigest()}",
                "fields": provider_fields(source.decode("utf-8")),
            }
    if providers:
        result["x-provider-fields"] = providers
    return result


def _provenance(entry: dict[str, Any], commit: str, files: dict[str, bytes]) -> dict[str, Any]:
    return {
        "repository": f"github.com/{entry['repository']}",
        "ref": entry["ref"],
        "commit": commit,
        "image_tag": entry["image_tag"],
        "note": " ".join(entry["note"].split()),
        "documents": [
            {"path": path, "sha256": hashlib.sha256(data).hexdigest()}
            for path, data in files.items()
        ],
        "trimmed_by": "tests/apispec/trim.py (the facts are upstream's, the cutting is ours)",
    }


def refresh_source(entry: dict[str, Any], repo: Path, commit: str, target: Path) -> dict[str, Any]:
    """A hand-written description with its provenance recomputed from the upstream files."""
    current = json.loads(target.read_text(encoding="utf-8"))
    files = {path: _show(repo, commit, path) for path in entry["files"]}
    current["x-provenance"] = _provenance(entry, commit, files)
    return current


def main(argv: list[str] | None = None) -> int:
    """Rebuild the named apps (all by default) from the clones under --mirror-root."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", type=Path, required=True)
    parser.add_argument("apps", nargs="*")
    args = parser.parse_args(argv)
    sources = yaml.safe_load((HERE / "sources.yaml").read_text(encoding="utf-8"))
    for app in args.apps or sorted(sources):
        entry = sources[app]
        repo = args.mirror_root / entry["repository"].replace("/", "+") / "repo"
        commit = _git(repo, "rev-parse", f"{entry['ref']}^{{commit}}").decode().strip()
        target = HERE / f"{app}.json"
        if entry["kind"] == "openapi":
            result = trim_openapi(entry, repo, commit)
        else:
            result = refresh_source(entry, repo, commit, target)
        target.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        print(
            f"{target.name}: {len(result['paths'])} paths from {entry['repository']}@{commit[:12]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
