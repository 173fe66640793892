"""`moved old -> new`: renaming a service without losing its data.

A template instance's secrets and inputs are stored as `<service>_<name>` and its volumes are
named `<service>-<path>`, so renaming `db` to `mediadb` would otherwise start from an empty
volume and a new password. With `moved db -> mediadb`:

* the store entries `db_<name>` are re-keyed to `mediadb_<name>` on the next compile (the old
  value wins over one generated under the new name meanwhile: the old one is what the data was
  made with), see `secret_moves` and `SecretStore.rename`;
* volumes keep their old names on every backend (`volume_owner`): neither Kubernetes (a PVC
  cannot be renamed) nor podman (no `volume rename`) can rename a volume in place, and copying
  data is a deployment step, not something a compiler may do silently.

Without a `moved` line, a stored `db_<name>` that no service declares while a new instance
declares `mediadb_<name>` is reported as a likely rename (W0140) whose help is the `moved` line,
instead of the `mora secrets prune` hint that would delete the only working copy.
"""

from __future__ import annotations

from collections.abc import Iterable

from mora import ast
from mora.diagnostics import Diagnostics, Label, did_you_mean

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from mora.checker import Program
    from mora.loader import LoadedProject

E_MOVED = "E0140"  # a `moved` line that cannot apply
W_RENAMED = "W0140"  # a service that looks renamed without a `moved` line
INPUT_PREFIX = "input."  # as mora.secrets.commands stores inputs


def collect_moved(loaded: LoadedProject, program: Program, diags: Diagnostics) -> dict[str, str]:
    """new name -> old name for every valid `moved` line of the project's own files."""
    moves: dict[str, str] = {}
    sources: dict[str, ast.MovedDecl] = {}
    for module in loaded.modules:
        if module.file.path in loaded.stdlib_modules:
            continue
        for decl in module.decls:
            if isinstance(decl, ast.MovedDecl):
                _one(decl, program, moves, sources, diags)
    return moves


def _one(
    decl: ast.MovedDecl,
    program: Program,
    moves: dict[str, str],
    sources: dict[str, ast.MovedDecl],
    diags: Diagnostics,
) -> None:
    old, new = decl.old.text, decl.new.text
    if "." in new:  # `moved db -> media.db`: the service `db` of the module imported as media
        from mora.modules.resolve import resolve_service

        svc, guesses = resolve_service(program, new)
        if svc is None:
            diags.error(
                E_MOVED,
                f"`moved {old} -> {new}`: there is no service `{new}`",
                decl.new.span,
                "not a service of this project or its modules",
                help=f"did you mean `{guesses[0]}`?" if guesses else "name its current name",
            )
            return
        new = svc.name
    if new not in program.services:
        diags.error(
            E_MOVED,
            f"`moved {old} -> {new}`: there is no service `{new}`",
            decl.new.span,
            "not a service of this project",
            help=did_you_mean(new, program.services) or "name the service's current name",
        )
        return
    if old in program.services:
        diags.error(
            E_MOVED,
            f"`moved {old} -> {new}`: service `{old}` still exists",
            decl.old.span,
            "still declared",
            labels=[Label(program.services[old].decl.name.span, "declared here")],
            help=f"rename the service `{old}` to `{new}`, or remove the `moved` line",
        )
        return
    first = sources.get(old) or next((d for d in sources.values() if d.new.text == new), None)
    if first is not None:
        diags.error(
            E_MOVED,
            f"`moved {old} -> {new}` conflicts with `moved {first.old.text} -> {first.new.text}`",
            decl.span,
            "second move",
            labels=[Label(first.span, "first move")],
            help="a service is moved once, from its last name: remove one of the lines",
        )
        return
    sources[old] = decl
    moves[new] = old


