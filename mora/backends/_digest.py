"""The SHA-256 the backends name objects with (ConfigMap suffixes, job names, unit names).

The interpreter's builtin SHA-256 gives hashlib's digests without hashlib, which loads OpenSSL
(`_hashlib`, ~3.5 ms of every compile, eighth round): the backends use it for names only.
"""

from __future__ import annotations

try:
    from _sha256 import sha256  # Python 3.11
except ImportError:  # pragma: no cover - other Pythons
    try:
        from _sha2 import sha256  # Python 3.12 and later
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
