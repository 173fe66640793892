"""The site: who instantiates a project (domain, param values), never part of the shared project.

Precedence, highest first: `--set key=value`, then `--domain`, then the site file (YAML), then
the param's default in the project. Values from the command line are text and are read as the
param's declared type; values from the site file keep their YAML types and are checked the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mora import types as T
from mora.diagnostics import Diagnostics
from mora.source import SourceFile, Span

E_SITE = "E0501"
TARGET_SECTIONS = ("kubernetes", "podman")
SITE_KEYS = ("domain", "params", *TARGET_SECTIONS, "hosts")


@dataclass(frozen=True)
class SiteValue:
    value: object
    origin: str  # "--set", "the site file <path>"
    span: Span | None = None  # where in the site file, for diagnostics with a caret


@dataclass
class Site:
    domain: str | None = None
    domain_origin: str = ""
    domain_invalid: bool = False  # reported already: do not also say "no domain"
    domain_span: Span | None = None
    params: dict[str, SiteValue] = field(default_factory=dict)
    file: Path | None = None
    # Per-target settings (`kubernetes:`, `podman:`), validated by their backends.
    targets: dict[str, dict[str, object]] = field(default_factory=dict)
    # The podman hosts inventory: name, address, tags.
    hosts: list[dict[str, object]] = field(default_factory=list)


def load_site(
    site_file: Path | None,
    domain: str | None,
    sets: list[str],
    diags: Diagnostics,
) -> Site:
    """Merge the site file, `--domain` and `--set` (in rising precedence)."""
    site = Site(file=site_file)
    if site_file is not None:
        _read_site_file(site, site_file, diags)
    if domain is not None:
        site.domain, site.domain_origin = domain, "--domain"
    for item in sets:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key:
            diags.error(
                E_SITE,
                f"`--set {item}` is not `name=value`",
                None,
                help="like `--set timezone=Europe/Berlin`",
            )
            continue
        if key == "domain":
            site.domain, site.domain_origin = raw, "--set"
            continue
        site.params[key] = SiteValue(raw, "--set")
    if site.domain is not None:
        problem = T.check_literal("hostname", site.domain)
        if problem:
            diags.error(
                E_SITE,
                f"invalid domain from {site.domain_origin}: {problem}",
                site.domain_span if site.domain_origin != "--domain" else None,
                "not a domain",
            )
            site.domain = None
            site.domain_invalid = True
    return site


def _read_site_file(site: Site, path: Path, diags: Diagnostics) -> None:
    import yaml

    origin = f"the site file {path}"
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        spans = _value_spans(SourceFile(str(path), text), yaml.compose(text))
    except OSError as err:
        diags.error(E_SITE, f"cannot read site file `{path}`: {err.strerror}", None)
        return
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        diags.error(E_SITE, f"site file `{path}` is not valid YAML{at}", None)
        site.domain_invalid = True  # reported: no second "no domain" error
        return
    if data is None:
        return
    if not isinstance(data, dict):
        diags.error(E_SITE, f"site file `{path}` must be a map with `domain` and `params`", None)
        return
    for key in data:
        if key not in SITE_KEYS:
            diags.error(
                E_SITE,
                f"unknown key `{key}` in site file `{path}`",
                None,
                help="a site file has " + ", ".join(f"`{k}:`" for k in SITE_KEYS),
            )
    for target in TARGET_SECTIONS:
        section = data.get(target)
        if section is None:
            continue
        if not isinstance(section, dict):
            diags.error(E_SITE, f"`{target}` in `{path}` must be a map of settings", None)
            continue
        site.targets[target] = {str(k): v for k, v in section.items()}
    hosts = data.get("hosts")
    if hosts is not None:
        _read_hosts(site, hosts, path, diags)
    if "domain" in data:
        if isinstance(data["domain"], str):
            site.domain, site.domain_origin = data["domain"], origin
            site.domain_span = spans.get(("domain",))
        else:
            diags.error(E_SITE, f"`domain` in `{path}` must be a string", None)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        diags.error(E_SITE, f"`params` in `{path}` must be a map of name: value", None)
        return
    for key, value in params.items():
        site.params[str(key)] = SiteValue(value, origin, spans.get(("params", str(key))))


def _value_spans(file: SourceFile, node: object) -> dict[tuple[str, ...], Span]:
    """Where each top-level value and each `params:` value sits in the site file."""
    import yaml

    spans: dict[tuple[str, ...], Span] = {}
    if not isinstance(node, yaml.MappingNode):
        return spans
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        spans[(key.value,)] = Span(file, value.start_mark.index, value.end_mark.index)
        if key.value == "params" and isinstance(value, yaml.MappingNode):
            for pkey, pvalue in value.value:
                if isinstance(pkey, yaml.ScalarNode):
                    spans[("params", pkey.value)] = Span(
                        file, pvalue.start_mark.index, pvalue.end_mark.index
                    )
    return spans


def _read_hosts(site: Site, hosts: object, path: Path, diags: Diagnostics) -> None:
    if not isinstance(hosts, list):
        diags.error(E_SITE, f"`hosts` in `{path}` must be a list", None)
        return
    seen: set[str] = set()
    for i, host in enumerate(hosts):
        if not isinstance(host, dict) or not isinstance(host.get("name"), str):
            diags.error(E_SITE, f"host #{i + 1} in `{path}` needs a `name`", None)
            continue
        name = host["name"]
        unknown = set(host) - {"name", "address", "tags"}
        if unknown:
            diags.error(
                E_SITE,
                f"host `{name}` in `{path}` has unknown keys: {', '.join(sorted(unknown))}",
                None,
                help="a host has `name`, `address` and `tags`",
            )
        tags = host.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            diags.error(E_SITE, f"`tags` of host `{name}` must be a list of names", None)
            tags = []
        if name in seen:
            diags.error(E_SITE, f"host `{name}` is listed twice in `{path}`", None)
            continue
        seen.add(name)
        site.hosts.append({"name": name, "address": host.get("address"), "tags": tags})


# --- reading a site value as a declared type -----------------------------------------------------

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(value: object, t: T.Type, from_text: bool) -> tuple[object, str | None]:
    """The value as type `t`, or an explanation of why it is not one (never raises)."""
    kind = t.kind
    if kind == "any":
        return value, None
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        if from_text and isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE, None
        return value, "expected true or false"
    if kind in ("int", "port"):
        if isinstance(value, str) and from_text:
            try:
                value = int(value.strip())
            except ValueError:
                return value, "expected a whole number"
        if isinstance(value, bool) or not isinstance(value, int):
            return value, "expected a whole number"
        return value, T.check_literal(kind, value)
    if kind in ("list", "map"):
        elem = t.args[0] if t.args else T.ANY
        items_from_text = False
        if isinstance(value, str) and (from_text or kind == "list"):
            parsed = _parse_text_collection(value, kind)
            if parsed is None:
                return value, f"expected a {kind}, like " + (
                    "`a,b` or `[a, b]`" if kind == "list" else "`{a: 1, b: 2}`"
                )
            # `8080,9090` gives the words "8080" and "9090": read them as the element type.
            items_from_text = not value.strip().startswith(("[", "{"))
            value = parsed
        if kind == "list":
            if not isinstance(value, list):
                return value, "expected a list"
            out_list = []
            for item in value:
                v, problem = coerce(item, elem, from_text=items_from_text)
                if problem:
                    return value, f"list item: {problem}"
                out_list.append(v)
            return out_list, None
        if not isinstance(value, dict):
            return value, "expected a map"
        out_map = {}
        for k, item in value.items():
            v, problem = coerce(item, elem, from_text=False)
            if problem:
                return value, f"`{k}`: {problem}"
            out_map[str(k)] = v
        return out_map, None
    # text kinds
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value, "expected text"
    text = str(value)
    if kind == "enum":
        if text not in t.values:
            return text, "expected one of " + ", ".join(t.values)
        return text, None
    return text, T.check_literal(kind, text)


def _parse_text_collection(text: str, kind: str) -> object | None:
    """`[a, b]` / `{a: 1}` in YAML (flow) syntax, or for lists a bare `a,b,c`."""
    import yaml

    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            parsed = yaml.safe_load(stripped)
        except yaml.YAMLError:
            return None
        expected = list if kind == "list" else dict
        return parsed if isinstance(parsed, expected) else None
    if kind == "list":
        return [p.strip() for p in stripped.split(",")] if stripped else []
    return None
