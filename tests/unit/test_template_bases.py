"""Templates built on another (`template sonarr = servarr(...)`, issue 17).

The golden cases tests/cases/template-base-* show the construct and each error; these pin what
they only imply: `mora fmt` lays the declaration out and keeps its meaning, the editor outline
lists it, the stdlib's sonarr and radarr compile to what their own bodies did, and an instance's
argument beats the default the new template was given.
"""

from __future__ import annotations

from pathlib import Path

from mora.diagnostics import Diagnostics
from mora.fmt import format_source, shape
from mora.parser import parse_module
from mora.source import SourceFile
from tests.unit.helpers import codes, compile_src

BASE = """
template web(image: string, port: port, subdomain: string, memory: size = 256Mi) {
  image = args.image
  subdomain = args.subdomain
  user = "1000:1000"
  ports { http = args.port }
  resources { memory = args.memory }
}
"""


def test_fmt_lays_out_the_declaration_and_keeps_its_meaning() -> None:
    messy = 'template blog=web( image:"ghost:5" ,port :2368,)\n'
    out = format_source(messy, "m.mora").text
    assert out == 'template blog = web(image: "ghost:5", port: 2368)\n'
    assert format_source(out, "m.mora").text == out
    before = parse_module(SourceFile("m.mora", messy), Diagnostics())
    after = parse_module(SourceFile("m.mora", out), Diagnostics())
    assert shape(before) == shape(after)


def test_the_editor_outline_lists_it_as_a_template() -> None:
    from mora.lsp.analysis import LineIndex
    from mora.lsp.features import full_span, symbols

    text = BASE + 'template blog = web(image: "ghost:5", port: 2368)\n'
    module = parse_module(SourceFile("m.mora", text), Diagnostics())
    assert [(s["name"], s["kind"]) for s in symbols(module, LineIndex(text))] == [
        ("web", 12),
        ("blog", 12),
    ]
    span = full_span(module.decls[1])
    assert text[span.start : span.end].startswith("template blog")


def test_an_instance_argument_beats_the_given_default(tmp_path: Path) -> None:
    source = BASE + (
        'template blog = web(image: "docker.io/library/ghost:5.116", port: 2368, '
        'subdomain: "blog", memory: 128Mi)\n'
        "service a = blog()\n"
        'service b = blog(subdomain: "b", memory: 1Gi, port: 8080)\n'
    )
    result = compile_src(tmp_path, source)
    assert result.compiled is not None, codes(result.diagnostics)
    services = result.compiled.manifest.services
    assert services["a"].template == services["b"].template == "blog"
    assert services["a"].resources.memory == "128Mi"  # type: ignore[union-attr]
    assert services["b"].resources.memory == "1Gi"  # type: ignore[union-attr]
    assert [p.target for p in services["b"].ports] == [8080]


def test_a_required_parameter_given_by_no_one_is_still_required(tmp_path: Path) -> None:
    source = (
        BASE + 'template blog = web(image: "docker.io/library/ghost:5.116")\nservice a = blog()\n'
    )
    result = compile_src(tmp_path, source)
    assert "E0306" in codes(result.diagnostics)  # port and subdomain are missing
    assert result.compiled is None


def test_sonarr_and_radarr_are_servarr_with_the_apps_values(tmp_path: Path) -> None:
    """The stdlib modules are one line each; what a Sonarr and a Radarr get still differs where
    the apps differ (names of variables, port, library, category)."""
    source = (
        "import sonarr\nimport radarr\n"
        'service tv = sonarr(media: "/srv/media", download_client_host: "dl")\n'
        'service movies = radarr(media: "/srv/media", download_client_host: "dl")\n'
    )
    result = compile_src(tmp_path, source)
    assert result.compiled is not None, codes(result.diagnostics)
    tv, movies = (result.compiled.manifest.services[n] for n in ("tv", "movies"))
    assert (tv.template, movies.template) == ("sonarr", "radarr")
    assert "SONARR__AUTH__APIKEY" in tv.environment and "RADARR__AUTH__APIKEY" not in tv.environment
    assert "RADARR__AUTH__APIKEY" in movies.environment
    assert [p.target for p in tv.ports] == [8989]
    assert [p.target for p in movies.ports] == [7878]
    root = {s.name: s for s in movies.setup}["root_folder"]
    assert root.body.entries["path"].lit == "/data/media/movies"  # type: ignore[union-attr]
