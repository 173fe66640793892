"""Property tests: whatever the input, the library answers with diagnostics, never an exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mora.api import check_project, compile_project
from mora.diagnostics import render_json, render_text
from mora.loader import load_project
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "projects" / "media" / "media.mora").read_text()
EXAMPLE_LINES = EXAMPLE.splitlines(keepends=True)
TOKENS = [
    "service",
    "param",
    "secret",
    "input",
    "template",
    "amend",
    "if",
    "else",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "=",
    ":",
    ",",
    ".",
    '"',
    "${",
    "#",
    "\n",
    "10Gi",
    "30s",
    "secret.db_password",
    "param.timezone",
    "db",
    "jellyfin",
    "&&",
    "!",
    "==",
    '"""',
    "\\",
    "image",
    "ports",
]
PROVIDER = MemoryProvider(seed=b"prop")

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _run_everything(tmp: Path, text: str) -> None:
    project = tmp / "p"
    project.mkdir(exist_ok=True)
    (project / "main.mora").write_text(text, encoding="utf-8", errors="surrogatepass")
    checked = check_project(project)
    for d in checked.diagnostics.sorted():
        render_text(d)
    render_json(checked.diagnostics.sorted())
    if not checked.diagnostics.has_errors:
        result = compile_project(project, domain="example.org", provider=PROVIDER)
        for d in result.diagnostics.sorted():
            render_text(d)


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    _run_everything(tmp_path_factory.mktemp("t"), text.replace("\x00", ""))


@SETTINGS
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=60), sep=st.sampled_from([" ", "", "\n"]))
def test_token_soup(tmp_path_factory, tokens: list[str], sep: str) -> None:  # type: ignore[no-untyped-def]
    _run_everything(tmp_path_factory.mktemp("t"), sep.join(tokens))


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    lines = list(EXAMPLE_LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "char" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            c = draw(st.sampled_from(list('{}[]()="$:., x1\\#')))
            lines[i] = lines[i][:k] + c + lines[i][k + 1 :]
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(TOKENS)) + "\n")
    return "".join(lines)


@SETTINGS
@given(text=mutated_example())
def test_mutated_example(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    _run_everything(tmp_path_factory.mktemp("t"), text)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes(tmp_path_factory, data: bytes) -> None:  # type: ignore[no-untyped-def]
    project = tmp_path_factory.mktemp("b")
    (project / "main.mora").write_bytes(data)
    from mora.diagnostics import Diagnostics

    diags = Diagnostics()
    load_project(project, diags)
    check_project(project)
