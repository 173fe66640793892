"""The manifest backend: `manifest.json`, the resolved project in one versioned JSON document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.model import manifest_json
from mora.output import write_file


def write(compiled: Compiled, out: Path, options: Any, diags: Diagnostics) -> list[Path]:
    from mora.backends.manager_service import write_containerfile

    written = [write_file(out, "manifest.json", manifest_json(compiled.manifest))]
    return written + write_containerfile(compiled.manifest, out, diags)
