"""Old address of `mora.check.routes` (the `routes` and storage checks): re-exports every name."""

from __future__ import annotations

from mora.check.routes import (
    E_EXTERNAL_NAME,
    E_MISSING_ATTR,
    check_route,
    check_volume_call,
)

__all__ = ["E_EXTERNAL_NAME", "E_MISSING_ATTR", "check_route", "check_volume_call"]
