"""Instance bodies and `amend` as syntax: parsed, formatted by `mora fmt` (round trip, fixed
point), listed in the editor's outline, and recovered from after a syntax error."""

from __future__ import annotations

from pathlib import Path

from mora import ast
from mora.diagnostics import Diagnostics
from mora.fmt import format_source
from mora.lsp.analysis import LineIndex
from mora.lsp.features import symbols
from mora.parser import parse_module
from mora.source import SourceFile

CANONICAL = """\
import jellyfin

service watch = jellyfin(media: "/srv/media", subdomain: "watch") {
  placement = ["gpu"]
  resources { memory_limit = 4Gi }
  environment { X = "1" }
}

amend watch {  # a comment stays
  if param.gpu {
    devices = ["/dev/dri"]
  }
}

amend media.watch {
  placement = ["gpu"]
}
"""


def _parse(text: str) -> tuple[ast.Module, Diagnostics]:
    diags = Diagnostics()
    return parse_module(SourceFile("t.mora", text), diags), diags


def test_both_forms_parse() -> None:
    module, diags = _parse(CANONICAL)
    assert not diags.has_errors
    _imp, watch, amend, dotted = module.decls
    assert isinstance(watch, ast.ServiceDecl) and watch.instance is not None
    assert watch.body is not None and len(watch.body.entries) == 3
    assert isinstance(amend, ast.AmendDecl) and amend.target.dotted == "watch"
    assert isinstance(dotted, ast.AmendDecl) and dotted.target.dotted == "media.watch"


def test_fmt_keeps_the_canonical_layout_and_reaches_it_in_one_step() -> None:
    assert format_source(CANONICAL).text == CANONICAL
    squashed = (
        'import jellyfin\nservice watch = jellyfin(media: "/srv/media", subdomain: "watch") '
        '{ placement = ["gpu"]\n resources { memory_limit = 4Gi } environment { X = "1" } }\n'
        "amend watch {  # a comment stays\n if param.gpu { devices = [\"/dev/dri\"] } }\n"
        'amend media.watch { placement = ["gpu"] }\n'
    )
    once = format_source(squashed).text
    assert once == CANONICAL
    assert format_source(once).text == once


def test_the_outline_lists_an_amend_with_its_entries() -> None:
    module, _ = _parse(CANONICAL)
    outline = symbols(module, LineIndex(CANONICAL))
    assert [(s["name"], s["kind"]) for s in outline] == [
        ("jellyfin", 3),
        ("watch", 5),
        ("amend watch", 5),
        ("amend media.watch", 5),
    ]
    assert [c["name"] for c in outline[1]["children"]] == ["placement", "resources", "environment"]
    assert [c["name"] for c in outline[3]["children"]] == ["placement"]


def test_an_amend_after_a_syntax_error_is_still_read() -> None:
    """The parser resumes at the next line that starts a declaration, `amend` among them."""
    module, diags = _parse('service db {\n  image =\n}\n\namend watch {\n  user = "1:1"\n}\n')
    assert diags.has_errors
    assert any(isinstance(d, ast.AmendDecl) for d in module.decls)


def test_the_editor_knows_an_amend_target_and_its_attributes(tmp_path: Path) -> None:
    """Go to definition on the target lands on the service; hover on an attribute shows its
    vocabulary row, as in a service body."""
    from mora.lsp.analysis import analyse
    from mora.lsp.features import definition, hover

    text = (
        'service web {\n  image = "docker.io/library/nginx:1.27.3"\n  user = "1:1"\n}\n\n'
        'amend web {\n  placement = ["x"]\n}\n'
    )
    path = tmp_path / "main.mora"
    path.write_text(text)
    an = analyse(path, text, {})
    module = an.modules[path.resolve()]
    [loc] = definition(an, module, text.index("amend web") + len("amend w"))
    assert loc["range"]["start"] == {"line": 0, "character": 8}
    shown = hover(an, module, text.index("placement") + 2)
    assert shown is not None and "host tags" in shown
