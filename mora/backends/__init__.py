"""Backends: each turns the resolved model into files under the output directory.

They read only `mora.model` (through `Compiled`), never syntax, and report problems as
diagnostics. Each backend module has `write(compiled, out, options, diags) -> list[Path]` (or text paths for
a text `out`), is
imported only when its target is asked for, and writes below `out/<target>/` (the manifest
backend writes `out/manifest.json`). The manifest is always written.
"""

from __future__ import annotations

import sys

from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.record import Record

# A backend writes below the output directory as it is given: text from `mora compile`, which
# imports no `pathlib` (with `urllib.parse` and `ipaddress`, ~3-5 ms), or a `Path`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mora.output import Where

TARGETS = ("manifest", "kubernetes", "quadlet", "podman")


class Options(Record, frozen=True):
    """What the command line says about the outputs (site settings live in the manifest)."""

    no_secrets: bool = False  # leave secret-bearing files out (GitOps delivers them otherwise)


class NotBuilt(Exception):
    """A backend that does not exist yet; the CLI says so and still writes the manifest."""


def write_target(
    target: str, compiled: Compiled, out: Where, options: Options, diags: Diagnostics
) -> list[Where]:
    name = f"mora.backends.{target}"
    try:  # `__import__`, not `importlib.import_module`: no importlib package at start-up
        __import__(name)
    except ModuleNotFoundError as err:
        if err.name == name:
            raise NotBuilt(target) from None
        raise
    module = sys.modules[name]
    from mora.output import session

    with session():
        written: list[Where] = module.write(compiled, out, options, diags)
    return written
