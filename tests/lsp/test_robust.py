"""Whatever the editor sends as the document, `mora lsp` answers with diagnostics and results.

One server session takes hypothesis-generated edits (incremental changes at any place, with
brackets, quotes, interpolations, keywords, astral characters, control characters): after each,
the diagnostics for the document arrive, every request gets a result (not an error) and no
internal error is logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lsp.client import Client

REPO = Path(__file__).resolve().parents[2]
BASE = (REPO / "projects" / "media" / "media.mora").read_text()
PIECES = [
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    '"',
    '"""',
    "${",
    '}"',
    "#",
    "\n",
    "=",
    ":",
    ",",
    ".",
    "service x ",
    "template t(a: string) ",
    "param p: int = ",
    "secret s = hex(8)\n",
    "input i: string {}",
    "if true ",
    "else ",
    "import postgres\n",
    'import "../x"\n',
    "param.",
    "secret.",
    "args.",
    "10Gi",
    "-1",
    "\U0001f600",
    "é",
    "\x00",
    "\t",
    "",
]


class Session:
    def __init__(self, root: Path) -> None:
        self.client = Client(cwd=root)
        self.client.initialize(root)
        self.path = root / "media.mora"
        self.path.write_text(BASE)
        self.text = BASE
        self.uri = self.client.open(self.path)
        self.client.diagnostics(self.uri)

    def position(self, offset: int) -> dict[str, int]:
        before = self.text[:offset]
        line = before.count("\n")
        chunk = before[before.rfind("\n") + 1 :]
        return {"line": line, "character": len(chunk.encode("utf-16-le")) // 2}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    s = Session(tmp_path_factory.mktemp("lsp-robust"))
    yield s
    assert s.client.close() == 0


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 4000), st.integers(0, 40), st.sampled_from(PIECES)),
        min_size=1,
        max_size=4,
    ),
    probe=st.integers(0, 4000),
    restore=st.booleans(),
)
def test_random_edits_never_break_the_server(
    session: Session, edits: list[tuple[int, int, str]], probe: int, restore: bool
) -> None:
    c = session.client
    if restore:  # sometimes start again from a healthy text, so edits also hit valid programs
        session.text = BASE
        c.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": session.uri}, "contentChanges": [{"text": BASE}]},
        )
        c.diagnostics(session.uri)
    for start, length, piece in edits:
        start = min(start, len(session.text))
        end = min(start + length, len(session.text))
        rng = {"start": session.position(start), "end": session.position(end)}
        c.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": session.uri},
                "contentChanges": [{"range": rng, "text": piece}],
            },
        )
        session.text = session.text[:start] + piece + session.text[end:]
        for d in c.diagnostics(session.uri):
            assert d["code"] and d["message"] and d["range"]["start"]["line"] >= 0
    at = {
        "textDocument": {"uri": session.uri},
        "position": session.position(min(probe, len(session.text))),
    }
    for method, params in (
        ("textDocument/hover", at),
        ("textDocument/definition", at),
        ("textDocument/completion", at),
        ("textDocument/documentSymbol", {"textDocument": {"uri": session.uri}}),
        ("textDocument/formatting", {"textDocument": {"uri": session.uri}}),
    ):
        response = c.request_raw(method, params)
        assert "error" not in response, (method, response, session.text)
    logged = [m for m in c.notifications if m.get("method") == "window/logMessage"]
    assert logged == [], logged
    c.notifications = [
        m for m in c.notifications if m.get("method") != "textDocument/publishDiagnostics"
    ]
