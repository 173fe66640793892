"""Which compose values are secrets, and the generator that fits each.

A value is secret by its name (`*PASSWORD*`, `*PASSWD*`, `*SECRET*`, `*TOKEN*`, `*_KEY`,
`*API_KEY*`, `*PRIVATE_KEY*`, `*SALT*`; `*_FILE` names a file, not a value) or by its value (a
well-known placeholder such as `changeme`). Uses with the same value are one secret, so a
password repeated between an app and its database stays one value after the import; the value
also counts where it appears inside another value (a `DATABASE_URL` that embeds it).
"""

from __future__ import annotations

import re
import string

_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|(^|_)PASS($|_)|(^|_)PWD?($|_)|SECRET|TOKEN|(^|_)KEY$|API_?KEY|PRIVATE_?KEY|SALT",
    re.IGNORECASE,
)
_NOT_SECRET_NAME = re.compile(
    r"_FILE$|_PATH$|_DIR$|_URL$|_HOST$|_PORT$|_USER(NAME)?$|_ID$", re.IGNORECASE
)
PLACEHOLDERS = {
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "changethis",
    "change_this",
    "password",
    "passw0rd",
    "secret",
    "supersecret",
    "mysecretpassword",
    "example",
    "letmein",
    "admin123",
    "your_password",
    "yourpassword",
    "mypassword",
    "pass",
    "s3cr3t",
    "secretpassword",
}
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def secret_name(name: str) -> bool:
    """Does an environment variable of this name hold a secret?"""
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def placeholder_value(value: str) -> bool:
    low = value.strip().lower()
    return low in PLACEHOLDERS or low.startswith(("changeme", "change_me", "changethis"))


def plain_value(value: str) -> bool:
    """Values that are settings even under a secret-looking name: booleans, numbers, paths."""
    low = value.strip().lower()
    return (
        low in ("", "true", "false", "yes", "no", "on", "off", "none", "null")
        or low.isdigit()
        or value.startswith(("/", "./", "http://", "https://"))
    )


def generator(value: str | None) -> str:
    """A generator call that makes values like `value` (its length and characters).

    A placeholder or a short value says nothing about what the app accepts: those get the
    default 32-character password. A value from a .env file that looks generated keeps its form.
    """
    if value is None or placeholder_value(value) or len(value) < 16:
        return "password(length: 32)"
    if _UUID.fullmatch(value):
        return "uuid()"
    if (
        len(value) % 2 == 0
        and all(c in string.hexdigits for c in value)
        and 16 <= len(value) <= 2048
    ):
        return f"hex({len(value) // 2})"
    length = min(len(value), 4096)
    if all(c in string.ascii_letters + string.digits for c in value):
        return f"password(length: {length})"
    if all(c in string.ascii_letters + string.digits + "-_" for c in value):
        return f'password(length: {length}, alphabet: "urlsafe")'
    return f'password(length: {length}, alphabet: "ascii")'
