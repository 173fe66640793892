"""Secret values never appear in error messages, tracebacks or reprs; imports stay cheap."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from mora.secrets.commands import list_entries, rotate, set_value, show
from mora.secrets.errors import SecretsError
from mora.secrets.generators import GENERATORS, join_parts
from mora.secrets.provider import MemoryProvider, SecretRef, SecretRequest, StoreProvider
from mora.secrets.store import SecretStore

from .helpers import PYTHON, subprocess_env

CANARY = "CANARY-7f3a9c-" + "Z" * 70  # > 72 bytes: bcrypt will refuse it


def printed(exc: BaseException) -> str:
    """Everything a person could see: message, help, and the full chained traceback."""
    text = "".join(traceback.format_exception(exc))
    if isinstance(exc, SecretsError):
        text += exc.message + (exc.help or "") + repr(exc)
    return text


def assert_clean(action: Callable[[], object], *secrets: str) -> SecretsError:
    with pytest.raises(SecretsError) as info:
        action()
    text = printed(info.value)
    for secret in secrets:
        assert secret not in text
        for line in secret.splitlines():
            if len(line) > 16 and "-----" not in line:
                assert line not in text
    return info.value


def test_failures_never_quote_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MORA_SECRETS_KEY", base64.b64encode(os.urandom(32)).decode())
    path = tmp_path / "s.secrets"
    store = SecretStore.open(path)
    store.set_value("canary", CANARY)
    store.save()
    requests = [
        SecretRequest("canary", None),
        SecretRequest("digest", "bcrypt", {}, {"source": SecretRef("canary")}),
        SecretRequest("ca", "tls_ca"),
        SecretRequest(
            "leaf", "tls_cert", {"hosts": ["a.example.org"]}, {"ca": SecretRef("canary")}
        ),
    ]
    res = StoreProvider(store).resolve(requests)
    assert len(res.errors) == 2
    for error in res.errors:
        text = printed(error)
        assert CANARY not in text and "CANARY" not in text
    ca_key = res.value("ca", "key")

    # generators handed a secret they cannot use
    assert_clean(lambda: GENERATORS["bcrypt"].generate({}, {"source": CANARY}), CANARY)
    bad_ca = json.dumps({"key": ca_key, "cert": "garbage " + CANARY})
    assert_clean(
        lambda: GENERATORS["tls_cert"].generate({"hosts": ["a.b"]}, {"ca": bad_ca}), ca_key, CANARY
    )
    broken_key = ca_key.replace("A", "B", 3)
    assert_clean(
        lambda: GENERATORS["tls_cert"].generate(
            {"hosts": ["a.b"]},
            {"ca": join_parts({"key": broken_key, "cert": res.value("ca", "cert")})},
        ),
        broken_key,
    )

    # commands
    assert_clean(lambda: rotate(store, "canary", requests), CANARY)
    assert_clean(lambda: show(store, "canary", "nope"), CANARY)
    assert_clean(lambda: set_value(store, "ca", CANARY, requests=requests), CANARY)

    # the store: wrong key, modified file, malformed env key
    monkeypatch.setenv("MORA_SECRETS_KEY", base64.b64encode(os.urandom(32)).decode())
    assert_clean(lambda: SecretStore.open(path), CANARY)
    monkeypatch.setenv("MORA_SECRETS_KEY", CANARY)
    assert_clean(lambda: SecretStore.open(path), CANARY)


def test_reprs_never_show_values(tmp_path: Path) -> None:
    store = SecretStore.open(tmp_path / "s.secrets")
    store.set_value("canary", CANARY)
    store.save()
    requests = [SecretRequest("canary", None), SecretRequest("wg", "wireguard")]
    res = StoreProvider(store).resolve(requests)
    rows = list_entries(store, requests)
    texts = [repr(store), repr(res), str(res), repr(rows), repr(store.get("canary"))]
    texts.append(str(store.get("wg")))
    for text in texts:
        assert CANARY not in text
        assert res.value("wg", "private_key") not in text
    assert "CANARY" not in repr(MemoryProvider(values={"x": CANARY}).resolve(requests[:1]))


def test_importing_the_package_loads_no_crypto_library(isolated_env: Path) -> None:
    code = (
        "import sys, mora.secrets, mora.secrets.generators, mora.secrets.provider, "
        "mora.secrets.commands, mora.secrets.store\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'bcrypt', 'argon2', '_cffi_backend')]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code],
        env=subprocess_env(isolated_env),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
