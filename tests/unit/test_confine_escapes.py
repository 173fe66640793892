"""Issue 9, defect 9: control characters from project or site text reach the terminal escaped.

A prompt can interpolate site values and a diagnostic quotes lines and file names: an ESC or OSC
sequence (retitle the terminal, hide text, fake a prompt) must be shown, not obeyed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mora.diagnostics import Diagnostic, Severity, printable, render_text
from mora.source import SourceFile, Span
from tests.cli import run_mora

OSC = "\x1b]0;owned\x07"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _no_raw_controls(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


def test_printable_escapes_controls_and_bidi_overrides_only() -> None:
    assert printable(f"a{OSC}b\u202ec\x9b\td\ne é") == "a\\x1b]0;owned\\x07b\\u202ec\\x9b\td\ne é"


def test_the_quoted_line_is_escaped_and_the_caret_still_points_at_the_span() -> None:
    file = SourceFile("f.mora", 'x = "\x1b[8m\u202e" + nope\n')
    start = file.text.index("nope")
    d = Diagnostic(Severity.ERROR, "E0202", f"unknown name {OSC}", Span(file, start, start + 4))
    text = render_text(d)
    _no_raw_controls(text)
    line, caret = text.splitlines()[3:5]
    assert line.endswith('x = "\\x1b[8m\\u202e" + nope')
    assert caret.index("^") == line.index("nope") and caret.count("^") == 4


def test_plan_shows_an_escape_from_a_site_value_escaped(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.mora").write_text(
        'project p\nparam where: string = "x"\n'
        'input tok: string { prompt = "make a token at ${param.where}" }\n'
        'service web {\n  image = "docker.io/library/nginx:1.27"\n'
        "  environment { T = input.tok }\n}\n"
    )
    env = dict(os.environ, MORA_SECRETS_KEY="", XDG_DATA_HOME=str(tmp_path / "data"))
    args = ["plan", str(project), "--domain", "example.org", "--secrets", "s.secrets"]
    proc = run_mora([*args, "--set", f"where=http://a{OSC}"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    _no_raw_controls(proc.stdout + proc.stderr)
    assert "make a token at http://a\\x1b]0;owned\\x07" in proc.stdout
    proc = run_mora([*args, "--format", "json", "--set", f"where={OSC}"], cwd=tmp_path, env=env)
    _no_raw_controls(proc.stdout + proc.stderr)
    stages = json.loads(proc.stdout)["stages"]
    prompts = [q["prompt"] for s in stages for q in s.get("inputs", [])]
    assert prompts == [f"make a token at {OSC}"]  # JSON escapes it on its own: \u001b


def test_a_file_name_with_an_escape_is_shown_escaped(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / f"a{OSC}.mora").write_text("project p\nservice web {\n  image = 1 +\n}\n")
    for fmt in ("text", "json"):
        proc = run_mora(["check", "--format", fmt, str(project)], cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        _no_raw_controls(proc.stdout + proc.stderr)
        if fmt == "text":
            assert "a\\x1b]0;owned\\x07.mora:3:" in proc.stderr, proc.stderr


def test_an_interactive_setup_prompt_is_escaped(tmp_path: Path) -> None:
    """`mora setup` on a terminal (a pseudo-terminal here) prints the prompt escaped."""
    import pty
    import select
    import subprocess
    import sys

    from tests.cli import REPO

    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.mora").write_text(
        'project p\nparam where: string = "x"\n'
        'input tok: string { prompt = "make a token at ${param.where}" }\n'
        'service web {\n  image = "docker.io/library/nginx:1.27"\n'
        "  environment { T = input.tok }\n}\n"
    )
    env = dict(os.environ, MORA_SECRETS_KEY="", XDG_DATA_HOME=str(tmp_path / "data"))
    env["PYTHONPATH"] = str(REPO)
    master, slave = pty.openpty()
    args = ["setup", str(project), "--domain", "example.org", "--secrets", "s.secrets"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mora.cli", *args, "--set", f"where={OSC}", "--out", "build"],
        cwd=tmp_path,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"empty to skip" in seen:
            os.write(master, b"\n")  # skip the question
            answered = True
    proc.wait(timeout=60)
    os.close(master)
    text = seen.decode("utf-8", "replace")
    assert answered, text
    _no_raw_controls(text)
    assert "make a token at \\x1b]0;owned\\x07" in text