def secret_moves(program: Program) -> dict[str, str]:
    """Store name now -> store name before the move, for the moved services' secrets and inputs."""
    moved: dict[str, str] = getattr(program, "moved", {})
    out: dict[str, str] = {}
    for name, sym in program.secrets.items():
        old = moved.get(sym.instance or "")
        if old is not None:
            out[name] = f"{old}_{name[len(sym.instance or '') + 1 :]}"
    for name, isym in program.inputs.items():
        old = moved.get(isym.service or "")
        if old is not None and isym.instance:
            local = name[len(isym.service or "") + 1 :]
            out[INPUT_PREFIX + name] = f"{INPUT_PREFIX}{old}_{local}"
    return out


def volume_owner(program: Program, service: str) -> str:
    """The name a service's volumes are called after: its name before a `moved`, if any."""
    moved: dict[str, str] = getattr(program, "moved", {})
    return moved.get(service, service)


def likely_renames(program: Program, orphaned: Iterable[str]) -> dict[tuple[str, str], list[str]]:
    """(old, new) service pairs that look like a rename -> the orphaned store names they explain.

    A stored `old_<x>` no service declares, where instance `new` declares `new_<x>` from the
    same template slot, and `old` is neither a service nor already moved."""
    moved: dict[str, str] = getattr(program, "moved", {})
    locals_of: dict[str, set[str]] = {}
    for name, sym in program.secrets.items():
        if sym.instance and sym.instance not in moved:
            locals_of.setdefault(name[len(sym.instance) + 1 :], set()).add(sym.instance)
    owners_of: dict[str, set[str]] = {}  # old service -> the services that may be it now
    stored_of: dict[str, list[str]] = {}  # old service -> its orphaned store names
    for stored in sorted(orphaned):
        # the longest slot explains the name: `tv_admin_password` is tv's `admin_password`
        for local in sorted(locals_of, key=len, reverse=True):
            if not stored.endswith("_" + local):
                continue
            old = stored[: -len(local) - 1]
            if not old or old in program.services or old in moved.values():
                continue
            owners_of.setdefault(old, set()).update(locals_of[local])
            stored_of.setdefault(old, []).append(stored)
            break
    out: dict[tuple[str, str], list[str]] = {}
    for old, owners in owners_of.items():  # one guess per old service: the likest name
        new = max(sorted(owners), key=lambda n: _likeness(old, n))
        out[(old, new)] = stored_of[old]
    return out


def _likeness(old: str, new: str) -> tuple[bool, bool, float]:
    """How much `new` looks like `old`: the same letters (`photosdb`, `photos-db`), `old` as
    its last part (`db` -> `media-db`, moved into a module), then how similar the names read."""
    import difflib

    def letters(s: str) -> str:
        return "".join(ch for ch in s if ch.isalnum())

    return (
        letters(old) == letters(new),
        new.rsplit("-", 1)[-1] == old,
        difflib.SequenceMatcher(None, old, new).ratio(),
    )


def warn_renames(program: Program, orphaned: Iterable[str], diags: Diagnostics) -> set[str]:
    """W0140 for each likely rename; returns the orphaned names it explained (no prune hint)."""
    explained: set[str] = set()
    renames = likely_renames(program, orphaned)
    if not renames:  # every compile asks; only a rename needs the modules' names (~0.3 ms)
        return explained
    from mora.modules.resolve import dotted_name

    for (old, new), names in sorted(renames.items()):
        svc = program.services[new]
        written = dotted_name(program, new)  # `media.db` for the module's `media-db`
        shown = ", ".join(f"`{n}`" for n in names)
        diags.warning(
            W_RENAMED,
            f"service `{new}` looks like `{old}` renamed: the site store keeps {shown} "
            f"for `{old}`, and `{new}` got new values",
            svc.decl.name.span,
            f"was this `{old}`?",
            help=f"add `moved {old} -> {written}` to keep {old}'s secrets, inputs and volumes "
            "(do not prune: the stored values may be the only ones its data works with)",
        )
        explained.update(names)
    return explained
