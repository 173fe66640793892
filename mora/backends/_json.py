"""JSON text laid out as `json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)`.

With an `indent`, the standard library never uses its C encoder: every object and list goes
through the pure-Python `_iterencode_dict`/`_iterencode_list` generators, a generator frame
and a `yield` per value (~14 ms of a media compile under cProfile, docs/performance.md). This
writer makes the same bytes with one recursive call per container and a list of pieces; the
strings still go through json's own (C) `encode_basestring`, numbers through `int.__repr__` and
`float.__repr__`, keys are sorted and converted as json sorts and converts them, and what json
refuses is refused with the same exception type. `tests/backends/test_json_text.py` compares it
with `json.dumps` on random JSON values.
"""

from __future__ import annotations

from json.encoder import encode_basestring

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

_STEP = "  "  # indent=2
_INT = int.__repr__
_FLOAT = float.__repr__
_INF = float("inf")


def dumps(value: Any, indent: str = "") -> str:
    """The text of `value`, its inner lines indented by `indent` plus the usual two spaces a
    level (what `json.dumps` gives, with `indent` put after every line break)."""
    parts: list[str] = []
    _value(value, indent, parts)
    return "".join(parts)


def key(text: str) -> str:
    """A JSON string, as `json.dumps(text, ensure_ascii=False)` writes it."""
    return encode_basestring(text)


def _float(value: float) -> str:
    # allow_nan=True, json's default: the JavaScript names
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return _FLOAT(value)


def _value(value: Any, indent: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(encode_basestring(value))
    elif kind is dict:
        _object(value, indent, parts)
    elif kind is list or kind is tuple:
        _array(value, indent, parts)
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(_INT(value))
    elif kind is float:
        parts.append(_float(value))
    else:
        _other(value, indent, parts)


def _other(value: Any, indent: str, parts: list[str]) -> None:
    """A model (`mora.model`: a class with `_json_fields`) as its `model_dump(mode="json",
    exclude_defaults=True)` would be written; subclasses, in the order json tests them (str,
    None, bools, int, float, list or tuple, dict); anything else is refused as json refuses it."""
    fields = getattr(type(value), "_json_fields", None)
    if fields is not None:
        _model(value, *fields(), indent, parts)
    elif isinstance(value, str):
        parts.append(encode_basestring(value))
    elif isinstance(value, int):
        parts.append(_INT(value))
    elif isinstance(value, float):
        parts.append(_float(value))
    elif isinstance(value, list | tuple):
        _array(value, indent, parts)
    elif isinstance(value, dict):
        _object(value, indent, parts)
    else:
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _array(values: list[Any] | tuple[Any, ...], indent: str, parts: list[str]) -> None:
    if not values:
        parts.append("[]")
        return
    inner = indent + _STEP
    separator = "[\n" + inner
    for item in values:
        parts.append(separator)
        separator = ",\n" + inner
        _value(item, inner, parts)
    parts.append("\n" + indent + "]")


def _object(items: dict[Any, Any], indent: str, parts: list[str]) -> None:
    if not items:
        parts.append("{}")
        return
    inner = indent + _STEP
    separator = "{\n" + inner
    for name, item in sorted(items.items()):  # as json sorts: the items, by key
        if type(name) is not str:
            name = _key_text(name)
        parts.append(separator + encode_basestring(name) + ": ")
        separator = ",\n" + inner
        _value(item, inner, parts)
    parts.append("\n" + indent + "}")


def _model(value: Any, values: Any, fields: Any, indent: str, parts: list[str]) -> None:
    """The fields that differ from their defaults, in name order (the keys `json` would sort):
    one pass over the model, with no plain dict made first."""
    inner = indent + _STEP
    first = separator = "{\n" + inner
    for (name, default, has_default), item in zip(fields, values(value)):  # noqa: B905
        if has_default and item == default:
            continue
        parts.append(separator + '"' + name + '": ')  # a field's name is an identifier
        separator = ",\n" + inner
        _value(item, inner, parts)
    parts.append("{}" if separator is first else "\n" + indent + "}")


def _key_text(name: Any) -> str:
    """A key that is not text, converted as json converts it (or refused as json refuses it)."""
    if isinstance(name, str):
        return str.__str__(name)
    if isinstance(name, float):
        return _float(name)
    if name is True:
        return "true"
    if name is False:
        return "false"
    if name is None:
        return "null"
    if isinstance(name, int):
        return _INT(name)
    raise TypeError(f"keys must be str, int, float, bool or None, not {name.__class__.__name__}")
