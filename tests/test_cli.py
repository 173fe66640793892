"""The CLI as users run it: exit codes, output streams, the written files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mora.cli import cli
from tests.cli import run_mora

REPO = Path(__file__).resolve().parent.parent
MEDIA = REPO / "projects" / "media"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_mora(list(args), cwd, timeout=60)


def test_check_example_is_clean() -> None:
    proc = run("check", str(MEDIA))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "no problems"


def test_check_errors_exit_1_and_render_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "a.mora").write_text('service a { image = "x:1" depends_on = [b] }\n')
    proc = run("check", str(tmp_path))
    assert proc.returncode == 1
    assert "error[E0204]: unknown service `b`" in proc.stderr
    assert proc.stderr.rstrip().endswith("1 error")


def test_warnings_only_exit_0(tmp_path: Path) -> None:
    (tmp_path / "a.mora").write_text('param p: int = 1\nservice a { image = "x:1" }\n')
    proc = run("check", str(tmp_path))
    assert proc.returncode == 0 and "warning[W0001]" in proc.stderr


def test_usage_error_exits_2() -> None:
    proc = run("compile", str(MEDIA), "--target", "nonsense")
    assert proc.returncode == 2


def test_check_json_format(tmp_path: Path) -> None:
    (tmp_path / "a.mora").write_text('service a { image = "x:1" depends_on = [b] }\n')
    proc = run("check", str(tmp_path), "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["errors"] == 1
    assert doc["diagnostics"][0]["code"] == "E0204"
    assert doc["diagnostics"][0]["span"]["line"] == 1


def test_compile_writes_a_manifest_valid_against_the_published_schema(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    proc = run("compile", str(MEDIA), "--domain", "example.org", "--out", "build", cwd=site)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((site / "build" / "manifest.json").read_text())
    schema = json.loads(run("schema").stdout)
    jsonschema.validate(manifest, schema)
    published = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
    assert published == schema, "schemas/manifest.schema.json is stale: run `mora schema`"
    # the secret store landed with the site, not in the shared project
    assert (site / ".mora" / "site.secrets").exists()
    assert not list(MEDIA.glob("*.secrets"))


def test_compile_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for _ in range(2):
        proc = run("compile", str(MEDIA), "--domain", "example.org", "--out", "b", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (tmp_path / f"copy{_}").write_bytes((tmp_path / "b" / "manifest.json").read_bytes())
    assert (tmp_path / "copy0").read_bytes() == (tmp_path / "copy1").read_bytes()


def test_missing_params_exit_1_with_all_of_them(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.mora").write_text(
        'param a: email\nparam b: hostname\nservice s { image = "x:1" '
        "environment { A = param.a B = param.b } }\n"
    )
    proc = run("compile", str(tmp_path / "p"), "--domain", "example.org", cwd=tmp_path)
    assert proc.returncode == 1
    assert "missing required param `a`" in proc.stderr
    assert "missing required param `b`" in proc.stderr


@pytest.mark.parametrize("data", [b"\xff\xfe\x00garbage", b"service {{{", b"\x00" * 10, b""])
def test_garbage_never_tracebacks(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "a.mora").write_bytes(data)
    proc = run("check", str(tmp_path))
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1)


def test_cli_runner_in_process_matches() -> None:
    result = CliRunner().invoke(cli, ["check", str(MEDIA)])
    assert result.exit_code == 0


def test_a_failed_compile_creates_no_store_and_no_key(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.mora").write_text(
        "param x: string\nsecret s = hex(16)\n"
        'service a { image = "x:1" environment { S = secret.s X = param.x } }\n'
    )
    env_home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "mora.cli", "compile", "p", "--domain", "example.org"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(env_home)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "missing required param `x`" in proc.stderr
    assert not (tmp_path / ".mora").exists() and not env_home.exists()


def test_an_unwritable_output_directory_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    proc = run("compile", str(MEDIA), "--domain", "example.org", "--out", "afile/sub", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error[E0507]: cannot write" in proc.stderr and "internal error" not in proc.stderr


def test_a_wrong_project_path_says_what_a_project_is(tmp_path: Path) -> None:
    """E0100 without help left a new user guessing (`mora secrets rotate PROJECT NAME` with
    the two swapped says `no such project: NAME`)."""
    missing = run_mora(["check", "nope"], cwd=tmp_path)
    assert missing.returncode == 1
    assert "error[E0100]: no such project: `nope`" in missing.stderr
    assert "= help: give the path of a project directory" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = run_mora(["check", "empty"], cwd=tmp_path)
    assert empty.returncode == 1
    assert "= help: a project is a directory of .mora files" in empty.stderr


@pytest.mark.parametrize("command", [["apply"], ["plan"], ["diff"], ["secrets", "rotate"]])
def test_domain_help_does_not_call_it_optional(command: list[str]) -> None:
    """`--domain` said "(if generator arguments use it)" on commands that always need a domain
    (they compile): a user left it out and got E0503."""
    proc = run_mora([*command, "--help"])
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "The site's domain, unless the site file sets `domain:`" in text
    assert "(if generator arguments use it)" not in text
