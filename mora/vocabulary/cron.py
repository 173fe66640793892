"""Cron schedules: parse the five-field form (and the `@daily` macros), convert to systemd.

The grammar is Vixie cron's (crontab(5)): minute, hour, day of month, month, day of week; each a
comma list of `*`, `N`, `N-M`, optionally `/STEP`; months and weekdays also by English name;
weekday 0 and 7 are Sunday. When both day fields are restricted a day matches if *either* does
(crontab(5)); systemd's OnCalendar= matches all its fields, so that case becomes two OnCalendar=
lines. Pure functions, no imports of mora: the checker, the evaluator and the backends use them
(it sits with the vocabulary, which every layer may read).
"""

from __future__ import annotations

from collections.abc import Callable

from mora.record import Record

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, lowest, highest, names (index 0 is the value `lowest`)
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


class CronError(ValueError):
    """A schedule that is not valid cron: `start`/`end` locate the bad part in the text."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.start, self.end = start, end


class Schedule(Record, frozen=True):
    """The sets of values each field matches; `*_any` say a day field was not restricted."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 folded into 0)
    days_any: bool
    weekdays_any: bool

    def matches(self, minute: int, hour: int, day: int, month: int, weekday: int) -> bool:
        """Whether cron would run at that time (weekday 0 = Sunday): crontab(5)'s rule."""
        if minute not in self.minutes or hour not in self.hours or month not in self.months:
            return False
        day_ok, weekday_ok = day in self.days, weekday % 7 in self.weekdays
        if self.days_any or self.weekdays_any:
            return day_ok and weekday_ok
        return day_ok or weekday_ok


def parse(text: str) -> Schedule:
    """The schedule, or CronError naming the bad field (offsets into `text`)."""
    stripped = text.strip()
    if stripped.startswith("@"):
        if stripped == "@reboot":
            raise CronError(
                '`@reboot` is not a schedule: use `run = "after"` for a job that runs once per '
                "deploy",
                text.index("@"),
                text.index("@") + len(stripped),
            )
        if stripped not in MACROS:
            start = text.index("@")
            raise CronError(
                f"unknown macro `{stripped}` (known: {', '.join(MACROS)})",
                start,
                start + len(stripped),
            )
        return parse(MACROS[stripped])
    parts: list[tuple[str, int]] = []
    at = 0
    for word in text.split():
        start = text.index(word, at)
        parts.append((word, start))
        at = start + len(word)
    if len(parts) != 5:
        where = (parts[5][1], len(text.rstrip())) if len(parts) > 5 else (0, max(len(text), 1))
        raise CronError(
            f"a cron schedule has five fields (minute hour day-of-month month day-of-week), "
            f"not {len(parts)}",
            *where,
        )
    sets = [_field(word, start, spec) for (word, start), spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Schedule(
        frozenset(sets[0]),
        frozenset(sets[1]),
        frozenset(sets[2]),
        frozenset(sets[3]),
        weekdays,
        days_any=parts[2][0].startswith("*"),
        weekdays_any=parts[4][0].startswith("*"),
    )


def _field(word: str, offset: int, spec: tuple[str, int, int, tuple[str, ...]]) -> set[int]:
    name, low, high, names = spec
    values: set[int] = set()
    at = 0
    for item in word.split(","):
        start = offset + word.index(item, at) if item else offset + at
        at = word.index(item, at) + len(item) if item else at + 1

        def bad(
            why: str, item: str = item, s: int = start, e: int = start + max(len(item), 1)
        ) -> CronError:
            return CronError(f"{name} `{item}`: {why}", s, e)

        if not item:
            raise bad("an empty item (two commas, or one at the end)")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise bad("the step after `/` must be a whole number above 0")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        else:
            first_text, dash, last_text = base.partition("-")
            first = _value(first_text, low, high, names, bad)
            if dash:
                last = _value(last_text, low, high, names, bad)
                if last < first:
                    raise bad(f"the range runs backwards ({first} > {last})")
            else:
                last = high if slash else first  # `N/S` is `N-max/S` (Vixie cron)
        values.update(range(first, last + 1, step))
    return values


def _value(
    text: str, low: int, high: int, names: tuple[str, ...], bad: Callable[[str], CronError]
) -> int:
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not text.isdigit():
        raise bad("not a number" + (f" or a name ({names[0]}, {names[1]}, ...)" if names else ""))
    n = int(text)
    if not low <= n <= high:
        raise bad(f"{n} is outside {low}-{high}")
    return n


# --- systemd -------------------------------------------------------------------------------------


def on_calendar(text: str) -> list[str]:
    """The OnCalendar= values (systemd.time(7)) that fire exactly when cron would run `text`.

    One value, or two when both day fields are restricted (cron's "either day matches").
    """
    s = parse(text)
    clock = f"{_numbers(s.hours, 0, 23)}:{_numbers(s.minutes, 0, 59)}:00"
    month = _numbers(s.months, 1, 12)
    if s.days_any or s.weekdays_any:
        return [_calendar(s.weekdays, f"*-{month}-{_numbers(s.days, 1, 31)}", clock)]
    return [
        _calendar(frozenset(range(7)), f"*-{month}-{_numbers(s.days, 1, 31)}", clock),
        _calendar(s.weekdays, f"*-{month}-*", clock),
    ]


def _calendar(weekdays: frozenset[int], date: str, clock: str) -> str:
    if len(weekdays) == 7:
        return f"{date} {clock}"
    # Monday first, as systemd counts: a Sunday-to-Monday run is no range there.
    order = [d % 7 for d in range(1, 8) if d % 7 in weekdays]
    runs = _runs([(d - 1) % 7 for d in order])
    names = []
    for a, b in runs:
        first, last = _SYSTEMD_DAYS[(a + 1) % 7], _SYSTEMD_DAYS[(b + 1) % 7]
        names.append(first if a == b else f"{first}..{last}" if b > a + 1 else f"{first},{last}")
    return f"{','.join(names)} {date} {clock}"


def _numbers(values: frozenset[int], low: int, high: int) -> str:
    """`*`, `START/STEP` for an even progression to the end, else a list with `A..B` runs."""
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    if len(ordered) > 2:
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(ordered[0], high + 1, step)):
            return f"{ordered[0]}/{step}"
    parts = []
    for a, b in _runs(ordered):
        parts.append(str(a) if a == b else f"{a}..{b}" if b > a + 1 else f"{a},{b}")
    return ",".join(parts)


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs
