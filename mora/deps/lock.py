"""`mora.lock` and the module cache: the offline half of pinned dependencies.

The lock file sits beside the project (`<project>/mora.lock`, committed). It is JSON with sorted
keys so that `mora get` rewrites it byte-identically when nothing changed. Each entry names the
repository and version the project asked for, the commit that version resolved to and the
content hash of the files mora reads from it (every `.mora` file below the required directory).

The cache keeps one directory per content hash, `<cache>/<hash>/`, holding those files and
nothing else. A copy is used only when its files hash to the locked value again, so a copy that
was edited, truncated or swapped is refused (the user runs `mora get`), never silently compiled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mora.record import Record
from mora.types import LazyPattern  # compiled when a lock file is read

TYPE_CHECKING = False  # `mora check` of a project without dependencies never imports pathlib
if TYPE_CHECKING:  # (~5 ms of start-up with `urllib.parse` and `ipaddress`): local imports
    from pathlib import Path

LOCK_NAME = "mora.lock"
LOCK_FORMAT = 1
STDLIB = "stdlib"  # `require stdlib version "..."`: the standard library itself
MAX_MODULE_BYTES = 16 * 1024 * 1024  # all the .mora files of one dependency
_HASH = LazyPattern(r"^sha256:[0-9a-f]{64}$")
_COMMIT = LazyPattern(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_NAME = LazyPattern(r"^[A-Za-z_][A-Za-z0-9_]*$")


class LockError(Exception):
    """`mora.lock` cannot be used: unreadable, not JSON, or an entry of the wrong shape."""


class LockEntry(Record, frozen=True):
    name: str
    repository: str
    version: str
    commit: str
    hash: str  # "sha256:<hex>" over the files mora reads (content_hash)

    def as_json(self) -> dict[str, str]:
        return {
            "repository": self.repository,
            "version": self.version,
            "commit": self.commit,
            "hash": self.hash,
        }


def cache_root() -> Path:
    """Where fetched dependencies live: `$MORA_MODULE_CACHE`, else `~/.cache/mora/modules`."""
    from pathlib import Path

    explicit = os.environ.get("MORA_MODULE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mora" / "modules"


def content_hash(files: Mapping[str, bytes]) -> str:
    """One hash for a set of files: each relative path and the SHA-256 of its bytes, in order.

    Paths take part so that a renamed or moved file changes the hash as much as an edited one.
    """
    import hashlib  # only for a dependency's files: `mora check` of a project without any

    h = hashlib.sha256(b"mora-module-1\0")
    for rel in sorted(files):
        h.update(rel.encode("utf-8", "surrogatepass") + b"\0")
        h.update(hashlib.sha256(files[rel]).digest())
    return "sha256:" + h.hexdigest()


def lock_path(project_root: Path) -> Path:
    return project_root / LOCK_NAME


def read_lock(project_root: str | os.PathLike[str]) -> dict[str, LockEntry]:
    """The entries of `<project_root>/mora.lock`; {} when there is none."""
    try:
        with open(os.path.join(project_root, LOCK_NAME), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise LockError(f"cannot read it: {err.strerror}") from err
    if len(data) > MAX_MODULE_BYTES:
        raise LockError("it is larger than any lock file mora writes")
    import json  # a project without a lock (most) never needs it: `mora check` start-up

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise LockError("it is not valid JSON") from err
    if not isinstance(doc, dict) or doc.get("mora_lock") != LOCK_FORMAT:
        raise LockError(f"it is not a mora lock file of format {LOCK_FORMAT}")
    requires = doc.get("requires", {})
    if not isinstance(requires, dict):
        raise LockError("`requires` is not an object")
    out: dict[str, LockEntry] = {}
    for name, raw in requires.items():
        fields = ("repository", "version", "commit", "hash")
        if (
            not _NAME.match(name)
            or not isinstance(raw, dict)
            or any(not isinstance(raw.get(f), str) for f in fields)
        ):
            raise LockError(f"the entry `{name[:64]}` is not of the form mora writes")
        if not _HASH.match(raw["hash"]) or not _COMMIT.match(raw["commit"]):
            raise LockError(f"the entry `{name}` has a malformed commit or hash")
        out[name] = LockEntry(name, raw["repository"], raw["version"], raw["commit"], raw["hash"])
    return out


def render_lock(entries: Mapping[str, LockEntry]) -> bytes:
    """The lock file's bytes: sorted, indented, one trailing newline (diffs stay readable)."""
    doc = {
        "mora_lock": LOCK_FORMAT,
        "requires": {name: entries[name].as_json() for name in sorted(entries)},
    }
    import json

    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def write_lock(project_root: Path, entries: Mapping[str, LockEntry]) -> bool:
    """Write `mora.lock` when its bytes change; True when it was (re)written."""
    path = lock_path(project_root)
    data = render_lock(entries)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    import tempfile  # only when writing: `mora check` never loads it (tests/test_startup.py)

    fd, tmp = tempfile.mkstemp(prefix=".mora.lock.", dir=project_root)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def module_dir(digest: str) -> Path:
    return cache_root() / digest.removeprefix("sha256:")


def read_module_files(directory: Path) -> dict[str, bytes]:
    """Every `.mora` file below `directory`, by relative POSIX path; a symlink is refused."""
    from pathlib import Path

    files: dict[str, bytes] = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(directory):
        base = Path(dirpath)
        for d in dirnames:
            if (base / d).is_symlink():
                raise LockError(f"`{d}` is a symlink")
        dirnames.sort()
        for name in sorted(filenames):
            path = base / name
            if not name.endswith(".mora"):
                continue
            if path.is_symlink() or not path.is_file():
                raise LockError(f"`{name}` is not a regular file")
            data = path.read_bytes()
            total += len(data)
            if total > MAX_MODULE_BYTES:
                raise LockError("the copy is larger than a dependency may be")
            files[path.relative_to(directory).as_posix()] = data
    return files


def verified_dir(entry: LockEntry) -> Path:
    """The cached copy of `entry`, after checking that its files hash to the locked value.

    Raises LockError saying what is wrong (missing, or changed since `mora get`)."""
    directory = module_dir(entry.hash)
    if not directory.is_dir():
        raise LockError("it has not been fetched on this machine")
    try:
        files = read_module_files(directory)
    except OSError as err:
        raise LockError(f"its cached copy cannot be read: {err.strerror}") from err
    if content_hash(files) != entry.hash:
        raise LockError("its cached copy does not match the hash in mora.lock (it was changed)")
    return directory


def store_module(files: Mapping[str, bytes]) -> tuple[str, Path]:
    """Put `files` into the cache under their content hash; returns (hash, directory).

    Written to a temporary directory and renamed into place, so a copy is whole or absent."""
    from pathlib import Path

    digest = content_hash(files)
    target = module_dir(digest)
    if target.is_dir():
        try:
            if content_hash(read_module_files(target)) == digest:
                return digest, target
        except (OSError, LockError):
            pass
        import shutil

        shutil.rmtree(target)  # a damaged copy: replace it
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    for rel, data in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        os.replace(tmp, target)
    except OSError:  # another `mora get` stored the same content meanwhile
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if content_hash(read_module_files(target)) != digest:
            raise
    return digest, target
