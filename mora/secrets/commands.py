"""The logic behind `mora secrets list|show|set|rotate|prune`: plain functions returning data.

The CLI prints; these functions never do. Only `show` returns a secret value, because showing it
is what the person asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from mora.record import Record
from mora.secrets.errors import CommandError, GeneratorError, StoreError
from mora.secrets.generators import GENERATORS
from mora.secrets.provider import (
    SecretRequest,
    StoreProvider,
    _decide,
    dependency_order,
    dependents_of,
    fingerprint,
    source_text,
    undeclared,
)
from mora.secrets.store import (  # where a compile finds the store: kept importable from here
    SecretStore,
    default_store_path,
    legacy_store_path,
    migrate_legacy,
)

__all__ = [
    "Row",
    "default_store_path",
    "domain_reader",
    "legacy_store_path",
    "list_entries",
    "migrate_legacy",
    "orphans",
    "prune",
    "rotate",
    "rotation_set",
    "set_value",
    "show",
]

#: how inputs are named in the store (the evaluator's INPUT_PREFIX; not imported from there)
INPUT_PREFIX = "input."

#: what `list_entries` reports per secret
STATUSES = ("ok", "missing", "stale", "outdated", "orphaned")


class Row(Record, frozen=True):
    """One line of `mora secrets list`: everything about a secret except its value."""

    name: str
    kind: str | None  # generated / input / set; None if nothing is stored yet
    generator: str | None  # the declared generator (the stored one for orphans)
    parts: tuple[str, ...]
    created: str | None
    rotated: str | None
    status: str  # see STATUSES


def list_entries(store: SecretStore, requests: Sequence[SecretRequest]) -> list[Row]:
    """Every declared secret and every orphaned entry, sorted by name, without values.

    status: ok; missing (not generated / not answered yet); stale (declaration changed, value
    kept: rotate it); outdated (a derived value whose source changed: the next compile
    re-derives it); orphaned (no longer declared: prune removes it).
    """
    rows: list[Row] = []
    values: dict[str, dict[str, str]] = {}
    for req in dependency_order(requests):
        entry = store.get(req.name)
        gen = GENERATORS.get(req.generator) if req.generator else None
        status = "ok"
        if entry is None:
            status = "missing"
        elif gen is not None:
            try:
                args = gen.normalize_args(req.args)
                sources = {
                    p: source_text(values[ref.name], ref, req.name)
                    for p, ref in req.sources.items()
                    if ref.name in values
                }
            except (GeneratorError, StoreError, KeyError):
                status = "stale"
            else:
                if len(sources) == len(req.sources):
                    fps = {p: fingerprint(t) for p, t in sources.items()}
                    decision = _decide(entry, gen, args, fps)
                    status = {"keep": "ok", "stale": "stale", "derive": "outdated"}[decision]
        if entry is not None:
            values[req.name] = dict(entry.parts)
        rows.append(
            Row(
                name=req.name,
                kind=entry.kind if entry is not None else None,
                generator=req.generator,
                parts=tuple(entry.parts) if entry is not None else (gen.parts if gen else ()),
                created=entry.created if entry is not None else None,
                rotated=entry.rotated if entry is not None else None,
                status=status,
            )
        )
    for name in undeclared(store.names(), requests):
        entry = store.get(name)
        assert entry is not None
        rows.append(
            Row(
                name=name,
                kind=entry.kind,
                generator=entry.generator,
                parts=tuple(entry.parts),
                created=entry.created,
                rotated=entry.rotated,
                status="orphaned",
            )
        )
    return sorted(rows, key=lambda row: row.name)


def rotate(store: SecretStore, name: str, requests: Sequence[SecretRequest]) -> list[str]:
    """Generate `name` anew and re-derive what depends on it; returns those dependents.

    Only `name`, its dependents and (if never generated) their sources are touched. Saves.
    """
    by_name = {req.name: req for req in requests}
    req = by_name.get(name)
    input_name = name if name.startswith(INPUT_PREFIX) else INPUT_PREFIX + name
    if (req is None or req.generator is None) and input_name in by_name:
        raise CommandError(
            f"`{name}` is an input: use `mora secrets set {input_name}`",
            secret=name,
            help="inputs hold answers a person gives; mora does not generate them",
        )
    if req is None:
        if name in store:
            raise CommandError(
                f"`{name}` is no longer declared, so it cannot be rotated",
                secret=name,
                help="`mora secrets prune` removes secrets that are no longer declared",
            )
        import difflib

        close = difflib.get_close_matches(name, list(by_name), n=1)
        raise CommandError(
            f"no secret named `{name}` is declared",
            secret=name,
            help=f"did you mean `{close[0]}`?" if close else None,
        )
    if req.generator is None:
        raise CommandError(
            f"`{name}` is not generated by mora (it is an input or a value you set)",
            secret=name,
            help=f"give it a new value with `mora secrets set {name}`",
        )
    dependents = dependents_of(requests, name)
    # Resolve only the part of the graph rotation affects: the secret, its dependents, and the
    # sources those need.
    needed = {name, *dependents}
    for item in reversed(dependency_order(requests)):
        if item.name in needed:
            needed.update(ref.name for ref in item.sources.values())
    subset = [r for r in requests if r.name in needed]
    result = StoreProvider(store).resolve(subset, force={name})
    for error in result.errors:
        raise error
    if name not in result.changed:
        waiting = ", ".join(f"`{n}`" for n in result.missing) or "a secret it derives from"
        raise CommandError(
            f"cannot rotate `{name}`: it derives from {waiting}, which has no value yet",
            secret=name,
            help="answer the missing inputs first (`mora secrets set` or `mora setup`)",
        )
    return [n for n in result.changed if n in dependents]


def domain_reader(
    requests: Sequence[SecretRequest], name: str, marker: str, stored: Collection[str]
) -> str | None:
    """The first secret this rotation would generate whose arguments read the site's domain.

    The requests were evaluated with `marker` standing in for a domain the site does not give;
    a rotation touches `name`, what derives from it, their sources, and (in the compile before
    it) whatever was never generated. If none of them reads `marker`, the domain is not needed.
    """
    needed = {name, *dependents_of(requests, name)}
    for item in reversed(dependency_order(requests)):
        if item.name in needed:
            needed.update(ref.name for ref in item.sources.values())
    for req in requests:
        if (req.name in needed or req.name not in stored) and marker in repr(req.args):
            return req.name
    return None


def rotation_set(requests: Sequence[SecretRequest], name: str) -> list[str]:
    """`name` and every secret derived from it: what a rotation gives new values."""
    return [name, *dependents_of(requests, name)]


def show(store: SecretStore, name: str, part: str | None = None) -> str:
    """The stored value of one secret (or one part of it)."""
    entry = store.get(name)
    if entry is None:
        raise CommandError(
            f"no value is stored for `{name}`",
            secret=name,
            help="it is generated by the next compile; inputs are given with "
            f"`mora secrets set {name}` or `mora setup`",
        )
    if part is None and set(entry.parts) != {"value"}:
        raise CommandError(
            f"`{name}` has several parts ({', '.join(entry.parts)}); choose one",
            secret=name,
            help=f"e.g. `mora secrets show {name}.{next(iter(entry.parts))}`",
        )
    try:
        return entry.value(part)
    except StoreError as exc:
        raise CommandError(exc.message, secret=name) from None


def set_value(
    store: SecretStore,
    name: str,
    value: str,
    *,
    kind: str = "set",
    requests: Sequence[SecretRequest] | None = None,
) -> bool:
    """Store a person's value for `name` (kind "input" for `mora setup` answers) and save.

    With `requests`, the name must be declared and single-valued. Derived secrets that use it
    follow at the next compile. Returns False if the value was already stored.
    """
    if value == "":
        raise CommandError(f"refusing to store an empty value for `{name}`", secret=name)
    if requests is not None:
        req = next((r for r in requests if r.name == name), None)
        if req is None:
            raise CommandError(f"no secret or input named `{name}` is declared", secret=name)
        gen = GENERATORS.get(req.generator) if req.generator else None
        if gen is not None and gen.parts != ("value",):
            raise CommandError(
                f"`{name}` is a {gen.name}() secret with parts {', '.join(gen.parts)}; "
                "it cannot be set to one value",
                secret=name,
                help=f"`mora secrets rotate {name}` makes a new one",
            )
    changed = store.set_value(name, value, kind=kind)
    store.save()
    return changed


def orphans(store: SecretStore, requests: Sequence[SecretRequest]) -> list[str]:
    """Stored secrets of this namespace that the project no longer declares, sorted.

    A `moved` service's old entries are still declared: the next compile re-keys them."""
    return undeclared(store.names(), requests)


def prune(
    store: SecretStore,
    requests: Sequence[SecretRequest],
    *,
    only: Collection[str] | None = None,
) -> list[str]:
    """Remove stored secrets that nothing declares any more; returns their names. Saves.

    Only the store's namespace (this project) is touched. With `only`, nothing outside it is
    removed: what a person confirmed is all that goes.
    """
    declared = {req.name for req in requests}
    with store.transaction():
        removed = [
            name
            for name in store.names()
            if name not in declared and (only is None or name in only)
        ]
        for name in removed:
            store.remove(name)
    return removed
