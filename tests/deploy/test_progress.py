"""Live progress: plain lines when not a TTY, a redrawn waiting line on a TTY, erased at the end,
fed by the engine's `waiting_progress` hook while a service is not yet healthy."""

from __future__ import annotations

import io
from pathlib import Path

from mora.deploy.engine import apply, prepare
from mora.deploy.progress import ProgressPrinter
from mora.deploy.targets.base import Health
from tests.deploy.test_engine import Recorder, compiled


class Slow(Recorder):
    """Each service reports `starting` twice before it is healthy."""

    def __init__(self) -> None:
        super().__init__(failing=set())
        self.looks: dict[str, int] = {}

    def health(self, service: str) -> tuple[Health, str]:
        self.looks[service] = self.looks.get(service, 0) + 1
        return ("healthy", "") if self.looks[service] > 2 else ("starting", "")


def run(tty: bool, tmp_path: Path) -> str:
    out = io.StringIO()
    shown = ProgressPrinter(out, tty=tty)
    ticks = iter(range(1000))
    apply(
        prepare(compiled(tmp_path), None, None, "podman"),
        None,
        Slow(),
        lambda _r: None,
        progress=shown.step,
        waiting_progress=shown.waiting,
        poll=0,
        clock=lambda: float(next(ticks)),
    )
    shown.close()
    return out.getvalue()


def test_plain_lines_when_not_a_tty(tmp_path: Path) -> None:
    text = run(False, tmp_path)
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert all(line.startswith("[") for line in lines), lines
    assert [ln.split("] ", 1)[1] for ln in lines if ln.split("] ", 1)[1].startswith("a:")] == [
        "a: creating",
        "a: starting",
        "a: healthy",
    ]


def test_tty_redraws_a_waiting_line_and_erases_it(tmp_path: Path) -> None:
    text = run(True, tmp_path)
    assert "waiting for health: a (" in text
    assert "\r\x1b[K" in text
    # what stays on screen once every erase is applied: the same plain lines as in a log
    screen = [seg.rsplit("\r\x1b[K", 1)[-1] for seg in text.split("\n")]
    assert screen == run(False, tmp_path).split("\n")


class Pulls(Recorder):
    """Reports a pull for every service it creates, as the podman target does for a missing image."""

    def apply_service(self, service: str) -> dict[str, list[str]]:
        self.say(service, "pulling")
        return super().apply_service(service)


def test_a_target_step_reaches_the_progress_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    shown = ProgressPrinter(out, tty=False)
    apply(prepare(compiled(tmp_path), None, None, "podman"), None, Pulls(failing=set()),
          lambda _r: None, progress=shown.step, poll=0)  # fmt: skip
    steps = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert steps.index("a: creating") < steps.index("a: pulling") < steps.index("a: starting")
