"""What `mora check` and `mora compile` import: start-up is most of a small project's time.

Each command runs in a fresh interpreter (the real entry point, the media project) and reports the
modules it loaded. Adding an eager import of a heavy or unrelated package to a module on these
paths makes a test here fail; docs/performance.md says what each of them costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.probe import bare_modules as _bare_modules
from tests.probe import checked_media_copy
from tests.probe import loaded as _loaded

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "projects" / "media"

# Packages a check or a compile never needs: the other commands' code.
OTHER_COMMANDS = ("mora.manager", "mora.lsp", "mora.fmt", "mora.deploy", "mora.importer")


def _under(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in packages or m.startswith(packages))


def test_warm_check_loads_no_model_secrets_backends_or_file_writing(tmp_path: Path) -> None:
    """A warm `mora check` (pre-commit hooks) reads cached trees and prints: nothing else."""
    code, _ = _loaded(["check", str(MEDIA)], tmp_path)  # fills the parse cache
    assert code == 0
    code, modules = _loaded(["check", "--no-cache", str(MEDIA)], tmp_path)  # checks again
    assert code == 0
    assert "mora.checker" in modules
    heavy = ("click", "pydantic", "pydantic_core", "cryptography", "yaml", "lark", "tempfile")
    # (the checker reads the generator registry, mora.secrets.generators, to check arguments)
    ours = ("mora.model", "mora.evaluator", "mora.secrets.store", "mora.secrets.provider")
    ours += ("mora.secrets.identity", "mora.backends", "mora.output", "mora.cli", "mora.eval")
    assert _under(modules, heavy) == []
    assert _under(modules, ours) == []
    assert _under(modules, OTHER_COMMANDS) == []
    # What only generating a secret or fetching a dependency needs (fifth round): the generator
    # catalogue imports uuid (platform), secrets (random), datetime, hashlib and hmac where a
    # generator runs; the lock module hashlib and shutil where a dependency is verified or
    # stored; the parse cache keys with the builtin SHA-256, not OpenSSL's (_hashlib).
    later = ("uuid", "platform", "secrets", "random", "datetime", "_datetime", "hmac")
    later += ("hashlib", "_hashlib", "shutil", "bz2", "lzma", "string")
    # (standard-library modules a bare interpreter already has, e.g. from a .pth file, are not
    # ours to avoid)
    bare = _bare_modules(tmp_path)
    assert [m for m in _under(modules, later) if m not in bare] == []
    # The classes on this path are records (mora.record) or written out, not dataclasses: no
    # `dataclasses` (with inspect, dis and tokenize) and no methods generated with exec.
    records = ("dataclasses", "inspect", "dis", "tokenize")
    assert [m for m in _under(modules, records) if m not in bare] == []


def test_cached_check_loads_no_parser_checker_pickle_or_pathlib(tmp_path: Path) -> None:
    """A check of an unchanged project (the check cache, mora/check_cache.py) verifies what the
    last check read and prints its stored result: none of the checker, the loader, the parse
    cache (pickle), pathlib or typing."""
    code, _ = _loaded(["check", str(MEDIA)], tmp_path)  # fills both caches
    assert code == 0
    code, modules = _loaded(["check", str(MEDIA)], tmp_path)
    assert code == 0
    assert "mora.check_cache" in modules  # the probe is sound: the hit path ran
    ours = ("mora.api", "mora.check.", "mora.checker", "mora.loader", "mora.parser")
    ours += ("mora.parse_cache", "mora.ast", "mora.diagnostics", "mora.source", "mora.record")
    assert _under(modules, ours) == [] and "mora.check" not in modules
    bare = _bare_modules(tmp_path)
    later = ("pickle", "_pickle", "pathlib", "typing", "lark", "hashlib", "tempfile")
    assert [m for m in _under(modules, later) if m not in bare] == []
    code, modules = _loaded(["check", "--no-cache", str(MEDIA)], tmp_path)
    assert code == 0 and "mora.checker" in modules  # --no-cache checks again


def test_check_without_caches_loads_neither_pickle_nor_lark(tmp_path: Path) -> None:
    """`MORA_NO_CACHE=1 mora check` (the cold check of issue 11) parses every file with the
    grammar's tables, stored with marshal: neither pickle (the caches' format, ~2 ms) nor
    lark (only a syntax error needs it) is imported."""
    code, _ = _loaded(["check", str(MEDIA)], tmp_path)  # the tables' file exists
    assert code == 0
    code, modules = _loaded(["check", "--no-cache", str(MEDIA)], tmp_path, no_cache=True)
    assert code == 0 and "mora.checker" in modules and "mora.parse_tables" in modules
    bare = _bare_modules(tmp_path)
    later = ("pickle", "_pickle", "lark")
    assert [m for m in _under(modules, later) if m not in bare] == []


def test_check_after_an_edit_writes_its_caches_without_tempfile_or_pickle_py(
    tmp_path: Path,
) -> None:
    """A check after an edit parses the edited file and writes its tree and the check result
    (mora.cache_files): the temporary file is made with `os.open`, so neither `tempfile` nor
    what it imports (`shutil` with zlib, bz2 and lzma, `random`, `weakref`: ~4 ms) is loaded,
    and the tree is written and the others read with the C pickler, `_pickle`, without
    `pickle.py` (~1 ms with `_compat_pickle`; fifteenth round)."""
    project = checked_media_copy(tmp_path)
    trees = Path(os.environ["XDG_CACHE_HOME"]) / "mora" / "ast"
    before = set(trees.iterdir())
    with open(project / "media.mora", "a") as f:
        f.write("# an edit no other test makes (its tree is not cached yet)\n")
    code, modules = _loaded(["check", str(project)], tmp_path)
    assert code == 0
    # the probe is sound: the edited file was parsed, and its tree written
    assert {"mora.checker", "mora.parser", "mora.cache_files", "_pickle"} <= modules
    assert [p.suffix for p in set(trees.iterdir()) - before] == [".pickle"]
    bare = _bare_modules(tmp_path)
    later = ("tempfile", "shutil", "random", "weakref", "bz2", "lzma", "pickle")
    assert [m for m in _under(modules, later) if m not in bare] == []


# mora's core modules: the check's path (source, tree, diagnostics, loader, API) and the site's
_CORE = ("mora.record", "mora.source", "mora.ast", "mora.types", "mora.diagnostics")
_CORE += ("mora.api", "mora.loader", "mora.parse_cache", "mora.cache_files", "mora.site")
_CORE += ("mora.vocabulary.service", "mora.main")


def test_the_core_modules_do_not_import_typing(tmp_path: Path) -> None:
    """`typing` (with contextlib and collections.abc, ~3 ms) is for type checkers: the core
    modules name it under TYPE_CHECKING, and the records' and nodes' `dataclass_transform` is
    a no-op at run time (fifteenth round). The checker's, evaluator's and backends' modules
    still import it (docs/performance.md)."""
    code = f"import sys\nfor m in {_CORE!r}:\n    __import__(m)\nprint(repr(sorted(sys.modules)))"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = [sys.executable, "-c", code]
    proc = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    import ast as pyast

    modules = set(pyast.literal_eval(proc.stdout.strip().splitlines()[-1]))
    assert set(_CORE) <= modules
    bare = _bare_modules(tmp_path)  # (a .pth file may load typing before any mora code)
    assert [m for m in ("typing", "_typing", "contextlib") if m in modules - bare] == []


# pathlib and what it pulls in (urllib.parse builds ~9 namedtuples and imports ipaddress):
# ~5.6 ms of a check's or a compile's start-up (seventeenth round).
_PATHLIB = ("pathlib", "urllib", "urllib.parse", "ipaddress", "fnmatch", "ntpath")


def test_a_check_after_an_edit_and_a_check_without_caches_load_no_typing_or_pathlib(
    tmp_path: Path,
) -> None:
    """A check that runs the checker (after an edit, or without caches) loads neither `typing`
    (with `contextlib`, ~3 ms: the passes, the parser, the tables and the generator catalogue
    name it under TYPE_CHECKING only; sixteenth round) nor pathlib's modules (the loader, the
    parse cache, the tables and the resources work on `str` paths, and the catalogue imports
    `ipaddress` only for a `tls_cert`; seventeenth round)."""
    project = checked_media_copy(tmp_path)
    with open(project / "media.mora", "a") as f:
        f.write("# an edit for the pathlib probe\n")
    bare = _bare_modules(tmp_path)
    for no_cache in (False, True):
        code, modules = _loaded(["check", str(project)], tmp_path, no_cache=no_cache)
        assert code == 0
        # the probe is sound: the loader and checker ran and the edited file was parsed
        assert {"mora.loader", "mora.checker", "mora.parser", "mora.secrets.generators"} <= modules
        unwanted = ("typing", "_typing", "contextlib", *_PATHLIB)
        assert [m for m in unwanted if m in modules - bare] == []


def test_compile_loads_only_what_compiling_needs(tmp_path: Path) -> None:
    """`mora compile` builds the model and writes outputs, but loads no other command's code."""
    # the first compile fills the parse cache and creates the site's store (key and values)
    first = ["compile", str(MEDIA), "--domain", "example.org", "--out", str(tmp_path / "first")]
    code, _ = _loaded(first, tmp_path)
    assert code == 0
    out = tmp_path / "out"
    code, modules = _loaded(
        ["compile", str(MEDIA), "--domain", "example.org", "--out", str(out)], tmp_path
    )
    assert code == 0
    assert (out / "manifest.json").is_file()
    # the probe is sound: what a compile must load is there
    assert {"mora.model", "mora.backends", "mora.backends.kubernetes", "cryptography"} <= modules
    assert _under(modules, OTHER_COMMANDS) == []
    # the model is plain classes: pydantic (~170 ms) is only for `mora schema` and the manager
    assert _under(modules, ("pydantic", "pydantic_core", "annotated_types")) == []
    assert _under(modules, ("click", "mora.cli")) == []  # a plain call needs no click (~45 ms)
    assert _under(modules, ("lark", "mora.parser")) == []  # the cached trees are enough
    # The second compile of an unchanged project takes its checked program from the check
    # cache: no loader, and none of the checker's passes (mora.check.passes and the pass
    # modules it imports were ~9 ms, loaded only for the classes a program is made of)
    passes = ("mora.loader", "mora.check.passes", "mora.check.services", "mora.check.graph")
    assert _under(modules, passes) == []
    # it unpickles with the C unpickler itself: `pickle.py` (~2.5 ms with its Jython probe)
    # is for writing a cache entry (thirteenth round)
    assert "_pickle" in modules and "pickle" not in modules
    # the Kubernetes block writer decides the media project's scalars itself (emit.own_scalar):
    # PyYAML (~45 ms with its loader, reader and constructor) is for what it cannot decide
    assert _under(modules, ("yaml", "_yaml")) == []
    # The model, evaluator, store and backends declare records (mora.record), not dataclasses:
    # `import dataclasses` (inspect, ast, dis, tokenize) and creating 40 classes with exec were
    # ~40 ms of a media compile (eighth round). The store imports `secrets` (random, hmac)
    # and `datetime` only where it makes a key, a nonce or an entry; the output writer's random
    # names use os.urandom. The backends name objects with the builtin SHA-256 (eleventh
    # round): hashlib would load OpenSSL (_hashlib, ~3.5 ms).
    later = ("dataclasses", "inspect", "dis", "tokenize", "hmac", "secrets", "random")
    later += ("datetime", "_datetime", "glob", "shutil", "tempfile", "hashlib", "_hashlib")
    # Secret data is base64-encoded with binascii (base64 also loads struct), and a backend is
    # imported with `__import__`, without the importlib package (sixteenth round).
    later += ("base64", "struct", "importlib")
    bare = _bare_modules(tmp_path)
    assert [m for m in _under(modules, later) if m not in bare] == []
    # The store's one primitive is AES-GCM: its Rust class, without the `ciphers` package
    # (every cipher and mode, ~4-5 ms) or `cryptography.exceptions` (only when decryption fails)
    crypto = ("cryptography.hazmat.primitives", "cryptography.exceptions")
    crypto += ("cryptography.hazmat.decrepit", "cryptography.utils")
    assert _under(modules, crypto) == []


