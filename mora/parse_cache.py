"""A cache of parsed files, so unchanged files (the stdlib above all) skip the parser.

Parsing with Lark costs about 25 µs a token, and importing Lark itself about 30 ms: most of a
`mora check` in a pre-commit hook, where nearly every file is unchanged. A file that parsed
without diagnostics is stored as a pickle under `$XDG_CACHE_HOME/mora/ast/`, keyed by the
SHA-256 of its text and of everything that shapes its tree (the grammar, the parser and the
AST modules), so a changed file or a changed mora can never read a stale tree. Lark is imported
only on a miss. `MORA_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import os
from functools import cache

from mora import ast
from mora.cache_files import cache_folder, enabled, load_kept, prune, write_whole
from mora.diagnostics import Diagnostics
from mora.source import SourceFile

try:  # the builtin SHA-256: hashlib would load OpenSSL (_hashlib, ~3 ms of every `mora check`)
    from _sha256 import sha256 as _sha256  # Python 3.11
except ImportError:  # pragma: no cover - other Pythons
    try:
        from _sha2 import sha256 as _sha256  # Python 3.12 and later
    except ImportError:
        from hashlib import sha256 as _sha256

# 2: slotted nodes, pickled as their field values; 3: packed spans; 4: rebuilt by Class._unpickle
_FORMAT = b"mora-ast-cache-4"
_MAX_ENTRIES = 4000
_PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL (Python 3.8 and later)


def folder() -> str:
    """Where the trees are kept: `$XDG_CACHE_HOME/mora/ast`, by default `~/.cache/mora/ast`."""
    return cache_folder("ast")


@cache
def _toolchain_digest() -> bytes:
    """What the tree depends on besides the text: grammar, parser and AST definitions."""
    from mora.resources import grammar_file

    here = os.path.dirname(os.path.realpath(__file__))
    h = _sha256(_FORMAT)
    modules = ("parser.py", "parse_tables.py", "ast.py", "source.py")
    for path in (grammar_file(), *(os.path.join(here, name) for name in modules)):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.digest()


def _key(text: str) -> str:
    return _sha256(_toolchain_digest() + text.encode("utf-8", "surrogatepass")).hexdigest()


def load_module(file: SourceFile, diags: Diagnostics) -> ast.Module:
    """Parse `file`, or take its tree from the cache when the same text was parsed before."""
    if not enabled():  # MORA_NO_CACHE=1, or no cache folder (mora.cache_files.cache_root)
        return _parse(file, diags)
    # The C pickler straight, here: a check without the cache never needs it, and `pickle.py`
    # (its pure-Python classes, `_compat_pickle`, `struct`, a Jython probe: ~1 ms) only
    # re-exports these.
    from _pickle import UnpicklingError, load

    try:
        path = os.path.join(folder(), f"{_key(file.text)}.pickle")
    except OSError:
        return _parse(file, diags)
    try:
        with open(path, "rb") as f:
            module = load_kept(load, f, os.fstat(f.fileno()).st_size)
        if isinstance(module, ast.Module):
            module.file.path = file.path  # shown as the user named it this time
            return module
    except (
        OSError,
        UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        TypeError,
        RecursionError,
    ):
        pass  # a miss, or an unreadable entry: parse again and overwrite it
    local = Diagnostics()
    module = _parse(file, local)
    diags.extend(local)
    if not local.items:
        _store(path, module)
    return module


def _parse(file: SourceFile, diags: Diagnostics) -> ast.Module:
    from mora.parser import parse_module

    return parse_module(file, diags)


def _store(path: str, module: ast.Module) -> None:
    from _pickle import PicklingError, dump  # what `pickle.dump` is (see load_module)

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_whole(path, lambda f: dump(module, f, protocol=_PROTOCOL))
        _prune(os.path.dirname(path))
    except (OSError, RecursionError, PicklingError):
        pass  # a cache that cannot be written is only slower (the parser bounds the depth)


_pruned: list[str] = []  # the folders this process has already looked at


def _prune(directory: str) -> None:
    """Keep the cache bounded: past the limit, drop the least recently written half.

    Looked at once per process, with `os.scandir`: a check that missed on eleven files listed
    the whole folder (2,400 entries here) eleven times through pathlib's glob, ~6 ms each."""
    if directory in _pruned:
        return
    _pruned.append(directory)
    prune(directory, (".pickle",), _MAX_ENTRIES)
