"""Keys and paths a shared project may not claim: one table for the checker, the evaluator and
the backends, so a rule is stated once.

A project is untrusted input. Its `labels { ... }` must not replace the keys mora itself writes
(a generated annotation, checkov's skip list, the podman labels that say which project owns a
container).
"""

from __future__ import annotations

#: Label/annotation key prefixes mora writes itself (`mora.project`, `mora.dev/host-paths`, ...)
#: or that change how a validator judges the output (`checkov.io/skip1`).
RESERVED_LABEL_PREFIXES = ("mora.", "mora/", "checkov.io/")

#: The `app.kubernetes.io/` keys mora sets on every object; the selector is made of some of them.
RESERVED_LABEL_KEYS = tuple(
    "app.kubernetes.io/" + name
    for name in ("name", "instance", "component", "part-of", "managed-by", "version")
)


def reserved_label(key: str) -> str | None:
    """Why `key` cannot be a project's label (mora or checkov owns it), or None when it can."""
    folded = key.strip().lower()
    if folded.startswith("checkov.io/"):
        return (
            "`checkov.io/` keys switch security checks off; mora writes them for declared reasons"
        )
    for prefix in RESERVED_LABEL_PREFIXES:
        if folded.startswith(prefix):
            return f"keys starting with `{prefix}` belong to mora"
    if folded in RESERVED_LABEL_KEYS:
        return "mora sets this key (and selects pods by some of these)"
    return None
