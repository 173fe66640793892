"""Secret generation and the encrypted per-site store, beneath the evaluator.

Importing this package is cheap (standard library only): cryptography, bcrypt and argon2 are
loaded when a value is actually generated, encrypted or decrypted.
"""

from mora.secrets.errors import (
    CommandError,
    GeneratorError,
    ProviderError,
    SecretsError,
    StoreError,
)
from mora.secrets.generators import GENERATORS, Generator, GeneratorParam
from mora.secrets.provider import (
    MemoryProvider,
    Resolution,
    SecretProvider,
    SecretRef,
    SecretRequest,
    StoreProvider,
)
from mora.secrets.store import KEY_ENV, Entry, SecretStore

__all__ = [
    "GENERATORS",
    "KEY_ENV",
    "CommandError",
    "Entry",
    "Generator",
    "GeneratorError",
    "GeneratorParam",
    "MemoryProvider",
    "ProviderError",
    "Resolution",
    "SecretProvider",
    "SecretRef",
    "SecretRequest",
    "SecretStore",
    "SecretsError",
    "StoreError",
    "StoreProvider",
]
