"""Service attributes in the passes: dispatched by the vocabulary's names, never a chain of ifs.

`mora/check/services.py` checks an attribute by its row in `mora/vocabulary/service.py` (known?
block or value? type? secret allowed?); only what a row cannot say is a rule in `RULES`. These
tests keep the two tied: no rule for an attribute that does not exist, and no value attribute
left with neither a type nor a rule (it would go unchecked). The evaluator has one builder per
block attribute (`BLOCKS`, every block of the vocabulary) and the value attributes that are more
than public text (`VALUES`).
"""

from __future__ import annotations

from mora.check.services import RULES
from mora.eval.services import BLOCKS, VALUES
from mora.vocabulary import service as V


def test_every_rule_is_for_a_declared_value_attribute() -> None:
    assert set(RULES) <= set(V.SERVICE)
    assert [k for k in RULES if V.SERVICE[k].block] == []  # blocks go item by item instead


def test_no_value_attribute_goes_unchecked() -> None:
    unchecked = [a.name for a in V.ATTRS if not a.block and a.type is None and a.name not in RULES]
    assert unchecked == []


def test_the_evaluator_builds_every_block_and_only_declared_values() -> None:
    assert set(BLOCKS) == {a.name for a in V.ATTRS if a.block}
    assert set(VALUES) <= {a.name for a in V.ATTRS if not a.block}
