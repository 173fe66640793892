"""Block-style YAML for the Kubernetes documents, with each distinct scalar emitted by PyYAML once.

PyYAML spends most of its time per node (representing, resolving tags, analysing each scalar),
yet a compile's documents repeat the same few keys and values thousands of times. `BlockWriter`
lays out the block structure itself, exactly as PyYAML does with `default_flow_style=False`,
`sort_keys=True` and the default indent of 2:

    key: scalar            key:                key:             - scalar
    key: {}                  child: scalar     - item           - - nested item
    key: []                                    - k: v             - nested item
                                                 k2: v          - k: v
                                                                  k2: v

and asks PyYAML for the text of each distinct scalar (as the value of a one-key mapping: the
same analysis decides its style anywhere in a block). A literal (`|`) scalar keeps its header
and has its lines indented two columns past the key or dash that owns it. Anything outside this
shape (a key that is not short single-line text, a scalar PyYAML writes over several lines
other than as a literal, a type other than the JSON ones) gives None, and the caller uses PyYAML
for the whole document; tests compare the bytes with PyYAML's on the example projects and on
random documents.

Most scalars never reach PyYAML: `own_scalar` decides the text of the ones whose style follows
from a few rules (plain, single-quoted and literal text, integers, booleans, null, floats), so
that a compile imports PyYAML (~45 ms) only when a document holds something else; a hypothesis
property compares its text with PyYAML's over random scalars.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mora.types import LazyPattern

_Scalar = str | tuple[str, list[str]]  # inline text, or a literal's header and its lines


# Text PyYAML always writes plain (as itself): a letter, then letters, digits and `._/-` (no
# indicator, space or `:`), unless it would read back as another type (`yes`, `null`, `on`...).
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
# (sets of words, not alternations of them: nothing to compile at start-up)
_WORDS = ("yes", "no", "true", "false", "on", "off", "null")  # each also Capitalised and UPPER
_TYPED = frozenset(w for word in ("y", "n", *_WORDS) for w in (word, word.title(), word.upper()))

# Line breaks but \n (compiled on first use: a class with characters past U+00FF compiles to a
# bitmap, ~2 ms, and `own_scalar` already declines any text holding one).
_OTHER_BREAKS = "[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]"

# What PyYAML's resolver reads as another type than text when written plain (YAML 1.1 as PyYAML
# implements it: booleans, null, `<<`, `=`, integers in bases 2, 8, 10, 16 and 60, floats,
# timestamps). Such text is quoted (`_implicit`). The words are a set; the numbers and
# timestamps, which all start with a sign, a dot or a digit, a pattern compiled when such a text
# is first seen (~0.6 ms).
_IMPLICIT_WORDS = (_TYPED - {"y", "Y", "n", "N"}) | {"~", "<<", "="}
_NUMBER_FIRST = frozenset("+-.0123456789")
_NUMBER = LazyPattern(
    r"""(?:
      [-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|0|[1-9][0-9_]*(?::[0-5]?[0-9])*)
    | [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
    | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
    | [0-9]{4}-[0-9]{2}-[0-9]{2}
    | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[\ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?
      (?:[\ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?
    )""",
    re.X,
)


def _implicit(text: str) -> bool:
    """Whether PyYAML reads `text`, written plain, as another type than text."""
    if text in _IMPLICIT_WORDS:
        return True
    return text[:1] in _NUMBER_FIRST and _NUMBER.fullmatch(text) is not None


# Text `own_scalar` decides: printable ASCII, \n and the Unicode PyYAML writes as itself with
# `allow_unicode` (the BMP but surrogates, U+2028/9, BOM and U+FFFE/F); anything else is PyYAML's.
# Written as the characters it excludes, with a range past the BMP: a class of BMP ranges only
# compiles to a bitmap of the whole BMP (~8 ms at start-up), this one in ~0.3 ms, paid only
# when a text is not ASCII (`_own_text`).
_NOT_OWN_TEXT = LazyPattern(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff\U00010000-\U0010ffff]"
)
# What keeps text from being written plain in a block: a document marker, an indicator first,
# `?`, `:` or `-` followed by a space (or the end) first, `: ` or ` #` inside, a space at either end.
_NOT_BLOCK_PLAIN = re.compile(
    r"---|\.\.\.|[#,\[\]{}&*!|>'\"%@`]|[?:-](?: |$)|.*(?::(?: |$)| #)| |.* $"
)
# Longer text is PyYAML's: a line past the emitter's width (1,000,000 columns) is folded at a space.
_LONGEST_OWN = 100_000


def _own_text(text: str) -> bool:
    """Whether every character of `text` is one `own_scalar` decides (none in `_NOT_OWN_TEXT`)."""
    if text.isascii():  # most texts: on ASCII, `isprintable` is exactly \x20-\x7e
        return text.isprintable() or text.replace("\n", "").isprintable()
    return _NOT_OWN_TEXT.search(text) is None


def own_scalar(value: object) -> _Scalar | None:
    """The text PyYAML writes for `value` in a block (as `_dump` configures it), or None when
    PyYAML must be asked (double-quoted text, `|+` literals, other characters, other types)."""
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if len(text) > _LONGEST_OWN or not _own_text(text):
            return None
        if "\n" not in text:
            if not text:
                return "''"
            if _NOT_BLOCK_PLAIN.match(text) or _implicit(text):
                return "'" + text.replace("'", "''") + "'"
            return text
        # a literal (the dumper asks for `|` when there is a line break), unless a space ends a
        # line or the text: then PyYAML double-quotes it
        if text.endswith(" ") or " \n" in text:
            return None
        head = "|2" if text[0] in " \n" else "|"
        if text[-1] != "\n":
            head += "-"
        elif len(text) == 1 or text[-2] == "\n":
            return None  # `|+`: PyYAML may end the document with `...`
        else:
            text = text[:-1]
        return head, ["  " + line if line else "" for line in text.split("\n")]
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        number: float = value  # type: ignore[assignment]
        if number != number:
            return ".nan"
        if number in (float("inf"), float("-inf")):
            return ".inf" if number > 0 else "-.inf"
        written = repr(number).lower()
        if "." not in written and "e" in written:
            written = written.replace("e", ".0e", 1)
        return written if _implicit(written) else None
    return None


class Unsupported(Exception):
    """The document leaves the shape `BlockWriter` reproduces."""


#: distinct texts a writer remembers before it starts afresh: every service brings dozens seen
#: once (its names, hosts, secret values), which at 10,000 services were ~20 MiB held to the end
#: of the backend (docs/performance.md, eighth round); the few that repeat are found again at once
MEMO_MAX = 20_000


class BlockWriter:
    """Writes documents; scalars are memoised for the writer's lifetime (one backend run), up to
    `MEMO_MAX` texts at a time."""

    def __init__(self, dump_value: Callable[[object], str]) -> None:
        # dump_value(v) is PyYAML's text of the document {"k": v}
        self._dump_value = dump_value
        self._scalars: dict[tuple[type, object], _Scalar] = {}
        # The hot paths, without building a (type, value) key: text values, and keys as `key:`.
        self._texts: dict[str, _Scalar] = {}
        self._keys: dict[str, str] = {}

    def document(self, body: object) -> str | None:
        """The YAML text of `body` (a non-empty mapping), or None when it is not supported."""
        if type(body) is not dict or not body:
            return None
        out: list[str] = []
        try:
            self._mapping(body, 0, out, False)
        except Unsupported:
            return None
        return "".join(out)

    def _scalar(self, value: object) -> _Scalar:
        if type(value) is str:
            found = self._texts.get(value)  # type: ignore[call-overload]
            if found is None:
                if len(self._texts) >= MEMO_MAX:  # most are seen once (names, hosts, secrets)
                    self._texts.clear()
                    self._scalars.clear()
                found = self._texts[value] = self._new_scalar(value)  # type: ignore[index]
            return found
        return self._new_scalar(value)

    def _new_scalar(self, value: object) -> _Scalar:
        # -0.0 == 0.0 (one dict key) but they are written differently: floats by their repr.
        key = (float, repr(value)) if type(value) is float else (type(value), value)
        found = self._scalars.get(key)
        if found is None:
            if key[0] not in (str, int, float, bool, type(None)):
                raise Unsupported
            if key[0] is int or (key[0] is str and _PLAIN.fullmatch(value) and value not in _TYPED):  # type: ignore[arg-type]
                found = self._scalars[key] = str(value)
                return found
            found = own_scalar(value)
            if found is not None:
                self._scalars[key] = found
                return found
            if key[0] is str and re.search(_OTHER_BREAKS, value):  # type: ignore[arg-type]
                raise Unsupported  # PyYAML breaks lines there too: indentation follows
            text = self._dump_value(value)
            if not text.startswith("k: ") or not text.endswith("\n"):
                raise Unsupported
            if text.startswith("k: |"):
                head, _, body = text[3:].partition("\n")
                lines = body.split("\n")[:-1]  # each line ends with a break
                if any(line and not line.startswith("  ") for line in lines):
                    raise Unsupported
                found = (head, lines)
            elif len(text[:-1].splitlines()) > 1:  # quoted over several lines: indented by place
                raise Unsupported
            else:
                found = text[3:-1]
            self._scalars[key] = found
        return found

    def _key(self, key: object) -> str:
        """`key:` as PyYAML writes it (memoised: a compile repeats a few dozen keys)."""
        if type(key) is not str:
            raise Unsupported
        found = self._keys.get(key)
        if found is None:
            if not key or len(key) > 60 or "\n" in key:
                raise Unsupported  # PyYAML may write it as a complex key (`? key`)
            text = self._scalar(key)
            if type(text) is not str:
                raise Unsupported
            found = self._keys[key] = text + ":"
        return found

    def _value(self, value: object, owner: int, out: list[str]) -> None:
        """What follows `key:` or `- ` written at column `owner`."""
        kind = type(value)
        if kind is dict:
            if not value:
                out.append(" {}\n")
            else:
                out.append("\n")
                self._mapping(value, owner + 2, out, False)  # type: ignore[arg-type]
        elif kind is list:
            if not value:
                out.append(" []\n")
            else:
                out.append("\n")
                self._sequence(value, owner, out, False)  # type: ignore[arg-type]
        else:
            text = self._scalar(value)
            if type(text) is str:
                out.append(f" {text}\n")
            else:
                head, lines = text  # type: ignore[misc]
                out.append(f" {head}\n")
                pad = " " * owner
                out.extend(f"{pad}{line}\n" if line else "\n" for line in lines)

    def _mapping(
        self, mapping: dict[object, object], column: int, out: list[str], inline: bool
    ) -> None:
        pad = " " * column
        try:
            keys = sorted(mapping)  # type: ignore[type-var]
        except TypeError:
            raise Unsupported from None
        heads, texts = self._keys, self._texts
        lead = "" if inline else pad  # an inline mapping's first key follows its `- `
        for key in keys:
            value = mapping[key]
            head = heads.get(key) if type(key) is str else None  # type: ignore[call-overload]
            if head is None:
                head = self._key(key)
            kind = type(value)
            if kind is str:  # the common case, inline: a known text value
                text = texts.get(value)
                if type(text) is str:
                    out.append(f"{lead}{head} {text}\n")
                    lead = pad
                    continue
            elif kind is int:  # written as itself (`_new_scalar`)
                out.append(f"{lead}{head} {value}\n")
                lead = pad
                continue
            elif kind is dict:
                if value:
                    out.append(f"{lead}{head}\n")
                    lead = pad
                    self._mapping(value, column + 2, out, False)  # type: ignore[arg-type]
                    continue
            elif kind is list:
                if value:
                    out.append(f"{lead}{head}\n")
                    lead = pad
                    self._sequence(value, column, out, False)  # type: ignore[arg-type]
                    continue
            out.append(lead + head)
            lead = pad
            self._value(value, column, out)

    def _sequence(self, items: list[object], column: int, out: list[str], inline: bool) -> None:
        pad = " " * column
        texts = self._texts
        lead = pad if not inline else ""  # an inline sequence's first `-` follows its `- `
        for value in items:
            kind = type(value)
            if kind is str:  # the common case, inline: a known text item
                text = texts.get(value)
                if type(text) is str:
                    out.append(f"{lead}- {text}\n")
                    lead = pad
                    continue
            elif kind is dict:
                if value:
                    out.append(f"{lead}- ")
                    lead = pad
                    self._mapping(value, column + 2, out, True)  # type: ignore[arg-type]
                    continue
            elif kind is list:
                if value:
                    out.append(f"{lead}- ")
                    lead = pad
                    self._sequence(value, column + 2, out, True)  # type: ignore[arg-type]
                    continue
            out.append(lead + "-")
            lead = pad
            self._value(value, column, out)
