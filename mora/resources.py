"""Where the grammar, the stdlib and the published schemas live.

In an installed wheel they sit in `mora/_data/`; in a source checkout they are the top-level
`grammar/`, `stdlib/` and `schemas/` folders next to the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def grammar_path() -> Path:
    return data_dir("grammar") / "mora.lark"


def stdlib_dir() -> Path:
    return data_dir("stdlib")


def schemas_dir() -> Path:
    return data_dir("schemas")
