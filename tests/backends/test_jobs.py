"""Jobs and schedules (issue 10): the cron conversion, the real tools, and a job run for real.

- The cron parser and its OnCalendar= conversion: every converted schedule is compared, minute by
  minute over a year, with crontab(5)'s rule, using the times `systemd-analyze calendar` itself
  computes (the real systemd reads the converted text).
- The quadlet generator accepts the job units; `systemd-analyze verify` checks the services it
  makes and the timers beside them.
- kubernetes-validate (via the golden folder) and checkov (here) over the Jobs and CronJobs.
- On podman, for real: a `before` job writes a file into the service's volume, the service sees
  it; an `after` job runs once the service is healthy; the scheduled job's script runs it again.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mora.vocabulary import cron
from tests.backends.test_podman import _cleanup, _podman
from tests.backends.test_quadlet import (
    build,
    host_dirs,
    quadlet_problems,
    verify_problems,
    with_podman,
    write_targets,
)
from tests.toolchain import (
    BUSYBOX_IMAGE,
    checkov,
    podman_env,
    quadlet,
    systemd_analyze,
)

ROOT = Path(__file__).resolve().parents[2]
QUADLET_CASE = ROOT / "tests" / "backends" / "quadlet" / "job_schedules"
K8S_CASE = ROOT / "tests" / "backends" / "kubernetes" / "job_schedules"
ALLOWLIST = ROOT / "kubernetes" / "checkov-allowlist.yaml"

# --- cron ----------------------------------------------------------------------------------------

SCHEDULES = [
    "*/5 * * * *",
    "0 3 * * *",
    "30 3 1 * mon-fri",  # both day fields: cron runs when either matches
    "0 9-17 * * 1-5",
    "15 */6 1,15 jan-jun *",
    "0 0 * * 0,6",
    "0 0 * * 7",
    "5 4 * * sun",
    "0 22 * * 5-7",  # Friday to Sunday
    "0 0 29 2 *",
    "10-20/5 1 * * *",
    "0 0 */10 * *",
    "7 0/8 * * *",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
]


def test_conversions() -> None:
    assert cron.on_calendar("*/5 * * * *") == ["*-*-* *:0/5:00"]
    assert cron.on_calendar("0 3 * * *") == ["*-*-* 3:0:00"]
    assert cron.on_calendar("0 9-17 * * mon-fri") == ["Mon..Fri *-*-* 9..17:0:00"]
    assert cron.on_calendar("30 3 1 * mon-fri") == [
        "*-*-1 3:30:00",
        "Mon..Fri *-*-* 3:30:00",
    ]
    assert cron.on_calendar("0 0 * * 0,6") == ["Sat,Sun *-*-* 0:0:00"]
    assert cron.on_calendar("@weekly") == ["Sun *-*-* 0:0:00"]


@pytest.mark.parametrize(
    ("text", "message", "underlined"),
    [
        ("*/0 * * * *", "step after `/`", "*/0"),
        ("61 * * * *", "61 is outside 0-59", "61"),
        ("* 24 * * *", "24 is outside 0-23", "24"),
        ("* * 0 * *", "0 is outside 1-31", "0"),
        ("* * * 13 *", "13 is outside 1-12", "13"),
        ("* * * * 8", "8 is outside 0-7", "8"),
        ("5-1 * * * *", "runs backwards", "5-1"),
        ("* * * * funday", "not a number or a name", "funday"),
        ("1,,2 * * * *", "empty item", ","),
        ("* * *", "five fields", "* * *"),
        ("* * * * * *", "five fields", "*"),
        ("@reboot", "not a schedule", "@reboot"),
        ("@often", "unknown macro", "@often"),
    ],
)
def test_parse_errors_locate_the_field(text: str, message: str, underlined: str) -> None:
    with pytest.raises(cron.CronError) as err:
        cron.parse(text)
    assert message in str(err.value)
    assert text[err.value.start : err.value.end] == underlined


def _cron_times(schedule: cron.Schedule, start: datetime, count: int) -> list[datetime]:
    """The next `count` times cron runs after `start`, by crontab(5)'s rule: every minute of
    every day is asked `Schedule.matches` (a day none of whose minutes can match is skipped)."""
    out: list[datetime] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while len(out) < count:
        weekday = (day.weekday() + 1) % 7  # cron: 0 = Sunday; Python: 0 = Monday
        first = min(schedule.minutes)
        if schedule.matches(first, min(schedule.hours), day.day, day.month, weekday):
            for hour in range(24):
                for minute in range(60):
                    t = day.replace(hour=hour, minute=minute)
                    if t > start and schedule.matches(minute, hour, day.day, day.month, weekday):
                        out.append(t)
        day += timedelta(days=1)
    return out[:count]


def _systemd_times(calendars: list[str], start: datetime, count: int) -> list[datetime]:
    """The next `count` elapses of the OnCalendar= values, as systemd-analyze computes them."""
    analyze = systemd_analyze()
    times: set[datetime] = set()
    for calendar in calendars:
        proc = subprocess.run(
            [str(analyze), "calendar", f"--iterations={count}",
             f"--base-time={start:%Y-%m-%d %H:%M:%S} UTC", calendar],
            env={**os.environ, "TZ": "UTC"},
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        for line in proc.stdout.splitlines():
            key, _, value = line.strip().partition(": ")
            if key in ("Next elapse", "Iter. #2") or key.startswith("Iter. #"):
                # "Mon 2026-11-30 13:00:00 UTC"
                times.add(datetime.strptime(value.split(" ", 1)[1], "%Y-%m-%d %H:%M:%S UTC"))
    return sorted(times)[:count]


@pytest.mark.parametrize("text", SCHEDULES)
def test_on_calendar_fires_when_cron_would(text: str) -> None:
    """systemd reads our OnCalendar= text and fires at exactly cron's times (the next 30)."""
    start = datetime(2027, 1, 30, 23, 58)
    expected = _cron_times(cron.parse(text), start, 30)
    assert _systemd_times(cron.on_calendar(text), start, 30) == expected


