"""The library API: what the CLI and the tests call. Each function runs the passes in order and
returns the diagnostics with the result; none of them prints or exits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mora.checker import Program, check
from mora.diagnostics import Diagnostics
from mora.loader import load_project


@dataclass
class CheckResult:
    program: Program | None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class CompileResult:
    program: Program | None
    compiled: object | None  # mora.evaluator.Compiled
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def check_project(path: Path) -> CheckResult:
    """Parse and check a project: no site, no secrets, no files written."""
    diags = Diagnostics()
    loaded = load_project(path, diags)
    if not loaded.modules:
        return CheckResult(None, diags)
    program = check(loaded, diags)
    return CheckResult(program, diags)


def compile_project(
    path: Path,
    *,
    domain: str | None = None,
    sets: list[str] | None = None,
    site_file: Path | None = None,
    provider: object | None = None,
    secrets_path: Path | None = None,
) -> CompileResult:
    """Check a project and evaluate it against a site.

    `provider` supplies secret values; when None, the site's encrypted store is opened (see
    `mora.secrets`), at `secrets_path` or the default place for this project and site.
    """
    from mora.evaluator import evaluate
    from mora.site import load_site

    checked = check_project(path)
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
    from mora.secrets.commands import default_store_path, legacy_store_path, migrate_legacy
    from mora.secrets.identity import project_identity
    from mora.secrets.store import SecretStore

    cwd = Path.cwd()
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


@dataclass
class SiteSecrets:
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
