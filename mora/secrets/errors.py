"""Errors raised by the secrets package.

Messages name secrets, parameters and paths, never a secret value: the CLI prints them as they
are and the evaluator turns them into diagnostics, both of which end up in logs and CI output.
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base class, so the CLI can catch every secrets problem in one place."""

    def __init__(self, message: str, *, secret: str | None = None, help: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: the secret the problem is about, so the evaluator can point at its declaration
        self.secret = secret
        #: an optional hint for the `= help:` line of a diagnostic
        self.help = help

    def __str__(self) -> str:
        return self.message


class GeneratorError(SecretsError):
    """Bad generator arguments or a source that the generator cannot use."""


class StoreError(SecretsError):
    """The store file or its key cannot be read, decrypted or written."""


class ProviderError(SecretsError):
    """The requested secrets do not form a valid graph (unknown names, cycles, bad parts)."""


class CommandError(SecretsError):
    """A `mora secrets ...` command cannot do what was asked."""
