"""Dotted service names across modules: `media.watch` -> the service `media-watch`.

For tools and passes that name a service the way users write it (an `amend media.watch { ... }`
target, `mora plan` output): `resolve_service` finds the declared service or says what was meant;
`dotted_name` goes the other way.
"""

from __future__ import annotations

from mora.diagnostics import closest

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from typing import Any


def _scopes(program: Any) -> dict[str, Any]:
    return getattr(program, "modules", None) or {}


def resolve_service(program: Any, dotted: str) -> tuple[Any | None, list[str]]:
    """(the program's ServiceSym for `dotted`, or None; the names it may have meant).

    `watch` is a service of the project itself; `media.watch` the service `watch` of the module
    imported `as media`, `media.sub.db` one of a module that module imports. The suggestions
    are dotted too, from the scope the name points into."""
    *path, name = dotted.split(".")
    scope_path = ".".join(path)
    scopes = _scopes(program)
    if not path:
        svc = program.services.get(name)
        if svc is not None:
            return svc, []
        own = [n for n in program.services if not _is_prefixed(scopes, n)]
        return None, _guess(name, own)
    scope = scopes.get(scope_path)
    if scope is None:
        parents = scopes.get("", None)
        known = list(parents.aliases) if parents is not None else []
        return None, _guess(path[0], known)
    prefixed = scope.services.get(name)
    svc = program.services.get(prefixed) if prefixed is not None else None
    if svc is not None:
        return svc, []
    return None, [f"{scope_path}.{n}" for n in _guess(name, scope.services)]


def dotted_name(program: Any, service: str) -> str:
    """How users write a service of the program: `media.watch` for `media-watch`."""
    for path, scope in _scopes(program).items():
        if not path:
            continue
        for own, prefixed in scope.services.items():
            if prefixed == service:
                return f"{path}.{own}"
    return service


def _is_prefixed(scopes: dict[str, Any], name: str) -> bool:
    return any(name in s.services.values() for p, s in scopes.items() if p)


def _guess(name: str, candidates: Any) -> list[str]:
    guess = closest(name, candidates)
    return [guess] if guess else []
