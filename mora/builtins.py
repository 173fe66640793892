"""Built-in functions callable in expressions: their signatures (for the checker) and the
renderers of config-file formats (for the evaluator).

Secret generators (`password()`, `bcrypt()`...) are not here: they live in
`mora.secrets.generators` and may only appear as the value of a `secret` declaration.
"""

from __future__ import annotations

from collections.abc import Mapping

from mora import types as T
from mora.record import Record


class Param(Record, frozen=True):
    name: str
    type: T.Type
    required: bool = False
    secret_ok: bool = False
    positional: bool = True  # False: only by name (after the positional ones)


class Function(Record, frozen=True):
    name: str
    params: tuple[Param, ...]
    returns: T.Type
    doc: str
    taints: bool = False  # the result is secret when an argument is


# volume(access: ...): one node writes, many nodes write, many nodes read (Kubernetes' modes).
ACCESS_MODES = ("RWO", "RWX", "ROX")

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "volume",
            (
                Param("size", T.SIZE),
                Param("name", T.STRING),
                Param("storage_class", T.STRING, positional=False),
                Param("access", T.Type("enum", values=ACCESS_MODES), positional=False),
                Param("external", T.BOOL, positional=False),
                Param("readonly", T.BOOL, positional=False),
            ),
            T.MOUNT,
            "persistent state: a PersistentVolumeClaim, a named podman volume",
        ),
        Function(
            "nfs",
            (
                Param("server", T.STRING, required=True),
                Param("path", T.PATH, required=True),
                Param("readonly", T.BOOL, positional=False),
                Param("size", T.SIZE, positional=False),
            ),
            T.MOUNT,
            "a directory exported by an NFS server (a NAS), on every backend",
        ),
        Function(
            "route",
            (
                Param("port", T.STRING),
                Param("auth", T.SERVICE, positional=False),
                Param("max_body", T.SIZE, positional=False),
                Param("timeout", T.DURATION, positional=False),
            ),
            T.ROUTE,
            "a public host and path of the service (the key of a `routes` entry) and its options",
        ),
        Function(
            "bind",
            (
                Param("path", T.PATH, required=True),
                Param("readonly", T.BOOL),
                Param("reason", T.STRING),
            ),
            T.MOUNT,
            "a directory of the host mounted into the container (a system directory needs a reason)",
        ),
        Function(
            "tmpfs",
            (Param("size", T.SIZE), Param("mode", T.STRING)),
            T.MOUNT,
            "scratch space in memory",
        ),
        Function(
            "yaml",
            (Param("value", T.ANY, required=True, secret_ok=True),),
            T.FILE,
            "a YAML document",
            taints=True,
        ),
        Function(
            "json",
            (Param("value", T.ANY, required=True, secret_ok=True),),
            T.FILE,
            "a JSON document",
            taints=True,
        ),
        Function(
            "toml",
            (Param("value", T.map_of(T.ANY), required=True, secret_ok=True),),
            T.FILE,
            "a TOML document (a map of keys and tables)",
            taints=True,
        ),
        Function(
            "ini",
            (Param("value", T.map_of(T.ANY), required=True, secret_ok=True),),
            T.FILE,
            "an INI file (a map of sections, each a map of keys)",
            taints=True,
        ),
        Function(
            "text",
            (Param("value", T.STRING, required=True, secret_ok=True),),
            T.FILE,
            "a file with exactly this text",
            taints=True,
        ),
        Function(
            "join",
            (
                # any words: strings, numbers, ports, booleans (checked by the checker)
                Param("items", T.list_of(T.ANY), required=True, secret_ok=True),
                Param("separator", T.STRING),
            ),
            T.STRING,
            "the items joined with a separator (default `,`)",
            taints=True,
        ),
    )
}


# --- renderers (pure: plain values in, text out) -------------------------------------------------


def render_yaml(value: object) -> str:
    import yaml

    return str(yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True))


def render_json(value: object) -> str:
    import json  # here, not at import: `mora check` never renders a file

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key):
        return key
    import json

    return json.dumps(key, ensure_ascii=False)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        import json

        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sorted(value.items()))
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def render_toml(value: Mapping[str, object]) -> str:
    """TOML with scalars first and sub-maps as [tables] (nested tables as dotted headers)."""
    lines: list[str] = []

    def table(prefix: list[str], data: Mapping[str, object]) -> None:
        scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
        tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(_toml_key(p) for p in prefix) + "]")
        for k in sorted(scalars):
            lines.append(f"{_toml_key(k)} = {_toml_value(scalars[k])}")
        for k in sorted(tables):
            sub = tables[k]
            assert isinstance(sub, Mapping)
            table([*prefix, k], sub)

    table([], value)
    return "\n".join(lines) + "\n"


def _ini_value(value: object) -> str:
    if isinstance(value, Mapping):
        raise ValueError("INI sections cannot nest: a section holds keys with plain values")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_ini_value(v) for v in value)
    text = str(value)
    if "\n" in text:
        raise ValueError("INI values cannot span lines")
    return text


def render_ini(value: Mapping[str, object]) -> str:
    """INI: top-level scalars first (no section), then one [section] per sub-map."""
    lines: list[str] = []
    for k in sorted(k for k, v in value.items() if not isinstance(v, Mapping)):
        lines.append(f"{k} = {_ini_value(value[k])}")
    for section in sorted(k for k, v in value.items() if isinstance(v, Mapping)):
        if lines:
            lines.append("")
        lines.append(f"[{section}]")
        body = value[section]
        assert isinstance(body, Mapping)
        for k in sorted(body):
            lines.append(f"{k} = {_ini_value(body[k])}")
    return "\n".join(lines) + "\n"


RENDERERS = {"yaml": render_yaml, "json": render_json, "toml": render_toml, "ini": render_ini}
