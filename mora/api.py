"""The library API: what the CLI and the tests call. Each function runs the passes in order and
returns the diagnostics with the result; none of them prints or exits."""

from __future__ import annotations

from mora.diagnostics import Diagnostics
from mora.record import Record, field

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up
if TYPE_CHECKING:  # a compile of an unchanged project needs neither loader nor checker
    from os import PathLike
    from pathlib import Path  # (a check never imports pathlib: ~5 ms of start-up)

    from mora.check_cache import Reads
    from mora.checker import Program


class CheckResult(Record):
    program: Program | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class CompileResult(Record):
    program: Program | None
    compiled: object | None  # mora.evaluator.Compiled
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def check_project(path: str | PathLike[str], reads: Reads | None = None) -> CheckResult:
    """Parse and check a project: no site, no secrets, no files written. `reads` records what
    the result depends on (`mora check`'s result cache, mora.check_cache)."""
    from mora.checker import check
    from mora.loader import load_project

    diags = Diagnostics()
    loaded = load_project(path, diags, reads)
    if not loaded.modules:
        return CheckResult(None, diags)
    program = check(loaded, diags)
    return CheckResult(program, diags)


def cached_check(path: str | PathLike[str]) -> CheckResult:
    """`check_project`, or the program and diagnostics of the last clean check of `path` when
    nothing it read has changed (mora.check_cache); a miss checks and keeps both. The
    evaluator gets a program equal to a fresh check's (tests/unit/test_check_cache.py)."""
    from mora import check_cache

    if not check_cache.enabled():
        return check_project(path)
    entry = check_cache.lookup_entry(path)
    found = check_cache.load_program(entry) if entry is not None else None
    if found is not None:
        program, items = found
        return CheckResult(program, Diagnostics(items))
    return check_and_keep(path, keep_program=True)


def check_and_keep(path: str | PathLike[str], keep_program: bool = False) -> CheckResult:
    """`check_project`, its result stored in the check cache with what the check read; with
    `keep_program` (a compile), also a clean check's program (mora.check_cache)."""
    from mora import check_cache

    reads = check_cache.Reads()
    result = check_project(path, reads)
    diags = result.diagnostics
    blob = None
    if (
        keep_program
        and result.program is not None
        and not diags.has_errors
        and check_cache.keeps_program(result.program)
    ):
        blob = check_cache.pickled_program(result.program, diags.items)
    check_cache.store(path, reads, check_cache.stored_diagnostics(diags), blob)
    return result


def compile_project(
    path: Path,
    *,
    domain: str | None = None,
    sets: list[str] | None = None,
    site_file: Path | None = None,
    provider: object | None = None,
    secrets_path: Path | None = None,
    cache: bool = False,
) -> CompileResult:
    """Check a project and evaluate it against a site.

    `provider` supplies secret values; when None, the site's encrypted store is opened (see
    `mora.secrets`), at `secrets_path` or the default place for this project and site.
    `cache` (`mora compile`) takes the checked program from the check cache when nothing the
    check read has changed (`cached_check`).
    """
    from mora.evaluator import evaluate
    from mora.site import load_site

    checked = cached_check(path) if cache else check_project(path)
    diags = checked.diagnostics
    if checked.program is None or diags.has_errors:
        return CompileResult(checked.program, None, diags)
    program = checked.program
    site = load_site(site_file, domain, list(sets or []), diags)
    if provider is None and (program.secrets or program.inputs):
        provider = open_provider(program, site_file, secrets_path, diags)
        if provider is None:
            return CompileResult(program, None, diags)
    compiled = evaluate(program, site, provider, diags)  # type: ignore[arg-type]
    note_new_store(getattr(provider, "store", None), diags)
    return CompileResult(program, compiled, diags)


