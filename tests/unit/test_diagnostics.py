from __future__ import annotations

import json

from mora.diagnostics import Diagnostics, Label, closest, render_json, render_text
from mora.source import SourceFile, Span


def test_render_text_has_code_location_caret_labels_and_help() -> None:
    f = SourceFile("apps.mora", "service a {\n  depends_on = [jelyfin]\n}\nservice jellyfin {}\n")
    start = f.text.index("jelyfin")
    d = Diagnostics()
    d.error(
        "E0204",
        "unknown service `jelyfin`",
        Span(f, start, start + 7),
        "not defined in this project",
        labels=[
            Label(Span(f, f.text.index("jellyfin"), f.text.index("jellyfin") + 8), "this one?")
        ],
        help="did you mean `jellyfin`?",
    )
    assert render_text(d.items[0]) == (
        "error[E0204]: unknown service `jelyfin`\n"
        " --> apps.mora:2:17\n"
        "  |\n"
        "2 |   depends_on = [jelyfin]\n"
        "  |                 ^^^^^^^ not defined in this project\n"
        "  |\n"
        "4 | service jellyfin {}\n"
        "  |         -------- this one?\n"
        "  = help: did you mean `jellyfin`?"
    )


def test_json_rendering_is_machine_readable() -> None:
    f = SourceFile("a.mora", "x\n")
    d = Diagnostics()
    d.warning("W0001", "unused", Span(f, 0, 1), "here")
    doc = json.loads(render_json(d.items))
    assert doc["warnings"] == 1 and doc["errors"] == 0
    assert doc["diagnostics"][0]["span"] == {
        "file": "a.mora",
        "line": 1,
        "column": 1,
        "end_line": 1,
        "end_column": 2,
    }


def test_did_you_mean_prefers_close_names_and_refuses_far_ones() -> None:
    assert closest("jelyfin", ["jellyfin", "sonarr"]) == "jellyfin"
    assert closest("sonar", ["sonarr", "radarr"]) == "sonarr"
    assert closest("imag", ["image", "user"]) == "image"
    assert closest("xyz", ["image", "user"]) is None
