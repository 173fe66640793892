"""Old address of `mora.eval.routes` (routes against the site): re-exports every name."""

from __future__ import annotations

from mora.eval.routes import E_EVAL, check_route_clashes, evaluate_routes

__all__ = ["E_EVAL", "check_route_clashes", "evaluate_routes"]
