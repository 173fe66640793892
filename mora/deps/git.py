"""Fetching one required directory at one version with `git`, safely.

`git` runs as a subprocess with a timeout and never checks anything out: the commit is fetched
into a temporary bare repository (shallow, no tags, no submodules) and the `.mora` files are read
from its tree with `ls-tree`/`cat-file`, so no hook, filter, attribute or submodule of the remote
ever runs. Hooks are also pointed at /dev/null, the `ext::` transport is off, and local
repositories (the `file` protocol) are refused unless `MORA_GET_ALLOW_FILE=1` (the tests' local
remotes).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mora.deps.lock import MAX_MODULE_BYTES

GIT_TIMEOUT = 120.0  # seconds for one git command (a clone of a large repository still fits)
_SHA = re.compile(r"^[0-9a-f]{40}$")


class FetchError(Exception):
    """A requirement cannot be fetched: why, in words safe to print (no credentials)."""


@dataclass(frozen=True)
class Source:
    url: str  # what git fetches from
    subdir: str  # the required directory inside the repository ("" for its root)


def _allow_file() -> bool:
    return os.environ.get("MORA_GET_ALLOW_FILE") == "1"


def parse_repository(spec: str) -> Source:
    """`github.com/owner/repo//projects/media` -> https URL + `projects/media`.

    A bare `host/owner/repo` means https; `https://`, `ssh://` and `git@host:path` are used as
    written; a local path (absolute, or `file://`) only for tests."""
    scheme, sep, rest = spec.partition("://")
    if not sep:
        scheme, rest = "", spec
    repo, _, subdir = rest.partition("//")
    repo = repo.rstrip("/")
    if not repo:
        raise FetchError("the repository is empty")
    parts = PurePosixPath(subdir).parts if subdir else ()
    if subdir.startswith("/") or ".." in parts or any(p.startswith("-") for p in parts):
        raise FetchError(f"`{subdir}` is not a directory inside the repository")
    local = scheme == "file" or (not scheme and (repo.startswith("/") or repo.startswith(".")))
    if local and not _allow_file():
        raise FetchError(
            "a local repository is only fetched in tests (MORA_GET_ALLOW_FILE=1); "
            "require a published one, like github.com/OWNER/REPO//DIR"
        )
    if scheme:
        url = f"{scheme}://{repo}"
    elif local or repo.startswith("git@"):
        url = repo
    else:
        url = f"https://{repo}"
    if url.startswith("-"):
        raise FetchError("the repository cannot start with `-`")
    return Source(url, "/".join(parts))


def _git(args: list[str], cwd: Path, timeout: float) -> bytes:
    """Run one git command with the safe settings; its stdout, or FetchError with stderr."""
    cmd = [
        "git",
        "-c", "core.hooksPath=/dev/null",
        "-c", "protocol.ext.allow=never",
        "-c", f"protocol.file.allow={'always' if _allow_file() else 'never'}",
        "-c", "submodule.recurse=false",
        "-c", "core.fsmonitor=false",
        *args,
    ]  # fmt: skip
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise FetchError(f"git {args[0]} took longer than {timeout:.0f} s") from err
    except FileNotFoundError as err:
        raise FetchError("`git` is not installed") from err
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"exit status {done.returncode}"
        raise FetchError(f"git {args[0]} failed: {_no_credentials(why)}")
    return done.stdout


def _no_credentials(text: str) -> str:
    """`https://user:token@host` -> `https://host`: git may echo the URL it was given."""
    return re.sub(r"://[^/@\s]+@", "://", text)


def _want(source: Source, version: str, cwd: Path, timeout: float) -> str:
    """The ref (or commit) to fetch for `version`: a tag first, then a branch, else a commit."""
    if _SHA.match(version):
        return version
    out = _git(["ls-remote", "--", source.url], cwd, timeout).decode("utf-8", "replace")
    refs = {line.split("\t", 1)[1] for line in out.splitlines() if "\t" in line}
    for ref in (f"refs/tags/{version}", f"refs/heads/{version}"):
        if ref in refs:
            return ref
    raise FetchError(f"the repository has no tag or branch `{version}`")


def fetch(
    source: Source, version: str, timeout: float = GIT_TIMEOUT, commit: str | None = None
) -> tuple[str, dict[str, bytes]]:
    """Resolve `version` (or fetch exactly `commit`) and read the `.mora` files of the directory.

    Returns (commit, {relative path: bytes}); nothing is checked out or executed."""
    with tempfile.TemporaryDirectory(prefix="mora-get-") as tmp:
        work = Path(tmp)
        _git(["init", "--quiet", "--bare", "."], work, timeout)
        want = commit or _want(source, version, work, timeout)
        _git(
            ["fetch", "--quiet", "--depth=1", "--no-tags", "--no-recurse-submodules", "--",
             source.url, want],
            work,
            timeout,
        )  # fmt: skip
        got = _git(["rev-parse", "--verify", "FETCH_HEAD^{commit}"], work, timeout)
        resolved = got.decode().strip()
        return resolved, _read_tree(resolved, source.subdir, work, timeout)


def _read_tree(commit: str, subdir: str, work: Path, timeout: float) -> dict[str, bytes]:
    """The `.mora` files below `subdir` at `commit`; a symlink among them is refused."""
    args = ["ls-tree", "-r", "-z", "--full-tree", commit]
    if subdir:
        args += ["--", subdir + "/"]
    listing = _git(args, work, timeout)
    files: dict[str, bytes] = {}
    total = 0
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, _, raw_path = item.partition(b"\t")
        mode, kind, obj = meta.decode().split()
        path = raw_path.decode("utf-8", "surrogateescape")
        if not path.endswith(".mora") or kind != "blob":
            continue
        rel = path[len(subdir) + 1 :] if subdir else path
        if mode == "120000":
            raise FetchError(f"`{path}` is a symlink: a dependency is read as plain files only")
        data = _git(["cat-file", "blob", obj], work, timeout)
        total += len(data)
        if total > MAX_MODULE_BYTES:
            raise FetchError(f"its .mora files are larger than {MAX_MODULE_BYTES >> 20} MiB")
        files[rel] = data
    if not files:
        where = f"`{subdir}`" if subdir else "the repository"
        raise FetchError(f"{where} has no .mora files at this version")
    return files
