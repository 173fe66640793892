"""The manifest backend: `manifest.json`, the resolved project in one versioned JSON document.

The document is written as it is made, a service (secret, input) at a time: the manifest of
10,000 services is 12 MiB of text, and building it whole (the plain data of every service, the
pieces of the encoder, the text and its bytes) cost about 110 MiB at the peak of a large compile
(docs/performance.md, eighth round). Each model is written by `_json` in one pass over its
fields, without the plain dict `model_dump` would make first (fourteenth round). The bytes are
`mora.model.manifest_json`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from mora.backends._json import dumps, key
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics
from mora.model import Manifest
from mora.output import write_chunks

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

    from mora.output import Where  # text, or a `Path` (mora.backends)

#: the manifest's collections of models, each entry dumped only when it is written (their
#: default is empty: `exclude_defaults` leaves out an empty one, as `manifest_json` does)
_ENTRIES = ("services", "secrets", "inputs")


def write(compiled: Compiled, out: Where, options: Any, diags: Diagnostics) -> list[Where]:
    written = [write_chunks(out, "manifest.json", manifest_chunks(compiled.manifest))]
    if "manager" not in compiled.manifest.targets and not os.path.isdir(
        os.path.join(out, "manager")
    ):
        # no `manager:` in the site and no Containerfile written before: nothing to write or
        # remove, and `manager_service` (most sites') is not imported
        return written
    from mora.backends.manager_service import write_containerfile

    return written + write_containerfile(compiled.manifest, out, diags)


class Lazy:
    """A mapping written as a JSON object whose values are turned into plain data (`plain`)
    one at a time, as each is written."""

    __slots__ = ("items", "plain")

    def __init__(self, items: Mapping[str, Any], plain: Callable[[Any], Any]) -> None:
        self.items = items
        self.plain = plain


def manifest_chunks(manifest: Manifest) -> Iterator[str]:
    """The text of `manifest_json(manifest)`, in pieces."""
    lazy = {name: getattr(manifest, name) for name in _ENTRIES}
    data = manifest.model_copy(update={name: {} for name in _ENTRIES}).model_dump(
        mode="json", exclude_defaults=True
    )
    for name, entries in lazy.items():
        if entries:
            data[name] = entries  # each model written in one pass (`_json`), as it is reached
    data["format"] = manifest.format
    data["version"] = manifest.version
    yield from json_chunks(data)
    yield "\n"


def json_chunks(value: Any, level: int = 0) -> Iterator[str]:
    """`json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)` in pieces: the objects
    at the top and the `Lazy` ones are laid out here, every other value by `_json.dumps` (the
    same bytes without json's pure-Python indenting encoder).

    Keys are text (the model's are: `mora.model` refuses others), so sorting the keys is sorting
    the items as `json` does; a nested value is written at its level's indentation."""
    if not isinstance(value, dict | Lazy):
        yield _dumps(value, level)
        return
    items, plain = (value.items, value.plain) if isinstance(value, Lazy) else (value, None)
    if not items:
        yield "{}"
        return
    inner = "\n" + "  " * (level + 1)
    opening = "{"
    for name in sorted(items):
        if not isinstance(name, str):
            raise TypeError(f"a JSON object key must be text here, not {type(name).__name__}")
        item = items[name]
        yield opening + inner + key(name) + ": "
        opening = ","
        if plain is not None:
            yield _dumps(plain(item), level + 1)
        else:
            yield from json_chunks(item, level + 1)
    yield "\n" + "  " * level + "}"


def _dumps(value: Any, level: int) -> str:
    return dumps(value, "  " * level)
