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
