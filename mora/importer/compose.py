"""Reading a compose project the way docker compose and podman-compose do.

Several files are read in order (`-f a.yml -f b.yml`): each is parsed (yamlnodes: anchors, merge
keys, `!reset`/`!override`), interpolated (interpolate: `${VAR...}` against the `.env` files),
then merged into the ones before it by the Compose Specification's rules (compose-spec
13-merge.md; compose-go's `override` package):

- mappings are merged key by key, the later file winning for plain values;
- sequences are appended, except `command`, `entrypoint` and `healthcheck.test`, which are
  replaced, and the "unique resources": `ports` (unique by ip, target, published and protocol),
  `volumes`, `secrets` and `configs` (unique by target), where an entry with the key of an
  earlier one replaces it;
- `environment`, `labels`, `sysctls`, `extra_hosts` and `depends_on` are mappings whether written
  as a list or a map (compose-go converts the list forms before merging), so they merge by name;
- `!reset` removes what the earlier files set, `!override` replaces it whole.

`extends` is resolved next (a service built on another, of this file or another one), then
profiles apply (compose-spec 15-profiles.md): a service with `profiles` runs only when one of
them is enabled (`--profile`); a service without runs always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mora.diagnostics import Diagnostics
from mora.importer import codes
from mora.importer.interpolate import BadInterpolation, EnvValue, Interpolator, read_env_file
from mora.importer.yamlnodes import Node, YamlProblem, parse
from mora.source import ReadRefused, SourceFile, Span, read_bounded

MAX_BYTES = 1 << 20
_REPLACED = {"command", "entrypoint"}
_AS_MAP = {"environment", "labels", "sysctls", "extra_hosts", "depends_on", "annotations"}


@dataclass
class ComposeProject:
    """The merged compose model: top-level sections as nodes, services already profiled."""

    name: str | None
    directory: Path  # what relative host paths are relative to (--project-directory)
    files: list[SourceFile]
    source_dir: Path = Path(".")  # where the files the compose files name are read from
    services: dict[str, Node] = field(default_factory=dict)
    skipped: dict[str, Node] = field(default_factory=dict)  # disabled by profiles
    volumes: dict[str, Node] = field(default_factory=dict)
    secrets: dict[str, Node] = field(default_factory=dict)
    configs: dict[str, Node] = field(default_factory=dict)
    networks: dict[str, Node] = field(default_factory=dict)
    top: dict[str, Node] = field(default_factory=dict)  # the other top-level keys, for diagnostics
    interp: Interpolator = field(default_factory=Interpolator)


def read_text(path: Path, diags: Diagnostics, what: str) -> str | None:
    """A UTF-8 file of at most 1 MiB, or None with a diagnostic."""
    try:
        data = read_bounded(path, MAX_BYTES)
    except FileNotFoundError:
        diags.error(codes.E_READ, f"{what} `{path}` does not exist", None)
        return None
    except ReadRefused as err:
        diags.error(codes.E_READ, f"{what} `{path}` cannot be read: {err}", None)
        return None
    except OSError as err:
        diags.error(codes.E_READ, f"{what} `{path}` cannot be read: {err.strerror}", None)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        diags.error(codes.E_READ, f"{what} `{path}` is not UTF-8 text", None)
        return None
    return text.removeprefix("\ufeff")


def load(
    paths: list[Path],
    diags: Diagnostics,
    *,
    env_files: list[Path] | None = None,
    profiles: list[str] | None = None,
    project_directory: Path | None = None,
) -> ComposeProject | None:
    """Read, interpolate, merge and profile `paths`; None when nothing could be read."""
    directory = project_directory or (paths[0].parent if paths else Path("."))
    env: dict[str, EnvValue] = {}
    chosen = env_files if env_files is not None else [paths[0].parent / ".env"] if paths else []
    for env_path in chosen:
        if env_files is None and not env_path.exists():
            continue
        text = read_text(env_path, diags, "env file")
        if text is not None:
            env.update(read_env_file(env_path, str(env_path), text))
    interp = Interpolator(env)
    merged: Node | None = None
    files: list[SourceFile] = []
    for path in paths:
        text = read_text(path, diags, "compose file")
        if text is None:
            continue
        file = SourceFile(str(path), text)
        files.append(file)
        try:
            doc = parse(file)
        except YamlProblem as err:
            diags.error(codes.E_YAML, err.message, err.span, "here")
            continue
        if not doc.is_map():
            diags.error(codes.E_YAML, "a compose file is a mapping (services: ...)", doc.span)
            continue
        _interpolate(doc, interp, diags)
        _normalise(doc)
        merged = doc if merged is None else _merge(merged, doc, ())
    if merged is None:
        return None
    project = ComposeProject(None, directory, files, paths[0].parent, interp=interp)
    services_refused = False  # `services:` that is not a mapping: said once, not twice
    for key, node in merged.value.items():
        if key == "name" and isinstance(node.value, str):
            project.name = interp.resolve(node.value)
        elif key in ("services", "volumes", "secrets", "configs", "networks"):
            section = node.value if node.is_map() else {}
            if node.value is not None and not node.is_map():
                diags.error(codes.E_YAML, f"`{key}` must be a mapping", node.where)
                services_refused = services_refused or key == "services"
            setattr(project, key, {k: v for k, v in section.items()})
        else:
            project.top[key] = node
    if not project.services and not services_refused:
        diags.error(
            codes.E_YAML,
            "no services in the compose file",
            merged.span,
            help="a compose file lists its containers under `services:`",
        )
    _resolve_extends(project, interp, diags)
    _apply_profiles(project, set(profiles or ()), diags)
    if project.skipped and not project.services:
        diags.error(
            codes.E_YAML,
            "no service is left: every one has a profile that is not enabled",
            None,
            help="enable one with `--profile NAME`",
        )
    return project


def _interpolate(node: Node, interp: Interpolator, diags: Diagnostics) -> None:
    """Every string value (not keys) of the tree, in place."""
    if isinstance(node.value, str):
        try:
            node.value = interp.text(node.value, node.span)
        except BadInterpolation as err:
            diags.warning(
                codes.W_INTERPOLATION,
                f"bad interpolation: {err.message}",
                node.span,
                "kept as written",
                help="compose refuses this value too; write `$$` for a literal `$`",
            )
    elif isinstance(node.value, list):
        for item in node.value:
            _interpolate(item, interp, diags)
    elif isinstance(node.value, dict):
        for item in node.value.values():
            _interpolate(item, interp, diags)


def _normalise(doc: Node) -> None:
    """List forms of map-like service keys become maps (compose-go does so before merging)."""
    services = doc.get("services")
    if services is None or not services.is_map():
        return
    for svc in services.value.values():
        if not svc.is_map():
            continue
        for key in _AS_MAP:
            node = svc.get(key)
            if node is not None and node.is_list():
                node.value = _list_to_map(key, node)


def _list_to_map(key: str, node: Node) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for item in node.value:
        if not item.is_scalar() or item.value is None:
            continue
        text = str(item.value)
        if key == "depends_on":
            out[text] = Node({}, item.span, item.span)
            continue
        sep = "=" if key != "extra_hosts" else ("=" if "=" in text else ":")
        name, has, value = text.partition(sep)
        span = item.span
        key_span = Span(span.file, span.start, span.start + len(name)) if span else None
        out[name.strip()] = Node(value if has else None, span, key_span)
    return out


def _unique_key(key: str, item: Node) -> object:
    """The merge identity of a ports/volumes/secrets/configs entry (compose-spec 13-merge.md)."""
    if item.is_map():
        plain = item.plain()
        if key == "ports":
            return (
                "port",
                plain.get("host_ip"),
                str(plain.get("target")),
                str(plain.get("published")),
                plain.get("protocol", "tcp"),
            )
        target = plain.get("target")
        if key in ("secrets", "configs") and not target:
            target = plain.get("source")
        return (key, str(target))
    text = str(item.value)
    if key == "ports":
        return ("port", text)
    if key == "volumes":
        parts = text.split(":")
        return (key, parts[1] if len(parts) > 1 else parts[0])
    return (key, text)


def _merge(base: Node, over: Node, path: tuple[str, ...]) -> Node:
    if over.tag == "!reset":
        return Node(None, over.span, over.key_span, "!reset")
    if over.tag == "!override":
        return over
    name = path[-1] if path else ""
    in_service = len(path) >= 3 and path[0] == "services"
    if base.is_map() and over.is_map():
        out = dict(base.value)
        for key, value in over.value.items():
            if key in out:
                merged = _merge(out[key], value, (*path, key))
                if merged.tag == "!reset":
                    del out[key]
                    continue
                out[key] = merged
            elif value.tag != "!reset":
                out[key] = value
        return Node(out, base.span, base.key_span)
    if base.is_list() and over.is_list():
        if in_service and len(path) == 3 and name in _REPLACED:
            return over
        if (in_service and path[-2:] == ("healthcheck", "test")) or name == "test":
            return over
        if in_service and len(path) == 3 and name in ("ports", "volumes", "secrets", "configs"):
            items = list(base.value)
            index = {_unique_key(name, item): i for i, item in enumerate(items)}
            for item in over.value:
                k = _unique_key(name, item)
                if k in index:
                    items[index[k]] = item
                else:
                    index[k] = len(items)
                    items.append(item)
            return Node(items, base.span, base.key_span)
        return Node(base.value + over.value, base.span, base.key_span)
    return over


def _resolve_extends(project: ComposeProject, interp: Interpolator, diags: Diagnostics) -> None:
    """`extends:` (compose-spec 05-services.md#extends): the service starts from another one, of
    this project or of another file, and its own keys merge over it by the rules of several
    files. A chain is followed to its end; a cycle or a missing service is an error."""
    other_files: dict[Path, dict[str, Node] | None] = {}

    def base_of(name: str, svc: Node, seen: tuple[str, ...]) -> Node:
        ext = svc.get("extends")
        if ext is None:
            return svc
        target = ext.value if isinstance(ext.value, str) else None
        file_node = ext.get("file") if ext.is_map() else None
        if ext.is_map() and ext.get("service") is not None:
            target = str(ext.get("service").value)
        own = {k: v for k, v in svc.value.items() if k != "extends"}
        if not target:
            diags.error(codes.E_YAML, "`extends` names no service", ext.where)
            return Node(own, svc.span, svc.key_span)
        services = project.services
        where = target
        if file_node is not None and isinstance(file_node.value, str):
            path = project.source_dir / interp.resolve(file_node.value)
            if path not in other_files:
                other_files[path] = _services_of(path, interp, diags)
            services = other_files[path] or {}
            where = f"{path}:{target}"
        base = services.get(target)
        if base is None or not base.is_map() or where in seen:
            why = "a cycle of `extends`" if where in seen else f"no service `{target}` to extend"
            diags.error(codes.E_YAML, why, ext.where)
            return Node(own, svc.span, svc.key_span)
        base = base_of(target, base, (*seen, where))
        return _merge(base, Node(own, svc.span, svc.key_span), ("services", name))

    for name, svc in list(project.services.items()):
        if svc.is_map() and svc.get("extends") is not None:
            project.services[name] = base_of(name, svc, (name,))


def _services_of(path: Path, interp: Interpolator, diags: Diagnostics) -> dict[str, Node] | None:
    """The services of another compose file named by `extends.file`."""
    text = read_text(path, diags, "compose file")
    if text is None:
        return None
    try:
        doc = parse(SourceFile(str(path), text))
    except YamlProblem as err:
        diags.error(codes.E_YAML, err.message, err.span, "here")
        return None
    _interpolate(doc, interp, diags)
    _normalise(doc)
    services = doc.get("services")
    return dict(services.value) if services is not None and services.is_map() else None


def _apply_profiles(project: ComposeProject, active: set[str], diags: Diagnostics) -> None:
    for name, svc in list(project.services.items()):
        profiles = svc.get("profiles")
        if profiles is None or not profiles.is_list() or not profiles.value:
            continue
        names = {str(p.value) for p in profiles.value}
        if names & active or "*" in active:
            continue
        project.skipped[name] = project.services.pop(name)
        diags.note(
            codes.W_PROFILE,
            f"service `{name}` is not imported: its profiles ({', '.join(sorted(names))}) are not enabled",
            profiles.where,
            help=f"import again with `--profile {sorted(names)[0]}` to include it",
        )
