"""The Kubernetes YAML is the same whichever emitter writes it: libyaml's (fast) or PyYAML's own.

PyYAML's pure-Python emitter is the reference. libyaml writes a few kinds of text differently;
documents holding such text take the pure-Python path, so these tests compare both on the
example projects and on random documents, and check that libyaml really is used where it can be.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mora.api import compile_project
from mora.backends import kubernetes
from mora.diagnostics import Diagnostics
from mora.secrets.provider import MemoryProvider

REPO = Path(__file__).resolve().parents[2]
PROJECTS = sorted(p.name for p in (REPO / "projects").iterdir() if p.is_dir())
needs_libyaml = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="PyYAML built without libyaml"
)


@needs_libyaml
@pytest.mark.parametrize("project", PROJECTS)
def test_example_projects_same_bytes_from_both_emitters(project: str, tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    result = compile_project(
        REPO / "projects" / project, site_file=site, provider=MemoryProvider(seed=b"yaml")
    )
    assert result.compiled is not None, [d.message for d in result.diagnostics]
    docs = kubernetes.render(result.compiled, False, Diagnostics())  # type: ignore[arg-type]
    assert docs
    fast = [d for d in docs if kubernetes._libyaml_safe(d.body)]
    assert len(fast) >= len(docs) * 0.9  # libyaml does nearly all the work
    writer = kubernetes.new_writer()
    laid_out = [d for d in docs if writer.document(d.body) is not None]
    assert len(laid_out) >= len(docs) * 0.9  # and the block writer lays out nearly every one
    for doc in docs:
        reference = kubernetes.to_yaml(doc.body, pure=True)
        assert kubernetes.to_yaml(doc.body, writer=writer) == reference, doc.path
        assert kubernetes.to_yaml(doc.body) == reference, doc.path


@needs_libyaml
def test_text_libyaml_writes_differently_takes_the_reference_emitter() -> None:
    """Each of these differs under libyaml; the fallback keeps the reference bytes."""
    for text in ("emoji \U0001f600", "nel\x85x", "config\n\n", "\n"):
        body = {"data": {"a": text}, "kind": "ConfigMap"}
        assert not kubernetes._libyaml_safe(body)
        reference = kubernetes.to_yaml(body, pure=True)
        assert kubernetes.to_yaml(body) == reference
        raw = yaml.dump(
            body,
            Dumper=kubernetes._CDumper,
            sort_keys=True,
            default_flow_style=False,
            allow_unicode=True,
            width=1_000_000,
        )
        assert raw != reference, text  # proves the fallback is needed, not decoration


PUNCTUATION = list("\n\t :#-'\"|>{}[],&*!%@`?\\.=/")
WORDS = [
    "k" * 127,
    "k" * 128,
    "k" * 129,
    "é" * 129,
    "a\nb" * 40,
    "",
    "null",
    "yes",
    "1.0",
    "0o7",
    "~",
    "- a",
    "a: b",
    "a\n",
    " a",
    "a ",
    "\na\n b\n",
]


def bodies(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    """Nested mappings and lists of text (from `alphabet`), numbers, booleans and nulls."""
    text = st.text(alphabet, max_size=30) | st.sampled_from(WORDS)
    scalars = text | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=20,
    )
    return st.dictionaries(text, nested, min_size=1, max_size=5)


@settings(max_examples=400, deadline=None)
@given(bodies(st.characters(codec="utf-8") | st.sampled_from(PUNCTUATION)))
@example(body={"0": -0.0, "00": 0.0})  # one cache entry for 0.0 and -0.0 wrote "-0.0" twice
def test_random_documents_same_bytes_from_every_path(body: dict) -> None:
    """The block writer (or its fallback) and libyaml (or its fallback) match the reference."""
    reference = kubernetes.to_yaml(body, pure=True)
    assert kubernetes.to_yaml(body) == reference
    assert kubernetes._dump(body, False) == reference


@settings(max_examples=400, deadline=None)
@given(bodies(st.sampled_from([*PUNCTUATION, "a", "B", "0", "9", "_", " ", "\n", "é"])))
def test_random_documents_in_the_block_writers_shape(body: dict) -> None:
    """Mostly-supported documents: the writer itself (not its fallback) gives PyYAML's bytes."""
    text = kubernetes.new_writer().document(body)
    if text is not None:
        assert text == kubernetes.to_yaml(body, pure=True)


@settings(max_examples=400, deadline=None)
@given(bodies(st.sampled_from([*PUNCTUATION, "a", "B", "0", "9", "_", " ", "\n", "é"])))
def test_a_writer_that_knows_every_text_writes_the_same_bytes(body: dict) -> None:
    """A second document with the same texts takes the writer's inline paths (every text
    memoised, ints and nested blocks written in place): still PyYAML's bytes."""
    writer = kubernetes.new_writer()
    first = writer.document(body)
    if first is not None:
        assert writer.document(body) == first == kubernetes.to_yaml(body, pure=True)
        nested = {"a": [body, [body, 1, "x"], {"b": body}]}
        assert writer.document(nested) == kubernetes.to_yaml(nested, pure=True)


def test_block_writer_declines_what_it_cannot_lay_out() -> None:
    writer = kubernetes.new_writer()
    for body in (
        {},
        {"": 1},
        {"k" * 61: 1},
        {"a\nb": 1},
        {1: "x"},
        {"k": ("t",)},
        {"k": "nel\x85x"},
    ):
        assert writer.document(body) is None, body
        assert kubernetes.to_yaml(body) == kubernetes.to_yaml(body, pure=True)
    assert writer.document({"k": "a\nb"}) == "k: |-\n  a\n  b\n"
    assert writer.document({"k": "a\nb "}) == 'k: "a\\nb "\n'  # no literal: trailing space


