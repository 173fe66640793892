"""What the evaluator calls to turn secret declarations into values.

The evaluator hands over every `secret` declaration and `input` of a project as a
`SecretRequest`; a provider answers with the values it has (generating what was never generated,
re-deriving digests whose source changed) and with what it could not answer, so one compile can
report every missing input at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from mora.record import Record, field
from mora.secrets.errors import GeneratorError, ProviderError
from mora.secrets.generators import (
    GENERATORS,
    SYSTEM_ENTROPY,
    Entropy,
    Generator,
    SeededEntropy,
    join_parts,
)
from mora.secrets.store import Entry, SecretStore, now_iso

TYPE_CHECKING = False  # `typing` is ~2 ms of a compile's start-up (see mora.model)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the structural types are for type checkers only

__all__ = [
    "MemoryProvider",
    "ProviderError",
    "Resolution",
    "SecretProvider",
    "SecretRef",
    "SecretRequest",
    "StoreProvider",
    "dependency_order",
    "dependents_of",
    "fingerprint",
    "source_text",
]


class SecretRef(Record, frozen=True):
    """A reference from a generator argument to another secret, e.g. `secret.ca` or `.cert`."""

    name: str
    part: str | None = None  # None: the whole secret (its single `value`, or all its parts)


class SecretRequest(Record, frozen=True):
    """One declared secret or input, as the evaluator sees it."""

    name: str
    generator: str | None  # None: the value comes from `mora secrets set` / an input answer
    args: Mapping[str, object] = field(default_factory=dict)  # plain, JSON-able arguments
    sources: Mapping[str, SecretRef] = field(default_factory=dict)  # secret-typed arguments
    moved_from: str | None = None  # its store name before `moved old -> new` (re-keyed)
    per_item: bool = False  # also stands for `NAME[KEY]` entries (a step repeated per item)


def undeclared(names: Collection[str], requests: Sequence[SecretRequest]) -> list[str]:
    """The store names no request stands for: neither its name, nor `NAME[KEY]` of a
    `per_item` request (whose items are known only once the project is evaluated)."""
    declared = {r.name for r in requests} | {r.moved_from for r in requests if r.moved_from}
    families = {r.name for r in requests if r.per_item}
    return [
        n
        for n in names
        if n not in declared and not (n.endswith("]") and n.split("[", 1)[0] in families)
    ]


class Resolution(Record):
    """The answer to `resolve`. Its repr lists names only, never values."""

    #: name -> {part: text} for every request that could be satisfied
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    #: requests with no generator and no stored value (inputs still to be answered)
    missing: list[str] = field(default_factory=list)
    #: stored entries that no request names any more (`mora secrets prune` removes them)
    orphaned: list[str] = field(default_factory=list)
    #: kept values whose declaration changed (generator or args): suggest `mora secrets rotate`
    stale: list[str] = field(default_factory=list)
    #: requests that could not be made because a secret they derive from is missing or failed
    blocked: list[str] = field(default_factory=list)
    #: generated or re-derived by this call, in dependency order
    changed: list[str] = field(default_factory=list)
    #: generator failures (bad arguments, unusable source), one per secret; others still resolve
    errors: list[GeneratorError] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Resolution(values=<{len(self.values)} hidden>, missing={self.missing!r}, "
            f"orphaned={self.orphaned!r}, stale={self.stale!r}, blocked={self.blocked!r}, "
            f"changed={self.changed!r}, errors={[e.message for e in self.errors]!r})"
        )

    __str__ = __repr__

    def value(self, name: str, part: str | None = None) -> str:
        """One resolved value (`part=None`: the single `value` part)."""
        if name not in self.values:
            raise ProviderError(f"secret `{name}` has no value", secret=name)
        parts = self.values[name]
        key = part or "value"
        if key not in parts:
            raise ProviderError(
                f"secret `{name}` has no part `{key}` (parts: {', '.join(parts)})", secret=name
            )
        return parts[key]


class SecretProvider(Protocol):
    """Anything that can answer secret requests (a site store, or memory for checks/tests)."""

    def resolve(self, requests: Sequence[SecretRequest]) -> Resolution: ...


def fingerprint(text: str) -> str:
    """What the store remembers about a derived secret's source (inside the encrypted file).

    The builtin SHA-256, the digest hashlib gives: hashlib loads OpenSSL (~3 ms of a compile)."""
    try:
        from _sha256 import sha256  # Python 3.11
    except ImportError:  # pragma: no cover - other Pythons
        from hashlib import sha256
    return sha256(text.encode("utf-8")).hexdigest()


def source_text(parts: Mapping[str, str], ref: SecretRef, owner: str) -> str:
    """The text a reference stands for as a generator source."""
    if ref.part is None:
        return join_parts(parts)
    if ref.part not in parts:
        raise ProviderError(
            f"secret `{owner}` uses `secret.{ref.name}.{ref.part}`, but `{ref.name}` has no part "
            f"`{ref.part}` (parts: {', '.join(parts)})",
            secret=owner,
            help=f"if `{ref.name}` was declared differently before, run "
            f"`mora secrets rotate {ref.name}`",
        )
    return parts[ref.part]


def dependency_order(requests: Sequence[SecretRequest]) -> list[SecretRequest]:
    """Requests with every source before its users; duplicates, unknown names, cycles refused."""
    by_name: dict[str, SecretRequest] = {}
    for req in requests:
        if req.name in by_name:
            raise ProviderError(f"secret `{req.name}` is declared twice", secret=req.name)
        by_name[req.name] = req
    for req in requests:
        for ref in req.sources.values():
            if ref.name not in by_name:
                raise ProviderError(
                    f"secret `{req.name}` refers to unknown secret `{ref.name}`", secret=req.name
                )

    def deps(name: str) -> list[str]:
        return list(dict.fromkeys(ref.name for ref in by_name[name].sources.values()))

    done: set[str] = set()
    out: list[SecretRequest] = []
    for root in by_name:
        if root in done:
            continue
        path = [root]
        on_path = {root}
        stack = [iter(deps(root))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                out.append(by_name[node])
            elif nxt in on_path:
                cycle = [*path[path.index(nxt) :], nxt]
                raise ProviderError(
                    "secrets derive from each other in a cycle: " + " -> ".join(cycle),
                    secret=nxt,
                )
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(deps(nxt)))
    return out


def dependents_of(requests: Sequence[SecretRequest], name: str) -> list[str]:
    """Every request that derives from `name`, directly or through others, in dependency order."""
    affected = {name}
    out: list[str] = []
    for req in dependency_order(requests):
        if any(ref.name in affected for ref in req.sources.values()):
            affected.add(req.name)
            out.append(req.name)
    return out


class _Step(Record):
    request: SecretRequest
    generator: Generator | None
    args: dict[str, object]
    error: GeneratorError | None = None


class StoreProvider:
    """Resolves requests against a `SecretStore`, generating and saving what is new.

    Stored values win: a value is only replaced when a derived secret's source changed, or when
    asked to (`force`, used by `mora secrets rotate`).
    """

    def __init__(
        self,
        store: SecretStore,
        *,
        entropy: Callable[[str], Entropy] | None = None,
        generators: Mapping[str, Generator] = GENERATORS,
    ) -> None:
        self.store = store
        self._entropy = entropy or (lambda _name: SYSTEM_ENTROPY)
        self._generators = generators

    def resolve(
        self, requests: Sequence[SecretRequest], *, force: Collection[str] = ()
    ) -> Resolution:
        """Values for `requests`; `force` names secrets to generate anew even if stored."""
        moves = [(r.moved_from, r.name) for r in requests if r.moved_from]
        if any(old in self.store for old, _ in moves):
            with self.store.transaction():  # `moved old -> new`: the old values carry over
                for old, new in moves:
                    self.store.rename(old, new)
        steps = self._plan(requests)
        forced = frozenset(force)
        if not forced and not self.store.dirty:
            # The common case (nothing new): answer without taking the lock or writing.
            answer = self._run(steps, forced, dry=True)
            if answer is not None:
                return answer
        # Something must be generated: redo it under the lock on a fresh read, so a value
        # another process generated meanwhile is reused, then save once.
        with self.store.transaction():
            answer = self._run(steps, forced, dry=False)
        assert answer is not None
        return answer

    def _plan(self, requests: Sequence[SecretRequest]) -> list[_Step]:
        steps: list[_Step] = []
        for req in dependency_order(requests):
            if req.generator is None:
                if req.sources or req.args:
                    raise ProviderError(
                        f"secret `{req.name}` has arguments but no generator", secret=req.name
                    )
                steps.append(_Step(req, None, {}))
                continue
            gen = self._generators.get(req.generator)
            if gen is None:
                raise ProviderError(
                    f"secret `{req.name}`: unknown generator `{req.generator}()`",
                    secret=req.name,
                    help="known generators: " + ", ".join(sorted(self._generators)),
                )
            wanted = {p.name for p in gen.secret_params}
            if set(req.sources) != wanted:
                raise ProviderError(
                    f"secret `{req.name}`: {gen.name}() takes secret arguments "
                    f"{sorted(wanted)}, got {sorted(req.sources)}",
                    secret=req.name,
                )
            try:
                steps.append(_Step(req, gen, gen.normalize_args(req.args)))
            except GeneratorError as exc:
                steps.append(_Step(req, gen, {}, _named(exc, req.name)))
        return steps

    def _run(self, steps: list[_Step], force: frozenset[str], *, dry: bool) -> Resolution | None:
        res = Resolution()
        for step in steps:
            req, gen = step.request, step.generator
            name = req.name
            if step.error is not None:
                res.errors.append(step.error)
                continue
            if any(ref.name not in res.values for ref in req.sources.values()):
                res.blocked.append(name)
                continue
            sources = {
                param: source_text(res.values[ref.name], ref, name)
                for param, ref in req.sources.items()
            }
            entry = self.store.get(name)
            if gen is None:
                if entry is None:
                    res.missing.append(name)
                else:
                    res.values[name] = dict(entry.parts)
                continue
            fps = {param: fingerprint(text) for param, text in sources.items()}
            if entry is not None and name not in force:
                decision = _decide(entry, gen, step.args, fps)
                if decision != "derive":
                    if decision == "stale":
                        res.stale.append(name)
                    res.values[name] = dict(entry.parts)
                    continue
            if dry:
                return None
            try:
                parts = gen.generate(step.args, sources, entropy=self._entropy(name))
            except GeneratorError as exc:
                res.errors.append(_named(exc, name))
                continue
            now = now_iso()
            self.store.put(
                Entry(
                    name=name,
                    kind="generated",
                    generator=gen.name,
                    args=step.args,
                    parts=parts,
                    source_fingerprints=fps,
                    created=entry.created if entry is not None else now,
                    rotated=now if entry is not None else None,
                )
            )
            res.values[name] = parts
            res.changed.append(name)
        res.orphaned = undeclared(self.store.names(), [step.request for step in steps])
        res.missing.sort()
        res.stale.sort()
        res.blocked.sort()
        return res


def _decide(
    entry: Entry, gen: Generator, args: Mapping[str, object], fps: Mapping[str, str]
) -> str:
    """ "keep" the stored value, report it "stale", or "derive" it again from a changed source."""
    if entry.kind == "set":
        return "keep"  # a person chose this value; only they change it
    if entry.kind == "input":
        return "stale"  # declared as generated now, but holds an answer: rotate to generate
    if gen.derived and dict(entry.source_fingerprints) != dict(fps):
        return "derive"
    if entry.generator != gen.name or dict(entry.args) != dict(args):
        return "stale"
    if set(entry.parts) != set(gen.parts):
        return "stale"
    return "keep"


def _named(exc: GeneratorError, name: str) -> GeneratorError:
    return GeneratorError(f"secret `{name}`: {exc.message}", secret=name, help=exc.help)


class MemoryProvider(StoreProvider):
    """A provider without a file, for `mora check`-like runs and tests.

    With a `seed`, every value (keys and certificates included) is reproducible across runs;
    without one, values are real random ones, made once and remembered for this object's life.
    `values` pre-answers inputs: name -> text, or name -> {part: text}.
    """

    def __init__(
        self,
        seed: bytes | None = None,
        values: Mapping[str, str | Mapping[str, str]] | None = None,
    ) -> None:
        store = SecretStore.in_memory()
        for name, value in (values or {}).items():
            if isinstance(value, str):
                store.set_value(name, value, kind="input")
            else:
                store.put(Entry(name=name, kind="input", parts=dict(value), created=now_iso()))
        store.save()
        factory = None if seed is None else (lambda name: SeededEntropy(seed, name))
        super().__init__(store, entropy=factory)
