"""Helpers shared by the secrets tests."""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def subprocess_env(config: Path, **extra: str) -> dict[str, str]:
    """Environment for helper processes: this checkout importable, same private config dir."""
    env = {k: v for k, v in os.environ.items() if k != "MORA_SECRETS_KEY"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CONFIG_HOME"] = str(config)
    env.update(extra)
    return env


def write_store(path: Path, key: bytes, content: object, *, version: int, store_id: str) -> None:
    """A store file of format `version` holding `content` as its decrypted document, encrypted
    with `key` the way docs/secrets.md describes (the header is the AES-GCM associated data)."""
    header = {
        "cipher": "AES-256-GCM",
        "format": "mora-secrets",
        "store_id": store_id,
        "version": version,
    }
    aad = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    plain = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    nonce = secrets.token_bytes(12)
    doc = {
        **header,
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(AESGCM(key).encrypt(nonce, plain, aad)).decode(),
    }
    path.write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")


def write_v1_store(path: Path, key: bytes, entries: dict[str, dict[str, object]]) -> None:
    """A store exactly as the first format (one project per file) wrote it, per docs/secrets.md."""
    write_store(path, key, {"entries": entries}, version=1, store_id="ab" * 16)


def v1_entry(value: str) -> dict[str, object]:
    return {
        "kind": "generated",
        "generator": "password",
        "args": {"alphabet": "alphanumeric", "chars": "", "length": 32},
        "parts": {"value": value},
        "source_fingerprints": {},
        "created": "2025-01-01T00:00:00Z",
        "rotated": None,
    }
