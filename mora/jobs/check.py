"""The checker's rules for a service's `jobs` block (called from `Checker._check_block_item`).

    jobs {
      cron    { command = "php -f /var/www/html/cron.php"  schedule = "*/5 * * * *" }
      migrate { command = ["app", "migrate"]               run = "before" }
    }

Each job is a block with a `command` and exactly one of `schedule` (cron) or `run` (once per
deploy, `before` the service starts or `after` it is up). A literal schedule is parsed here, so
a bad field gets a caret under it at check time; a computed one is checked by the evaluator.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mora import ast
from mora.source import Span
from mora.vocabulary import cron
from mora.vocabulary import service as V

if TYPE_CHECKING:
    from mora.checker import Checker

E_SCHEDULE = "E0330"  # a schedule that is not cron
E_JOB_SHAPE = "E0331"  # a job with both `schedule` and `run`, or with neither
JOB_NAME = re.compile(r"[a-z]([a-z0-9-]{0,28}[a-z0-9])?")


def check_job(checker: Checker, key: ast.Key, value: ast.Expr | ast.Body, ctx: Any) -> None:
    """One entry of `jobs`: `NAME { command = ... schedule = ... }`."""
    from mora.checker import E_MISSING_ATTR, E_TYPE, E_VALUE

    diags = checker.diags
    if not JOB_NAME.fullmatch(key.text):
        diags.error(
            E_VALUE,
            f"`{key.text}` is not a valid job name",
            key.span,
            "lower-case letters, digits and `-`, starting with a letter, at most 30 characters",
        )
    if not isinstance(value, ast.Body):
        diags.error(
            E_TYPE,
            f"job `{key.text}` is a block, not a value",
            key.span,
            f'write `{key.text} {{ command = "..." schedule = "..." }}`',
        )
        return
    items = {k.text: (k, v) for k, v, _ in checker._block_items(value, ctx)}
    for name, (k, v) in items.items():
        if not checker._known(name, k.span, V.JOB_KEYS, "job setting"):
            continue
        if isinstance(v, ast.Body):
            diags.error(
                E_TYPE, f"`{name}` is a value, not a block", k.span, f"write `{name} = ...`"
            )
            continue
        if name == "command":
            checker._check_command(v, ctx, f"job `{key.text}`'s command")
            continue
        setting = V.SERVICE["jobs"].setting(name)
        assert setting is not None and setting.type is not None
        t = checker.expect(v, setting.type, ctx, f"`{name}`", secret_ok=False)
        if name == "schedule" and t is not None and isinstance(v, ast.StringLit) and v.is_plain:
            check_schedule(checker, v)
    if "command" not in items:
        diags.error(
            E_MISSING_ATTR,
            f"job `{key.text}` has no `command`",
            key.span,
            "needs a command",
            help='add `command = "..."`: it runs in the service\'s image, replacing its command',
        )
    if "schedule" in items and "run" in items:
        diags.error(
            E_JOB_SHAPE,
            f"job `{key.text}` has both `schedule` and `run`",
            items["run"][0].span,
            "remove one",
            help="`schedule` repeats the job (cron); `run` runs it once per deploy",
        )
    elif "schedule" not in items and "run" not in items:
        diags.error(
            E_JOB_SHAPE,
            f"job `{key.text}` says neither when (`schedule`) nor on deploy (`run`)",
            key.span,
            "when does it run?",
            help='add `schedule = "0 3 * * *"` (nightly, cron) or `run = "before"` / '
            '`run = "after"` (once per deploy, before the service starts or after it is up)',
        )


def check_schedule(checker: Checker, lit: ast.StringLit) -> None:
    """A literal cron schedule: the bad field underlined."""
    text = lit.plain
    try:
        cron.parse(text)
    except cron.CronError as err:
        # The literal's text starts after its opening quote (no escapes: it is plain).
        base = lit.span.start + 1
        inside = lit.span.end - lit.span.start - 2 == len(text)
        span = Span(lit.span.file, base + err.start, base + err.end) if inside else lit.span
        checker.diags.error(
            E_SCHEDULE,
            f"invalid schedule: {err}",
            span,
            "not cron",
            help='five fields: minute hour day-of-month month day-of-week, like "*/5 * * * *" '
            '(every five minutes) or "30 3 * * *" (03:30 daily); or @hourly, @daily, @weekly',
        )