def note_new_store(store: object | None, diags: Diagnostics) -> None:
    """Say once where a new store and its key went: a copied site file must not silently
    start a new set of passwords."""
    from mora.secrets.store import SecretStore

    if not isinstance(store, SecretStore) or store.path is None:
        return
    if store.created_file:
        store.created_file = False
        diags.note(
            "W0510",
            f"created a new secret store {store.path} (namespace `{store.namespace}`); "
            f"its key is in {store.key_location()}",
            None,
            help="back up the key with the store; if this site had secrets before, its old "
            "store was not found here (pass --secrets PATH)",
        )
    migrated = store.migrated_from
    if migrated is not None:
        store.migrated_from = None
        diags.note(
            "W0511",
            f"moved the secrets of `{store.namespace}` from {migrated} into the site store "
            f"{store.path}; the old file is kept as {migrated}.migrated",
            None,
        )


def open_provider(
    program: Program, site_file: Path | None, secrets_path: Path | None, diags: Diagnostics
) -> object | None:
    """The site's secret store as a provider; problems become diagnostics."""
    from mora.secrets.errors import SecretsError
    from mora.secrets.provider import StoreProvider

    try:
        store = open_store(program, site_file, secrets_path)
    except SecretsError as err:
        diags.error("E0504", str(err), None, help=err.help)
        return None
    return StoreProvider(store)


def open_store(
    program: Program, site_file: Path | None, secrets_path: Path | None, *, adopt: bool = False
) -> object:
    """The site's store, opened on this project's namespace and bound to its identity.

    Without --site/--secrets the store is `./.mora/site.secrets`; a store from before
    namespaces at `./.mora/<project>.secrets` is moved into it once.
    """
    import os

    from mora.secrets.identity import project_identity
    from mora.secrets.store import (
        SecretStore,
        default_store_path,
        legacy_store_path,
        migrate_legacy,
    )

    cwd = os.getcwd()  # `Path.cwd()` as text: the store's paths are text (no pathlib)
    path = default_store_path(
        project_dir=program.root,
        project_name=program.name,
        site_file=site_file,
        explicit=secrets_path,
        cwd=cwd,
    )
    store = SecretStore.open(
        path, namespace=program.name, identity=project_identity(program.root), adopt=adopt
    )
    if site_file is None and secrets_path is None:
        migrate_legacy(store, legacy_store_path(program.name, cwd))
    return store


class SiteSecrets(Record):
    """What `mora secrets ...` works on: the declared requests and the site's store."""

    program: Program | None
    requests: list[object] = field(default_factory=list)
    store: object | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def site_secrets(
    path: Path,
    *,
    domain: str | None = None,
    sets: list[str] | None = None,
    site_file: Path | None = None,
    secrets_path: Path | None = None,
    adopt: bool = False,
) -> SiteSecrets:
    """Check the project, resolve the site's params, and open the same store `compile` uses.

    `adopt` moves the project's namespace to this checkout (`mora secrets adopt`)."""
    from mora.evaluator import Evaluator
    from mora.secrets.errors import SecretsError
    from mora.site import load_site

    checked = check_project(path)
    diags = checked.diagnostics
    program = checked.program
    if program is None or diags.has_errors:
        return SiteSecrets(program, [], None, diags)
    site = load_site(site_file, domain, list(sets or []), diags)
    evaluator = Evaluator(program, site, None, diags)
    evaluator.resolve_params()
    requests = evaluator.secret_requests()
    if requests is None or diags.has_errors:
        return SiteSecrets(program, [], None, diags)
    try:
        store = open_store(program, site_file, secrets_path, adopt=adopt)
    except SecretsError as err:
        diags.error("E0504", str(err), None, help=err.help)
        return SiteSecrets(program, requests, None, diags)
    return SiteSecrets(program, requests, store, diags)


class Consumer(Record):
    """A service whose delivered values change with a rotation: it must be restarted."""

    service: str
    #: what changed: `env NAME`, `file PATH`, `label KEY` (never a value)
    changed: list[str]
    #: init_only variables among them: name -> how the running instance takes the new value
    init_only: dict[str, str] = field(default_factory=dict)


