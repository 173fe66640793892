"""The `mora` command: a thin layer over `mora.api`.

Exit codes: 0 success (warnings allowed), 1 errors in the project or site, 2 usage errors,
3 an internal error (a bug in mora: reported without a traceback unless MORA_DEBUG=1).
Diagnostics go to stderr; `--format json` prints them as one JSON document on stdout instead.
Heavy modules (pydantic, the secrets package, backends) are imported only by the commands that
need them, so `mora check` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mora import __version__
from mora.diagnostics import Diagnostics, printable
from mora.main import EXIT_ERRORS, main, report, run_check, run_compile
from mora.main import say_written as _say_written
from mora.main import write_outputs as _write_outputs

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print diagnostics: for people, or one JSON document for editors and CI.",
)
_PROJECT = click.argument("project", type=click.Path(path_type=Path), default=".")


def _report(diags: Diagnostics, fmt: str, quiet_ok: bool = False) -> int:
    return report(diags, fmt, quiet_ok)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mora")
def cli() -> None:
    """mora: homelab configuration, compiled.

    Write your services once in .mora files; compile them against your site (domain, params,
    secrets) to Kubernetes, podman quadlet and podman outputs.
    """


@cli.command("check")
@click.argument("projects", type=click.Path(path_type=Path), nargs=-1)
@_FORMAT
@click.option(
    "--no-cache",
    is_flag=True,
    help="Check again even if nothing changed since the last check (MORA_NO_CACHE=1: also "
    "re-parse every file).",
)
def check_cmd(projects: tuple[Path, ...], fmt: str, no_cache: bool) -> None:
    """Parse and check each PROJECT (a directory of .mora files, or one file; default: .).

    Needs no site and touches no secrets: made for pre-commit hooks and CI. An unchanged
    project's result is replayed from the check cache.
    """
    sys.exit(run_check(list(projects), fmt, cache=not no_cache))


@cli.command("compile")
@_PROJECT
@click.option("--domain", help="The site's domain; subdomains are served under it.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a param (repeatable). Overrides --domain and the site file.",
)
@click.option(
    "--site",
    "site_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A site file (YAML: domain, params). Keep it outside the shared project.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Output directory.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.Choice(["all", "manifest", "kubernetes", "quadlet", "podman"]),
    default=("all",),
    show_default=True,
    help="What to emit (repeatable). The manifest is always written.",
)
@click.option(
    "--secrets",
    "secrets_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The site's secret store (default: next to the site file, else ./.mora/).",
)
@click.option(
    "--no-secrets",
    is_flag=True,
    help="Leave secret-bearing files out (for GitOps that delivers secrets another way).",
)
@click.option(
    "--gitops",
    is_flag=True,
    help="Safe to commit: no secret values (as --no-secrets) plus the encrypted store in "
    "gitops/; `mora materialise` creates the Secrets in the cluster (docs/manager.md).",
)
@_FORMAT
def compile_cmd(
    project: Path,
    domain: str | None,
    sets: tuple[str, ...],
    site_file: Path | None,
    out_dir: Path,
    targets: tuple[str, ...],
    secrets_path: Path | None,
    no_secrets: bool,
    fmt: str,
    gitops: bool = False,
) -> None:
    """Compile PROJECT against a site into OUT (manifest.json and the chosen targets)."""
    # mora.main.run_compile: also served without click for a plain call (mora/main.py)
    sys.exit(
        run_compile(
            project, domain, list(sets), site_file, out_dir, targets, secrets_path, no_secrets,
            fmt, gitops,
        )
    )  # fmt: skip


# --- mora secrets --------------------------------------------------------------------------------

_SITE_OPTIONS = [
    click.option(
        "--domain",
        help="The site's domain, unless the site file sets `domain:` (`secrets list`, `show`, "
        "`set` and `prune` need it only when a generator's arguments use it).",
    ),
    click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Set a param."),
    click.option(
        "--site", "site_file", type=click.Path(path_type=Path, dir_okay=False), help="Site file."
    ),
    click.option(
        "--secrets",
        "secrets_path",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The site's secret store (default: as `mora compile` finds it).",
    ),
]


def _site_options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(_SITE_OPTIONS):
        fn = option(fn)
    return fn


def _open_site_secrets(project: Path, **site: object):  # type: ignore[no-untyped-def]
    """The declared requests and the store, or exit 1 with the diagnostics."""
    from mora.api import site_secrets

    result = site_secrets(project, **site)  # type: ignore[arg-type]
    if result.store is None or result.diagnostics.has_errors:
        _report(result.diagnostics, "text")
        sys.exit(EXIT_ERRORS)
    return result


def _secrets_errors(fn):  # type: ignore[no-untyped-def]
    """Secrets problems (wrong key, unknown name...) end as one clear line, exit 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        from mora.secrets.errors import SecretsError

        try:
            return fn(*args, **kwargs)
        except SecretsError as err:
            click.echo(f"error: {err}", err=True)
            if err.help:
                click.echo(f"  = help: {err.help}", err=True)
            sys.exit(EXIT_ERRORS)

    return wrapper


