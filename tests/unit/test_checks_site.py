"""The site file and `--set`: every problem is one diagnostic (issue 9, defect 6 and "the secret
lifecycle": site-file errors with carets, one error for a missing file, the lower-case domain).

The golden cases tests/cases/err-site-* show the rendered diagnostics with their carets; here:
inputs that crashed or read without limit (deep YAML, /dev/zero, a fifo, aliases), through the
library and through the real command line.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mora.diagnostics import Diagnostics, render_text
from mora.site import SITE_MAX_BYTES, SITE_MAX_DEPTH, load_site
from tests.cli import REPO, run_mora

PROJECT = """project home
param timezone: string = "UTC"
param tags: list(string) = []
param extra: map(string) = {}
service web {
  image = "docker.io/library/nginx:1.27"
  environment { TZ = param.timezone }
  command = param.tags
  labels = param.extra
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "main.mora").write_text(PROJECT)
    return folder


def _site(path: Path | None, sets: list[str] | None = None) -> list[str]:
    diags = Diagnostics()
    load_site(path, None, sets or [], diags)
    return [render_text(d) for d in diags.sorted()]


def test_a_missing_site_file_is_one_error(project: Path, tmp_path: Path) -> None:
    proc = run_mora(["compile", str(project), "--site", str(tmp_path / "nope.yaml")], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count("error[") == 1, proc.stderr
    assert "does not exist" in proc.stderr and "E0503" not in proc.stderr


def test_dev_zero_is_refused_without_reading(project: Path, tmp_path: Path) -> None:
    """The real CLI, capped at 4 GiB of address space: reading /dev/zero would hit the cap."""
    args = ["compile", str(project), "--site", "/dev/zero", "--out", str(tmp_path / "out")]
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    proc = subprocess.run(
        [sys.executable, "-m", "mora.cli", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,
    )
    assert proc.returncode == 1, proc.stderr
    assert "is not a regular file" in proc.stderr and "internal error" not in proc.stderr


def test_a_fifo_does_not_block(project: Path, tmp_path: Path) -> None:
    """Through the CLI with a timeout: opening a fifo for reading used to wait for a writer."""
    fifo = tmp_path / "site.yaml"
    os.mkfifo(fifo)
    proc = run_mora(["compile", str(project), "--site", str(fifo)], cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "is not a regular file" in proc.stderr, proc.stderr


def test_a_huge_site_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "site.yaml"
    big.write_text("domain: example.org\n" + "# padding\n" * (SITE_MAX_BYTES // 10))
    (message,) = _site(big)
    assert "larger than 1024 KiB" in message


@pytest.mark.parametrize(
    "text",
    [
        "domain: example.org\nparams:\n  deep: " + "[" * 1000 + "]" * 1000 + "\n",
        "domain: example.org\nparams:\n  deep: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n",
        "domain: example.org\nparams:\n  deep:\n"
        + "".join("  " * i + "- \n" for i in range(2, 1000)),
    ],
    ids=["flow-list", "flow-map", "block-list"],
)
def test_deep_yaml_in_the_site_file_is_a_diagnostic(tmp_path: Path, text: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(text)
    (message,) = _site(site)
    assert f"nested deeper than {SITE_MAX_DEPTH} levels" in message
    assert "site.yaml:" in message  # with its place


def test_deep_yaml_in_set_is_a_diagnostic(project: Path, tmp_path: Path) -> None:
    proc = run_mora(
        [
            "compile",
            str(project),
            "--domain",
            "example.org",
            "--set",
            "tags=" + "[" * 1000,
            "--set",
            "extra=" + "{a: " * 1000,
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count(f"nested deeper than {SITE_MAX_DEPTH} levels") == 2, proc.stderr
    assert "internal error" not in proc.stderr


def _laughs() -> str:
    lines = ["domain: example.org", "params:", "  l0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def _chain() -> str:
    lines = ["domain: example.org", "params:", "  l0: &l0 " + "[" * 40 + "]" * 40]
    lines += [f"  l{i}: &l{i} " + "[" * 40 + f"*l{i - 1}" + "]" * 40 for i in range(1, 30)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_laughs(), "more than 100000 values once aliases are expanded"),
        (_chain(), f"nested deeper than {SITE_MAX_DEPTH} levels once aliases are expanded"),
        ("domain: example.org\nparams:\n  a: &a [1, *a]\n", "refers to the value it is part of"),
    ],
    ids=["billion-laughs", "alias-chain", "cycle"],
)
def test_aliases_cannot_blow_up(tmp_path: Path, text: str, reason: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(text)
    (message,) = _site(site)
    assert reason in message


def test_a_file_with_control_characters_is_never_quoted(tmp_path: Path) -> None:
    """Like /proc/self/environ: NUL-separated, holding a key; only its position is shown."""
    site = tmp_path / "site.yaml"
    site.write_bytes(b"MORA_SECRETS_KEY=s3cr3t-value\0HOME=/root\0")
    (message,) = _site(site)
    assert "control character (line 1, column 30)" in message
    assert "s3cr3t" not in message and "-->" not in message


def test_not_utf8_is_refused_with_its_place(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_bytes(b"domain: example.org\nparams:\n  timezone: \xff\n")
    (message,) = _site(site)
    assert "not valid UTF-8 (line 3, byte 13)" in message


def test_an_unclosed_string_shows_where_it_started(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text('domain: "example.org\nparams: {}\n')
    (message,) = _site(site)
    assert "while scanning a quoted scalar" in message
    assert "1 | domain:" in message


def test_the_domain_in_capitals_suggests_lower_case() -> None:
    (message,) = _site(None, ["domain=Lab.Example.Org"])
    assert "did you mean `lab.example.org`?" in message


def test_a_good_site_file_has_no_diagnostics(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    anchors = "hosts:\n  - name: a\n    tags: &t [gpu]\n  - name: b\n    tags: *t\n"
    site.write_text("domain: example.org\nparams:\n  timezone: Europe/Berlin\n" + anchors)
    assert _site(site) == []
