"""Issue 9, defect 6: inputs that used to end in an internal error (exit 3) are diagnostics.

Each runs the real CLI with the parse cache on (its pickle was one of the crashes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mora.parser import MAX_DEPTH
from tests.cli import run_mora
from tests.unit.helpers import compile_src

SERVICE = 'service web {\n  image = "docker.io/library/nginx:1.27"\n}\n'


def _check(tmp_path: Path, source: str) -> tuple[int, str]:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    (project / "main.mora").write_text("project p\n" + source + "\n" + SERVICE)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("MORA_NO_CACHE", None)
    proc = run_mora(["check", str(project)], cwd=tmp_path, env=env)
    assert "internal error" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "value",
    [
        "list(string) = " + "[" * 150 + "]" * 150,
        "list(string) = " + "[" * 500 + "]" * 500,
        "bool = " + " && ".join(["true"] * 1000),
        "bool = " + " || ".join(["true"] * 1000),
        "bool = " + "!" * 1000 + "true",
        "string = json(" + "{a: " * 300 + "1" + "}" * 300 + ")",
    ],
    ids=["list-150", "list-500", "and-1000", "or-1000", "not-1000", "map-300"],
)
def test_deep_nesting_is_a_diagnostic(tmp_path: Path, value: str) -> None:
    code, err = _check(tmp_path, f"param x: {value}")
    assert code == 1 and "E0008" in err and f"more than {MAX_DEPTH} levels" in err, err


def test_nesting_below_the_limit_still_works_and_is_cached(tmp_path: Path) -> None:
    deep = MAX_DEPTH - 10
    value = "json(" + "{a: " * deep + "[1]" + "}" * deep + ")"
    source = 'service cfg {\n  image = "docker.io/library/nginx:1.27"\n'
    source += f'  files {{ "/etc/a.json" = {value} }}\n}}\n'
    for _ in range(2):  # the second run reads the pickled tree from the cache
        code, err = _check(tmp_path, source)
        assert code == 0 and "E0008" not in err, err
    assert list((tmp_path / "cache" / "mora" / "ast").glob("*.pickle"))


def test_nul_inside_a_triple_quoted_string(tmp_path: Path) -> None:
    source = 'param y: string = "q"\nparam x: string = """\n  a\\0b ${param.y} c\n  """\n'
    code, err = _check(tmp_path, source)
    assert code == 0, err  # W0001 (x unused) only
    result = compile_src(
        tmp_path,
        source
        + 'service web {\n  image = "docker.io/library/nginx:1.27"\n'
        + "  environment { X = param.x }\n}\n",
    )
    assert result.compiled is not None
    env = result.compiled.manifest.services["web"].environment  # type: ignore[attr-defined]
    assert env["X"].value == "a\0b q c\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"tok: \xff\xfe\n", "not valid UTF-8"),
        (b"tok: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"tok: " + b"{a: " * 3000 + b"1" + b"}" * 3000 + b"\n", "nested too deeply"),
        (b"tok: " + b"x" * (1024 * 1024 + 1), "larger than 1 MiB"),
        (None, "not a regular file"),  # a fifo: opened without blocking, refused unread
    ],
    ids=["not-utf8", "deep-list", "deep-map", "huge", "fifo"],
)
def test_bad_answers_files_are_usage_errors(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "main.mora").write_text(
        'project p\ninput tok: string { prompt = "a token" }\n'
        'service web {\n  image = "docker.io/library/nginx:1.27"\n'
        "  environment { T = input.tok }\n}\n"
    )
    if content is None:
        os.mkfifo(tmp_path / "answers.yaml")
    else:
        (tmp_path / "answers.yaml").write_bytes(content)
    env = dict(os.environ, MORA_SECRETS_KEY="", XDG_DATA_HOME=str(tmp_path / "data"))
    proc = run_mora(
        [
            "setup",
            str(project),
            "--domain",
            "example.org",
            "--answers",
            "answers.yaml",
            "--secrets",
            "site.secrets",
            "--out",
            "build",
        ],
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