def test_a_warm_compile_loads_no_typing(tmp_path: Path) -> None:
    """A compile of an unchanged project reads the model's annotations without `typing` (its
    `Literal` is `mora.model._Literal`), and the evaluator, secrets and backends name `Any` and
    `Protocol` for type checkers only: `typing` with `_typing` was ~2 ms of its start-up
    (seventeenth round). `model_fields` (the schema, the tests) still resolves with `typing`."""
    args = ["compile", str(MEDIA), "--domain", "example.org"]
    code, _ = _loaded([*args, "--out", str(tmp_path / "first")], tmp_path)
    assert code == 0
    code, modules = _loaded([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert code == 0
    # the probe is sound: the model, the evaluator, the store and every backend ran
    assert {"mora.model", "mora.evaluator", "mora.secrets.provider"} <= modules
    assert {"mora.backends.kubernetes.workload", "mora.backends.podman"} <= modules
    bare = _bare_modules(tmp_path)  # (a .pth file may load typing before any mora code)
    assert [m for m in ("typing", "_typing") if m in modules - bare] == []


def test_a_warm_compile_names_its_outputs_without_pathlib(tmp_path: Path) -> None:
    """The command line, the site, the output writer, the backends, the secret store and the
    project's identity (walking up to its Git folder) work in text paths: a warm compile imports
    no `pathlib`, nor what it brings (`urllib.parse`, `ipaddress`, `fnmatch`, `ntpath`: ~5 ms
    of a ~75 ms compile, docs/performance.md, seventeenth round)."""
    args = ["compile", str(MEDIA), "--domain", "example.org"]
    code, _ = _loaded([*args, "--out", str(tmp_path / "first")], tmp_path)
    assert code == 0
    code, modules = _loaded([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert code == 0
    assert (tmp_path / "out" / "manifest.json").is_file()
    # the probe is sound: the command line, the site, the writer and every backend ran
    written = {"mora.main", "mora.site", "mora.output", "mora.backends", "mora.backends.manifest"}
    written |= {"mora.backends.kubernetes", "mora.backends.quadlet", "mora.backends.podman"}
    assert written | {"mora.secrets.identity"} <= modules
    assert {"mora.secrets.store", "mora.secrets.provider"} <= modules  # the store was read
    bare = _bare_modules(tmp_path)
    assert [m for m in _PATHLIB if m in modules - bare] == []


def test_compile_of_one_target_loads_only_that_targets_backend(tmp_path: Path) -> None:
    """`--target kubernetes` writes the manifest and Kubernetes: the podman-family writers
    (quadlet, podman, their shared planner, Caddy, systemd) are not imported."""
    args = ["compile", str(MEDIA), "--domain", "example.org", "--target", "kubernetes"]
    code, _ = _loaded([*args, "--out", str(tmp_path / "first")], tmp_path)
    assert code == 0
    code, modules = _loaded([*args, "--out", str(tmp_path / "out")], tmp_path)
    assert code == 0
    assert (tmp_path / "out" / "kubernetes").is_dir()
    assert {"mora.backends.manifest", "mora.backends.kubernetes"} <= modules
    podman_family = ("mora.backends.quadlet", "mora.backends.podman", "mora.backends.caddy")
    podman_family += ("mora.backends._podman_common", "mora.backends.systemd")
    assert _under(modules, podman_family) == []
    quadlet = ["compile", str(MEDIA), "--domain", "example.org", "--target", "quadlet"]
    code, modules = _loaded([*quadlet, "--out", str(tmp_path / "quadlet")], tmp_path)
    assert code == 0
    assert "mora.backends.quadlet" in modules
    assert _under(modules, ("mora.backends.kubernetes", "mora.backends.podman")) == []


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_the_backends_digest_is_the_sha256_that_hashlib_computes(data: bytes) -> None:
    """Object names (ConfigMap suffixes, job and unit names) keep hashlib's digests."""
    import hashlib

    from mora.backends._digest import sha256

    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert sha256(data).digest() == hashlib.sha256(data).digest()


def test_the_generators_write_out_the_string_modules_alphabets() -> None:
    """The catalogue spells out `string`'s constants so that it need not import the module."""
    import string

    from mora.secrets import generators

    assert (
        generators.ALPHABETS["ascii"] == string.ascii_letters + string.digits + string.punctuation
    )
    assert generators.ALPHABETS["lowercase"] == string.ascii_lowercase + string.digits
    assert generators.ALPHABETS["alphanumeric"] == string.ascii_letters + string.digits


def test_the_small_primes_product_is_computed_on_first_use_and_is_the_same_number() -> None:
    """The RSA sieve's constant is no longer built at import; it is still the odd primes < 2000."""
    import math

    from mora.secrets import generators

    primes = [n for n in range(3, 2000, 2) if all(n % d for d in range(2, n))]
    assert generators._small_primes_product() == math.prod(primes)


def test_the_parse_cache_key_is_the_sha256_that_hashlib_computes() -> None:
    """The builtin SHA-256 the cache uses (no OpenSSL at start-up) gives hashlib's digests."""
    import hashlib

    from mora import parse_cache

    text = "service a {}\n\u00e9\U0001f600"
    expected = hashlib.sha256(parse_cache._toolchain_digest() + text.encode()).hexdigest()
    assert parse_cache._key(text) == expected


def test_kubernetes_not_plain_class_matches_exactly_the_characters_outside_its_ranges() -> None:
    """The class is written out positively (cheap to compile); every code point is checked."""
    import re

    from mora.backends.kubernetes import _NOT_PLAIN

    plain = ((0x09, 0x0A), (0x20, 0x7E), (0xA0, 0x2027), (0x202A, 0xD7FF), (0xE000, 0xFEFE))
    plain += ((0xFF00, 0xFFFD),)
    wrong = [
        hex(c)
        for c in range(0x110000)
        if bool(re.search(_NOT_PLAIN, chr(c))) == any(lo <= c <= hi for lo, hi in plain)
    ]
    assert wrong == []


def test_own_scalar_text_class_excludes_exactly_what_pyyaml_does_not_write_as_itself() -> None:
    """`own_scalar`'s class is written as the excluded characters (cheap to compile): every code
    point is checked against the ranges PyYAML writes as themselves with `allow_unicode`."""
    from mora.backends.kubernetes.emit import _own_text

    own = ((0x0A, 0x0A), (0x20, 0x7E), (0xA0, 0x2027), (0x202A, 0xD7FF), (0xE000, 0xFEFE))
    own += ((0xFF00, 0xFFFD),)
    wrong = [
        hex(c) for c in range(0x110000) if _own_text(chr(c)) != any(lo <= c <= hi for lo, hi in own)
    ]
    assert wrong == []


def test_compile_lets_the_syntax_tree_go_before_the_backends_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tree is the largest holder of a big compile's memory; the backends never read it."""
    import gc

    import mora.backends
    from mora import ast
    from mora.main import main

    def nodes() -> int:
        gc.collect()
        return sum(isinstance(o, ast.Node) for o in gc.get_objects())

    live_nodes: list[int] = []
    write_target = mora.backends.write_target

    def counting(*args: object, **kwargs: object) -> object:
        live_nodes.append(nodes())
        return write_target(*args, **kwargs)  # type: ignore[arg-type]

    before = nodes()  # trees other tests of this process may still hold

    monkeypatch.setattr(mora.backends, "write_target", counting)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main(["compile", str(MEDIA), "--domain", "example.org", "--out", str(out)])
    assert exit_.value.code == 0
    assert (out / "manifest.json").is_file()
    assert len(live_nodes) == 4  # manifest, kubernetes, quadlet, podman
    assert live_nodes == [before] * 4


_COMPILE_ARGS = st.lists(
    st.one_of(
        st.sampled_from(["proj", "other", "--no-secrets", "--gitops", "--help", "--", "-x", ""]),
        st.tuples(
            st.sampled_from(["--domain", "--set", "--site", "--out", "--target", "--secrets"]),
            st.sampled_from(["example.org", "a=b", "site.yaml", "out", "quadlet", "bogus", "-"]),
            st.booleans(),
        ).map(lambda t: [f"{t[0]}={t[1]}"] if t[2] else [t[0], t[1]]),
        st.sampled_from([["--format", "json"], ["--format=text"], ["--format", "xml"]]),
        st.sampled_from([["--target", "all"], ["--target=podman"], ["--out"], ["--site"]]),
    ),
    max_size=6,
)


@settings(max_examples=400, deadline=None)
@given(_COMPILE_ARGS)
def test_the_click_free_compile_reads_arguments_as_click_does(parts: list[object]) -> None:
    """Whatever the fast path accepts, click reads the same way; what it refuses, click gets."""
    import click

    from mora.cli import compile_cmd
    from mora.main import _plain_compile

    args = [a for p in parts for a in (p if isinstance(p, list) else [p])]
    plain = _plain_compile(["compile", *args])
    if plain is None:
        return  # left to click: the same command, with click's help and usage errors
    ctx = compile_cmd.make_context("compile", list(args), resilient_parsing=False)
    params = dict(ctx.params)
    assert params.pop("gitops") is False
    params["sets"] = list(params["sets"])
    # the project and the output folder are given as text, the text of click's `Path`s
    for name in ("project", "out_dir"):
        assert isinstance(plain[name], str) and isinstance(params[name], Path)
        params[name] = str(params[name])
    assert plain == params
    del click


@given(st.text(alphabet="/.a\x00 ", max_size=12))
def test_the_fast_compile_writes_paths_as_pathlib_does(text: str) -> None:
    """`mora compile` names its project and output folder without pathlib (seventeenth round):
    the same text as `str(Path(...))`, which its messages print (`wrote N file(s) to OUT`)."""
    from mora.paths import pure

    assert pure(text) == str(Path(text))


def test_the_click_free_compile_writes_what_the_click_command_writes(tmp_path: Path) -> None:
    """Same files, same messages: `mora compile` through the fast path and through click."""
    args = ["compile", str(MEDIA), "--domain", "example.org", "--target", "quadlet"]
    args += ["--secrets", str(tmp_path / "site.secrets")]  # one store: the same secret values
    runs = {
        "first": "from mora.main import main; main()",  # creates the store (and says so)
        "fast": "from mora.main import main; main()",
        "click": "import sys; from mora.cli import cli; cli.main(sys.argv[1:], prog_name='mora')",
    }
    seen = {}
    for name, code in runs.items():
        cwd = tmp_path / name
        cwd.mkdir()
        proc = subprocess.run(
            [sys.executable, "-c", code, *args, "--out", "out"],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            check=False,
        )
        out = cwd / "out"
        files = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        seen[name] = (proc.returncode, proc.stderr.replace(str(cwd), "CWD"), files)
    assert seen["fast"] == seen["click"]
    assert seen["fast"][0] == 0 and "wrote " in seen["fast"][1]


def test_each_grammar_text_has_its_own_lark_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lark keeps one grammar per cache file and rebuilds the parser (~80 ms of a cold
    check) when the text differs: two mora versions must not evict each other's tables."""
    from mora import parser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    one, other = parser._cache_path("start: A\n"), parser._cache_path("start: B\n")
    assert one != other
    assert parser._cache_path("start: A\n") == one
    assert Path(one).parent == tmp_path / "mora"


def test_old_grammar_caches_are_pruned_to_the_newest_few(tmp_path: Path) -> None:
    import os

    from mora import parser

    for i in range(12):
        path = tmp_path / f"grammar-lark1.0-{i:02d}.cache"
        path.write_text("x")
        os.utime(path, (1000 + i, 1000 + i))
    (tmp_path / "other.cache").write_text("kept")
    parser._prune_grammar_caches(tmp_path, keep=8)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [*(f"grammar-lark1.0-{i:02d}.cache" for i in range(4, 12)), "other.cache"]


# Patterns a media compile never needs (a site's manager settings, placement tags, TLS
# generators, text left to PyYAML...): compiled on first use, not at import.
_LAZY_PATTERNS = (
    "mora.backends.kubernetes:_NOT_PLAIN",
    "mora.backends.kubernetes.naming:_KEY_NAME",
    "mora.backends.kubernetes.naming:_DNS_SUBDOMAIN",
    "mora.backends.kubernetes.naming:_CPU_RE",
    "mora.backends.kubernetes.placement:_LABEL_NAME",
    "mora.backends.manager_service:_LABEL",
    "mora.backends.manager_service:_IMAGE",
    "mora.secrets.generators:_DNS_LABEL",
    "mora.secrets.generators:_PEM_BLOCK",
    "mora.site:_CONTROL",
    # the notes a media compile prints are plain text: `printable` needs no pattern for them
    "mora.diagnostics:_UNPRINTABLE",
)

_REGEX_PROBE = (
    "import importlib, json, re, sys\n"
    "from mora.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "compiled = {key[1] for cache in ('_cache', '_cache2') for key in getattr(re, cache, {})}\n"
    "seen = []\n"
    f"for spec in {_LAZY_PATTERNS!r}:\n"
    "    module, name = spec.split(':')\n"
    "    value = getattr(importlib.import_module(module), name)\n"
    "    if getattr(value, 'pattern', value) in compiled:\n"
    "        seen.append(spec)\n"
    "print(json.dumps(seen))\n"
)


def test_a_compile_compiles_no_pattern_it_does_not_use(tmp_path: Path) -> None:
    """Each regular expression costs 0.05-0.5 ms to compile; those only some projects or sites
    need are compiled by `re` on first use (its cache), not when their module is imported."""
    args = ["compile", str(MEDIA), "--domain", "example.org", "--out", str(tmp_path / "out")]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = [sys.executable, "-c", _REGEX_PROBE, *args]
    proc = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


# Like _PROBE, without importing json itself: prints the loaded modules and which of the lazily
# compiled patterns (mora.types.LazyPattern) the command compiled, as a Python literal.
_PATTERN_PROBE = (
    "import sys\n"
    "from mora.main import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "from mora import diagnostics, types\n"
    "from mora.check import blocks\n"
    "from mora.steps import check as steps\n"
    "compiled = sorted(f'{m.__name__}.{n}' for m in (diagnostics, types, blocks, steps)\n"
    "    for n, v in vars(m).items() if isinstance(v, types.LazyPattern) and v._compiled)\n"
    "print(repr({'modules': sorted(sys.modules), 'compiled': compiled}))\n"
)


def test_warm_check_imports_no_json_or_base64_and_compiles_only_the_patterns_it_uses(
    tmp_path: Path,
) -> None:
    """Twelfth round (perfpasses): json is for `--format json`, a lock file and rendering files;
    base64 for generating secrets; the literal and name patterns are compiled when a value is
    first checked against them, so the e-mail, URL and terminal-escape patterns, which nothing
    in projects/media needs, stay uncompiled. `--no-cache`: the checker runs (a replayed result
    reads its entry with json)."""
    import ast as pyast

    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MORA_NO_CACHE", None)
    args = [sys.executable, "-c", _PATTERN_PROBE, "check", "--no-cache", str(MEDIA)]
    run = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    run = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    result = pyast.literal_eval(run.stdout.strip().splitlines()[-1])
    code = "import sys; print(repr(sorted(sys.modules)))"  # (_bare_modules imports json)
    bare_run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    bare = set(pyast.literal_eval(bare_run.stdout))
    assert [m for m in _under(set(result["modules"]), ("json", "base64")) if m not in bare] == []
    compiled = set(result["compiled"])
    from mora import diagnostics, types

    assert isinstance(types._EMAIL_RE, types.LazyPattern)  # not compiled at import either
    assert isinstance(types._URL_RE, types.LazyPattern)
    assert isinstance(diagnostics._UNPRINTABLE, types.LazyPattern)
    # The health check intervals are the stdlib templates': the second check replays their
    # check (mora/check/reuse.py, sixteenth round), so nothing compiles the duration pattern.
    for lazy in (
        "mora.types._DURATION_RE",
        "mora.types._EMAIL_RE",
        "mora.types._URL_RE",
        "mora.diagnostics._UNPRINTABLE",
    ):
        assert lazy not in compiled


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab-.:/@_09AZ \n\x1b\u202e", max_size=30))
def test_a_lazy_pattern_answers_as_the_compiled_pattern_does(text: str) -> None:
    import re

    from mora import diagnostics, types
    from mora.check import blocks

    for lazy in (types._HOSTNAME_RE, types._URL_RE, blocks._SIGNAL, diagnostics._UNPRINTABLE):
        eager = re.compile(lazy.pattern, lazy.flags)
        assert bool(lazy.match(text)) == bool(eager.match(text))
        assert bool(lazy.fullmatch(text)) == bool(eager.fullmatch(text))
        assert lazy.sub("?", text) == eager.sub("?", text)
    assert diagnostics.printable(text) == re.sub(
        diagnostics._UNPRINTABLE.pattern, diagnostics._escape, text
    )


def test_printable_text_is_returned_without_the_pattern_exactly_when_nothing_is_escaped() -> None:
    """`printable` skips the pattern for text `str.isprintable` accepts: sound only because no
    character the pattern escapes is printable (every code point checked)."""
    import re

    from mora import diagnostics

    pattern = re.compile(diagnostics._UNPRINTABLE.pattern)
    escaped_yet_printable = [
        hex(c) for c in range(0x110000) if chr(c).isprintable() and pattern.match(chr(c))
    ]
    assert escaped_yet_printable == []
