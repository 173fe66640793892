"""Small helpers for unit tests: check or compile source text given inline."""

from __future__ import annotations

from pathlib import Path

from mora.api import CheckResult, CompileResult, check_project, compile_project
from mora.diagnostics import Diagnostic
from mora.secrets.provider import MemoryProvider


def write_project(tmp: Path, source: str, name: str = "main.mora") -> Path:
    project = tmp / "project"
    project.mkdir(exist_ok=True)
    (project / name).write_text(source, encoding="utf-8")
    return project


def check_src(tmp: Path, source: str) -> CheckResult:
    return check_project(write_project(tmp, source))


def compile_src(
    tmp: Path,
    source: str,
    domain: str | None = "example.org",
    sets: list[str] | None = None,
    answers: dict[str, str] | None = None,
) -> CompileResult:
    return compile_project(
        write_project(tmp, source),
        domain=domain,
        sets=sets,
        provider=MemoryProvider(seed=b"unit", values=answers or {}),
    )


def codes(diags: object) -> list[str]:
    return [d.code for d in diags.sorted()]  # type: ignore[attr-defined]


def errors(diags: object) -> list[Diagnostic]:
    return [d for d in diags.sorted() if d.is_error]  # type: ignore[attr-defined]
