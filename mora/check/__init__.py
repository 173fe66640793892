"""The check pass: declarations, names, types, taint and graph rules, with no site and no secrets.

Input: the parsed modules of one project. Output: a `Program` (symbol tables over the untouched
AST, `program.py`) that the evaluator walks, plus diagnostics. The checker never evaluates
site-dependent values, never touches secrets and never writes files; `mora check` is exactly this
pass. This module holds only the pass order; each concern is a module of its own:

    passes.py        the Checker: every pass below, in order (imported only to check)
    program.py       what the pass hands on: symbols, Program, body helpers, the codes
    context.py       CheckState (what the passes share) and _Ctx (where an expression sits)
    declarations.py  collect params, secrets, inputs, templates, services; types of declarations
    services.py      service bodies, attribute by attribute against the vocabulary
    blocks.py        block items, ports, settings, paths, devices, binds
    expressions.py   type_of, references, service fields, expect
    calls.py         calls and argument binding
    secrets.py       secret declarations, generators, leaks
    inputs.py        input declarations
    graph.py         dependencies, cycles, clashes
    unused.py        unused params, secrets, inputs
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mora.check.passes import Checker
    from mora.check.program import Program
    from mora.diagnostics import Diagnostics
    from mora.loader import LoadedProject


def check(loaded: LoadedProject, diags: Diagnostics) -> Program:
    """Check a loaded project; problems go to `diags`."""
    from mora.check.passes import Checker

    return Checker(loaded, diags).run()


def __getattr__(name: str) -> object:
    """`from mora.check import Checker` loads the passes only when asked (PEP 562)."""
    if name == "Checker":
        from mora.check.passes import Checker

        return Checker
    raise AttributeError(f"module 'mora.check' has no attribute {name!r}")


__all__ = ["Checker", "check"]