def _store_name(name: str, requests: list[object]) -> str:
    """`jellyfin_key` names the input `input.jellyfin_key` when no secret has that name."""
    from mora.evaluator import INPUT_PREFIX

    names = {r.name for r in requests}  # type: ignore[attr-defined]
    if name not in names and INPUT_PREFIX + name in names:
        return INPUT_PREFIX + name
    return name


def _require_declared(name: str, requests: list[object]) -> None:
    """An unknown name is a mistake to point out, not a value still to be generated."""
    from mora.diagnostics import did_you_mean

    names = [r.name for r in requests]  # type: ignore[attr-defined]
    if name not in names:
        # inputs are stored as `input.NAME` but usually typed as plain NAME
        guess = did_you_mean(name, [n.removeprefix("input.") for n in names])
        click.echo(
            f"error: no secret or input named `{name}` is declared"
            + (f"; {guess}" if guess else "; `mora secrets list` names the declared ones"),
            err=True,
        )
        sys.exit(EXIT_ERRORS)


@cli.group("secrets")
def secrets_group() -> None:
    """Inspect and manage the site's secret store (values are never printed unless asked)."""


def _list_kind(name: str, kind: str | None) -> str:
    """`setup.SERVICE.STEP[.OUTPUT]` rows are a setup step's record and outputs, kept by mora
    apply: shown as `step`, not as a value a person set (the store's kind) or an unknown `-`."""
    if name.startswith("setup."):
        return "step"
    return kind or ("input" if name.startswith("input.") else "-")


