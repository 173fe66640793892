"""`mora lsp`: a language server over stdio (a side door: it reads syntax and the checker).

Diagnostics as `mora check` reports them, hover, go to definition, completion, document symbols
and formatting through `mora fmt`. `rpc` frames the messages, `analysis` checks a document's
project with the editor's unsaved texts, `features` answers the questions, `server` dispatches.
"""

from __future__ import annotations


def main() -> int:
    """Serve one session on this process's stdin and stdout."""
    import sys

    from mora.lsp.server import serve

    return serve(sys.stdin.buffer, sys.stdout.buffer)
