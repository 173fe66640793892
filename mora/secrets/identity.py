"""Who a project is, so a store namespace cannot be claimed by a project that only names itself.

A project's `project media` line is text anyone can write. A namespace in a site's store is
therefore bound, on first use, to where the project comes from: its resolved directory and, when
it is a Git checkout, the origin remote (without credentials) plus the project's directory inside
the repository. The origin is read from the repository's own config, which a clone makes and
the project's files cannot change; it lets CI runners and a second checkout of the same repository
share the namespace while a foreign repository that says `project media` is refused.

Standard library only, no `git` process: this runs on every compile.
"""

from __future__ import annotations

import os
import re
from stat import S_ISDIR, S_ISREG

from mora import paths
from mora.record import Record

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up
if TYPE_CHECKING:
    from os import PathLike

__all__ = ["ProjectIdentity", "normalize_origin", "project_identity"]

_CONFIG_LIMIT = 1 << 20  # a Git config larger than this is not read (the origin is then unknown)
# compiled on first use (re's cache): only a project without a `project` line reads git's config
_SECTION = r'^\s*\[\s*remote\s+"origin"\s*\]\s*$'
_ANY_SECTION = r"^\s*\["
_URL = r"(?i)^\s*url\s*=\s*(.*?)\s*$"
_SCP = r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$"


class ProjectIdentity(Record, frozen=True):
    """Where a project comes from: its directory, and its Git origin and place in that repo."""

    path: str
    origin: str | None = None
    subdir: str | None = None

    def matches(self, other: ProjectIdentity) -> bool:
        """Same directory, or the same repository (origin) and the same project inside it."""
        if self.path == other.path:
            return True
        return self.origin is not None and (self.origin, self.subdir) == (
            other.origin,
            other.subdir,
        )

    def describe(self) -> str:
        """One line for error messages: the directory and, if known, the repository."""
        if self.origin is None:
            return self.path
        inside = f" ({self.subdir})" if self.subdir not in (None, ".") else ""
        return f"{self.path}, repository {self.origin}{inside}"

    def to_json(self) -> dict[str, str | None]:
        return {"origin": self.origin, "path": self.path, "subdir": self.subdir}

    @classmethod
    def from_json(cls, data: object) -> ProjectIdentity | None:
        """The stored form back; None if it is not one (the caller reports a malformed store)."""
        if not isinstance(data, dict) or set(data) != {"origin", "path", "subdir"}:
            return None
        path, origin, subdir = data["path"], data["origin"], data["subdir"]
        if not isinstance(path, str) or not all(
            v is None or isinstance(v, str) for v in (origin, subdir)
        ):
            return None
        return cls(path=path, origin=origin, subdir=subdir)


def normalize_origin(url: str) -> str | None:
    """`git@host:o/r.git`, `https://user:token@Host/o/r/` -> `host/o/r`; None if unusable.

    Credentials are dropped (they must never reach the store) and the forms Git accepts for
    one repository compare equal.
    """
    url = url.strip()
    if not url:
        return None
    if "://" in url:
        scheme, _, rest = url.partition("://")
        if scheme.lower() == "file":
            return None  # a local path says nothing about where the project comes from
        host, _, path = rest.partition("/")
        host = host.rpartition("@")[2]
    else:
        scp = re.match(_SCP, url)
        if scp is None:
            return None  # a local path
        host, path = scp.group(1), scp.group(2)
    host = host.lower()
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not host or not path:
        return None
    return f"{host}/{path}"


def _git_dir(start: str) -> tuple[str, str] | None:
    """(work tree root, directory holding the repository's `config`) for the resolved `start`,
    if any (text paths, as `pathlib` spells them: mora.paths)."""
    for folder in paths.parents(start):
        dot_git = paths.join(folder, ".git")
        kind = paths.mode(dot_git)
        if S_ISDIR(kind):
            return folder, dot_git
        if S_ISREG(kind):  # a worktree or submodule: `gitdir: <path>`
            try:
                text = _read_text(dot_git)[:4096]
            except OSError:
                return None
            named = (
                text[len("gitdir:") :].strip().splitlines() if text.startswith("gitdir:") else []
            )
            if not named:  # not a `gitdir:` file, or one naming no folder
                return None
            git_dir = paths.join(folder, named[0])
            common = paths.join(git_dir, "commondir")
            if S_ISREG(paths.mode(common)):
                try:
                    rel = _read_text(common).strip()
                except OSError:
                    rel = ""
                if rel:
                    git_dir = paths.join(git_dir, rel)  # an absolute `rel` replaces it
            return folder, git_dir
    return None


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def _origin_url(config: str) -> str | None:
    try:
        with open(config, "rb") as handle:
            raw = handle.read(_CONFIG_LIMIT)
    except OSError:
        return None
    in_origin = False
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if re.match(_ANY_SECTION, line):
            in_origin = bool(re.match(_SECTION, line))
            continue
        if in_origin and (m := re.match(_URL, line)):
            return m.group(1).strip('"')
    return None


def project_identity(project_dir: str | PathLike[str]) -> ProjectIdentity:
    """The identity of the project in `project_dir` (resolved; symlinks followed)."""
    root = os.path.realpath(project_dir)
    found = _git_dir(root)
    if found is None:
        return ProjectIdentity(path=root)
    top, git_dir = found
    url = _origin_url(paths.join(git_dir, "config"))
    origin = normalize_origin(url) if url else None
    if origin is None:
        return ProjectIdentity(path=root)
    return ProjectIdentity(path=root, origin=origin, subdir=paths.relative(root, top))
