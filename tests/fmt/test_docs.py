"""The ```mora examples of the docs are in `mora fmt`'s layout and stay so (issue 16).

`scripts/fmt-docs` formats them in place; this test fails when one is not formatted, when a
```mora example is not mora at all, or when the number of deliberately wrong examples (fenced
```mora-invalid, skipped) changes without this test saying so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from mora.fmt.markdown import format_example, format_markdown

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOCS += sorted((REPO / "docs" / "stdlib").glob("*.md"))
# examples fenced ```mora-invalid on purpose (a syntax error shown); change with intent
INVALID_EXAMPLES = 0


def test_docs_examples_are_formatted() -> None:
    statuses: dict[str, int] = {}
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        new, examples = format_markdown(text)
        for e in examples:
            assert e.status != "error", f"{doc.relative_to(REPO)}:{e.line}: {e.message}"
            statuses[e.status] = statuses.get(e.status, 0) + 1
        assert new == text, f"{doc.relative_to(REPO)}: run scripts/fmt-docs"
    assert statuses.get("unchanged", 0) >= 50  # the real docs were read
    assert statuses.get("invalid", 0) == INVALID_EXAMPLES


def test_a_fragment_is_formatted_at_its_own_indent() -> None:
    """A piece of a service body (not a whole file) is formatted as one, and keeps its indent."""
    body = '  volumes {\n    "/a"  = volume()   # kept\n  }\n'
    assert format_example(body) == '  volumes {\n    "/a" = volume()  # kept\n  }\n'
    assert format_example("service {\n") is None


def test_invalid_examples_are_counted_and_left_alone() -> None:
    text = "a\n\n```mora-invalid\nservice {  \n```\n\n```mora\nparam  x: int = 1\n```\n"
    new, examples = format_markdown(text)
    assert new == text.replace("param  x", "param x")
    assert [(e.line, e.status) for e in examples] == [(3, "invalid"), (7, "formatted")]
    broken = "```mora\nservice {\n```\n"
    assert format_markdown(broken)[0] == broken
    assert [e.status for e in format_markdown(broken)[1]] == ["error"]


def test_script_formats_in_place_and_checks(tmp_path: Path) -> None:
    """scripts/fmt-docs as run from a shell: --check names the file, then formats it in place."""
    doc = tmp_path / "doc.md"
    doc.write_text("```mora\nsecret  a = hex(16)\n```\n", encoding="utf-8")
    script = REPO / "scripts" / "fmt-docs"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    assert shutil.which("bash")
    checked = subprocess.run(
        [script, "--check", doc], env=env, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 1 and "doc.md" in checked.stderr
    assert doc.read_text() == "```mora\nsecret  a = hex(16)\n```\n"
    done = subprocess.run([script, doc], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert doc.read_text() == "```mora\nsecret a = hex(16)\n```\n"
    assert "1 formatted" in done.stderr
