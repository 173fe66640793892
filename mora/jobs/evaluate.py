"""The evaluator's part of `jobs`: each entry becomes a `model.Job` (called from
`Evaluator._attribute`). The checker has seen literal schedules; a computed one (a template
argument, a param) is parsed here, so a bad schedule never reaches a backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mora import ast
from mora import model as M
from mora.jobs.check import E_SCHEDULE
from mora.vocabulary import cron

if TYPE_CHECKING:
    from mora.evaluator import Evaluator


def evaluate_jobs(
    ev: Evaluator, entry: ast.Attr | ast.Block, scope: Any, pending: set[str]
) -> list[M.Job]:
    """The service's jobs, sorted by name."""
    jobs = []
    for name, value, span in ev._items(entry, scope, pending):
        if not isinstance(value, dict):
            continue  # the checker reported it
        what = f"job `{name}`"
        command = ev._words(value.get("command", []), span, f"{what}'s command")
        schedule = value.get("schedule")
        if schedule is not None:
            schedule = ev._public_text(schedule, span, f"{what}'s schedule")
            try:
                cron.parse(schedule)
            except cron.CronError as err:
                ev.diags.error(
                    E_SCHEDULE,
                    f"invalid schedule of {what}: {err}",
                    span,
                    "here",
                    help=f"the schedule `{schedule}` is computed (a template argument or a "
                    'param); five cron fields, like "30 3 * * *"',
                )
                continue
        run = value.get("run")
        jobs.append(
            M.Job(
                name=name,
                command=command,
                schedule=schedule,
                run=None if run is None else ev._public_text(run, span, f"{what}'s `run`"),  # type: ignore[arg-type]
            )
        )
    return sorted(jobs, key=lambda j: j.name)
