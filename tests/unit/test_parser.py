from __future__ import annotations

from mora import ast
from mora.diagnostics import Diagnostics
from mora.parser import parse_expression, parse_module
from mora.source import SourceFile


def parse(text: str) -> tuple[ast.Module, Diagnostics]:
    diags = Diagnostics()
    return parse_module(SourceFile("t.mora", text), diags), diags


def expr(text: str) -> ast.Expr:
    diags = Diagnostics()
    result = parse_expression(SourceFile("e", text), diags)
    assert not diags.items, [d.message for d in diags]
    assert result is not None
    return result


def test_declarations_and_spans() -> None:
    module, diags = parse('project media\nparam tz: string = "UTC"\nservice a { image = "x:1" }\n')
    assert not diags.items
    project, param, service = module.decls
    assert isinstance(project, ast.ProjectDecl) and project.name.text == "media"
    assert isinstance(param, ast.ParamDecl)
    assert param.name.span.location() == "t.mora:2:7"
    assert param.type.name.text == "string"
    assert isinstance(service, ast.ServiceDecl) and service.body is not None
    attr = service.body.entries[0]
    assert isinstance(attr, ast.Attr) and attr.key.text == "image"
    assert attr.value.span.text() == '"x:1"'


def test_newlines_are_not_significant() -> None:
    module, diags = parse('service a {\n image =\n  "x:1"\n depends_on = [\n  b,\n  c,\n ]\n}')
    assert not diags.items
    body = module.decls[0].body  # type: ignore[union-attr]
    deps = body.entries[1].value
    assert isinstance(deps, ast.ListExpr)
    assert [i.value.dotted for i in deps.items] == ["b", "c"]  # type: ignore[union-attr]


def test_interpolation_parts_and_inner_spans() -> None:
    module, diags = parse('service a { image = "r/${param.name}:${param.tag}-x" }')
    assert not diags.items
    value = module.decls[0].body.entries[0].value  # type: ignore[union-attr]
    assert isinstance(value, ast.StringLit)
    assert value.parts[0] == "r/"
    inner = value.parts[1]
    assert isinstance(inner, ast.Ref) and inner.dotted == "param.name"
    assert inner.span.text() == "param.name"
    assert value.parts[-1] == "-x"


def test_escapes_and_literal_dollar() -> None:
    value = expr(r'"a\n\"b\" \${not} $x"')
    assert isinstance(value, ast.StringLit)
    assert value.parts == ('a\n"b" ${not} $x',)


def test_triple_quoted_strings_are_dedented() -> None:
    value = expr('"""\n    line one\n      two ${x}\n    end"""')
    assert isinstance(value, ast.StringLit)
    assert value.parts[0] == "line one\n  two "
    assert isinstance(value.parts[1], ast.Ref)
    assert value.parts[2] == "\nend"


def test_units_calls_lists_maps_and_operators() -> None:
    call = expr('volume(size: 10Gi, name: "x")')
    assert isinstance(call, ast.Call) and call.func.dotted == "volume"
    assert isinstance(call.args[0].value, ast.UnitLit) and call.args[0].value.text == "10Gi"
    lst = expr('["/dev/dri" if param.gpu, "b"]')
    assert isinstance(lst, ast.ListExpr) and lst.items[0].condition is not None
    mp = expr('{ a: 1 "b-c": true, d: [1] }')
    assert isinstance(mp, ast.MapExpr) and [e.key.text for e in mp.entries] == ["a", "b-c", "d"]
    op = expr('!param.a && param.b == "x" || param.c')
    assert isinstance(op, ast.Binary) and op.op == "||"
    assert isinstance(op.left, ast.Binary) and op.left.op == "&&"


def test_keywords_are_plain_names_in_maps_and_references() -> None:
    mp = expr("{ service: 1, input: 2, secret: secret.x }")
    assert isinstance(mp, ast.MapExpr)
    assert [e.key.text for e in mp.entries] == ["service", "input", "secret"]


def test_if_else_chain() -> None:
    module, diags = parse('service a { if param.x { user = "1" } else if param.y { } else { } }')
    assert not diags.items
    entry = module.decls[0].body.entries[0]  # type: ignore[union-attr]
    assert isinstance(entry, ast.IfEntry)
    assert isinstance(entry.otherwise, ast.IfEntry)
    assert isinstance(entry.otherwise.otherwise, ast.Body)


def test_syntax_error_is_a_diagnostic_with_expected_tokens() -> None:
    _, diags = parse('service a {\n  image "x"\n}\n')
    (d,) = diags.items
    assert d.code == "E0001"
    assert d.span is not None and d.span.location() == "t.mora:2:9"
    assert "`=`" in d.label and "`{`" in d.label


def test_recovery_reports_each_broken_declaration_and_keeps_good_ones() -> None:
    src = "service a {\n  image = \n}\nparam ok: int = 1\nservice b {\n  ports { http: 1 }\n}\n"
    module, diags = parse(src)
    assert [d.code for d in diags.items] == ["E0001", "E0001"]
    assert [d.span.line for d in diags.items if d.span] == [3, 6]
    assert any(isinstance(x, ast.ParamDecl) and x.name.text == "ok" for x in module.decls)


def test_unterminated_string() -> None:
    _, diags = parse('service a {\n  image = "abc\n}\n')
    assert [d.code for d in diags.items] == ["E0002"]
    assert diags.items[0].span.location() == "t.mora:2:11"  # type: ignore[union-attr]


def test_bad_escape_and_unclosed_interpolation() -> None:
    _, diags = parse('param a: string = "x\\q ${param.b"\n')
    assert sorted(d.code for d in diags.items) == ["E0003", "E0004"]


def test_error_inside_interpolation_points_into_the_string() -> None:
    _, diags = parse('param a: string = "x ${param.}"\n')
    (d,) = diags.items
    assert d.code == "E0004"
    assert d.span is not None and d.span.file.text[d.span.start] == "}"


def test_a_comma_between_block_entries_says_how_they_are_separated() -> None:
    """`security { privileged = true, reason = "..." }` (as a map would be written) got only
    "unexpected `,`"; a map keeps its commas."""
    _, diags = parse('service a {\n  security { privileged = true, reason = "gpu" }\n}\n')
    [diag] = diags.items
    assert diag.code == "E0001" and diag.span is not None
    assert diag.span.location() == "t.mora:2:31"
    assert diag.help is not None and "not commas" in diag.help
    _, diags = parse('service a {\n  json = { a: 1, b: 2 }\n}\n')
    assert not diags.items
