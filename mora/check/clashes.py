"""Two services claiming one host name or host port: the checker reports the static claims and
the evaluator the evaluated ones, with the same message; a module of its own so that the
evaluator does not import the checker's passes for it."""

from __future__ import annotations

from mora.diagnostics import Diagnostics, Label
from mora.source import Span


def report_clashes(
    diags: Diagnostics, claims: list[tuple[str, str, Span]], code: str, what: str
) -> None:
    """Two services claiming one host name or host port: an error at the second claim."""
    first: dict[str, tuple[str, Span]] = {}
    for value, owner, span in claims:
        if value in first and first[value][0] != owner:
            other, other_span = first[value]
            diags.error(
                code,
                f"{what} `{value}` is claimed by both `{other}` and `{owner}`",
                span,
                f"claimed by `{owner}` here",
                labels=[Label(other_span, f"already claimed by `{other}`")],
                help=f"give each service its own {what}",
            )
        else:
            first.setdefault(value, (owner, span))
