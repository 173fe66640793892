"""The check of a stdlib (or locked dependency) template, reused across processes.

A template's body, secrets, inputs, parameter defaults and setup steps are checked once per
template (`_Ctx(template=...)`), whatever its instances pass. For a template declared outside
the project (the stdlib, a locked dependency) no edit of the project changes that check, unless
the check reads something the project declares: so each check of such a template runs with the
program's tables watched (`_Watched`), and is kept only when it read nothing but contracts
declared outside the project. What it did is kept (the diagnostics it reported, the names it
marked used, the services without a user, the state of the template's own secrets after it)
and replayed in its place on the next check, like mypy's cache of unchanged modules.

The key of an entry: this format, mora's own code digest (`check_cache.code_digest`), the
Python version, every module outside the project (path, alias, text digest: the template's own
and all it can import), the project's name and root, the template's name and its symbol's state
before the check (parameter types and defaults, secrets, inputs). A read contract is kept with
the module it came from and verified on replay. `MORA_NO_CACHE=1` turns the reuse off, as it
does the other caches. The entries live in one marshal file per key context (all the
templates of one set of outside modules), written whole (`mora.cache_files`).
"""

from __future__ import annotations

import marshal
import os
import sys

from mora import cache_files

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from mora.check.context import CheckState
    from mora.check.program import SecretSym, TemplateSym

FORMAT = "mora-template-checks 3"
MAX_FILES = 64  # key contexts kept (a stdlib version, a lock) before the oldest half goes
MAX_ENTRIES = 4096  # entries of one context (20 for the media project) before it starts again

# The program's tables a template's check may look names up in. A read of any but `contracts`
# makes the check the project's: it is not kept.
_TABLES = (
    "params",
    "secrets",
    "inputs",
    "services",
    "templates",
    "moved",
    "contracts",
    "defaults",
    "modules",
)
_ALL = "*"  # a read of a whole table (iterated, sized, copied), not of one name


class _Watched(dict):  # type: ignore[type-arg]
    """One of the program's tables while a template is checked: every read is noted, as
    (table, name) for one name or (table, `_ALL`) for anything else; a write too."""

    _OWN = frozenset(("_table", "_reads", "_note", "_whole", "get", "__class__", "__dict__"))

    def __init__(self, data: dict, table: str, reads: list[tuple[str, str]]) -> None:  # type: ignore[type-arg]
        dict.__init__(self, data)
        self._table = table
        self._reads = reads

    def __getattribute__(self, name: str) -> object:
        if name not in _Watched._OWN:  # keys(), items(), copy(), setdefault(), ...
            object.__getattribute__(self, "_reads").append(
                (object.__getattribute__(self, "_table"), _ALL)
            )
        return object.__getattribute__(self, name)

    def _note(self, key: object) -> None:
        name = key if isinstance(key, str) else _ALL
        self._reads.append((self._table, name))

    def get(self, key: object, default: object = None) -> object:
        self._note(key)
        return dict.get(self, key, default)

    def __getitem__(self, key: object) -> object:
        self._note(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return dict.__contains__(self, key)

    def _whole(self) -> None:
        self._reads.append((self._table, _ALL))

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._whole()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._whole()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        self._whole()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        self._whole()
        return dict.__ne__(self, other)

    def __or__(self, other: object) -> object:
        self._whole()
        return dict.__or__(self, other)  # type: ignore[operator]

    def __ror__(self, other: object) -> object:
        self._whole()
        return dict.__ror__(self, other)  # type: ignore[operator]

    def __setitem__(self, key: object, value: object) -> None:
        self._reads.append((self._table, _ALL))
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: object) -> None:
        self._reads.append((self._table, _ALL))
        dict.__delitem__(self, key)

    __hash__ = None  # type: ignore[assignment]


class _Opaque:
    """A set of the state (`broken`) or `used` while a template is checked: `used.add` is noted
    (what the check marks used), any other use of either is a read that keeps the check from
    being reused."""

    def __init__(self, inner: set, reads: list[tuple[str, str]], table: str) -> None:  # type: ignore[type-arg]
        self._inner = inner
        self._reads = reads
        self._table = table
        self.added: list[object] = []

    def add(self, item: object) -> None:
        if self._table != "used":
            self._reads.append((self._table, _ALL))
        self.added.append(item)
        self._inner.add(item)

    def __getattr__(self, name: str) -> object:  # anything but add()
        self._reads.append((self._table, _ALL))
        return getattr(self._inner, name)

    def _whole(self) -> None:
        self._reads.append((self._table, _ALL))

    def __contains__(self, item: object) -> bool:
        self._whole()
        return item in self._inner

    def __iter__(self):  # type: ignore[no-untyped-def]
        self._whole()
        return iter(self._inner)

    def __len__(self) -> int:
        self._whole()
        return len(self._inner)

    def __or__(self, other: object) -> object:
        self._whole()
        return self._inner | other  # type: ignore[operator]

    def __sub__(self, other: object) -> object:
        self._whole()
        return self._inner - other  # type: ignore[operator]


