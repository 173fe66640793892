"""Secret generation and the encrypted per-site store, beneath the evaluator.

Importing this package is cheap (standard library only): cryptography, bcrypt and argon2 are
loaded when a value is actually generated, encrypted or decrypted.
"""

TYPE_CHECKING = False  # typing only for type checkers (~3 ms of start-up)
if TYPE_CHECKING:
    from typing import Any

# Names resolve on first use (PEP 562), so `import mora.secrets.generators` on every
# `mora check` does not also load the store and the provider.
_HOME = {
    "CommandError": "errors",
    "GeneratorError": "errors",
    "ProviderError": "errors",
    "SecretsError": "errors",
    "StoreError": "errors",
    "GENERATORS": "generators",
    "Generator": "generators",
    "GeneratorParam": "generators",
    "MemoryProvider": "provider",
    "Resolution": "provider",
    "SecretProvider": "provider",
    "SecretRef": "provider",
    "SecretRequest": "provider",
    "StoreProvider": "provider",
    "KEY_ENV": "store",
    "Entry": "store",
    "SecretStore": "store",
}


def __getattr__(name: str) -> "Any":
    if name in _HOME:
        import importlib  # here: a compile imports its modules by name

        return getattr(importlib.import_module(f"mora.secrets.{_HOME[name]}"), name)
    raise AttributeError(f"module 'mora.secrets' has no attribute {name!r}")


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