@needs_libyaml
@settings(max_examples=300, deadline=None)
@given(
    bodies(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E)
        | st.sampled_from(PUNCTUATION)
        | st.characters(min_codepoint=0xA0, max_codepoint=0x2000)
    )
)
def test_random_documents_libyaml_takes_same_bytes(body: dict) -> None:
    """Text libyaml is trusted with: it is used (no fallback) and agrees byte for byte."""
    if not kubernetes._libyaml_safe(body):  # only for a `|+` literal, an empty or long key
        assert any(_blank_end(v) for v in _strings(body)) or any(
            not k or len(k) > 60 for k in _keys(body)
        )
        return
    raw = yaml.dump(
        body,
        Dumper=kubernetes._CDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
    assert raw == kubernetes.to_yaml(body, pure=True)


def _blank_end(text: str) -> bool:
    return text.endswith("\n\n") or text == "\n"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


# Characters that steer PyYAML's choice of style or type: indicators, digits and the letters of
# numbers, booleans, nulls and timestamps, spaces and breaks, and some Unicode.
_RESOLVER_ALPHABET = list("0123456789-+._:eExXoObBtTzZ ~<=#'\"\n\t,[]{}?|>!&*%@`")
_RESOLVER_ALPHABET += [*"yYnNaAsSlLuUrRfFiI", "é", "\u2028", "\x85", "\ufeff", "\U0001f600"]
_TYPED_WORDS = [
    "1_000",
    "0b101",
    "0o17",
    "017",
    "0x1F",
    "190:20:30",
    "1:60",
    "-1.5e+3",
    "1e3",
    ".5",
    "+.inf",
    ".NaN",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-1-2 3:04:05 Z",
    "<<",
    "=",
    "~",
    "Null",
    "on",
    "OFF",
    "y",
    "n",
    "--- a",
    "... a",
    "a: b",
    "a :b",
    "a #b",
    "a#b",
    "-a",
    "- a",
    "?",
    "? a",
    ":a",
    "'",
    "a'b",
    "8080",
    "1.2.3",
    "v1.2",
    "a\n b\n",
    "\n a",
    "a\nb\n\n",
]


@settings(max_examples=1500, deadline=None)
@given(
    st.text(st.sampled_from(_RESOLVER_ALPHABET), max_size=24)
    | st.text(max_size=12)
    | st.sampled_from(_TYPED_WORDS)
    | st.integers()
    | st.booleans()
    | st.none()
    | st.floats()
)
@example(value="1_000")
@example(value="2001-12-14 21:59:43.10 -5")
@example(value=float("-inf"))
@example(value=1e16)
def test_own_scalars_are_the_text_pyyaml_writes(value: object) -> None:
    """Every scalar the block writer writes without PyYAML is PyYAML's text, as value and key."""
    from mora.backends.kubernetes.emit import own_scalar

    mine = own_scalar(value)
    if mine is None:
        return  # PyYAML is asked
    reference = kubernetes.to_yaml({"k": value}, pure=True)
    if isinstance(mine, str):
        assert reference == f"k: {mine}\n"
        if isinstance(value, str) and value and len(value) <= 60:
            assert kubernetes.to_yaml({value: 1}, pure=True) == f"{mine}: 1\n"
    else:
        head, lines = mine
        assert reference == f"k: {head}\n" + "".join(f"{line}\n" for line in lines)


def test_own_scalars_cover_the_example_projects_documents(tmp_path: Path) -> None:
    """A compile of the example projects writes its Kubernetes text without importing PyYAML's
    emitter: every scalar of every document is one the block writer decides itself."""
    from mora.backends.kubernetes.emit import own_scalar

    site = tmp_path / "site.yaml"
    site.write_text("domain: example.org\n")
    undecided = []
    for project in PROJECTS:
        result = compile_project(
            REPO / "projects" / project, site_file=site, provider=MemoryProvider(seed=b"yaml")
        )
        assert result.compiled is not None
        for doc in kubernetes.render(result.compiled, False, Diagnostics()) or []:  # type: ignore[arg-type]
            stack = [doc.body]
            while stack:
                value = stack.pop()
                if isinstance(value, dict):
                    stack += [*value, *value.values()]
                elif isinstance(value, list):
                    stack += value
                elif own_scalar(value) is None:
                    undecided.append((project, doc.path, value))
    assert undecided == []


def test_own_scalars_of_long_text_are_pyyamls_too() -> None:
    """Config files run to tens of kilobytes: written without PyYAML up to 100,000 characters."""
    from mora.backends.kubernetes.emit import own_scalar

    line = "key = value with: colons, # hashes and 'quotes'"
    for value in (
        "\n".join([line] * 2000) + "\n",  # a ~96,000-character literal
        " ".join(["word"] * 19_000),  # one ~95,000-character line, plain
        " ".join(["a: b"] * 19_000),  # single-quoted
    ):
        mine = own_scalar(value)
        assert mine is not None
        text = (
            mine if isinstance(mine, str) else f"{mine[0]}\n" + "".join(f"{x}\n" for x in mine[1])
        )
        if isinstance(mine, str):
            text += "\n"
        assert kubernetes.to_yaml({"k": value}, pure=True) == f"k: {text}"
    assert own_scalar("x" * 100_001) is None
