"""A module's params from the site: `params: {media: {gpu: true}}` or `--set media.gpu=true`.

A module param nobody passes is a site param under the alias; inside the program it is the
prefixed param (`media-gpu`). The evaluator asks `expand` for the site's params with those
nested maps and dotted names flattened to the program's names, and `shown` for the name to tell
the user (`media.gpu`).
"""

from __future__ import annotations

from typing import Any

from mora.diagnostics import Diagnostics, did_you_mean
from mora.modules import Scope

W_UNKNOWN_SITE_PARAM = "W0501"  # as mora.eval.scope: the site sets what nothing declares


def _scopes(program: Any) -> dict[str, Scope]:
    return getattr(program, "modules", None) or {}


def shown(program: Any, name: str) -> str:
    """The name a site gives a (possibly prefixed) param: `media.gpu` for `media-gpu`."""
    for path, scope in _scopes(program).items():
        for own, prefixed in scope.params.items():
            if path and prefixed == name:
                return f"{path}.{own}"
    return name


def expand(program: Any, given: dict[str, Any], diags: Diagnostics) -> dict[str, Any]:
    """The site's params by program name: a map under a module's alias is spread over the
    module's params, a dotted `--set` name is looked up the same way. Unknown names under an
    alias are W0501 with the names the module takes."""
    scopes = _scopes(program)
    root = scopes.get("")
    if root is None or not root.aliases:
        return given
    out: dict[str, Any] = {}
    for key, sv in given.items():
        head, _, tail = key.partition(".")
        if head in root.aliases and key not in program.params:
            if tail:  # `--set media.gpu=true`
                _spread(
                    program,
                    scopes,
                    scopes[root.aliases[head]],
                    {tail: sv.value},
                    sv,
                    out,
                    diags,
                    "",
                )
            elif isinstance(sv.value, dict):
                _spread(program, scopes, scopes[root.aliases[head]], sv.value, sv, out, diags, "")
            else:
                diags.warning(
                    W_UNKNOWN_SITE_PARAM,
                    f"{sv.origin} sets `{key}` to a single value, but `{key}` is a module",
                    sv.span,
                    "a module",
                    help=f"give its params as a map: `{key}: {{NAME: value}}`",
                )
            continue
        out[key] = sv
    return out


def _spread(
    program: Any,
    scopes: dict[str, Scope],
    scope: Scope,
    values: dict[Any, Any],
    sv: Any,
    out: dict[str, Any],
    diags: Diagnostics,
    at: str,
) -> None:
    for raw_key, value in values.items():
        key = str(raw_key)
        head, _, tail = key.partition(".")
        where = f"{at}.{key}" if at else key
        span = sv.parts.get(where, sv.span) if hasattr(sv, "parts") else sv.span
        if key in scope.params:
            out[scope.params[key]] = type(sv)(value, sv.origin, span)
        elif head in scope.aliases and (tail or isinstance(value, dict)):
            inner = {tail: value} if tail else value
            _spread(program, scopes, scopes[scope.aliases[head]], inner, sv, out, diags, where)
        elif key in scope.bound:
            diags.warning(
                W_UNKNOWN_SITE_PARAM,
                f"{sv.origin} sets `{scope.path}.{key}`, which the project passes to the module",
                span,
                "passed by the project",
                help="the project's value is used; remove this one, or change the import",
            )
        else:
            names = [*scope.params, *scope.aliases]
            diags.warning(
                W_UNKNOWN_SITE_PARAM,
                f"{sv.origin} sets `{scope.path}.{key}`, which module `{scope.path}` does not "
                "take from the site",
                span,
                "not a param of the module",
                help=did_you_mean(key, names)
                or f"its site params: {', '.join(scope.params) or 'none'}",
            )
