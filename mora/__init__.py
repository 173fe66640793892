"""mora: a compiler for homelab configuration.

The pipeline, one module per pass, data flowing one way::

    source -> parser -> ast -> loader (files, imports) -> checker -> evaluator -> model
           -> backends (manifest, kubernetes, quadlet, podman) and plan

`mora.api` is the library entry point that the CLI and the tests call.
"""

__version__ = "0.1.0"
