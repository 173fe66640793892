"""One copy of each repeated text and constant step value in the model, service by service.

A large project's model is mostly the same texts and constants again and again: every copy of a
template makes its own `str` for the same image, header, step name or variable, and its own
`StepExpr(lit="application/json")`. At 10,000 services of the media stack the model is most of
a compile's peak memory (docs/performance.md, twelfth round), and the syntax tree is still alive
while it is built. The evaluator hands each finished service to `Compactor.service`, which
replaces such duplicates with the first equal object it has seen, so the copies are freed while
the next service is evaluated. Only immutable things are shared: texts, and `StepExpr`s holding
nothing but a text, number, flag or name (`lit`, `ref`), and one empty list and one empty map
for every empty field (most of a step's or a value's lists are empty: ~40 MiB of them at 10,000
services). The model is frozen and nothing changes its lists or maps in place (the backends copy
what they build on; tests/unit/test_perf_memory.py checks the shared empties stay empty after
every backend has run). The output is the same, byte for byte.
"""

from __future__ import annotations

from mora import model as M

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Any

# The memo of texts starts afresh past this many entries: most texts that repeat repeat across
# neighbouring services (a template's copies), and a memo of every text would itself be large.
MEMO_MAX = 50_000

# The empty list and map every empty field of a compacted service holds (never changed in place).
EMPTY_LIST: list[Any] = []
EMPTY_DICT: dict[str, Any] = {}

# Plain container values kept at a time: the ones that repeat are a template's (PUID, TZ, paths),
# met again within a few services; every other value is in the memo only until it is reset.
VALUES_MAX = 5_000

_SCALARS = frozenset({bool, int, float})


class Compactor:
    """Shares equal texts and constant step values between the services it is given."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.leaves: dict[tuple[type, object, str | None], M.StepExpr] = {}
        # step values shared between services and already compacted, by id (the value kept,
        # so the id stays its own): a constant step value every copy of a template shares
        # (mora/steps/evaluate.py), walked once, not once per service
        self.done: dict[int, Any] = {}
        self.values: dict[str, M.Value] = {}  # a plain container value by its text

    def service(self, svc: M.Service) -> None:
        """Replace the duplicates inside `svc` (a fresh model object) with the kept copies."""
        if len(self.texts) > MEMO_MAX:
            self.texts = {}
        if len(self.leaves) > MEMO_MAX:
            self.leaves = {}
        if len(self.done) > MEMO_MAX:
            self.done = {}
        if len(self.values) > VALUES_MAX:
            self.values = {}
        self._model(svc)

    def leaf(self, lit: str | int | bool | None, ref: str | None) -> M.StepExpr:
        """The kept `StepExpr` holding only `lit` or only `ref`, made on first use: the setup
        steps ask for their constants here (mora/steps/evaluate.py), so an equal one is not
        built again for every copy of a template."""
        key = (type(lit), lit, ref)
        kept = self.leaves.get(key)
        if kept is None:
            texts = self.texts
            if ref is not None:
                kept = M.StepExpr(ref=texts.setdefault(ref, ref))
            elif type(lit) is str:
                kept = M.StepExpr(lit=texts.setdefault(lit, lit))
            else:
                kept = M.StepExpr(lit=lit)
            self.leaves[key] = kept
        return kept

    def plain_value(self, text: str) -> M.Value:
        """The kept `Value` of a plain text, made on first use: most environment values
        (`PUID`, `TZ`, paths) are the same in every copy of a template (eval/services.py)."""
        kept = self.values.get(text)
        if kept is None:
            kept = M.Value(value=self.texts.setdefault(text, text))
            self._model(kept)  # its empty lists: the shared empties
            self.values[text] = kept
        return kept

    def _model(self, obj: Any) -> None:
        put = object.__setattr__
        texts = self.texts
        for name in type(obj).__slots__:
            value = getattr(obj, name)
            kind = type(value)
            if value is None or kind in _SCALARS:  # most fields: inline, no call
                continue
            new = texts.setdefault(value, value) if kind is str else self._value(value)
            if new is not value:
                put(obj, name, new)  # a frozen model object no one has seen yet

    def _value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self.texts.setdefault(value, value)
        if kind is list:
            if not value:
                return EMPTY_LIST
            for i, item in enumerate(value):
                new = self._value(item)
                if new is not item:
                    value[i] = new
            return value
        if kind is dict:
            if not value:
                return EMPTY_DICT
            texts = self.texts
            if all(texts.get(k) is k for k in value):
                for k, item in value.items():
                    new = self._value(item)
                    if new is not item:
                        value[k] = new
                return value
            return {texts.setdefault(k, k): self._value(item) for k, item in value.items()}
        if kind is M.StepExpr:
            return self._step_expr(value)
        if kind is M.Value and self.values.get(value.value) is value:
            return value  # a kept plain value: compacted when it was made
        if isinstance(value, M._Model):
            self._model(value)
        return value

    def _step_expr(self, expr: M.StepExpr) -> M.StepExpr:
        if (  # a constant or a name, nothing inside it
            expr.concat is None
            and expr.items is None
            and expr.entries is None
            and expr.op is None
            and expr.args is None
        ):
            lit, ref = expr.lit, expr.ref
            if ref is not None:
                ref = self.texts.setdefault(ref, ref)
            if type(lit) is str:
                lit = self.texts.setdefault(lit, lit)
            key = (type(lit), lit, ref)
            kept = self.leaves.get(key)
            if kept is not None:
                return kept
            self._model(expr)
            self.leaves[key] = expr
            return expr
        if self.done.get(id(expr)) is not expr:
            self._model(expr)
        return expr

    def shared(self, expr: M.StepExpr) -> M.StepExpr:
        """`expr`, compacted now: one value every copy of a template holds."""
        expr = self._step_expr(expr)
        self.done[id(expr)] = expr
        return expr
