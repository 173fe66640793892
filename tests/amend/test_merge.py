"""The merge rules of mora/amend/merge.py, one by one, on parsed bodies.

Each test merges an amend body into a base body and compares the result with the body a person
would write by hand, both printed by `mora fmt`'s printer from the tree (spans ignored)."""

from __future__ import annotations

import pytest

from mora import ast
from mora.amend.merge import Unmergeable, merge
from mora.diagnostics import Diagnostics
from mora.parser import parse_module
from mora.source import SourceFile
from mora.vocabulary import service as V


def _body(src: str) -> ast.Body:
    diags = Diagnostics()
    module = parse_module(SourceFile("t.mora", f"service s {{\n{src}\n}}\n"), diags)
    assert not diags.has_errors, [str(d) for d in diags]
    decl = module.decls[0]
    assert isinstance(decl, ast.ServiceDecl) and decl.body is not None
    return decl.body


def _shape(node: object) -> object:
    """A node without its spans, so two trees from different text compare by structure."""
    if isinstance(node, ast.Node):
        fields = [_shape(getattr(node, f)) for f in node._fields if f != "span"]
        return (type(node).__name__, *fields)
    if isinstance(node, tuple):
        return tuple(_shape(x) for x in node)
    return node


def _sorted_entries(body: ast.Body) -> object:
    """Entries compared as a set: the merge may move an entry to the end, order means nothing."""
    return sorted(repr(_shape(e)) for e in body.entries)


def assert_merges(base: str, amend: str, expected: str) -> None:
    merged = merge(_body(base), _body(amend), V.BLOCK_ATTRS)
    assert _sorted_entries(merged) == _sorted_entries(_body(expected))


def test_a_value_attribute_is_replaced() -> None:
    assert_merges('image = "a:1"\nuser = "1:1"', 'image = "a:2"', 'image = "a:2"\nuser = "1:1"')


def test_a_value_set_inside_an_if_is_replaced_in_every_branch() -> None:
    assert_merges(
        'if param.x { user = "1:1" image = "i:1" } else { user = "2:2" }',
        'user = "3:3"',
        'if param.x { image = "i:1" }\nuser = "3:3"',
    )


def test_block_entries_merge_by_key() -> None:
    assert_merges(
        'environment { A = "1" B = "2" }',
        'environment { B = "3" C = "4" }',
        'environment { A = "1" B = "3" C = "4" }',
    )


def test_a_map_literal_is_the_same_block() -> None:
    assert_merges(
        'environment = { A: "1", B: "2" }',
        'environment { B = "3" }',
        'environment { A = "1" B = "3" }',
    )


def test_settings_blocks_merge_by_key() -> None:
    assert_merges(
        "resources { cpu = 1 memory = 1Gi }\nsecurity { run_as_user = 1 }",
        'resources { memory_limit = 4Gi }\nsecurity { privileged = true reason = "gpu" }',
        "resources { cpu = 1 memory = 1Gi memory_limit = 4Gi }\n"
        'security { run_as_user = 1 privileged = true reason = "gpu" }',
    )


def test_a_block_the_base_lacks_is_added() -> None:
    assert_merges('image = "a:1"', "labels { team = \"x\" }", 'image = "a:1"\nlabels { team = "x" }')


def test_depends_on_and_placement_keep_both_entries() -> None:
    """The evaluator unions them (tests/amend/test_pairs.py proves the outputs)."""
    assert_merges(
        'depends_on = [a]\nplacement = ["x"]',
        'depends_on = [b]\nplacement = ["y"]',
        'depends_on = [a]\ndepends_on = [b]\nplacement = ["x"]\nplacement = ["y"]',
    )


def test_a_block_inside_the_bases_if_is_hoisted() -> None:
    assert_merges(
        'if param.x { environment { A = "1" } image = "i:1" }',
        'environment { B = "2" }',
        'if param.x { image = "i:1" }\nenvironment { if param.x { A = "1" } B = "2" }',
    )


def test_an_amend_if_keeps_the_base_value_where_it_does_not_hold() -> None:
    assert_merges(
        'environment { A = "1" }',
        'environment { if param.x { A = "2" } }',
        'environment { if param.x { A = "2" } else { A = "1" } }',
    )


def test_an_amend_if_else_chain_is_cut_per_key_and_filled_with_the_base() -> None:
    """`user` is set only where `param.x` holds (elsewhere the base's); `image` only under
    `param.y` and not `param.x`: each key keeps the conditions that lead to it."""
    assert_merges(
        'user = "0:0"',
        'if param.x { user = "1:1" } else if param.y { image = "i:1" }',
        'if param.x { user = "1:1" } else { user = "0:0" }\n'
        'if param.x { } else if param.y { image = "i:1" }',
    )


def test_adding_to_a_computed_block_is_refused() -> None:
    with pytest.raises(Unmergeable) as err:
        merge(_body("environment = args.env"), _body('environment { A = "1" }'), V.BLOCK_ATTRS)
    assert err.value.key == "environment"


def test_a_computed_amend_block_replaces_the_whole_block() -> None:
    assert_merges('environment { A = "1" }', "environment = args.env", "environment = args.env")
