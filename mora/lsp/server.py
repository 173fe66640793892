"""The language server: a loop over JSON-RPC messages on stdin/stdout.

Requests are answered in order, one at a time (a homelab project checks in milliseconds). A
document is checked on open and on every change, and the diagnostics of every file of its
project are published (a change in one file can fix or break another). Whatever the text, the
server answers: an exception in a handler becomes a JSON-RPC error or a logged message, never
the end of the process.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from mora.diagnostics import Diagnostic, Severity
from mora.lsp import features
from mora.lsp.analysis import Analysis, LineIndex, analyse, path_to_uri, uri_to_path
from mora.lsp.rpc import ProtocolError, read_message, write_message

# JSON-RPC error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

_SEVERITY = {Severity.ERROR: 1, Severity.WARNING: 2, Severity.NOTE: 3}


class Server:
    """One editor session: the open documents and the last analysis of each."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.documents: dict[str, str] = {}
        self.analyses: dict[str, Analysis] = {}
        self.published: dict[str, set[str]] = {}  # document uri -> uris it published to
        self.initialized = False
        self.shutting_down = False

    # --- transport -------------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        write_message(self.out, {"jsonrpc": "2.0", **message})

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def log(self, text: str) -> None:
        self.notify("window/logMessage", {"type": 1, "message": text})

    def handle(self, message: Any) -> bool:
        """Handle one message; False once `exit` arrived."""
        if not isinstance(message, dict):
            self.send({"id": None, "error": {"code": PARSE_ERROR, "message": "not a JSON object"}})
            return True
        method = message.get("method")
        params = message.get("params") or {}
        is_request = "id" in message
        if not isinstance(method, str):
            if is_request and "result" not in message and "error" not in message:
                self.send(
                    {
                        "id": message["id"],
                        "error": {"code": INVALID_REQUEST, "message": "no method"},
                    }
                )
            return True  # a response to a request of ours: none are sent, so none expected
        if method == "exit":
            return False
        handler = getattr(self, "on_" + method.replace("/", "_").replace("$", "_"), None)
        if is_request and not self.initialized and method != "initialize":
            self.send(
                {
                    "id": message["id"],
                    "error": {"code": SERVER_NOT_INITIALIZED, "message": "not initialized"},
                }
            )
            return True
        if handler is None:
            if is_request:
                self.send(
                    {
                        "id": message["id"],
                        "error": {"code": METHOD_NOT_FOUND, "message": f"unknown method {method}"},
                    }
                )
            return True
        try:
            result = handler(params if isinstance(params, dict) else {})
        except Exception as err:  # a bug of ours: answered, logged, and the session goes on
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            self.log(f"mora lsp: internal error in {method}: {detail}")
            if is_request:
                self.send(
                    {"id": message["id"], "error": {"code": INTERNAL_ERROR, "message": detail}}
                )
            return True
        if is_request:
            self.send({"id": message["id"], "result": result})
        return True

    # --- lifecycle -------------------------------------------------------------------------------
    def on_initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        from mora import __version__

        self.initialized = True
        return {
            "capabilities": {
                "positionEncoding": "utf-16",
                "textDocumentSync": {"openClose": True, "change": 2, "save": False},
                "hoverProvider": True,
                "definitionProvider": True,
                "completionProvider": {"triggerCharacters": [".", "(", " "]},
                "documentSymbolProvider": True,
                "documentFormattingProvider": True,
            },
            "serverInfo": {"name": "mora", "version": __version__},
        }

    def on_initialized(self, params: dict[str, Any]) -> None:
        return None

    def on_shutdown(self, params: dict[str, Any]) -> None:
        self.shutting_down = True
        return None

    # --- documents -------------------------------------------------------------------------------
    def on_textDocument_didOpen(self, params: dict[str, Any]) -> None:
        doc = params["textDocument"]
        self.documents[doc["uri"]] = doc["text"]
        self.refresh(doc["uri"])

    def on_textDocument_didChange(self, params: dict[str, Any]) -> None:
        uri = params["textDocument"]["uri"]
        text = self.documents.get(uri, "")
        for change in params.get("contentChanges", []):
            if "range" in change and change["range"] is not None:
                index = LineIndex(text)
                start = change["range"]["start"]
                end = change["range"]["end"]
                a = index.offset(start["line"], start["character"])
                b = index.offset(end["line"], end["character"])
                text = text[:a] + change["text"] + text[max(a, b) :]
            else:
                text = change["text"]
        self.documents[uri] = text
        self.refresh(uri)

    def on_textDocument_didClose(self, params: dict[str, Any]) -> None:
        uri = params["textDocument"]["uri"]
        self.documents.pop(uri, None)
        self.analyses.pop(uri, None)
        for target in self.published.pop(uri, set()):
            self.notify("textDocument/publishDiagnostics", {"uri": target, "diagnostics": []})

    def on_textDocument_didSave(self, params: dict[str, Any]) -> None:
        return None

    def on__cancelRequest(self, params: dict[str, Any]) -> None:
        return None

    def on__setTrace(self, params: dict[str, Any]) -> None:
        return None

    def _overlay(self) -> dict[Path, str]:
        out = {}
        for uri, text in self.documents.items():
            path = uri_to_path(uri)
            if path is not None:
                out[path.resolve()] = text
        return out

    def refresh(self, uri: str) -> None:
        """Check the document's project and publish the diagnostics of each of its files."""
        text = self.documents[uri]
        path = uri_to_path(uri)
        try:
            an = analyse(path, text, self._overlay())
        except Exception as err:  # a checker bug: say so, keep the last analysis
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            self.log(f"mora lsp: internal error while checking {uri}: {detail}")
            an = Analysis(None, [])
        self.analyses[uri] = an
        grouped: dict[str, list[dict[str, Any]]] = {uri: []}
        for d in an.diagnostics:
            target = uri
            if d.span is not None:
                file = an.path_of(d.span)
                if file is None and path is not None:
                    continue  # a span of a file we cannot name
                if file is not None and (path is None or file != path.resolve()):
                    target = path_to_uri(file)
            grouped.setdefault(target, []).append(_to_lsp(d, an))
        previous = self.published.get(uri, set())
        for stale in previous - set(grouped):
            self.notify("textDocument/publishDiagnostics", {"uri": stale, "diagnostics": []})
        for target, items in grouped.items():
            self.notify("textDocument/publishDiagnostics", {"uri": target, "diagnostics": items})
        self.published[uri] = set(grouped)

    # --- features --------------------------------------------------------------------------------
    def _at(self, params: dict[str, Any]) -> tuple[Analysis, Any, str, int]:
        uri = params["textDocument"]["uri"]
        text = self.documents.get(uri)
        if text is None:
            path = uri_to_path(uri)
            text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else ""
            self.documents[uri] = text
            self.refresh(uri)
        an = self.analyses.get(uri) or Analysis(None, [])
        path = uri_to_path(uri)
        module = features.module_for(an, path, text)
        pos = params.get("position") or {"line": 0, "character": 0}
        offset = LineIndex(text).offset(pos["line"], pos["character"])
        return an, module, text, offset

    def on_textDocument_hover(self, params: dict[str, Any]) -> dict[str, Any] | None:
        an, module, _, offset = self._at(params)
        value = features.hover(an, module, offset)
        if not value:
            return None
        return {"contents": {"kind": "markdown", "value": value}}

    def on_textDocument_definition(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        an, module, _, offset = self._at(params)
        return features.definition(an, module, offset)

    def on_textDocument_completion(self, params: dict[str, Any]) -> dict[str, Any]:
        an, module, text, offset = self._at(params)
        items = features.completion(an, module, text, offset)
        return {"isIncomplete": False, "items": items}

    def on_textDocument_documentSymbol(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        _, module, text, _ = self._at(params)
        return features.symbols(module, LineIndex(text))

    def on_textDocument_formatting(self, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        from mora.fmt import format_source

        uri = params["textDocument"]["uri"]
        text = self.documents.get(uri)
        if text is None:
            return None
        result = format_source(text, uri)
        if result.text is None:
            return None  # syntax errors: the diagnostics say where; nothing is changed
        if result.text == text:
            return []
        index = LineIndex(text)
        return [{"range": index.range(0, len(text)), "newText": result.text}]


def _to_lsp(d: Diagnostic, an: Analysis) -> dict[str, Any]:
    """A diagnostic as LSP shows it: the code, the message with its label and help."""
    if d.span is not None:
        rng = LineIndex(d.span.file.text).range(d.span.start, max(d.span.end, d.span.start))
    else:
        zero = {"line": 0, "character": 0}
        rng = {"start": zero, "end": zero}
    message = d.message
    if d.label:
        message += f": {d.label}"
    if d.help:
        message += f"\nhelp: {d.help}"
    for note in d.notes:
        message += f"\nnote: {note}"
    out: dict[str, Any] = {
        "range": rng,
        "severity": _SEVERITY.get(d.severity, 1),
        "code": d.code,
        "source": "mora",
        "message": message,
    }
    related = []
    for label in d.labels:
        file = an.path_of(label.span)
        if file is None:
            continue
        related.append(
            {
                "location": {
                    "uri": path_to_uri(file),
                    "range": LineIndex(label.span.file.text).range(
                        label.span.start, label.span.end
                    ),
                },
                "message": label.message,
            }
        )
    if related:
        out["relatedInformation"] = related
    return out


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Run a session; the exit code the protocol asks for (0 after shutdown, else 1)."""
    server = Server(stdout)
    while True:
        try:
            message = read_message(stdin)
        except ProtocolError as err:
            print(f"mora lsp: {err}", file=sys.stderr)
            return 1
        if message is None:
            return 0 if server.shutting_down else 1
        if message == "<invalid json>":
            server.send({"id": None, "error": {"code": PARSE_ERROR, "message": "invalid JSON"}})
            continue
        if not server.handle(message):
            return 0 if server.shutting_down else 1