@secrets_group.command("list")
@_PROJECT
@_site_options
@_secrets_errors
def secrets_list(project: Path, **site: object) -> None:
    """List declared and stored secrets: names, kinds, dates, status; never values."""
    from mora.secrets.commands import list_entries

    result = _open_site_secrets(project, **site)
    rows = list_entries(result.store, result.requests)  # type: ignore[arg-type]
    header = ("NAME", "KIND", "GENERATOR", "STATUS", "CREATED", "ROTATED")
    table = [header] + [
        (
            r.name,
            _list_kind(r.name, r.kind),
            r.generator or "-",
            r.status,
            r.created or "-",
            r.rotated or "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@secrets_group.command("show")
@click.argument("name")
@_PROJECT
@_site_options
@_secrets_errors
def secrets_show(name: str, project: Path, **site: object) -> None:
    """Print the value of NAME (or NAME.PART). Explicit on purpose: it shows a secret."""
    from mora.secrets.commands import show

    result = _open_site_secrets(project, **site)
    base, _, part = name.partition(".")
    if base == "input" and part:
        base, part = name, ""
    _require_declared(_store_name(base, result.requests), result.requests)
    click.echo(show(result.store, _store_name(base, result.requests), part or None))  # type: ignore[arg-type]


@secrets_group.command("set")
@click.argument("name")
@_PROJECT
@_site_options
@_secrets_errors
def secrets_set(name: str, project: Path, **site: object) -> None:
    """Set NAME from stdin (or a prompt that does not echo): inputs and imported values."""
    from mora.evaluator import INPUT_PREFIX
    from mora.secrets.commands import set_value

    result = _open_site_secrets(project, **site)
    key = _store_name(name, result.requests)
    _require_declared(key, result.requests)  # before reading a value, and never a KeyError
    if sys.stdin.isatty():
        value = click.prompt(f"value for {key}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        if value.endswith("\n"):
            value = value[:-1]
    kind = "input" if key.startswith(INPUT_PREFIX) else "set"
    if kind == "input":
        problem = answer_problem(result.program, key.removeprefix(INPUT_PREFIX), value)
        if problem is not None:
            click.echo(f"error: not a valid answer to `{key}`: {problem}", err=True)
            sys.exit(EXIT_ERRORS)
    changed = set_value(result.store, key, value, kind=kind, requests=result.requests)  # type: ignore[arg-type]
    click.echo(f"{key}: {'stored' if changed else 'unchanged'}", err=True)


@secrets_group.command("rotate")
@click.argument("name")
@_PROJECT
@_site_options
@click.option(
    "--force",
    is_flag=True,
    help="Rotate even a value an image reads only when its data is created (init_only).",
)
@_secrets_errors
def secrets_rotate(name: str, project: Path, force: bool, **site: object) -> None:
    """Generate NAME anew, re-derive what depends on it, and list the services to restart."""
    from mora.api import rotate_secret

    result = rotate_secret(project, name, force=force, **site)  # type: ignore[arg-type]
    if not result.rotated:
        _report(result.diagnostics, "text")
        sys.exit(EXIT_ERRORS)
    click.echo(f"rotated {name}", err=True)
    for dep in result.rotated[1:]:
        click.echo(f"re-derived {dep}", err=True)
    if not result.consumers:
        click.echo("no service uses it: nothing to restart", err=True)
        return
    click.echo("recompile and deploy, then restart these services:", err=True)
    for consumer in result.consumers:
        click.echo(f"  {consumer.service}: {', '.join(consumer.changed)}", err=True)
        for var, how in consumer.init_only.items():
            click.echo(f"    {var} is read only when the data is created: {how}", err=True)


@secrets_group.command("prune")
@_PROJECT
@_site_options
@click.option("--yes", is_flag=True, help="Delete without asking (needed without a terminal).")
@_secrets_errors
def secrets_prune(project: Path, yes: bool, **site: object) -> None:
    """Remove stored secrets this project no longer declares (its namespace only).

    Lists what it will delete and asks; without a terminal it needs --yes.
    """
    from mora.secrets.commands import orphans, prune

    result = _open_site_secrets(project, **site)
    store = result.store
    doomed = orphans(store, result.requests)  # type: ignore[arg-type]
    if result.program is not None:  # a likely rename is never pruned: its help is `moved`
        from mora.moved import likely_renames

        for (old, new), names in sorted(likely_renames(result.program, doomed).items()):
            click.echo(f"keeping {', '.join(names)}: add `moved {old} -> {new}`", err=True)
            doomed = [n for n in doomed if n not in names]
    if not doomed:
        click.echo("nothing to prune", err=True)
        return
    click.echo(
        f"no longer declared by `{store.namespace}`, to be deleted from {store.path}:",  # type: ignore[attr-defined]
        err=True,
    )
    for name in doomed:
        click.echo(f"  {name}", err=True)
    if not yes:
        if not sys.stdin.isatty():
            click.echo("error: not deleting without confirmation: pass --yes", err=True)
            sys.exit(EXIT_ERRORS)
        if not click.confirm(f"delete {len(doomed)} secret(s)?", default=False, err=True):
            click.echo("nothing deleted", err=True)
            return
    removed = prune(store, result.requests, only=doomed)  # type: ignore[arg-type]
    for name in removed:
        click.echo(f"removed {name}", err=True)


@secrets_group.command("adopt")
@_PROJECT
@_site_options
@_secrets_errors
def secrets_adopt(project: Path, **site: object) -> None:
    """Move this project's namespace in the site store to this checkout (after a move).

    The namespace was claimed by the project's directory (and Git origin) when it was first
    used; a checkout elsewhere is refused until you adopt the namespace here.
    """
    result = _open_site_secrets(project, adopt=True, **site)
    store = result.store
    before = store.recorded_identity  # type: ignore[attr-defined]
    store.save()  # type: ignore[attr-defined]
    now = store.identity.describe()  # type: ignore[attr-defined]
    ns, path = store.namespace, store.path  # type: ignore[attr-defined]
    if before is None or before == store.identity:  # type: ignore[attr-defined]
        click.echo(f"namespace `{ns}` in {path} belongs to {now}", err=True)
    else:
        click.echo(f"namespace `{ns}` in {path} moved from {before.describe()} to {now}", err=True)


@cli.command("plan")
@_PROJECT
@_site_options
@_FORMAT
def plan_cmd(project: Path, fmt: str, **site: object) -> None:
    """Show the deployment stages: what to deploy in which order, and what to ask a person."""
    from mora.api import compile_project
    from mora.plan import build_plan, render_plan

    result = compile_project(project, **site)  # type: ignore[arg-type]
    if result.compiled is None or result.diagnostics.has_errors:
        sys.exit(_report(result.diagnostics, fmt))
    plan = build_plan(result.compiled.manifest)  # type: ignore[attr-defined]
    steps = _setup_states(result, site)  # where a previous apply's setup steps stopped
    if fmt == "json":
        import json

        data = plan.to_json() | ({"setup_steps": [s.to_json() for s in steps]} if steps else {})
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        _report(result.diagnostics, "text", quiet_ok=True)
        click.echo(render_plan(plan), nl=False)
        if steps:
            from mora.micro.progress import render_states

            click.echo(printable(render_states(steps)), nl=False)


def _setup_states(result: object, site: dict[str, object]) -> list:  # type: ignore[type-arg]
    """What the executor recorded of each step, when a step ever ran and the store is
    readable; [] otherwise (the plan then has no such section)."""
    from mora.api import open_store
    from mora.micro.progress import has_history, step_states
    from mora.secrets.errors import SecretsError

    manifest = result.compiled.manifest  # type: ignore[attr-defined]
    if not any(s.setup for s in manifest.services.values()):
        return []
    try:
        store = open_store(
            result.program,  # type: ignore[attr-defined]
            site.get("site_file"),  # type: ignore[arg-type]
            site.get("secrets_path"),  # type: ignore[arg-type]
        )
        states = step_states(manifest, store)  # type: ignore[arg-type]
    except (SecretsError, OSError):
        return []
    return states if has_history(states) else []


@cli.command("setup")
@_PROJECT
@_site_options
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Answers as YAML (input name: value) instead of asking.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("build"),
    show_default=True,
    help="Where to write the recompiled outputs.",
)
@click.option("--context", help="kubernetes: the kubeconfig context (default: its current one).")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    help="kubernetes: the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
)
@_secrets_errors
def setup_cmd(
    project: Path,
    answers_file: Path | None,
    out_dir: Path,
    context: str | None = None,
    kubeconfig: Path | None = None,
    **site: object,
) -> None:
    """Walk the pending inputs in stage order, store the answers, and recompile; then run the
    setup steps against what `mora apply` deployed (its record names the target).

    Answers come from --answers FILE, else from standard input (one line per question, in
    plan order) when it is not a terminal, else from a prompt that does not echo secrets.
    Running it again asks only what is still missing; steps already recorded do not run again.
    """
    from mora.api import compile_project, open_store
    from mora.evaluator import INPUT_PREFIX
    from mora.plan import build_plan
    from mora.secrets.commands import set_value

    result = compile_project(project, **site)  # type: ignore[arg-type]
    if result.compiled is None or result.diagnostics.has_errors:
        sys.exit(_report(result.diagnostics, "text"))
    plan = build_plan(result.compiled.manifest)  # type: ignore[attr-defined]
    questions = plan.pending_inputs
    if not questions:
        click.echo("nothing to ask: every input is answered", err=True)
    answers = _load_answers(answers_file, list(result.program.inputs))  # type: ignore[union-attr]
    store = open_store(
        result.program,  # type: ignore[arg-type]
        site.get("site_file"),  # type: ignore[arg-type]
        site.get("secrets_path"),  # type: ignore[arg-type]
    )
    interactive = answers is None and sys.stdin.isatty()
    stored = 0
    rejected = 0
    for stage in plan.stages:
        if stage.kind == "deploy":
            if any(q for q in questions) and interactive:
                click.echo(f"stage {stage.index}: deploy {', '.join(stage.services)}", err=True)
            continue
        for q in stage.inputs:
            if answers is not None:
                value = answers.get(q.name)
            elif interactive:
                click.echo(f"\n{q.name}" + (f" (for {q.service})" if q.service else ""), err=True)
                if q.prompt:  # may carry site values: control characters shown escaped
                    click.echo(f"  {printable(q.prompt)}", err=True)
                while True:
                    value = click.prompt(
                        f"  answer ({q.type}; empty to skip)",
                        default="",
                        show_default=False,
                        hide_input=q.type == "secret",
                        err=True,
                    )
                    problem = answer_problem(result.program, q.name, value) if value else None
                    if problem is None:
                        break
                    click.echo(f"  not a valid {q.type}: {printable(problem)}; try again", err=True)
            else:
                line = sys.stdin.readline()
                value = line.rstrip("\n") if line else None
            if not value:
                click.echo(f"{q.name}: skipped (still pending)", err=True)
                continue
            problem = answer_problem(result.program, q.name, value)
            if problem is not None:
                click.echo(
                    f"error: the answer to `{q.name}` is not a valid {q.type}: "
                    + printable(problem),
                    err=True,
                )
                rejected += 1
                continue
            set_value(store, INPUT_PREFIX + q.name, value, kind="input")  # type: ignore[arg-type]
            stored += 1
            click.echo(f"{q.name}: stored", err=True)
    recompiled = compile_project(project, **site)  # type: ignore[arg-type]
    diags = recompiled.diagnostics
    if recompiled.compiled is None or diags.has_errors:
        sys.exit(_report(diags, "text"))
    written, not_built = _write_outputs(recompiled.compiled, out_dir, ("all",), False, diags)
    _report(diags, "text", quiet_ok=True)
    _say_written(written, not_built, out_dir)
    left = build_plan(recompiled.compiled.manifest).pending_inputs  # type: ignore[attr-defined]
    click.echo(
        f"{stored} answer(s) stored; "
        + (f"{len(left)} input(s) still pending" if left else "every input is answered"),
        err=True,
    )
    failed = _setup_steps_on_deployed(project, site, context, kubeconfig)
    if rejected:
        sys.exit(EXIT_ERRORS)
    if failed:
        sys.exit(EXIT_APPLY_FAILED)
    if left:  # a script tells "done" from "waiting for a person"
        sys.exit(EXIT_INPUTS_PENDING)


EXIT_INPUTS_PENDING = 5  # `mora setup`: stored what it got, but inputs still wait for a person


def _setup_steps_on_deployed(
    project: Path, site: dict[str, object], context: str | None, kubeconfig: Path | None
) -> bool:
    """`mora setup`'s second half (micromanagers.md): the steps of the services the last
    `mora apply` deployed, on its target, without deploying; True when a step failed."""
    import time

    from mora.api import deploy_changes
    from mora.deploy.progress import ProgressPrinter
    from mora.deploy.targets.base import TargetError
    from mora.deploy.targets.select import make_target
    from mora.micro.apply import steps_on_deployed
    from mora.plan import build_plan

    result = deploy_changes(project, **site)  # type: ignore[arg-type]
    compiled, before = result.compiled, result.before
    if compiled is None or result.diagnostics.has_errors:
        return False  # reported by the compile above already
    manifest = compiled.manifest  # type: ignore[attr-defined]
    if not any(s.setup for s in manifest.services.values()):
        return False
    if before is None:
        click.echo("setup steps: nothing is deployed yet; `mora apply` runs them", err=True)
        return False
    kind = before.target  # type: ignore[attr-defined]
    deployed = before.manifest.services  # type: ignore[attr-defined]
    order = [n for st in build_plan(manifest).stages for n in st.services if n in deployed]
    shown = ProgressPrinter(sys.stderr)
    began = time.monotonic()

    def say(step: str, status: str, detail: str) -> None:
        shown.step(f"setup {step}", status, time.monotonic() - began, detail)

    try:
        target = make_target(
            kind,
            compiled,
            result.diagnostics,
            _site_ssh(site.get("site_file")),  # type: ignore[arg-type]
            before=before,
            context=context,
            kubeconfig=kubeconfig,
        )
    except TargetError as err:
        click.echo(f"error: setup steps on {kind}: {printable(str(err))}", err=True)
        return True
    try:
        results, skipped = steps_on_deployed(
            manifest,
            order,
            target,
            lambda: result.store,  # type: ignore[arg-type,return-value]
            say,
        )
    except TargetError as err:
        click.echo(f"error: setup steps on {kind}: {printable(str(err))}", err=True)
        return True
    finally:
        target.close()  # type: ignore[attr-defined]
        shown.close()
    ran = sum(r.status == "ran" for r in results)
    failed = [r for r in results if r.status == "failed"]
    click.echo(
        f"setup steps on {kind}: {ran} ran, {len(results) - ran - len(failed)} unchanged or "
        f"skipped, {len(failed)} failed"
        + (f"; not running, not set up: {', '.join(skipped)}" if skipped else ""),
        err=True,
    )
    return bool(failed)


MAX_ANSWERS_BYTES = 1024 * 1024


def _load_answers(path: Path | None, known: list[str]) -> dict[str, str] | None:
    """Answers from a YAML map `input name: answer` (`input.NAME:` works too)."""
    if path is None:
        return None
    import yaml

    from mora.diagnostics import did_you_mean
    from mora.evaluator import INPUT_PREFIX
    from mora.source import ReadRefused, read_bounded

    try:  # bounded, never blocking: `--answers /dev/zero` or a fifo must not hang or fill memory
        raw = read_bounded(path, MAX_ANSWERS_BYTES)
    except ReadRefused as refused:
        if refused.why == "not-regular":
            raise click.UsageError(f"cannot read {path}: not a regular file") from None
        raise click.UsageError(
            f"{path} is larger than {MAX_ANSWERS_BYTES // 1024 // 1024} MiB"
        ) from None
    except OSError as err:
        raise click.UsageError(f"cannot read {path}: {err.strerror}") from None
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except UnicodeDecodeError:
        raise click.UsageError(f"{path} is not valid UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise click.UsageError(f"{path} is not valid YAML{at}") from None
    except RecursionError:
        raise click.UsageError(
            f"{path} is nested too deeply: answers are one level, name: text"
        ) from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path} must be a YAML map of input name: answer")
    answers: dict[str, str] = {}
    for key, value in data.items():
        name = str(key).removeprefix(INPUT_PREFIX)
        if name not in known:
            guess = did_you_mean(name, known)
            click.echo(
                f"warning: {path} answers `{printable(name)}`, which is no input of this project"
                + (f"; {guess}" if guess else ""),
                err=True,
            )
            continue
        if isinstance(value, dict | list):
            raise click.UsageError(
                f"{path}: the answer to `{name}` must be text, not a {type(value).__name__}"
            )
        if value is not None:
            answers[name] = "true" if value is True else "false" if value is False else str(value)
    return answers


def answer_problem(program: object, name: str, value: str) -> str | None:
    """Why `value` does not fit input `name`'s declared type, or None."""
    from mora.site import coerce

    t = program.inputs[name].type  # type: ignore[attr-defined]
    if t.secret and t.kind == "string":
        return None
    _value, problem = coerce(value, t, from_text=True)
    return problem


@cli.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of manifest.json."""
    from mora.model import manifest_schema

    click.echo(manifest_schema(), nl=False)


# --- deploy: `mora diff` and `mora apply` (issue 12) ----------------------------------------------

EXIT_APPLY_FAILED = 4  # a service failed or was blocked; the others were applied and recorded

_DEPLOY_TARGET = click.option(
    "--target",
    "target",
    type=click.Choice(["podman", "podman-ssh", "quadlet", "kubernetes"]),
    default="podman",
    show_default=True,
    help="Where to deploy: this host's podman (no systemd); podman on the site's hosts over SSH;"
    " quadlet units on them, started by systemd; a Kubernetes cluster (server-side apply).",
)


def _deploy_changes(project: Path, target: str, fmt: str, site: dict[str, object]):  # type: ignore[no-untyped-def]
    """The change set, or exit 1 with the diagnostics."""
    from mora.api import deploy_changes

    result = deploy_changes(project, target=target, **site)  # type: ignore[arg-type]
    if result.prepared is None or result.diagnostics.has_errors:
        sys.exit(_report(result.diagnostics, fmt))
    return result


def _print_changes(result: object, fmt: str, target: str | None = None) -> None:
    from mora.deploy.changes import render

    changes = result.prepared.changes  # type: ignore[attr-defined]
    extra: dict[str, list[str]] = {}
    if target is not None:  # apply --dry-run: the bind folders and jobs too (docs/apply.md)
        from mora.deploy.preview import preview

        extra = preview(result.compiled, result.prepared, result.before, target)  # type: ignore[attr-defined]
    if fmt == "json":
        import json

        click.echo(json.dumps({**changes.to_json(), **extra}, indent=2, sort_keys=True))
    else:
        _report(result.diagnostics, "text", quiet_ok=True)  # type: ignore[attr-defined]
        click.echo(printable(render(changes)), nl=False)
        if extra:
            from mora.deploy.preview import render as render_extra

            click.echo(printable(render_extra(extra, target or "")), nl=False)


@cli.command("diff")
@_PROJECT
@_site_options
@_DEPLOY_TARGET
@_FORMAT
def diff_cmd(project: Path, target: str, fmt: str, **site: object) -> None:
    """Show what `mora apply` would change: services added, removed, changed, restarted.

    Compares the compile with what was last deployed from this site (recorded beside its secret
    store). Secret values are never shown, only that one changed. Exit 0 whether or not there
    are changes; 1 for errors in the project, the site or the record.
    """
    _print_changes(_deploy_changes(project, target, fmt, site), fmt)


def _site_ssh(site_file: Path | None) -> dict[str, object]:
    """The site inventory's SSH access per host (the site file was checked by the compile)."""
    from mora.site import load_site

    return dict(load_site(site_file, None, [], Diagnostics()).ssh) if site_file else {}


@cli.command("apply")
@_PROJECT
@_site_options
@_DEPLOY_TARGET
@click.option("--dry-run", is_flag=True, help="Print the change set and touch nothing.")
@click.option(
    "--prune-volumes", is_flag=True, help="Also delete the volumes of removed services (data!)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds a service may take to become healthy.",
)
@click.option("--context", help="kubernetes: the kubeconfig context (default: its current one).")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    help="kubernetes: the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
)
@click.option(
    "--force-conflicts",
    is_flag=True,
    help="kubernetes: take over fields another field manager owns (server-side apply force).",
)
@_FORMAT
@click.option(
    "--manager",
    "manager_url",
    metavar="URL",
    help="Push the project to a running `mora manager` and apply it there (token in "
    "MORA_MANAGER_TOKEN); the manager's site is used, not --site.",
)
def apply_cmd(
    project: Path,
    target: str,
    dry_run: bool,
    prune_volumes: bool,
    timeout: float,
    context: str | None,
    kubeconfig: Path | None,
    force_conflicts: bool,
    fmt: str,
    manager_url: str | None = None,
    **site: object,
) -> None:
    """Deploy PROJECT stage by stage and record what was deployed.

    A stage starts when the services it depends on are healthy; services waiting for an input
    are held. Only what changed is touched; running it again changes nothing. Progress goes to
    stderr. Exit 0 when everything was applied, 1 for errors in the project, site or record, 4
    when a service failed (its dependants are not started; the rest is applied).
    """
    import time

    from mora.deploy.changes import render
    from mora.deploy.engine import apply
    from mora.deploy.progress import ProgressPrinter
    from mora.deploy.state import save_record
    from mora.deploy.targets.base import TargetError
    from mora.deploy.targets.select import make_target

    if manager_url is not None:
        _apply_on_manager(project, manager_url, dry_run, site)
        return
    result = _deploy_changes(project, target, fmt, site)
    if dry_run:
        _print_changes(result, fmt, target)
        return
    _report(result.diagnostics, "text", quiet_ok=True)
    prepared = result.prepared
    click.echo(printable(render(prepared.changes)), err=True, nl=False)
    from mora.deploy.preview import preview  # bind folders and jobs
    from mora.deploy.preview import render as render_extra

    extra = preview(result.compiled, prepared, result.before, target)
    click.echo(printable(render_extra(extra, target)), err=True, nl=False)
    where = result.record_path
    began = time.monotonic()

    shown = ProgressPrinter(sys.stderr)

    from mora.micro.apply import apply_with_steps  # setup steps (micromanagers.md)

    def step_progress(step: str, status: str, detail: str) -> None:
        shown.step(f"setup {step}", status, time.monotonic() - began, detail)

    def new_target(current: object) -> object:
        try:
            return make_target(
                target,
                current.compiled,  # type: ignore[attr-defined]
                result.diagnostics,
                _site_ssh(site["site_file"]),  # type: ignore[arg-type]
                before=current.before,  # type: ignore[attr-defined]
                context=context,
                kubeconfig=kubeconfig,
                force_conflicts=force_conflicts,
            )
        except TargetError as err:
            shown.close()
            click.echo(f"error: {printable(str(err))}", err=True)
            sys.exit(EXIT_ERRORS)

    def run(current: object, deploy_target: object, hook: object) -> object:
        try:
            return apply(
                current.prepared,  # type: ignore[attr-defined]
                current.before,  # type: ignore[attr-defined]
                deploy_target,  # type: ignore[arg-type]
                lambda record: save_record(where, record),
                # seconds since this command began, not since this round's compile: a held
                # service deployed in a second round must not show an earlier time
                progress=lambda s, st, _t, d: shown.step(s, st, time.monotonic() - began, d),
                waiting_progress=lambda w, _t: shown.waiting(w, time.monotonic() - began),
                prune_volumes=prune_volumes,
                timeout=timeout,
                after_healthy=hook,  # type: ignore[arg-type]
            )
        except TargetError as err:  # a step every service needs (the network) failed
            shown.close()
            click.echo(f"error: {printable(str(err))}", err=True)
            sys.exit(EXIT_APPLY_FAILED)

    latest = [result]  # the round being applied: its compile already opened the store

    def recompile() -> object:
        latest[0] = _deploy_changes(project, target, fmt, site)
        return latest[0]

    def store() -> object:
        return latest[0].store

    done, last = apply_with_steps(
        result,
        recompile=recompile,
        make_target=new_target,
        run=run,
        open_store=store,  # type: ignore[arg-type]
        say=step_progress,
    )
    prepared = last.prepared  # type: ignore[attr-defined]
    shown.close()
    for outcome in done.outcomes:
        if outcome.logs:
            click.echo(f"last log lines of {outcome.service}:", err=True)
            for line in outcome.logs:
                click.echo(f"  | {line}", err=True)
    took = time.monotonic() - began
    if fmt == "json":
        import json

        click.echo(
            json.dumps(
                {
                    "changes": prepared.changes.to_json(),
                    "outcomes": [
                        {"service": o.service, "status": o.status, "detail": o.detail}
                        for o in done.outcomes
                    ],
                    "ok": done.ok,
                },
                indent=2,
                sort_keys=True,
            )
        )
    if not done.ok:
        bad = [o.service for o in done.outcomes if o.status in ("failed", "blocked")]
        click.echo(f"apply incomplete after {took:.1f}s: {', '.join(bad)} not deployed", err=True)
        sys.exit(EXIT_APPLY_FAILED)
    if done.changed:
        click.echo(f"applied in {took:.1f}s; recorded in {where}", err=True)
    else:
        click.echo("nothing changed: everything was already deployed and healthy", err=True)


