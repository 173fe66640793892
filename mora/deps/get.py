"""`mora get`: fetch every requirement, lock it, and say what it may do on the host.

The only network access of mora. For each `require` of the project: a requirement already locked
at the same repository and version keeps its commit (its copy is re-fetched by commit when the
cache lost it, and must hash to the locked value); a new or changed one is resolved to a commit,
its files are stored in the cache and the lock records it. Each dependency is then compiled on
its own (example.org, throwaway secrets held in memory) to list what it may do on the host, and,
when the locked version changed, what changed since.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mora import ast
from mora.deps.git import GIT_TIMEOUT, FetchError, fetch, parse_repository
from mora.deps.lock import (
    STDLIB,
    LockEntry,
    LockError,
    lock_path,
    module_dir,
    read_lock,
    store_module,
    verified_dir,
    write_lock,
)
from mora.diagnostics import Diagnostics

#: mora's own repository has no published address yet, so `require stdlib version "..."` without
#: a repository reads it from $MORA_STDLIB_REPOSITORY and otherwise asks for one (no guessed URL).

E_FETCH = "E0134"  # `mora get` could not fetch or verify a requirement


def stdlib_repository() -> str | None:
    return os.environ.get("MORA_STDLIB_REPOSITORY") or None


@dataclass
class Fetched:
    entry: LockEntry
    status: str  # "new", "updated", "locked" (unchanged), "refetched"
    capabilities: dict[str, dict[str, list[str]]] | None  # service -> capability -> values
    changes: list[str] = field(default_factory=list)  # since the previous lock entry
    note: str | None = None  # why capabilities are missing


@dataclass
class GetResult:
    fetched: list[Fetched] = field(default_factory=list)
    lock_written: bool = False
    dropped: list[str] = field(default_factory=list)  # lock entries no longer required
    nothing_required: bool = False  # no `require` and no mora.lock: nothing fetched or written
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def project_requires(project: Path, diags: Diagnostics) -> tuple[Path, list[ast.RequireDecl]]:
    """The project root and the `require` declarations of its own files (imports not followed:
    a dependency's files are not there yet)."""
    from mora.loader import _mora_files, display_path
    from mora.parse_cache import load_module
    from mora.source import SourceFile

    if project.is_dir():
        root, files = project.resolve(), [Path(f) for f in _mora_files(project)]
    else:
        root, files = project.resolve().parent, [project]
    out: list[ast.RequireDecl] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        module = load_module(SourceFile(display_path(path), text), diags)
        out += [d for d in module.decls if isinstance(d, ast.RequireDecl)]
    return root, out


def capabilities(directory: Path) -> tuple[dict[str, dict[str, list[str]]] | None, str | None]:
    """What each service of a module may do on the host, from compiling it alone.

    Returns (service -> {capability: values}, None), or (None, why it could not be compiled)."""
    from mora.api import compile_project
    from mora.secrets.provider import MemoryProvider

    result = compile_project(directory, domain="example.org", provider=MemoryProvider(b"get"))
    compiled = result.compiled
    if compiled is None:
        first = next((d for d in result.diagnostics if d.is_error), None)
        why = f"{first.code}: {first.message}" if first is not None else "it did not compile"
        return None, f"not compiled on its own ({why})"
    out: dict[str, dict[str, list[str]]] = {}
    for svc in compiled.manifest.services.values():  # type: ignore[attr-defined]
        sec = svc.security
        caps: dict[str, list[str]] = {
            "image": [svc.image],
            "host binds": sorted(
                f"{m.host_path} -> {m.path}{' (ro)' if m.readonly else ''}"
                for m in svc.volumes
                if m.kind == "bind"
            ),
            "host ports": sorted(
                f"{p.published}/{p.protocol}" for p in svc.ports if p.published is not None
            ),
            "devices": sorted(svc.devices),
            "capabilities": sorted(sec.capabilities_add),
        }
        flags = [
            name
            for name, on in (
                ("privileged", sec.privileged),
                ("run_as_root", sec.run_as_root),
                ("host network", svc.network_mode == "host"),
            )
            if on
        ]
        caps["flags"] = flags
        out[svc.name] = caps
    return out, None


def diff(old: dict[str, dict[str, list[str]]], new: dict[str, dict[str, list[str]]]) -> list[str]:
    """What changed between two capability lists, one line each, in a stable order."""
    lines: list[str] = []
    for name in sorted(old.keys() - new.keys()):
        lines.append(f"- service {name}")
    for name in sorted(new.keys() - old.keys()):
        lines.append(f"+ service {name}")
    for name in sorted(old.keys() & new.keys()):
        for cap in sorted(old[name].keys() | new[name].keys()):
            was, now = old[name].get(cap, []), new[name].get(cap, [])
            if cap == "image" and was != now:
                lines.append(f"~ {name}: image {', '.join(was)} -> {', '.join(now)}")
                continue
            lines += [f"- {name}: {cap} {v}" for v in was if v not in now]
            lines += [f"+ {name}: {cap} {v}" for v in now if v not in was]
    return lines


def _resolve(
    decl: ast.RequireDecl, old: LockEntry | None, update: bool, timeout: float
) -> tuple[LockEntry, str]:
    """The lock entry for one requirement and how it was obtained."""
    name = decl.name.text
    repository = decl.repository or (stdlib_repository() if name == STDLIB else None)
    if repository is None and name == STDLIB:
        raise FetchError(
            'name the stdlib\'s repository: `require stdlib = "REPO//stdlib" version "..."`, '
            "or set MORA_STDLIB_REPOSITORY"
        )
    if repository is None:
        raise FetchError('name the repository: `require NAME = "REPO//DIR" version "..."`')
    source = parse_repository(repository)
    unchanged = old is not None and old.repository == repository and old.version == decl.version
    if unchanged and not update:
        assert old is not None
        try:
            verified_dir(old)
            return old, "locked"
        except LockError:
            commit, files = fetch(source, decl.version, timeout, commit=old.commit)
            digest, _ = store_module(files)
            if digest != old.hash:
                raise FetchError(
                    f"commit {old.commit[:12]} no longer has the locked content"
                ) from None
            return old, "refetched"
    commit, files = fetch(source, decl.version, timeout)
    digest, _ = store_module(files)
    entry = LockEntry(name, repository, decl.version, commit, digest)
    if old is None:
        return entry, "new"
    return entry, ("locked" if old == entry else "updated")


def get(project: Path, update: bool = False, timeout: float = GIT_TIMEOUT) -> GetResult:
    """Fetch and lock the project's requirements; problems go to the result's diagnostics."""
    result = GetResult()
    diags = result.diagnostics
    root, requires = project_requires(project, diags)
    if diags.has_errors:
        return result
    if not requires and not lock_path(root).exists():
        result.nothing_required = True  # an empty lock to commit would only be noise
        return result
    try:
        previous = read_lock(root)
    except LockError:
        previous = {}  # unusable: written afresh from the requirements
    entries: dict[str, LockEntry] = {}
    for decl in requires:
        name = decl.name.text
        if name in entries:
            continue  # `mora check` reports the duplicate
        old = previous.get(name)
        try:
            entry, status = _resolve(decl, old, update, timeout)
        except (FetchError, LockError, OSError) as err:
            diags.error(
                E_FETCH,
                f"cannot fetch `{name}`: {err}",
                decl.span,
                "required here",
                help="check the repository and version; nothing was changed in mora.lock",
            )
            continue
        entries[name] = entry
        fetched = Fetched(entry, status, None)
        if name != STDLIB:
            fetched.capabilities, fetched.note = capabilities(module_dir(entry.hash))
            if status == "updated" and old is not None and module_dir(old.hash).is_dir():
                before, _ = capabilities(module_dir(old.hash))
                if before is not None and fetched.capabilities is not None:
                    fetched.changes = diff(before, fetched.capabilities)
        result.fetched.append(fetched)
    if diags.has_errors:
        return result
    result.dropped = sorted(previous.keys() - entries.keys())
    result.lock_written = write_lock(root, entries)
    return result


def report(result: GetResult) -> list[str]:
    """The lines `mora get` prints: each dependency, what it may do, what changed."""
    lines: list[str] = []
    for f in result.fetched:
        e = f.entry
        lines.append(f"{e.name}: {e.repository} {e.version} ({f.status}, commit {e.commit[:12]})")
        if f.capabilities is None:
            if f.note:
                lines.append(f"  {f.note}")
            continue
        if not f.capabilities:
            lines.append("  no services (templates only)")
        for svc, caps in sorted(f.capabilities.items()):
            host = [
                f"{cap} {', '.join(values)}"
                for cap, values in caps.items()
                if cap not in ("image", "flags") and values
            ]
            host += caps.get("flags", [])
            where = "; ".join(host) if host else "nothing on the host"
            lines.append(f"  service {svc} ({', '.join(caps['image'])}): {where}")
        if f.status == "updated":
            lines.append("  changed since the locked version:" if f.changes else "  no changes")
            lines += [f"    {c}" for c in f.changes]
    lines += [f"{name}: no longer required, removed from mora.lock" for name in result.dropped]
    return lines
