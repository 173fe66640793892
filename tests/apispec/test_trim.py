"""The trimming script (ours) keeps what the checker needs and records where it came from:
run against a small upstream-shaped git repository made here."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.apispec.trim import provider_fields, trim_openapi

SETTINGS = """
public class DemoSettings : IProviderConfig
{
    public DemoSettings() { Port = 8080; }

    [FieldDefinition(0, Label = "Host", Type = FieldType.Textbox)]
    public string Host { get; set; }

    [FieldDefinition(1, Label = "UrlBase", HelpText = "x (see [host])")]
    [FieldToken(TokenField.HelpText, "UrlBase", "url", "http://[host]:[port]/[urlBase]/api")]
    public string UrlBase { get; set; }

    [FieldDefinition(2, Type = FieldType.Select, SelectOptions = typeof(DemoPriority))]
    public int RecentPriority { get; set; }

    [FieldDefinition(3, Type = FieldType.Select, SelectOptions = typeof(Categories))]
    public IEnumerable<int> SyncCategories { get; set; }

    [FieldDefinition(4, Type = FieldType.Checkbox)]
    public bool? UseSsl { get; set; }

    public string NotAField { get; set; }
}
"""


def test_provider_fields_are_the_field_definitions_camelcased() -> None:
    """Attributes between [FieldDefinition] and the property (with brackets in their strings)
    do not hide the property; a property without [FieldDefinition] is not a field."""
    assert provider_fields(SETTINGS) == {
        "host": "string",
        "urlBase": "string",
        "recentPriority": "integer",
        "syncCategories": "array",
        "useSsl": "boolean",
    }


DOC = {
    "openapi": "3.0.1",
    "components": {
        "securitySchemes": {"X-Api-Key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "schemas": {
            "Thing": {
                "type": "object",
                "description": "dropped",
                "properties": {"part": {"$ref": "#/components/schemas/Part"}},
            },
            "Part": {"type": "object", "properties": {"n": {"type": "integer", "example": 3}}},
            "Unused": {"type": "object"},
        },
    },
    "paths": {
        "/api/thing": {
            "post": {
                "summary": "dropped",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                    }
                },
            },
            "delete": {"summary": "not kept"},
        },
        "/api/other": {"get": {}},
    },
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_trim_keeps_listed_operations_and_reachable_schemas(tmp_path: Path) -> None:
    repo = tmp_path / "up"
    repo.mkdir()
    raw = json.dumps(DOC).encode()
    (repo / "openapi.json").write_bytes(raw)
    (repo / "DemoSettings.cs").write_text(SETTINGS)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    commit = _git(repo, "rev-parse", "HEAD")
    entry = {
        "repository": "example/up",
        "ref": "v1",
        "image_tag": "1",
        "note": "a  test\n note",
        "document": "openapi.json",
        "base_path": "/v1",
        "operations": [["post", "/api/thing"]],
        "providers": {"Thing": {"Demo": "DemoSettings.cs"}},
    }
    out = trim_openapi(entry, repo, commit)
    assert list(out["paths"]) == ["/v1/api/thing"]
    assert list(out["paths"]["/v1/api/thing"]) == ["post"]
    assert "summary" not in out["paths"]["/v1/api/thing"]["post"]
    assert sorted(out["components"]["schemas"]) == ["Part", "Thing"]
    assert "description" not in out["components"]["schemas"]["Thing"]
    assert "example" not in out["components"]["schemas"]["Part"]["properties"]["n"]
    assert out["components"]["securitySchemes"] == DOC["components"]["securitySchemes"]
    prov = out["x-provenance"]
    assert prov["commit"] == commit and prov["note"] == "a test note"
    assert prov["documents"] == [
        {"path": "openapi.json", "sha256": hashlib.sha256(raw).hexdigest()}
    ]
    demo = out["x-provider-fields"]["Thing"]["Demo"]
    assert demo["configContract"] == "DemoSettings"
    assert demo["fields"]["syncCategories"] == "array"
