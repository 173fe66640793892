"""Where the grammar, the stdlib and the published schemas live.

In an installed wheel they sit in `mora/_data/`; in a source checkout they are the top-level
`grammar/`, `stdlib/` and `schemas/` folders next to the package.

They are given as text: `mora check` never imports pathlib (with the `urllib.parse` and
`ipaddress` it pulls in, ~5 ms of start-up).
"""

from __future__ import annotations

import os
from functools import cache

_PACKAGE = os.path.dirname(os.path.realpath(__file__))


@cache
def data_folder(name: str) -> str:
    installed = os.path.join(_PACKAGE, "_data", name)
    if os.path.isdir(installed):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), name)


def grammar_file() -> str:
    return os.path.join(data_folder("grammar"), "mora.lark")


def stdlib_folder() -> str:
    return data_folder("stdlib")
