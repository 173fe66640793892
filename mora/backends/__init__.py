"""Backends: each turns the resolved model into files under the output directory.

They read only `mora.model` (via `Compiled`), never syntax. The manifest is always written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mora.evaluator import Compiled

TARGETS = ("manifest", "kubernetes", "quadlet", "podman")


class NotBuilt(Exception):
    """A backend that does not exist yet; the CLI says so and still writes the manifest."""


def _kubernetes(compiled: Compiled, out: Path, options: dict[str, object]) -> list[Path]:
    raise NotBuilt("kubernetes")


def _quadlet(compiled: Compiled, out: Path, options: dict[str, object]) -> list[Path]:
    raise NotBuilt("quadlet")


def _podman(compiled: Compiled, out: Path, options: dict[str, object]) -> list[Path]:
    raise NotBuilt("podman")


def _manifest(compiled: Compiled, out: Path, options: dict[str, object]) -> list[Path]:
    from mora.backends.manifest import write_manifest

    return [write_manifest(compiled, out)]


BACKENDS: dict[str, Callable[[Compiled, Path, dict[str, object]], list[Path]]] = {
    "manifest": _manifest,
    "kubernetes": _kubernetes,
    "quadlet": _quadlet,
    "podman": _podman,
}