class RotateResult(Record):
    """What `mora secrets rotate` did and what it means for the running services."""

    rotated: list[str] = field(default_factory=list)  # the secret, then what was re-derived
    consumers: list[Consumer] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def _init_only_hits(manifest: object, names: list[str]) -> list[tuple[str, str, str]]:
    """(service, variable, how) for init_only variables made from any of `names`."""
    refs = {f"secret.{n}" for n in names}
    hits = []
    for svc in manifest.services.values():  # type: ignore[attr-defined]
        for var, how in svc.init_only.items():
            value = svc.environment.get(var)
            if value is not None and refs & set(value.sources):
                hits.append((svc.name, var, _printable(how)))
    return hits


def _printable(text: str) -> str:
    """Template text for a terminal: control characters (ESC, OSC...) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _delivered(compiled: object) -> dict[str, dict[str, str]]:
    """service -> {what: fingerprint} for every value a container gets (plain or secret)."""
    import hashlib

    out: dict[str, dict[str, str]] = {}
    material = compiled.material  # type: ignore[attr-defined]

    def fp(text: str | None) -> str:
        return hashlib.sha256((text or "").encode()).hexdigest()

    for svc in compiled.manifest.services.values():  # type: ignore[attr-defined]
        seen = out.setdefault(svc.name, {})
        for var, value in svc.environment.items():
            seen[f"env {var}"] = fp(material.get(value.secret) if value.secret else value.value)
        for file in svc.files:
            seen[f"file {file.path}"] = fp(
                material.get(file.secret) if file.secret else file.content
            )
        for key, text in svc.labels.items():
            seen[f"label {key}"] = fp(text)
    return out


#: the domain `rotate_secret` evaluates with when the site gives none (`.invalid`: RFC 2606)
_NO_DOMAIN = "no-domain.mora.invalid"


def _site_gives_domain(site_file: Path | None, sets: list[str] | None) -> bool:
    """Whether the site file or a `--set domain=...` gives a domain (problems are reported by
    the real load later)."""
    from mora.site import load_site

    site = load_site(site_file, None, list(sets or []), Diagnostics())
    return site.domain is not None or site.domain_invalid


def rotate_secret(
    path: Path,
    name: str,
    *,
    force: bool = False,
    domain: str | None = None,
    sets: list[str] | None = None,
    site_file: Path | None = None,
    secrets_path: Path | None = None,
) -> RotateResult:
    """Rotate `name` (and re-derive what comes from it), then say which services changed.

    A secret that reaches an `init_only` variable (read only when a data directory is created,
    like POSTGRES_PASSWORD) is refused unless `force`: the running server would keep the old
    value while its clients get the new one. Raises `SecretsError` for what the person must fix.
    """
    from mora.secrets.commands import CommandError, domain_reader, rotate, rotation_set
    from mora.secrets.provider import StoreProvider

    if domain is None and not _site_gives_domain(site_file, sets):
        domain = _NO_DOMAIN  # stands in for it; refused below if a rotated value reads it
    site = {"domain": domain, "sets": sets, "site_file": site_file, "secrets_path": secrets_path}
    opened = site_secrets(path, **site)  # type: ignore[arg-type]
    result = RotateResult(diagnostics=opened.diagnostics)
    if opened.store is None or opened.diagnostics.has_errors:
        return result
    store, requests = opened.store, opened.requests
    if domain == _NO_DOMAIN and name in {r.name for r in requests}:  # type: ignore[attr-defined]
        reader = domain_reader(requests, name, _NO_DOMAIN, store.names())  # type: ignore[arg-type]
        if reader is not None:
            raise CommandError(
                f"secret `{reader}` is made from the site's domain, and this site gives none",
                secret=reader,
                help="pass `--domain example.org`, or set `domain:` in the site file",
            )
    provider = StoreProvider(store)  # type: ignore[arg-type]
    before = compile_project(path, provider=provider, **site)  # type: ignore[arg-type]
    if before.compiled is None:  # which services use it is unknown: fix the project first
        result.diagnostics = before.diagnostics
        return result
    affected = rotation_set(requests, name) if name in {r.name for r in requests} else [name]  # type: ignore[attr-defined]
    hits = _init_only_hits(before.compiled.manifest, affected)  # type: ignore[attr-defined]
    if hits and not force:
        where = "; ".join(f"`{var}` of {svc}" for svc, var, _how in hits)
        raise CommandError(
            f"`{name}` reaches {where}, which the image reads only when its data directory is "
            "created: rotating it would leave the running service on the old value",
            secret=name,
            help=" / ".join(f"{svc}: {how}" for svc, _var, how in hits)
            + f"; then run `mora secrets rotate {name} --force`",
        )
    rederived = rotate(store, name, requests)  # type: ignore[arg-type]
    result.rotated = [name, *rederived]
    after = compile_project(path, provider=provider, **site)  # type: ignore[arg-type]
    result.diagnostics = after.diagnostics
    if after.compiled is None:
        return result
    old, new = _delivered(before.compiled), _delivered(after.compiled)
    init_only = {(svc, var): how for svc, var, how in hits}
    for svc in sorted(new):
        changed = sorted(k for k, v in new[svc].items() if old.get(svc, {}).get(k) != v)
        if changed:
            notes = {
                k.removeprefix("env "): init_only[(svc, k.removeprefix("env "))]
                for k in changed
                if (svc, k.removeprefix("env ")) in init_only
            }
            result.consumers.append(Consumer(svc, changed, notes))
    return result


# --- deploy (issue 12): `mora diff` and `mora apply` ----------------------------------------------

E_DEPLOY_RECORD = "E0801"  # the deployment record cannot be read, written or keyed


class DeployChanges(Record):
    """What `mora diff` and `mora apply` start from: the compile, the record and the change set."""

    compiled: object | None  # mora.evaluator.Compiled
    prepared: object | None  # mora.deploy.engine.Prepared
    before: object | None  # mora.deploy.state.Record (None: nothing deployed yet)
    record_path: Path | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    store: object | None = None  # the store the compile read, on this project's namespace


def deploy_changes(
    path: Path,
    *,
    target: str = "podman",
    domain: str | None = None,
    sets: list[str] | None = None,
    site_file: Path | None = None,
    secrets_path: Path | None = None,
) -> DeployChanges:
    """Compile against the site and compare with what was last deployed from it.

    The record lives beside the site's store (`mora.deploy.state.record_path`); its secret
    digests are keyed from the store's key, so the store is opened even for a project whose
    only secrets are inputs."""
    from mora.deploy.engine import prepare
    from mora.deploy.state import StateError, digest_key, load_record, record_path
    from mora.secrets.errors import SecretsError

    checked = check_project(path)
    diags = checked.diagnostics
    program = checked.program
    if program is None or diags.has_errors:
        return DeployChanges(None, None, None, None, diags)
    provider = open_provider(program, site_file, secrets_path, diags)
    if provider is None:
        return DeployChanges(None, None, None, None, diags)
    result = compile_project(
        path,
        domain=domain,
        sets=sets,
        site_file=site_file,
        provider=provider,
        secrets_path=secrets_path,
    )
    diags = result.diagnostics
    if result.compiled is None or diags.has_errors:
        return DeployChanges(result.compiled, None, None, None, diags)
    store = provider.store  # type: ignore[attr-defined]
    where = record_path(store.path, program.name)
    try:
        before = load_record(where)
        key = digest_key(store)
        prepared = prepare(result.compiled, before, key, target)
    except (StateError, SecretsError) as err:
        diags.error(
            E_DEPLOY_RECORD,
            str(err),
            None,
            help="the record is rewritten by the next successful `mora apply`; delete it to "
            "start from nothing deployed",
        )
        return DeployChanges(result.compiled, None, None, where, diags, store)
    return DeployChanges(result.compiled, prepared, before, where, diags, store)
