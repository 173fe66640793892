"""YAML with places: every value read from a compose file keeps its line and column.

PyYAML's composer gives a node graph whose nodes carry start and end marks; this module turns it
into `Node`s (a value plus the `Span` of the value and of the key it sits under), so every
diagnostic of the importer points into the compose file with the same renderer as `mora check`.

YAML features compose files rely on are resolved here, as docker compose does (compose-go reads
with gopkg.in/yaml.v3): anchors and aliases (each use is copied, so a shared anchor still points
at its definition), the merge key `<<` (a mapping or a list of mappings; keys written beside it
win, and among merged mappings the first wins: YAML 1.1 "Merge Key Language-Independent Type"),
and compose's own tags `!reset` and `!override` (compose-spec 13-merge.md), which are kept on the
node for the merge of several files. Expansion is bounded (values and depth), so a "billion
laughs" file ends in a diagnostic, not in exhausted memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mora.source import SourceFile, Span

MAX_VALUES = 200_000
MAX_DEPTH = 64

_RESET, _OVERRIDE = "!reset", "!override"


class YamlProblem(Exception):
    """The text is not YAML we can read; `span` is where, when known."""

    def __init__(self, message: str, span: Span | None) -> None:
        super().__init__(message)
        self.message, self.span = message, span


@dataclass
class Node:
    """One YAML value: a scalar (str, int, float, bool, None), a list of nodes or a str-keyed map.

    `key_span` is the span of the key this value was written under (None for list items and the
    document), `tag` is `!reset` / `!override` when compose's merge tags were used.
    """

    value: Any
    span: Span | None
    key_span: Span | None = None
    tag: str = ""
    _budget: list[int] = field(default_factory=list, repr=False, compare=False)

    @property
    def where(self) -> Span | None:
        """The best place to point at: the key when there is one, else the value."""
        return self.key_span or self.span

    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    def is_list(self) -> bool:
        return isinstance(self.value, list)

    def is_scalar(self) -> bool:
        return not isinstance(self.value, (dict, list))

    def get(self, key: str) -> Node | None:
        return self.value.get(key) if isinstance(self.value, dict) else None

    def plain(self) -> Any:
        """The value without places (lists and maps converted recursively)."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


def _span(file: SourceFile, node: yaml.Node) -> Span:
    return Span(file, node.start_mark.index, max(node.end_mark.index, node.start_mark.index))


class _Builder:
    def __init__(self, file: SourceFile, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.count = 0

    def build(
        self, node: yaml.Node, depth: int, key_span: Span | None, active: tuple[int, ...]
    ) -> Node:
        self.count += 1
        if self.count > MAX_VALUES:
            raise YamlProblem(
                f"the file stands for more than {MAX_VALUES} values once aliases are expanded",
                _span(self.file, node),
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", _span(self.file, node))
        if id(node) in active:
            raise YamlProblem("an alias that contains itself", _span(self.file, node))
        span = _span(self.file, node)
        tag = node.tag if node.tag in (_RESET, _OVERRIDE) else ""
        inner = (*active, id(node))
        if isinstance(node, yaml.MappingNode):
            return Node(self._mapping(node, depth, inner), span, key_span, tag)
        if isinstance(node, yaml.SequenceNode):
            items = [self.build(item, depth + 1, None, inner) for item in node.value]
            return Node(items, span, key_span, tag)
        if tag:
            value: Any = node.value if node.value not in ("", "null", "~") else None
        else:
            try:
                value = self.loader.construct_object(node, deep=True)
            except yaml.YAMLError as err:
                raise YamlProblem(f"cannot read this value: {_reason(err)}", span) from None
        if isinstance(value, (bytes, bytearray)) or not isinstance(
            value, (str, int, float, bool, type(None))
        ):
            value = str(node.value)  # timestamps, binary: compose reads them as text
        return Node(value, span, key_span, tag)

    def _mapping(
        self, node: yaml.MappingNode, depth: int, active: tuple[int, ...]
    ) -> dict[str, Node]:
        own: dict[str, Node] = {}
        merged: dict[str, Node] = {}
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
                for src in sources:
                    built = self.build(src, depth + 1, None, active)
                    if not built.is_map():
                        raise YamlProblem("`<<` merges mappings only", _span(self.file, src))
                    for k, v in built.value.items():
                        merged.setdefault(k, v)  # the first merged mapping wins
                continue
            if not isinstance(knode, yaml.ScalarNode):
                raise YamlProblem("a key must be a plain value", _span(self.file, knode))
            key = self.loader.construct_object(knode)
            key = _key_text(key, knode.value)
            kspan = _span(self.file, knode)
            if key in own:
                raise YamlProblem(f"the key `{key}` is given twice", kspan)
            own[key] = self.build(vnode, depth + 1, kspan, active)
        out = dict(merged)
        out.update(own)
        return out


def _key_text(key: Any, raw: str) -> str:
    if isinstance(key, bool) or key is None:
        return raw  # `on:`, `yes:` stay as written
    return str(key)


def _reason(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return str(problem)


def parse(file: SourceFile) -> Node:
    """The document of `file` as a `Node` (an empty file is an empty map). Raises YamlProblem."""
    loader = yaml.SafeLoader(file.text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            span = Span(file, mark.index, mark.index + 1) if mark is not None else None
            raise YamlProblem(f"not valid YAML: {_reason(err)}", span) from None
        except yaml.YAMLError as err:
            raise YamlProblem(f"not valid YAML: {_reason(err)}", None) from None
        if root is None:
            return Node({}, Span(file, 0, 0))
        return _Builder(file, loader).build(root, 0, None, ())
    finally:
        loader.dispose()