# --- manager (issue 14): `mora manager` and `mora apply --manager URL` ----------------------------


def _apply_on_manager(project: Path, url: str, dry_run: bool, site: dict[str, object]) -> None:
    """Check locally, start the manager if it is not running (with `--site`), push the sources,
    print the manager's change set, apply there."""
    import os

    from mora.manager.client import TOKEN_ENV, Client, ClientError, render_changes
    from mora.manager.launch import default_state, ensure_running, token_from_store

    checked = run_check([project], "text")
    if checked:
        sys.exit(checked)
    site_file, secrets_path = site.get("site_file"), site.get("secrets_path")
    try:
        say = lambda line: click.echo(printable(line), err=True)  # noqa: E731
        if site_file is not None:  # without a site, a manager must already run there
            ensure_running(url, site_file, secrets_path, say)  # type: ignore[arg-type]
        token = os.environ.get(TOKEN_ENV) or None
        if token is None and site_file is not None:
            token = token_from_store(default_state(), site_file, secrets_path)  # type: ignore[arg-type]
        client = Client(url, token)
        pushed = client.push(project)
        dep = pushed["deployment"]["id"]
        click.echo(f"pushed as deployment {dep}: {url.rstrip('/')}/deployments/{dep}", err=True)
        click.echo(printable(render_changes(pushed["changes"])), err=True, nl=False)
        if dry_run:
            return
        done = client.apply(dep, lambda line: click.echo(printable(line), err=True))
    except ClientError as err:
        click.echo(f"error: {printable(str(err))}", err=True)
        sys.exit(EXIT_ERRORS)
    click.echo(f"run {done['id']}: {done['status']} ({done['summary']})", err=True)
    if done["status"] != "ok":
        sys.exit(EXIT_APPLY_FAILED)


