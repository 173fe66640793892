"""The canonical layout of a parsed module.

Rules (docs/editors.md has them for users):

- two spaces of indentation; one space around `=`, `==`, `&&`...; `name: value` for arguments,
  map entries and parameters; lines of at most 100 characters where the code allows it;
- a list, call, type or template parameter list goes on one line when it fits, else one item per
  line with a trailing comma; a sole map, list or call argument (or a sole map or list item)
  hugs its brackets: `yaml({`, `text(join(`; a list of plain literals (a command line) that does
  not fit is filled instead, as many words a line as fit;
- a map goes on one line when it fits and was written starting on the `{` line, else one entry
  per line without commas (so a map written as a nested document stays one); a map of one entry
  whose value is a map or list wraps only the value: `{ Media: [` ... `] }`;
- a block is always one entry per line, except a block of one attribute written on one line
  that still fits (`ports { http = 8989 }`);
- blank lines: at most one, where the source had some; never after `{` or before `}`; always
  one around a top-level declaration that spans several lines;
- comments stay where they were: on their own lines before the item they precede, or at the end
  of the line they ended; a comment inside an expression that has no place of its own moves to
  the line before the entry or declaration holding it (never to another one);
- strings (and their `${}` interpolations), numbers and names are copied from the source.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from mora import ast
from mora.fmt.comments import Comment, Scan
from mora.source import SourceFile

WIDTH = 100
INDENT = "  "
_BLANK = re.compile(r"\n[ \t\r\f]*\n")

# Binding strength of an expression: `||` < `&&` < `!` < `==`/`!=` < anything else.
_OR, _AND, _NOT, _CMP, _ATOM = 1, 2, 3, 4, 5


def _prec(e: ast.Expr) -> int:
    if isinstance(e, ast.Binary):
        return {"||": _OR, "&&": _AND}.get(e.op, _CMP)
    if isinstance(e, ast.Unary):
        return _NOT
    return _ATOM


def _fits(col: int, text: str, tail: int) -> bool:
    """Whether `text` placed at `col`, followed by `tail` characters, stays within the width."""
    if "\n" not in text:
        return col + len(text) + tail <= WIDTH
    first, _, rest = text.partition("\n")
    last = rest.rsplit("\n", 1)[-1]
    return col + len(first) <= WIDTH and len(last) + tail <= WIDTH


@dataclass
class _Item:
    """One element of a sequence: its source range and how to render it at (col, indent, tail)."""

    start: int
    end: int
    render: Callable[[int, str, int], str]
    flat: Callable[[], str | None] = lambda: None
    hug: ast.Expr | None = None  # a map or list that may hug the brackets when alone


class Printer:
    """Renders one module; `used` marks the comments already placed, so none is printed twice."""

    def __init__(self, file: SourceFile, found: Scan) -> None:
        self.file = file
        self.src = file.text
        self.scan = found
        self.comments = found.comments
        self.starts = [c.start for c in self.comments]
        self.used = [False] * len(self.comments)
        self.comments_ignored = False  # set only while _flat_moved measures
        self.hugged: set[int] = set()  # ids of the nodes printed hugging their parent's brackets

    # --- comments --------------------------------------------------------------------------------
    def _has_comment(self, lo: int, hi: int) -> bool:
        if self.comments_ignored:
            return False
        i = bisect.bisect_left(self.starts, lo)
        return i < len(self.starts) and self.starts[i] < hi

    def _flat_moved(self, e: ast.Expr) -> str | None:
        """`e` on one line when its comments have no place inside it and so move before its
        list item: the next run sees no comment there and must lay the item out the same."""
        before, hugged = self.used[:], set(self.hugged)
        self.expr(e, 0, "", 0)  # a trial: does the layout place a comment inside `e`?
        placed = self.used != before
        self.used, self.hugged = before, hugged
        if placed:
            return None
        self.comments_ignored = True
        try:
            return self.flat(e)
        finally:
            self.comments_ignored = False

    def _take(self, lo: int, hi: int) -> list[Comment]:
        out = []
        i = bisect.bisect_left(self.starts, lo)
        while i < len(self.starts) and self.starts[i] < hi:
            if not self.used[i]:
                self.used[i] = True
                out.append(self.comments[i])
            i += 1
        return out

    def _line(self, offset: int) -> int:
        return self.file.line_col(offset)[0]

    def _blank(self, lo: int, hi: int) -> bool:
        return _BLANK.search(self.src, lo, max(lo, hi)) is not None

    # --- sequences -------------------------------------------------------------------------------
    def _seq(
        self,
        items: list[_Item],
        lo: int,
        hi: int,
        ind: str,
        sep: str,
        opener_line: int | None,
        separate_blocks: bool = False,
    ) -> tuple[str | None, list[str]]:
        """Lay out `items` one per line between `lo` and `hi`, with the comments around them.

        Returns the comment that belongs after the opening bracket (if any) and the lines."""
        lines: list[str] = []
        opener_comment: str | None = None
        prev_end, prev_line = lo, opener_line
        prev_multiline = False
        for k, item in enumerate([*items, None]):
            gap_end = hi if item is None else item.start
            leading: list[tuple[bool, str]] = []
            for c in self._take(prev_end, gap_end):
                if prev_line is not None and c.line == prev_line and not leading:
                    if k == 0:
                        opener_comment = c.text
                    else:
                        lines[-1] += "  " + c.text
                else:
                    leading.append((self._blank(prev_end, c.start), c.text))
                prev_end, prev_line = c.end, c.line
            if item is None:
                for blank, text in leading:
                    if blank and lines:
                        lines.append("")
                    lines.append(ind + text)
                break
            text = item.render(len(ind), ind, len(sep)) + sep
            orphans = self._take(item.start, item.end)
            multiline = "\n" in text
            blank_item = self._blank(prev_end, item.start)
            if leading:
                first_blank = leading[0][0] or (
                    separate_blocks and k > 0 and (prev_multiline or multiline)
                )
                for i, (blank, ctext) in enumerate(leading):
                    if (first_blank if i == 0 else blank) and lines:
                        lines.append("")
                    lines.append(ind + ctext)
                if blank_item:
                    lines.append("")
            elif lines and (
                blank_item or (separate_blocks and k > 0 and (prev_multiline or multiline))
            ):
                lines.append("")
            lines.extend(ind + o.text for o in orphans)
            first, *rest = text.split("\n")
            lines.append(ind + first)
            lines.extend(rest)
            prev_end, prev_line = item.end, self._line(max(item.start, item.end - 1))
            prev_multiline = multiline
        return opener_comment, lines

    def _bracketed(
        self,
        opener: str,
        closer: str,
        items: list[_Item],
        lo: int,
        hi: int,
        col: int,
        ind: str,
        tail: int,
        *,
        sep: str = ",",
        pad: str = "",
        force_break: bool = False,
    ) -> str:
        """A bracketed, separated sequence: flat when it fits, hugging, or one item per line."""
        has_comment = self._has_comment(lo, hi)
        if not items and not has_comment:
            return opener + closer
        if not force_break and not has_comment:
            flats = [it.flat() for it in items]
            if all(f is not None for f in flats):
                text = opener + pad + ", ".join(f for f in flats if f) + pad + closer
                if _fits(col, text, tail):
                    return text
        if (
            len(items) == 1
            and items[0].hug is not None
            and not self._has_comment(lo, items[0].start)
            and not self._has_comment(items[0].end, hi)
        ):
            self.hugged.add(id(items[0].hug))
            inner = self.expr(items[0].hug, col + len(opener), ind, tail + len(closer))
            return opener + inner + closer
        inner_ind = ind + INDENT
        opener_comment, lines = self._seq(items, lo, hi, inner_ind, sep, self._line(lo - 1))
        head = opener + ("  " + opener_comment if opener_comment else "")
        return head + "".join("\n" + line for line in lines) + "\n" + ind + closer

    # --- expressions -----------------------------------------------------------------------------
    def _raw(self, node: ast.StringLit | ast.Key | ast.IntLit) -> str:
        return self.src[node.span.start : node.span.end]

    def _key(self, key: ast.Key) -> str:
        return self._raw(key) if key.quoted else key.text

    def _map_forced(self, m: ast.MapExpr) -> bool:
        """A map written with its first entry on a later line than `{` stays one entry a line."""
        return bool(m.entries) and "\n" in self.src[m.span.start : m.entries[0].span.start]

    def _wrap(self, child: ast.Expr, parent: ast.Expr, right: bool) -> bool:
        """Whether `child` needs parentheses under `parent` (or reads better with them)."""
        p, c = _prec(parent), _prec(child)
        if p == _OR:
            return c == _AND or (right and c == _OR)
        if p == _AND:
            return c == _OR or (right and c == _AND)
        if p == _CMP:
            return c != _ATOM
        if p == _NOT:
            return c not in (_ATOM, _NOT)
        return False

    def flat(self, e: ast.Expr) -> str | None:
        """`e` on one line, or None when it cannot be (a comment inside, or a map kept broken)."""
        match e:
            case ast.StringLit() | ast.IntLit():
                return self._raw(e)
            case ast.UnitLit():
                return e.text
            case ast.BoolLit():
                return "true" if e.value else "false"
            case ast.NoneLit():
                return "none"
            case ast.Ref():
                return e.dotted
        if self._has_comment(e.span.start, e.span.end):
            return None
        parts: list[str | None]
        match e:
            case ast.ListExpr():
                parts = [self._list_item_flat(i) for i in e.items]
                return None if None in parts else "[" + ", ".join(map(str, parts)) + "]"
            case ast.MapExpr():
                if not e.entries:
                    return "{}"
                if self._map_forced(e):
                    return None
                parts = [self._entry_flat(x) for x in e.entries]
                return None if None in parts else "{ " + ", ".join(map(str, parts)) + " }"
            case ast.Call():
                parts = [self._arg_flat(a) for a in e.args]
                return (
                    None
                    if None in parts
                    else f"{e.func.dotted}(" + ", ".join(map(str, parts)) + ")"
                )
            case ast.Unary():
                inner = self.flat(e.operand)
                if inner is None:
                    return None
                return "!" + (f"({inner})" if self._wrap(e.operand, e, False) else inner)
            case ast.Binary():
                left, right = self.flat(e.left), self.flat(e.right)
                if left is None or right is None:
                    return None
                if self._wrap(e.left, e, False):
                    left = f"({left})"
                if self._wrap(e.right, e, True):
                    right = f"({right})"
                return f"{left} {e.op} {right}"
        raise TypeError(f"unknown expression {type(e).__name__}")

    def _list_item_flat(self, item: ast.ListItem) -> str | None:
        value = self.flat(item.value)
        if value is None or item.condition is None:
            return value
        cond = self.flat(item.condition)
        return None if cond is None else f"{value} if {cond}"

    def _entry_flat(self, entry: ast.MapEntry) -> str | None:
        value = self.flat(entry.value)
        return None if value is None else f"{self._key(entry.key)}: {value}"

    def _arg_flat(self, arg: ast.Arg) -> str | None:
        value = self.flat(arg.value)
        if value is None or arg.name is None:
            return value
        return f"{arg.name.text}: {value}"

    def expr(self, e: ast.Expr, col: int, ind: str, tail: int) -> str:
        """`e` starting at column `col` of a line indented `ind`, followed by `tail` characters."""
        text = self.flat(e)
        if text is not None and _fits(col, text, tail):
            return text
        match e:
            case ast.ListExpr():
                filled = self._fill(e, ind, text)
                if filled is not None:
                    return filled
                items = [self._list_item(i) for i in e.items]
                lo, hi = e.span.start + 1, e.span.end - 1
                return self._bracketed("[", "]", items, lo, hi, col, ind, tail)
            case ast.MapExpr():
                lo, hi = e.span.start + 1, e.span.end - 1
                hugged = self._hug_entry(e, lo, hi, col, ind, tail)
                if hugged is not None:
                    return hugged
                entries = [self._map_entry(x) for x in e.entries]
                forced = self._map_forced(e) or text is not None
                return self._bracketed(
                    "{", "}", entries, lo, hi, col, ind, tail, sep="", pad=" ", force_break=forced
                )
            case ast.Call():
                args = [self._arg(a) for a in e.args]
                lo = self.scan.find_code(self.src, "(", e.func.span.end, e.span.end) + 1
                opener = e.func.dotted + "("
                return self._bracketed(opener, ")", args, lo, e.span.end - 1, col, ind, tail)
            case ast.Unary():
                if self._wrap(e.operand, e, False):
                    return "!(" + self.expr(e.operand, col + 2, ind, tail + 1) + ")"
                return "!" + self.expr(e.operand, col + 1, ind, tail)
            case ast.Binary():
                wrap_l, wrap_r = self._wrap(e.left, e, False), self._wrap(e.right, e, True)
                left = self.expr(e.left, col + wrap_l, ind, len(e.op) + 2)
                if wrap_l:
                    left = f"({left})"
                last = left.rsplit("\n", 1)
                at = (col if len(last) == 1 else 0) + len(last[-1]) + len(e.op) + 2
                right = self.expr(e.right, at + wrap_r, ind, tail + wrap_r)
                if wrap_r:
                    right = f"({right})"
                return f"{left} {e.op} {right}"
        return text if text is not None else self._raw(e)  # type: ignore[arg-type]

    def _hug_entry(
        self, e: ast.MapExpr, lo: int, hi: int, col: int, ind: str, tail: int
    ) -> str | None:
        """`{ key: [` ... `] }`: a map of one entry whose value is a map or list, written on the
        line of its `{` and not itself hugging brackets, wraps only the value. Else None."""
        if len(e.entries) != 1 or self._map_forced(e) or id(e) in self.hugged:
            return None  # one hug a line: `yaml({ key: [{` would hide the structure
        entry = e.entries[0]
        value = entry.value
        if not isinstance(value, ast.MapExpr | ast.ListExpr):
            return None
        if self._has_comment(lo, value.span.start) or self._has_comment(value.span.end, hi):
            return None
        head = "{ " + self._key(entry.key) + ": "
        return head + self.expr(value, col + len(head), ind, tail + 2) + " }"

    def _fill(self, e: ast.ListExpr, ind: str, flat: str | None) -> str | None:
        """A list of plain words (a command line, say) that does not fit on one line: as many
        words a line as fit, each line ending with a comma. None for any other list."""
        if flat is None or "\n" in flat:
            return None
        words = []
        for item in e.items:
            if item.condition is not None or not isinstance(
                item.value, ast.StringLit | ast.IntLit | ast.UnitLit | ast.BoolLit
            ):
                return None
            words.append(self.flat(item.value) or "")
        inner = ind + INDENT
        lines: list[str] = []
        for word in words:
            if lines and len(lines[-1]) + 1 + len(word) + 1 <= WIDTH:
                lines[-1] += " " + word + ","
            else:
                lines.append(inner + word + ",")
        return "[\n" + "\n".join(lines) + "\n" + ind + "]"

    def _list_item(self, item: ast.ListItem) -> _Item:
        def render(col: int, ind: str, tail: int) -> str:
            if item.condition is None:
                return self.expr(item.value, col, ind, tail)
            value = self.expr(item.value, col, ind, 4)
            last = value.rsplit("\n", 1)
            at = (col if len(last) == 1 else 0) + len(last[-1]) + 4
            cond = self.flat(item.condition)
            if cond is None:
                cond = self._flat_moved(item.condition)
            if cond is not None and not _fits(at, cond, tail):  # the condition on its own line
                inner = ind + INDENT
                cond = self.expr(item.condition, len(inner) + 3, inner, tail)
                return f"{value}\n{inner}if {cond}"
            return value + " if " + self.expr(item.condition, at, ind, tail)

        hug = item.value if item.condition is None else None
        if not isinstance(hug, ast.MapExpr | ast.ListExpr):
            hug = None
        return _Item(
            item.span.start, item.span.end, render, lambda: self._list_item_flat(item), hug
        )

    def _map_entry(self, entry: ast.MapEntry) -> _Item:
        def render(col: int, ind: str, tail: int) -> str:
            key = self._key(entry.key) + ": "
            return key + self.expr(entry.value, col + len(key), ind, tail)

        return _Item(entry.span.start, entry.span.end, render, lambda: self._entry_flat(entry))

    def _arg(self, arg: ast.Arg) -> _Item:
        def render(col: int, ind: str, tail: int) -> str:
            name = "" if arg.name is None else arg.name.text + ": "
            return name + self.expr(arg.value, col + len(name), ind, tail)

        hug = arg.value if arg.name is None else None
        if not isinstance(hug, ast.MapExpr | ast.ListExpr | ast.Call):
            hug = None
        return _Item(arg.span.start, arg.span.end, render, lambda: self._arg_flat(arg), hug)

    # --- types -----------------------------------------------------------------------------------
    def type_flat(self, t: ast.TypeExpr) -> str | None:
        if not t.args:
            return t.name.text
        if self._has_comment(t.span.start, t.span.end):
            return None
        args = [self.type_flat(a) if isinstance(a, ast.TypeExpr) else self._raw(a) for a in t.args]
        return None if None in args else t.name.text + "(" + ", ".join(map(str, args)) + ")"

    def type(self, t: ast.TypeExpr, col: int, ind: str, tail: int) -> str:
        if not t.args:
            return t.name.text
        items = [self._type_arg(a) for a in t.args]
        lo = self.scan.find_code(self.src, "(", t.name.span.end, t.span.end) + 1
        opener = t.name.text + "("
        return self._bracketed(opener, ")", items, lo, t.span.end - 1, col, ind, tail)

    def _type_arg(self, a: ast.TypeExpr | ast.StringLit) -> _Item:
        if isinstance(a, ast.StringLit):
            raw = self._raw(a)
            return _Item(a.span.start, a.span.end, lambda c, i, t: raw, lambda: raw)
        return _Item(
            a.span.start,
            a.span.end,
            lambda c, i, t: self.type(a, c, i, t),
            lambda: self.type_flat(a),
        )

    # --- blocks ----------------------------------------------------------------------------------
    def body(self, b: ast.Body, ind: str) -> str:
        lo, hi = b.span.start + 1, b.span.end - 1
        if not b.entries and not self._has_comment(lo, hi):
            return "{}"
        items = [self._entry_item(e) for e in b.entries]
        opener_comment, lines = self._seq(items, lo, hi, ind + INDENT, "", self._line(b.span.start))
        head = "{" + ("  " + opener_comment if opener_comment else "")
        return head + "".join("\n" + line for line in lines) + "\n" + ind + "}"

    def _entry_item(self, e: ast.Node) -> _Item:
        span = e.span  # type: ignore[attr-defined]
        return _Item(span.start, span.end, lambda col, ind, tail: self.entry(e, col, ind))

    def _one_line_block(self, e: ast.Block, col: int) -> str | None:
        entries = e.body.entries
        b = e.body.span
        if len(entries) != 1 or not isinstance(entries[0], ast.Attr):
            return None
        if "\n" in self.src[b.start : b.end] or self._has_comment(b.start, b.end):
            return None
        value = self.flat(entries[0].value)
        if value is None:
            return None
        text = f"{self._key(e.key)} {{ {self._key(entries[0].key)} = {value} }}"
        return text if _fits(col, text, 0) else None

    def entry(self, e: ast.Node, col: int, ind: str) -> str:
        match e:
            case ast.Attr():
                key = self._key(e.key) + " = "
                return key + self.expr(e.value, col + len(key), ind, 0)
            case ast.Block():
                one = self._one_line_block(e, col)
                return one if one is not None else self._key(e.key) + " " + self.body(e.body, ind)
            case ast.IfEntry():
                return self._if(e, col, ind)
            case ast.InputDecl():
                return self._input(e, col, ind)
            case ast.SecretDecl():
                return self._secret(e, col, ind)
            case ast.ServiceDecl():
                return self._service(e, col, ind)
            case ast.Provides():
                return f"provides {e.contract.text} " + self.body(e.body, ind)
            case ast.Request():
                target = e.target.dotted
                return f"request {target} {e.contract.text} " + self.body(e.body, ind)
        raise TypeError(f"unknown entry {type(e).__name__}")

    def _if(self, e: ast.IfEntry, col: int, ind: str) -> str:
        cond = self.expr(e.condition, col + 3, ind, 2)
        out = "if " + cond + " " + self.body(e.then, ind)
        if isinstance(e.otherwise, ast.IfEntry):
            out += " else " + self._if(e.otherwise, len(ind) + 7, ind)
        elif e.otherwise is not None:
            out += " else " + self.body(e.otherwise, ind)
        return out

    # --- declarations ----------------------------------------------------------------------------
    def _input(self, d: ast.InputDecl, col: int, ind: str) -> str:
        head = f"input {d.name.text}: "
        typ = self.type(d.type, col + len(head), ind, 2)
        return head + typ + " " + self.body(d.body, ind)

    def _secret(self, d: ast.SecretDecl, col: int, ind: str) -> str:
        head = f"secret {d.name.text}"
        if d.value is None:
            return head
        return head + " = " + self.expr(d.value, col + len(head) + 3, ind, 0)

    def _service(self, d: ast.ServiceDecl, col: int, ind: str) -> str:
        head = f"service {d.name.text}"
        if d.instance is not None:
            out = head + " = " + self.expr(d.instance, col + len(head) + 3, ind, 0)
            return out if d.body is None else out + " " + self.body(d.body, ind)
        assert d.body is not None
        return head + " " + self.body(d.body, ind)

    def _param(
        self, name: str, typ: ast.TypeExpr, default: ast.Expr | None, col: int, ind: str, tail: int
    ) -> str:
        head = f"{name}: "
        t = self.type(typ, col + len(head), ind, 0 if default is None else 3)
        out = head + t
        if default is None:
            return out
        last = out.rsplit("\n", 1)
        at = (col if len(last) == 1 else 0) + len(last[-1]) + 3
        return out + " = " + self.expr(default, at, ind, tail)

    def _param_flat(self, p: ast.TemplateParam) -> str | None:
        typ = self.type_flat(p.type)
        if typ is None:
            return None
        if p.default is None:
            return f"{p.name.text}: {typ}"
        value = self.flat(p.default)
        return None if value is None else f"{p.name.text}: {typ} = {value}"

    def _template(self, d: ast.TemplateDecl, col: int, ind: str) -> str:
        head = f"template {d.name.text}"
        items = [
            _Item(
                p.span.start,
                p.span.end,
                lambda c, i, t, p=p: self._param(p.name.text, p.type, p.default, c, i, t),
                lambda p=p: self._param_flat(p),
            )
            for p in d.params
        ]
        lo = self.scan.find_code(self.src, "(", d.name.span.end, d.body.span.start) + 1
        hi = lo
        while True:  # the last `)` before the body, outside strings and comments
            nxt = self.scan.find_code(self.src, ")", hi, d.body.span.start)
            if nxt < 0:
                break
            hi = nxt + 1
        params = self._bracketed("(", ")", items, lo, hi - 1, col + len(head), ind, 2)
        return head + params + " " + self.body(d.body, ind)

    def _contract(self, d: ast.ContractDecl, ind: str) -> str:
        """`contract NAME [unordered] {` then one field a line (`name: type [= default]`)."""
        head = f"contract {d.name.text}" + (" unordered" if d.unordered else "") + " "
        lo = self.scan.find_code(self.src, "{", d.name.span.end, d.span.end) + 1
        hi = d.span.end - 1
        if not d.fields and not self._has_comment(lo, hi):
            return head + "{}"
        inner = ind + INDENT
        items = [
            _Item(
                f.span.start,
                f.span.end,
                lambda c, i, t, f=f: self._param(f.name.text, f.type, f.default, c, i, t),
            )
            for f in d.fields
        ]
        opener, lines = self._seq(items, lo, hi, inner, "", self._line(lo - 1))
        head += "{" + ("  " + opener if opener else "")
        return head + "".join("\n" + line for line in lines) + "\n" + ind + "}"

    def decl(self, d: ast.Decl, col: int, ind: str) -> str:
        match d:
            case ast.ContractDecl():
                return self._contract(d, ind)
            case ast.DefaultsDecl():
                return "defaults " + self.body(d.body, ind)
            case ast.AmendDecl():
                return f"amend {d.target.dotted} " + self.body(d.body, ind)
            case ast.ProjectDecl():
                return f"project {d.name.text}"
            case ast.ImportDecl():
                # a path as written (comments around it skipped), or a module name
                target = self._strings_in(d.span.start, d.span.end)[0] if d.is_path else d.target
                alias = f" as {d.alias.text}" if d.alias is not None else ""
                if d.args is not None and d.alias is not None:  # laid out like a call's
                    call = ast.Call(ast.Ref((), d.alias.span), d.args, d.span)
                    head = f"import {target}{alias} "
                    alias += " " + self.expr(call, col + len(head), ind, 0)
                return f"import {target}{alias}"
            case ast.RequireDecl():
                strings = self._strings_in(d.span.start, d.span.end)  # as written, escapes kept
                repo = f" = {strings[0]}" if d.repository is not None else ""
                return f"require {d.name.text}{repo} version {strings[-1]}"
            case ast.MovedDecl():
                return f"moved {d.old.text} -> {d.new.text}"
            case ast.ParamDecl():
                return "param " + self._param(d.name.text, d.type, d.default, col + 6, ind, 0)
            case ast.TemplateDecl():
                return self._template(d, col, ind)
            case ast.TemplateBase():
                head = f"template {d.name.text} = "
                return head + self.expr(d.base, col + len(head), ind, 0)
        return self.entry(d, col, ind)

    def _strings_in(self, lo: int, hi: int) -> list[str]:
        """The string literals between lo and hi, as written (comments skipped)."""
        skips = self.scan.skips
        k = bisect.bisect_left(skips, (lo, 0))
        found = []
        while k < len(skips) and skips[k][0] < hi:
            if self.src[skips[k][0]] == '"':
                found.append(self.src[skips[k][0] : skips[k][1]])
            k += 1
        return found

    def module(self, m: ast.Module) -> str:
        items = [
            _Item(d.span.start, d.span.end, lambda col, ind, tail, d=d: self.decl(d, col, ind))
            for d in m.decls
        ]
        _, lines = self._seq(items, 0, len(self.src), "", "", None, separate_blocks=True)
        return "\n".join(lines) + "\n" if lines else ""
