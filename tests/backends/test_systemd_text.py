"""The unit-file writer's control-character test (`systemd._has_control`) is exact.

It finds the smallest code point with `min` instead of a generator over the characters; it must
answer what `any(ord(ch) < 0x20 [or ord(ch) == 0x7F] for ch in text)` answers for every text.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mora.backends.systemd import UnitFile, UnitValueError, _has_control, mounts_for, raw_value

_texts = st.text(
    st.characters(codec="utf-8") | st.sampled_from(["\x00", "\x1f", " ", "\x7f", "\x80", "\t"]),
    max_size=12,
)


@given(_texts)
def test_has_control_is_the_character_by_character_test(text: str) -> None:
    assert _has_control(text) == any(ord(ch) < 0x20 for ch in text)
    assert _has_control(text, delete=True) == any(
        ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text
    )


@pytest.mark.parametrize("value", ["a\x01b", "tab\there", "x\x1f"])
def test_a_control_character_never_reaches_a_unit_file(value: str) -> None:
    with pytest.raises(UnitValueError):
        UnitFile().add("Service", "Environment", value)
    assert raw_value(value) is None
    with pytest.raises(UnitValueError):
        mounts_for("/srv/" + value)


def test_delete_is_refused_where_systemd_reads_values_verbatim() -> None:
    assert raw_value("a\x7fb") is None
    with pytest.raises(UnitValueError):
        mounts_for("/srv/a\x7fb")
    assert raw_value("plain") == "plain"