@cli.command("manager")
@click.option(
    "--site",
    "site_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="The site file; its encrypted store (beside it) holds every value.",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Where the manager keeps its database and the pushed sources.",
)
@click.option("--secrets", "secrets_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds a service may take to become healthy.",
)
def manager_cmd(
    site_file: Path,
    state_dir: Path,
    secrets_path: Path | None,
    host: str,
    port: int,
    timeout: float,
) -> None:
    """Run the web service: REST API, dashboard, setup wizard, change view, history."""
    from mora.manager.app import serve
    from mora.manager.core import Manager, ManagerError

    try:
        manager = Manager(site_file, state_dir, secrets_path=secrets_path, timeout=timeout)
    except ManagerError as err:
        click.echo(f"error: {printable(err.message)}", err=True)
        sys.exit(EXIT_ERRORS)
    if manager.credentials.created:
        click.echo(
            "generated the manager's admin password and API token (site store); read:", err=True
        )
        click.echo(f"  {manager.read_command('admin_password')}", err=True)
        click.echo(f"  {manager.read_command('api_token')}", err=True)
    click.echo(f"mora manager on http://{host}:{port}/ (state in {manager.state})", err=True)
    serve(manager, host, port)


@cli.command("materialise")
@_PROJECT
@_site_options
@click.option("--context", help="The kubeconfig context (default: its current one).")
@click.option(
    "--kubeconfig",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).",
)
@click.option("--force-conflicts", is_flag=True, help="Take over fields another manager owns.")
@click.option("--dry-run", is_flag=True, help="Say which Secrets would be applied; send nothing.")
def materialise_cmd(
    project: Path,
    context: str | None,
    kubeconfig: Path | None,
    force_conflicts: bool,
    dry_run: bool,
    **site: object,
) -> None:
    """GitOps: create or update PROJECT's Kubernetes Secrets from the site's store.

    Git holds the rest (`mora compile --gitops`); Argo CD or Flux apply it. Server-side apply,
    fieldManager mora; only Secret objects are sent; no value is printed.
    """
    from mora.api import compile_project
    from mora.deploy.kubeclient import KubeClient, KubeError, load_kubeconfig
    from mora.manager.gitops import GitopsError, materialise

    result = compile_project(
        project,
        domain=site["domain"],  # type: ignore[arg-type]
        sets=list(site["sets"]),  # type: ignore[call-overload]
        site_file=site["site_file"],  # type: ignore[arg-type]
        secrets_path=site["secrets_path"],  # type: ignore[arg-type]
    )
    if result.compiled is None or result.diagnostics.has_errors:
        sys.exit(_report(result.diagnostics, "text"))
    say = lambda line: click.echo(printable(line), err=True)  # noqa: E731
    try:
        client = None if dry_run else KubeClient(load_kubeconfig(kubeconfig, context))
        done = materialise(result.compiled, client, say, force=force_conflicts, dry_run=dry_run)  # type: ignore[arg-type]
    except (KubeError, GitopsError) as err:
        click.echo(f"error: {printable(str(err))}", err=True)
        sys.exit(EXIT_ERRORS)
    finally:
        if not dry_run and "client" in locals() and client is not None:
            client.close()
    click.echo(f"{len(done.applied)} Secret(s) {'to apply' if dry_run else 'applied'}", err=True)


