"""Source text and spans: the ground floor every pass builds on.

A `Span` is a byte-free, character-offset range into one `SourceFile`; line and column are computed
on demand so that nodes stay small and cheap to create.
"""

from __future__ import annotations

import bisect

from mora.record import Record, field

TYPE_CHECKING = False  # `typing` is ~3 ms of start-up: only type checkers read it here
if TYPE_CHECKING:
    from os import PathLike
    from typing import Any

    StrPath = str | PathLike[str]  # (no pathlib: ~5 ms of a check's start-up)


class SourceFile(Record, eq=False):
    """One file's text, with a line index for offset -> (line, column) look-ups.

    The index is built on the first look-up: a check after an edit reads 13 files and takes 11
    of their trees, with their own files, from the parse cache, and a clean check asks no
    position at all (indexing the 88 KB of the media check's files: ~0.5 ms). The parse
    cache's trees are pickled without it."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)  # [] until first used

    def _starts(self) -> list[int]:
        starts = self._line_starts
        if not starts:  # (an index holds at least line 1's start)
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        return starts

    @classmethod
    def read(cls, path: StrPath, display: str | None = None) -> SourceFile:
        with open(path, "rb") as f:
            data = f.read()
        text = data.decode("utf-8", errors="replace")
        return cls(display or str(path), text)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        starts = self._starts()
        line = bisect.bisect_right(starts, offset) - 1
        return line + 1, offset - starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        starts = self._starts()
        if line < 1 or line > len(starts):
            return ""
        start = starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def offset_of(self, line: int, column: int) -> int:
        """Character offset of a 1-based line and column (clamped to the text)."""
        starts = self._starts()
        line = max(1, min(line, len(starts)))
        return min(starts[line - 1] + max(column - 1, 0), len(self.text))


_LOW = 0xFFFFFFFF


class Span:
    """A half-open range [start, end) of character offsets in one source file.

    Written out rather than a frozen slotted dataclass (same constructor, equality, hash and
    immutability): generating its methods was start-up time of every `mora check`. The two
    offsets are packed into one integer, `start << 32 | end` (a tuple for the offsets that do
    not fit): a large project's syntax tree holds one span per node, and two slots with two
    integers each was over half of the tree's memory (docs/performance.md, seventh round).
    """

    __slots__ = ("_pos", "file")
    __match_args__ = ("file", "start", "end")
    file: SourceFile
    _pos: int | tuple[int, int]

    def __init__(self, file: SourceFile, start: int, end: int) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "file", file)
        if start >= 0 and 0 <= end <= _LOW:
            setattr_(self, "_pos", start << 32 | end)
        else:  # never from the parser (offsets are non-negative and files at most 1 MiB)
            setattr_(self, "_pos", (start, end))

    @property
    def start(self) -> int:
        pos = self._pos
        return pos >> 32 if pos.__class__ is int else pos[0]  # type: ignore[operator,index]

    @property
    def end(self) -> int:
        pos = self._pos
        return pos & _LOW if pos.__class__ is int else pos[1]  # type: ignore[operator,index]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Span:
            return NotImplemented
        return self.file == other.file and self._pos == other._pos  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.file, self.start, self.end))

    @property
    def line(self) -> int:
        return self.file.line_col(self.start)[0]

    @property
    def column(self) -> int:
        return self.file.line_col(self.start)[1]

    def location(self) -> str:
        line, col = self.file.line_col(self.start)
        return f"{self.file.path}:{line}:{col}"

    def text(self) -> str:
        return self.file.text[self.start : self.end]

    def to(self, other: Span) -> Span:
        """The span covering both, for nodes built from several tokens."""
        return Span(self.file, min(self.start, other.start), max(self.end, other.end))

    def __repr__(self) -> str:
        return f"Span({self.location()}+{self.end - self.start})"

    def __reduce__(self) -> tuple[Any, tuple[SourceFile, int | tuple[int, int]]]:
        # Rebuilt from the packed offsets: one integer to pickle, and none to pack again.
        return (_packed_span, (self.file, self._pos))


def _packed_span(file: SourceFile, pos: int | tuple[int, int]) -> Span:
    """A span from its packed offsets (the parse cache's pickles)."""
    span = _new(Span)
    _put_file(span, file)
    _put_pos(span, pos)
    return span


_put_file = Span.__dict__["file"].__set__  # the slots' own setters: no refusing __setattr__
_put_pos = Span.__dict__["_pos"].__set__
_new = object.__new__


def span_at(file: SourceFile, start: int, end: int) -> Span:
    """`Span(file, start, end)` for the parser, which builds one per node and token: the slots
    are filled directly (about 60% of `Span.__init__`'s cost); the same span."""
    if start < 0 or not 0 <= end <= _LOW:
        return Span(file, start, end)
    span = _new(Span)
    _put_file(span, file)
    _put_pos(span, start << 32 | end)
    return span


class ReadRefused(OSError):
    """A file read_bounded would not read: `why` is "not-regular" or "too-large"."""

    def __init__(self, path: StrPath, why: str, limit: int) -> None:
        reason = "not a regular file" if why == "not-regular" else f"larger than {limit} bytes"
        super().__init__(reason)
        self.path, self.why, self.limit = path, why, limit


def read_bounded(path: StrPath, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Every file a project, a site or a store names is read through here: opened without blocking
    (a fifo would hang), checked to be a regular file before reading (/dev/zero never ends), and
    read one byte past the limit (files under /proc report size 0). Raises `ReadRefused`, or the
    `OSError` of the open or read (FileNotFoundError for a missing file).
    """
    import os
    import stat

    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReadRefused(path, "not-regular", limit)
        if info.st_size > limit:
            raise ReadRefused(path, "too-large", limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise ReadRefused(path, "too-large", limit)
    return b"".join(chunks)