# --- the real tools ------------------------------------------------------------------------------


@pytest.mark.slow
def test_quadlet_and_systemd_accept_job_units_and_timers(tmp_path: Path) -> None:
    compiled = build(QUADLET_CASE / "input", site=QUADLET_CASE / "site.yaml")
    out = tmp_path / "out"
    write_targets(compiled, out, targets=("quadlet",))
    (host,) = host_dirs(out)
    gen = tmp_path / "gen"
    gen.mkdir()
    proc = subprocess.run(
        [str(quadlet()), "-no-kmsg-log", str(gen)],
        env={**os.environ, "QUADLET_UNIT_DIRS": str(host.resolve())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and not quadlet_problems(proc), quadlet_problems(proc)
    for job in ("migrate", "bootstrap", "cron", "backup"):
        unit = (gen / f"jobs-cloud-{job}.service").read_text()
        assert "Type=oneshot" in unit
        assert " -d " not in unit.split("ExecStart=", 1)[1].splitlines()[0]  # runs to its end
    cloud = (gen / "jobs-cloud.service").read_text()
    assert "Requires=jobs-cloud-migrate.service" in cloud
    assert "After=jobs-cloud-migrate.service" in cloud
    timers = sorted(host.glob("*.timer"))
    assert [t.name for t in timers] == ["jobs-cloud-backup.timer", "jobs-cloud-cron.timer"]
    for timer in timers:
        shutil.copy(timer, gen / timer.name)
    made = sorted(p.name for p in gen.glob("*.service")) + [t.name for t in timers]
    verify = subprocess.run(
        [str(systemd_analyze()), "verify", *made],
        cwd=gen,
        capture_output=True,
        text=True,
        timeout=120,
    )
    problems = verify_problems(verify.stderr + verify.stdout, made)
    assert verify.returncode == 0 and not problems, problems


@pytest.mark.slow
def test_checkov_on_jobs_and_cronjobs(tmp_path: Path) -> None:
    """The Jobs and CronJobs keep the service's contract: checkov fails only allow-listed checks."""
    import yaml

    scan = tmp_path / "scan"
    scan.mkdir()
    for pattern in ("*job-*.yaml", "networkpolicy-*.yaml"):
        for path in (K8S_CASE / "expected" / "cloud").glob(pattern):
            shutil.copy(path, scan / path.name)
    assert len(list(scan.iterdir())) == 8
    proc = subprocess.run(
        [*checkov(), "-d", str(scan)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode in (0, 1), proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        (report,) = report
    allowed = {e["check"] for e in yaml.safe_load(ALLOWLIST.read_text())["allow"]}
    failed = report.get("results", {}).get("failed_checks", [])
    new = sorted({f"{c['check_id']} {c['check_name']} ({c['resource']})" for c in failed
                  if c["check_id"] not in allowed})  # fmt: skip
    assert report["summary"]["passed"] > 0
    assert not new, new


# --- a job on podman, for real -------------------------------------------------------------------

PROJECT = """\
project {name}

service app {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "touch /tmp/ready; exec sleep 600"]
  volumes {{ "/data" = volume() }}
  healthcheck {{
    test = ["CMD-SHELL", "test -f /tmp/ready"]
    interval = 1s
    retries = 30
  }}
  jobs {{
    seed {{ command = ["sh", "-c", "echo seeded-by-job > /data/seed"]  run = "before" }}
    after {{ command = ["sh", "-c", "cat /data/seed > /data/after"]  run = "after" }}
    tick {{ command = ["sh", "-c", "echo tick >> /data/ticks"]  schedule = "*/5 * * * *" }}
  }}
}}
"""


@pytest.mark.slow
def test_jobs_run_on_podman(tmp_path: Path) -> None:
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    project = f"morajob{secrets.token_hex(4)}"
    source = tmp_path / "project"
    source.mkdir()
    (source / "main.mora").write_text(PROJECT.format(name=project, image=BUSYBOX_IMAGE))
    compiled = with_podman(build(source, domain="example.org"), proxy=False)
    out = tmp_path / "out"
    _, diags = write_targets(compiled, out, targets=("podman",))
    assert not diags.has_errors
    assert [d.code for d in diags] == ["W0720"]  # the schedule is said, not dropped
    bundle = out / "podman"
    app = f"{project}-app"
    script_env = {**env, "MORA_HEALTH_TIMEOUT": "60"}

    def sh(script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(script)], env=script_env, capture_output=True, text=True, timeout=240
        )

    def exec_in(command: str) -> str:
        proc = _podman(env, "exec", app, "sh", "-c", command)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    try:
        run = sh(bundle / "run.sh")
        assert run.returncode == 0, run.stdout + run.stderr
        assert exec_in("cat /data/seed") == "seeded-by-job\n"  # the service sees the job's file
        assert exec_in("cat /data/after") == "seeded-by-job\n"  # `after` ran once it was up
        for job in ("seed", "after"):  # --rm: no job container is left behind
            assert _podman(env, "container", "exists", f"{app}-{job}").returncode != 0
        tick = bundle / "jobs" / f"{app}-tick.sh"
        assert sh(tick).returncode == 0 and sh(tick).returncode == 0
        assert exec_in("cat /data/ticks") == "tick\ntick\n"
        down = sh(bundle / "down.sh")
        assert down.returncode == 0, down.stderr
    finally:
        _cleanup(env, project, [])


@pytest.mark.slow
def test_a_failing_before_job_stops_the_deploy(tmp_path: Path) -> None:
    """run.sh stops at a failing `before` job: the service is never started half-migrated."""
    env = podman_env()
    if _podman(env, "image", "exists", BUSYBOX_IMAGE).returncode != 0:
        pytest.skip(f"{BUSYBOX_IMAGE} is not imported: run scripts/install-validators")
    project = f"morajob{secrets.token_hex(4)}"
    source = tmp_path / "project"
    source.mkdir()
    text = PROJECT.format(name=project, image=BUSYBOX_IMAGE).replace(
        'echo seeded-by-job > /data/seed"]', 'exit 3"]'
    )
    (source / "main.mora").write_text(text)
    compiled = with_podman(build(source, domain="example.org"), proxy=False)
    out = tmp_path / "out"
    write_targets(compiled, out, targets=("podman",))
    try:
        run = subprocess.run(
            ["sh", str(out / "podman" / "run.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert run.returncode != 0
        assert _podman(env, "container", "exists", f"{project}-app").returncode != 0
    finally:
        _cleanup(env, project, [])