class _ProjectFile(Exception):
    """A kept effect would name a file of the project."""


def enabled() -> bool:
    return cache_files.enabled()


def _cache_dir() -> str:
    return cache_files.cache_folder("templates")


class Reuse:
    """The kept template checks of one project's check: `run` replays one or checks it."""

    def __init__(self, state: CheckState) -> None:
        # The check cache's digest of mora's own code (computed once per process, shared).
        from mora.check_cache import code_digest

        digest = cache_files.digest  # the caches' builtin BLAKE2b (no OpenSSL at start-up)

        loaded = state.loaded
        self.state = state
        self.outside: set[str] = set(loaded.stdlib_modules) | set(loaded.dependency_modules)
        h = digest(f"{FORMAT}\0{code_digest()}\0{sys.version}\0".encode())
        aliases = loaded.module_scopes or [""] * len(loaded.modules)
        self.files: dict[str, object] = {}  # path -> its SourceFile, for spans in replays
        for module, alias in zip(loaded.modules, aliases, strict=False):
            path = module.file.path
            self.files[path] = module.file
            if path in self.outside:
                text = module.file.text.encode("utf-8", "surrogateescape")
                h.update(f"{path}\0{alias}\0{len(text)}\0".encode("utf-8", "surrogateescape"))
                h.update(digest(text).digest())
        self.path = os.path.join(_cache_dir(), h.hexdigest() + ".templates")
        try:
            with open(self.path, "rb") as f:
                entries = marshal.loads(f.read())
        except (OSError, ValueError, EOFError, TypeError):  # absent, or not an entry file
            entries = {}
        self.entries: dict[str, tuple[object, ...]] = entries if isinstance(entries, dict) else {}
        self.changed = False
        from _pickle import Unpickler

        files = self.files

        class _In(Unpickler):  # source files by path: this check's own
            def persistent_load(self, pid: str) -> object:
                return files[pid]

        self._unpickler = _In

    # --- one template, one phase ------------------------------------------------------------
    def _key(self, phase: str, name: str, tmpl: TemplateSym) -> str | None:
        """The entry's name: the phase, the template, the project's name and root, and the
        template's symbol as collected; None when any of it comes from the project."""
        decl = tmpl.decl
        files = {decl.span.file.path, decl.name.span.file.path, decl.body.span.file.path}
        params = []
        for pname, (ptype, tp) in tmpl.params.items():
            files.add(tp.span.file.path)
            d = tp.default
            if d is not None:
                files.add(d.span.file.path)
            where = None if d is None else (d.span.file.path, d.span.start, d.span.end)
            params.append((pname, repr(ptype), tp.span.start, where))
        secrets = []
        for sname, s in tmpl.secrets.items():
            files.add(s.decl.span.file.path)
            secrets.append((sname, s.generator, s.parts, sorted(s.public_parts), s.instance))
        inputs = []
        for iname, i in tmpl.inputs.items():
            files.add(i.decl.span.file.path)
            inputs.append((iname, repr(i.type), i.service, i.instance))
        if not files <= self.outside:
            return None
        p = self.state.program
        where = (decl.span.file.path, decl.span.start)
        return repr((phase, name, where, p.name, str(p.root), params, secrets, inputs))

    def _contract_of(self, name: str) -> str | None:
        """Contract `name` as a check reads it: its file and its fields' types ("" when there
        is no such contract); None when it is declared in the project."""
        sym = dict.get(self.state.program.contracts, name)
        if sym is None:
            return ""
        path = sym.decl.span.file.path  # type: ignore[attr-defined]
        if path not in self.outside:
            return None
        fields = [(f, repr(t), d.span.start) for f, (t, d) in sym.fields.items()]  # type: ignore[attr-defined]
        return f"{path}\0{sym.decl.span.start}\0{fields!r}"  # type: ignore[attr-defined]

    def _reads_hold(self, reads: list[tuple[str, str]]) -> bool:
        contracts = self.state.program.contracts
        for name, where in reads:
            if name == _ALL:
                found = sorted((n, self._contract_of(n)) for n in dict.keys(contracts))
                if repr(found) != where:
                    return False
            elif self._contract_of(name) != where:
                return False
        return True

    def run(self, phase: str, name: str, tmpl: TemplateSym, check: Callable[[], None]) -> None:
        """`check()` (one phase of checking template `name`), or its kept effects replayed."""
        key = self._key(phase, name, tmpl)
        if key is None:
            check()
            return
        entry = self.entries.get(key)
        if entry is not None and self._reads_hold(entry[0]):  # type: ignore[arg-type]
            self._replay(tmpl, entry[1])  # type: ignore[arg-type]
            return
        self._record(key, tmpl, check)

    def _record(self, key: str, tmpl: TemplateSym, check: Callable[[], None]) -> None:
        st = self.state
        p = st.program
        reads: list[tuple[str, str]] = []
        tables = {t: getattr(p, t) for t in _TABLES}
        watched = {t: _Watched(d, t, reads) for t, d in tables.items()}
        used, broken = st.used, st.broken
        st.used = _Opaque(used, reads, "used")  # type: ignore[assignment]
        st.broken = _Opaque(broken, reads, "broken")  # type: ignore[assignment]
        n_diags, n_users = len(st.diags.items), len(st._unknown_users)
        before = [(s.generator, s.parts, s.public_parts) for s in tmpl.secrets.values()]
        for t, w in watched.items():
            setattr(p, t, w)
        try:
            check()
        finally:
            added = st.used.added  # type: ignore[attr-defined]
            st.used, st.broken = used, broken
            for t, d in tables.items():
                w = watched[t]
                if dict.__len__(w) != len(d) or any(  # a write: keep it in the real table
                    k1 != k2 or v1 is not v2
                    for (k1, v1), (k2, v2) in zip(dict.items(w), d.items(), strict=True)
                ):
                    d.clear()
                    d.update(dict.items(w))
                setattr(p, t, d)
        kept = self._kept_reads(reads)
        if kept is None:
            return
        effects = (
            st.diags.items[n_diags:],
            added,
            st._unknown_users[n_users:],
            [
                (
                    s.generator is not g,  # named: set by the check (`sym.generator = ...`)
                    s.parts is not ps or s.public_parts is not pub,  # made: parts set
                    s.generator,
                    s.parts,
                    s.public_parts,
                )
                for s, (g, ps, pub) in zip(tmpl.secrets.values(), before, strict=True)
            ],
        )
        blob = self._dumps(effects)
        if blob is None:
            return
        if len(self.entries) >= MAX_ENTRIES:  # many projects on one stdlib: start again
            self.entries = {}
        self.entries[key] = (kept, blob)
        self.changed = True

    def _kept_reads(self, reads: list[tuple[str, str]]) -> list[tuple[str, str | None]] | None:
        """The contracts a check read, each with where it was declared; None when the check
        read anything else (or a contract of the project): it is not kept."""
        kept: dict[str, str | None] = {}
        for table, name in reads:
            if table != "contracts":
                return None
            if name not in kept:
                if name == _ALL:
                    contracts = self.state.program.contracts
                    found = sorted((n, self._contract_of(n)) for n in contracts)
                    if any(where is None for _, where in found):
                        return None
                    kept[name] = repr(found)
                else:
                    where = self._contract_of(name)
                    if where is None:
                        return None
                    kept[name] = where
        return sorted(kept.items())

    # --- the effects ------------------------------------------------------------------------
    def _dumps(self, effects: tuple[object, ...]) -> bytes | None:
        """Pickled, each source file named by its path (the replay's own file objects); None
        when an effect would point into the project (then it is not kept)."""
        import io
        from _pickle import Pickler

        from mora.source import SourceFile

        outside = self.outside

        class _Out(Pickler):
            def persistent_id(self, obj: object) -> str | None:
                if not isinstance(obj, SourceFile):
                    return None
                if obj.path not in outside:
                    raise _ProjectFile
                return obj.path

        buf = io.BytesIO()
        try:
            _Out(buf, 5).dump(effects)
        except _ProjectFile:
            return None
        return buf.getvalue()

    def _replay(self, tmpl: TemplateSym, blob: bytes) -> None:
        import io

        diags, used, users, secrets = self._unpickler(io.BytesIO(blob)).load()
        st = self.state
        st.diags.items.extend(diags)
        st.used.update(used)
        st._unknown_users.extend(users)
        for sym, (named, made, generator, parts, public) in zip(
            tmpl.secrets.values(), secrets, strict=True
        ):
            self._secret(sym, named, made)
            if (sym.generator, sym.parts, sym.public_parts) != (generator, parts, public):
                sym.generator, sym.parts, sym.public_parts = generator, parts, public

    def _secret(self, sym: SecretSym, named: bool, made: bool) -> None:
        """What the check set on a template's secret, set as it does (`SecretsPass`): the same
        objects, not just equal ones, so the program pickles to the same bytes."""
        if not (named or made):
            return
        dotted = sym.decl.value.func.dotted  # type: ignore[union-attr]
        if named:
            sym.generator = dotted
        if made:
            gen = self.state.generators()[dotted]  # type: ignore[attr-defined]
            sym.parts = tuple(gen.parts)
            sym.public_parts = frozenset(gen.public_parts)

    def save(self) -> None:
        """Write the entries when a check added one (best effort: a cache)."""
        if not self.changed:
            return
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            data = marshal.dumps(self.entries)
            cache_files.write_whole(self.path, lambda f: f.write(data))
            cache_files.prune(os.path.dirname(self.path), (".templates",), MAX_FILES)
        except OSError:
            pass
