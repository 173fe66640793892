"""Imports point down the layers (docs: shared design README, "Beyond the compiler").

Every `import` of a mora module, lazy ones inside functions included, is read with `ast` and
checked against what its package may use. A backend that reaches for the evaluator, or the apply
engine for the checker, fails here instead of quietly tying the layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "mora"

# The ground floor every layer may use: text, spans, diagnostics, types, reserved names.
GROUND = (
    "mora.source",
    "mora.diagnostics",
    "mora.types",
    "mora.reserved",
    "mora.record",
    "mora.comments",
    "mora.cache_files",
    "mora.paths",  # paths as text, as pathlib spells them (the loader, the store, the CLI)
)

ALLOWED: dict[str, tuple[str, ...]] = {
    "mora.model": ("mora.model", "mora.types", "mora.record"),
    "mora.compiled": ("mora.compiled", "mora.model", "mora.record"),
    "mora.vocabulary": ("mora.vocabulary", "mora.types", "mora.record"),
    "mora.secrets": ("mora.secrets", *GROUND),
    "mora.backends": (
        "mora.backends",
        "mora.model",
        "mora.compiled",
        "mora.output",
        "mora.vocabulary",
        *GROUND,
    ),
    # The language passes (issue 10): check reads syntax and the vocabulary, never the site, the
    # model or the store; eval stands on what check hands on (check.program, and the clash report
    # of check.graph), the site and the model, and reaches the store only through a Protocol
    # (secrets.provider's request types, lazily).
    "mora.check": (
        "mora.check",
        "mora.codes",
        "mora.ast",
        "mora.loader",
        "mora.vocabulary",
        "mora.builtins",  # the function signatures calls are checked against
        "mora.routes",  # the route-key grammar, shared with the evaluator
        "mora.moved",  # `moved` declarations: a satellite of this pass
        "mora.steps.check",  # setup steps and jobs: satellites called once with the checker
        "mora.jobs.check",
        "mora.contracts.check",  # contracts, optional values, defaults (issue 17): satellites
        "mora.contracts.defaults",
        "mora.contracts.params",  # optional site params: their type and narrowing
        "mora.amend.check",  # instance bodies and `amend`: merged once, after the bodies
        "mora.contracts.requests",  # two-way contracts (issue 15)
        "mora.secrets.errors",  # the generator registry checks arguments (no store, no crypto)
        "mora.secrets.generators",
        # the templates' kept checks (mora/check/reuse.py) share its digest of mora's code and
        # its SHA-256; no new edge: the loader, which check reads, imports it already
        "mora.check_cache",
        *GROUND,
    ),
    "mora.eval": (
        "mora.eval",
        "mora.check.program",
        "mora.check.clashes",  # the evaluated host and port clashes, as the checker words them
        "mora.codes",
        "mora.ast",
        "mora.vocabulary",
        "mora.builtins",  # the renderers (yaml, json, toml, ini) files are written with
        "mora.routes",
        "mora.moved",
        "mora.model",
        "mora.compiled",
        "mora.site",
        "mora.steps.check",  # what setup steps keep in the store, and their evaluation
        "mora.steps.evaluate",
        "mora.jobs.evaluate",
        "mora.contracts.evaluate",  # contract fields, `enabled`, `defaults` (issue 17)
        "mora.contracts.enabled",
        "mora.contracts.defaults",
        "mora.contracts.requests",
        "mora.secrets.errors",
        "mora.secrets.generators",
        "mora.secrets.provider",  # the request types the Provider protocol is asked with
        "mora.modules.site",  # a module's params under its alias in the site (issue 17)
        "mora.modules.resolve",  # a module's service as the source names it (`media.watch`)
        *GROUND,
    ),
    # the check-result cache: below mora.api and mora.main, above nothing but the ground (a hit
    # must not load the loader or the checker)
    "mora.check_cache": ("mora.check_cache", *GROUND),
    # namespaced modules (issue 17): the loader's rewrite of aliased files; syntax only
    "mora.modules": ("mora.modules", "mora.ast", *GROUND),
    "mora.contracts": (  # contracts in the language (issue 17): called by check and eval
        "mora.contracts",
        "mora.ast",
        "mora.check",
        "mora.eval",
        "mora.model",  # enabled: reads the services and inputs eval built (type hints)
        *GROUND,
    ),
    "mora.amend": ("mora.amend", "mora.ast", "mora.check", "mora.modules.resolve", *GROUND),  # by check
    "mora.steps": (  # setup steps in the language: called by the checker and the evaluator
        "mora.steps",
        "mora.ast",
        "mora.model",
        "mora.checker",
        "mora.evaluator",
        "mora.contracts.evaluate",  # a contract field's source, kept a reference in a step
        "mora.contracts.requests",  # `for_each = self.requests(C)`: a step per request
        "mora.check.walk",  # the checker's pruned walk (references in a step)
        *GROUND,
    ),
    "mora.micro": (  # the setup-step executor: reads the model and the store, never syntax
        "mora.micro",
        "mora.model",
        "mora.compiled",
        "mora.api",  # the hook opens the site's store through the facade
        *GROUND,
    ),
    "mora.deploy": (
        "mora.deploy",
        "mora.model",
        "mora.compiled",
        "mora.plan",
        "mora.backends",
        "mora.secrets",
        "mora.output",
        "mora.api",  # the one facade that compiles: deploy asks it, never the passes
        *GROUND,
    ),
    # the web service stands on deploy and compiles through the facade (issue 14)
    "mora.manager": (
        "mora.manager",
        "mora.api",
        "mora.deploy",
        "mora.plan",
        "mora.secrets",
        "mora.model",
        "mora.compiled",
        "mora.site",  # `coerce`: an answer is checked against its input's type, as `mora setup` does
        "mora.backends.manager_service",  # how the manager itself runs (image, names), downward
        "mora.output",  # `compile --gitops` writes gitops/ as the backends write their folders
        "mora.micro",  # its applies run setup steps through the loop `mora apply` uses (issue 13)
        "mora.__version__",
        *GROUND,
    ),
    # Side doors: fmt reads syntax (source -> source); lsp reads syntax and the checker.
    "mora.fmt": ("mora.fmt", "mora.ast", "mora.parser", "mora.loader", *GROUND),
    "mora.lsp": (
        "mora.lsp",
        "mora.fmt",
        "mora.ast",
        "mora.parser",
        "mora.parse_cache",
        "mora.loader",
        "mora.checker",
        "mora.vocabulary",
        "mora.builtins",
        "mora.resources",
        "mora.__version__",
        *GROUND,
    ),
    # a docs tool: the stdlib app table (docs/stdlib/README.md) from syntax alone
    "mora.stdlib_table": ("mora.stdlib_table", "mora.ast", "mora.parser", *GROUND),
    # a side door: compose text in, mora source out, checked through the facade
    "mora.importer": (
        "mora.importer",
        "mora.fmt",  # the written project is formatted (issue 16), as `mora lsp` formats
        "mora.api",
        "mora.model",
        "mora.output",
        "mora.resources",
        *GROUND,
    ),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Every module `path` (the module `module`) imports, with its line."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name == "mora":  # `from mora import model` names submodules
                found += [(f"mora.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((name, node.lineno))
    return found


def _rule(module: str) -> tuple[str, ...] | None:
    for layer, allowed in ALLOWED.items():
        if module == layer or module.startswith(layer + "."):
            return allowed
    return None


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_imports_point_down() -> None:
    wrong: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        allowed = _rule(module)
        if allowed is None:
            continue
        for name, line in _imports(path, module):
            if name.startswith("mora") and not _within(name, allowed):
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line}: {module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The reader resolves the forms the rules depend on (else the test above proves nothing)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from mora import evaluator\n"
        "def late():\n    from mora.checker import check\n"
        "from ..plan import stages\n"
    )
    names = {n for n, _ in _imports(probe, "mora.backends.kubernetes.probe")}
    assert names == {"mora.evaluator", "mora.checker", "mora.backends.plan"}
    assert _rule("mora.backends.kubernetes.probe") == ALLOWED["mora.backends"]
    assert not _within("mora.evaluator", ALLOWED["mora.backends"])
    assert _within("mora.backends.plan", ALLOWED["mora.backends"])


def test_the_passes_point_down() -> None:
    """check sits below eval: it may not read the evaluator, the model, the site or the store."""
    check, evaluate = ALLOWED["mora.check"], ALLOWED["mora.eval"]
    for above in ("mora.eval", "mora.evaluator", "mora.model", "mora.site", "mora.secrets.store"):
        assert not _within(above, check), above
    assert not _within("mora.check.services", evaluate)  # eval reads what check hands on only
    assert _within("mora.check.program", evaluate)
    assert _rule("mora.check.services") == check and _rule("mora.eval.values") == evaluate
    assert _rule("mora.checker") is None and _rule("mora.eval_routes") is None  # the old shims