# --- mora fmt / mora lsp (mora/fmt/, mora/lsp/) ---------------------------------------------------
@cli.command("fmt")
@click.argument("paths", type=click.Path(path_type=Path), nargs=-1)
@click.option(
    "--check", is_flag=True, help="Change nothing; name the files that would change, exit 1."
)
@click.option("--diff", is_flag=True, help="Change nothing; print a unified diff of each change.")
def fmt_cmd(paths: tuple[Path, ...], check: bool, diff: bool) -> None:
    """Format .mora files in place (PATHs: files or directories; default: .; `-`: stdin to stdout).

    One canonical layout; comments are kept. A file with a syntax error is reported and left as
    it is.
    """
    from mora.fmt import run

    sys.exit(run(list(paths), check=check, diff=diff))


@cli.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default and only way).")
def lsp_cmd(stdio: bool) -> None:
    """Run the mora language server for an editor (LSP over stdin/stdout)."""
    from mora.lsp import main as lsp_main

    sys.exit(lsp_main())


# --- mora import (mora/importer) ---------------------------------------------------------------


@cli.command("import")
@click.argument(
    "compose_files", type=click.Path(path_type=Path, dir_okay=False), nargs=-1, required=True
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to write the project (default: a directory named after it).",
)
@click.option(
    "--name", help="The project's name (default: the compose `name`, else the directory's)."
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Variables for ${VAR} (repeatable; default: .env beside the first file).",
)
@click.option("--profile", "profiles", multiple=True, help="Enable a compose profile (repeatable).")
@click.option(
    "--project-directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="What relative host paths are relative to (default: the first file's directory).",
)
@click.option("--force", is_flag=True, help="Replace the project file if it exists.")
@_FORMAT
def import_cmd(
    compose_files: tuple[Path, ...],
    out_dir: Path | None,
    name: str | None,
    env_files: tuple[Path, ...],
    profiles: tuple[str, ...],
    project_directory: Path | None,
    force: bool,
    fmt: str,
) -> None:
    """Import COMPOSE_FILE... (merged in order, like `-f a -f b`) as a mora project.

    Every compose key mora cannot express is reported with its line; secret values are replaced
    by generated secrets. Exit 1 when nothing could be read or the result does not check.
    """
    from mora.importer import import_compose, render_project

    files = list(compose_files)
    if out_dir is None:
        probe = render_project(
            files,
            Diagnostics(),
            name=name,
            env_files=list(env_files) or None,
            profiles=list(profiles),
            project_directory=project_directory,
        )
        out_dir = Path(probe[0] if probe else "imported")
    result = import_compose(
        files,
        out_dir,
        name=name,
        env_files=list(env_files) or None,
        profiles=list(profiles),
        project_directory=project_directory,
        force=force,
    )
    code = _report(result.diagnostics, fmt)
    if result.written is not None and fmt == "text":
        click.echo(f"wrote {result.written}", err=True)
    sys.exit(EXIT_ERRORS if result.written is None or code else 0)


# --- mora get: pinned dependencies (mora.deps) ---------------------------------------------------
@cli.command("get")
@_PROJECT
@_FORMAT
@click.option("--update", is_flag=True, help="Resolve every version again (a moved branch).")
def get_cmd(project: Path, fmt: str, update: bool) -> None:
    """Fetch the project's `require`d modules and write mora.lock (the only network access).

    Prints what each dependency may do on the host and, when a locked version changed, what
    changed since. `check` and `compile` then read only the locked, hash-verified copies.
    """
    from mora.deps.get import get
    from mora.deps.get import report as get_report

    result = get(project, update=update)
    for line in get_report(result):
        click.echo(printable(line))
    if result.nothing_required:
        click.echo(
            "the project requires nothing (no `require` declarations): no mora.lock written",
            err=True,
        )
    if result.lock_written:
        click.echo("wrote mora.lock: commit it with the project", err=True)
    sys.exit(_report(result.diagnostics, fmt, quiet_ok=True))


if __name__ == "__main__":
    main()
