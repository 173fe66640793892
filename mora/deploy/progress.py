"""Showing an apply as it happens: one plain line per step, plus a live line on a terminal.

Not a TTY (a log, CI, a pipe): only the plain lines `[  3.0s] db: healthy`, stable and easy to
grep. On a TTY the same lines are printed, and between them one status line is redrawn in place
(`waiting for db (starting, 2.4s)`) so a slow health check visibly advances; it is erased before
every plain line and at the end, so what stays on screen is the same as in a log.
"""

from __future__ import annotations

from typing import TextIO

from mora.diagnostics import printable

_ERASE = "\r\x1b[K"


class ProgressPrinter:
    """The engine's `progress` and `waiting` callbacks, writing to `stream`."""

    def __init__(self, stream: TextIO, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._live = False  # a status line is on screen and must be erased first

    def _clear(self) -> None:
        if self._live:
            self.stream.write(_ERASE)
            self._live = False

    def step(self, service: str, status: str, elapsed: float, detail: str) -> None:
        """One plain line per service and step, with the seconds since the apply began."""
        self._clear()
        tail = f": {printable(detail)}" if detail else ""
        self.stream.write(f"[{elapsed:6.1f}s] {service}: {status}{tail}\n")
        self.stream.flush()

    def waiting(self, services: dict[str, float], elapsed: float) -> None:
        """service -> seconds it has been waited for; redrawn on a TTY, silent otherwise."""
        if not self.tty or not services:
            return
        parts = ", ".join(f"{name} ({since:.0f}s)" for name, since in sorted(services.items()))
        line = printable(f"[{elapsed:6.1f}s] waiting for health: {parts}")
        self.stream.write(_ERASE + line[:200])
        self.stream.flush()
        self._live = True

    def close(self) -> None:
        """Erase the status line, so the terminal ends with the plain lines only."""
        self._clear()
        self.stream.flush()
