"""Hover, go to definition, completion and document symbols, over the checked project.

Everything here answers from the syntax tree and the checker's symbol tables (never from a
site or a secret store): a secret is shown by its declaration and generator, never a value.
Attribute types and docs come from the service vocabulary (`mora.vocabulary`), the one place
they are declared.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mora import ast
from mora.fmt.comments import scan
from mora.lsp.analysis import Analysis, LineIndex, path_to_uri
from mora.source import Span

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYWORDS = ("project", "import", "param", "secret", "input", "service", "template")
_KEYWORDS += ("contract", "defaults")  # issue 17 (mora/contracts)
_TYPES = ("string", "int", "bool", "port", "path", "hostname", "url", "duration", "size")


# --- the tree ------------------------------------------------------------------------------------


def chain_at(module: ast.Module, offset: int) -> list[Any]:
    """The nodes whose span holds `offset`, outermost first (each decl, entry, expression...)."""
    out: list[Any] = []
    items: list[Any] = list(module.decls)
    while items:
        found = None
        for item in items:
            span = getattr(item, "span", None)
            if isinstance(span, Span) and span.start <= offset <= span.end:
                found = item
                break
        if found is None:
            break
        out.append(found)
        items = []
        for f in found._fields:
            value = getattr(found, f)
            if isinstance(value, tuple):
                items += [v for v in value if isinstance(v, ast.Node)]
            elif isinstance(value, ast.Node):
                items.append(value)
        # A string's interpolations are expressions inside its parts.
        if isinstance(found, ast.StringLit):
            items = [p for p in found.parts if isinstance(p, ast.Node)]
    return out


def doc_comment(span: Span) -> str:
    """The comment lines right above a declaration (no blank line between), without `#`."""
    text = span.file.text
    lines: list[str] = []
    comments = [c for c in scan(text[: span.start]).comments]
    at = span.start
    for c in reversed(comments):
        between = text[c.end : at]
        if between.strip() or between.count("\n") > 1:
            break
        line_start = text.rfind("\n", 0, c.start) + 1
        if text[line_start : c.start].strip():
            break
        lines.append(c.text.lstrip("#/").removeprefix(" "))
        at = line_start
    return "\n".join(reversed(lines))


_KEYWORD_OF = {
    ast.ParamDecl: "param",
    ast.SecretDecl: "secret",
    ast.InputDecl: "input",
    ast.ServiceDecl: "service",
    ast.TemplateDecl: "template",
    ast.TemplateBase: "template",
    ast.ImportDecl: "import",
    ast.ProjectDecl: "project",
}


def full_span(decl: Any) -> Span:
    """A declaration's span with its keyword (the parser's spans start at the name)."""
    span: Span = decl.span
    keyword = _KEYWORD_OF.get(type(decl))
    if keyword is None:
        return span
    before = span.file.text[: span.start].rstrip()
    if before.endswith(keyword):
        return Span(span.file, len(before) - len(keyword), span.end)
    return span


def _code(text: str) -> str:
    return f"```mora\n{text}\n```"


def _head(span: Span) -> str:
    """A declaration's first line (its signature), for a hover."""
    return span.text().split("\n", 1)[0].rstrip(" {")


def _template_signature(decl: ast.TemplateDecl) -> str:
    params = []
    for p in decl.params:
        text = f"{p.name.text}: {p.type.span.text()}"
        if p.default is not None:
            text += f" = {p.default.span.text()}"
        params.append("  " + text + ",")
    inner = "\n" + "\n".join(params) + "\n" if params else ""
    return f"template {decl.name.text}({inner})"


def _secret_text(name: str, decl: ast.SecretDecl) -> str:
    """`secret name = generator(...)`: the value expression only when it is a generator call."""
    if isinstance(decl.value, ast.Call):
        return f"secret {name} = {decl.value.span.text()}"
    return f"secret {name}"


def _enclosing_template(chain: list[Any]) -> ast.TemplateDecl | None:
    return next((n for n in chain if isinstance(n, ast.TemplateDecl)), None)


# --- resolving names -----------------------------------------------------------------------------


def resolve_ref(
    program: Any, chain: list[Any], ref: ast.Ref, offset: int
) -> tuple[str, Any] | None:
    """What a reference (or the part of it under the cursor) names: (kind, symbol or node)."""
    if program is None:
        return None
    parts = ref.parts
    index = next((i for i, p in enumerate(parts) if p.span.start <= offset <= p.span.end), 0)
    head = parts[0].text
    if len(parts) >= 2 and index >= 1:
        name = parts[1].text
        if head == "param" and name in program.params:
            return "param", program.params[name]
        if head == "secret" and name in program.secrets:
            return "secret", program.secrets[name]
        if head == "input" and name in program.inputs:
            return "input", program.inputs[name]
        if head == "args":
            tmpl = _enclosing_template(chain)
            if tmpl is not None:
                for p in tmpl.params:
                    if p.name.text == name:
                        return "arg", p
    if head in program.services:
        return "service", program.services[head]
    if head in program.templates:
        return "template", program.templates[head]
    return None


# --- hover ---------------------------------------------------------------------------------------


def _vocabulary_context(chain: list[Any]) -> tuple[str, str | None]:
    """Where an entry is: ("service", None) in a service or template body, ("block", key) in a
    block of one, ("input", None) in an input, or ("other", None)."""
    from mora.vocabulary import service as V

    block: str | None = None
    for node in reversed(chain[:-1]):
        if isinstance(node, ast.Block):
            block = node.key.text if block is None else block
            if any(a.name == node.key.text for a in V.ATTRS):
                outer = chain[: chain.index(node)]
                if any(isinstance(n, ast.ServiceDecl | ast.TemplateDecl | ast.AmendDecl) for n in outer):
                    return "block", node.key.text
            return "other", None
        if isinstance(node, ast.InputDecl):
            return "input", None
        if isinstance(node, ast.ServiceDecl | ast.TemplateDecl | ast.AmendDecl):
            return "service", None
        if isinstance(node, ast.MapExpr):
            return "other", None
    return "other", None


def attribute_doc(chain: list[Any], key: str) -> str | None:
    """The type and doc line of a service attribute or block setting, from the vocabulary."""
    from mora.vocabulary import service as V

    where, block = _vocabulary_context(chain)
    if where == "service":
        attr = next((a for a in V.ATTRS if a.name == key), None)
        if attr is None:
            return None
        kind = f"{attr.name} {{ ... }}" if attr.block else f"{attr.name} = {attr.type or 'value'}"
        if attr.block and attr.type is not None:
            kind += f"  (each: {attr.type})"
        return _code(kind) + "\n\n" + attr.doc
    if where == "block" and block is not None:
        attr = next(a for a in V.ATTRS if a.name == block)
        setting = attr.setting(key)
        if setting is None:
            if attr.type is not None and not attr.settings:
                return _code(f"{block}.{key} = {attr.type}") + "\n\n" + attr.doc
            return None
        return _code(f"{block}.{setting.name} = {setting.type or 'value'}") + "\n\n" + setting.doc
    return None


def _symbol_hover(kind: str, sym: Any, name: str) -> str:
    if kind == "param":
        return _code(_head(full_span(sym.decl))) + _docs(full_span(sym.decl))
    if kind == "secret":
        text = _secret_text(name, sym.decl)
        note = "\n\nGenerated once per site and kept encrypted; its value is never shown here."
        if sym.instance:
            note += f" Declared by the template of service `{sym.instance}`."
        return _code(text) + _docs(full_span(sym.decl)) + note
    if kind == "input":
        return _code(_head(full_span(sym.decl))) + _docs(full_span(sym.decl))
    if kind == "arg":
        return _code(sym.span.text()) + "\n\nan argument of the template"
    if kind == "service":
        decl = sym.decl
        return _code(_head(full_span(decl))) + _docs(full_span(decl))
    if kind == "template":
        return _code(_template_signature(sym.decl)) + _docs(full_span(sym.decl))
    return ""


def _docs(span: Span) -> str:
    doc = doc_comment(span)
    return "\n\n" + doc if doc else ""


def _function_hover(name: str) -> str | None:
    from mora.builtins import FUNCTIONS

    fn = FUNCTIONS.get(name)
    if fn is None:
        return None
    params = ", ".join(f"{p.name}: {p.type}" for p in fn.params)
    return _code(f"{fn.name}({params}) -> {fn.returns}") + "\n\n" + fn.doc


def hover(an: Analysis, module: ast.Module, offset: int) -> str | None:
    """Markdown for the thing under the cursor, or None."""
    chain = chain_at(module, offset)
    if not chain:
        return None
    node = chain[-1]
    program = an.program
    if isinstance(node, ast.Name) and len(chain) >= 2:
        parent = chain[-2]
        if isinstance(parent, ast.Ref):
            node = parent
        elif isinstance(parent, ast.ParamDecl | ast.SecretDecl | ast.InputDecl | ast.ServiceDecl):
            name = parent.name.text
            if program is not None:
                table = {
                    ast.ParamDecl: ("param", program.params),
                    ast.SecretDecl: ("secret", program.secrets),
                    ast.InputDecl: ("input", program.inputs),
                    ast.ServiceDecl: ("service", program.services),
                }[type(parent)]
                if name in table[1] and table[1][name].decl is parent:
                    return _symbol_hover(table[0], table[1][name], name)
            if isinstance(parent, ast.SecretDecl):
                return _code(_secret_text(name, parent)) + _docs(full_span(parent))
            return _code(_head(full_span(parent))) + _docs(full_span(parent))
        elif isinstance(parent, ast.TemplateDecl):
            return _code(_template_signature(parent)) + _docs(full_span(parent))
        elif isinstance(parent, ast.TemplateParam):
            return _code(parent.span.text()) + "\n\nan argument of the template"
        elif isinstance(parent, ast.Arg) and len(chain) >= 3 and isinstance(chain[-3], ast.Call):
            return _argument_hover(program, chain[-3].func.dotted, node.text)
    if isinstance(node, ast.Ref):
        if len(chain) >= 2 and isinstance(chain[-2], ast.Call) and chain[-2].func is node:
            if program is not None and node.dotted in program.templates:
                return _symbol_hover("template", program.templates[node.dotted], node.dotted)
            return _function_hover(node.dotted)
        found = resolve_ref(program, chain, node, offset)
        if found is None:
            return None
        kind, sym = found
        name = node.parts[1].text if kind in ("param", "secret", "input") else node.parts[0].text
        return _symbol_hover(kind, sym, name)
    if (
        isinstance(node, ast.Key)
        and len(chain) >= 2
        and isinstance(chain[-2], ast.Attr | ast.Block)
    ):
        return attribute_doc(chain[:-1], node.text)
    if isinstance(node, ast.ImportDecl) and not node.is_path:
        from mora.resources import stdlib_folder

        path = Path(stdlib_folder(), f"{node.target}.mora")
        if path.is_file():
            first = path.read_text(encoding="utf-8").split("\n\n", 1)[0]
            return _code(f"import {node.target}") + "\n\n" + _strip_comments(first)
    return None


def _argument_hover(program: Any, func: str, name: str) -> str | None:
    """A named argument: the template's parameter, or the function's."""
    from mora.builtins import FUNCTIONS

    if program is not None and func in program.templates:
        for p in program.templates[func].decl.params:
            if p.name.text == name:
                return _code(p.span.text()) + f"\n\nan argument of the template `{func}`"
    fn = FUNCTIONS.get(func)
    if fn is not None:
        for param in fn.params:
            if param.name == name:
                return _code(f"{param.name}: {param.type}") + f"\n\nan argument of `{func}()`"
    return None


def _strip_comments(text: str) -> str:
    return "\n".join(line.lstrip("#").removeprefix(" ") for line in text.splitlines())


# --- definition ----------------------------------------------------------------------------------


def _location(an: Analysis, span: Span) -> dict[str, Any] | None:
    path = an.path_of(span)
    if path is None:
        return None
    index = LineIndex(span.file.text)
    return {"uri": path_to_uri(path), "range": index.range(span.start, span.end)}


def definition(an: Analysis, module: ast.Module, offset: int) -> list[dict[str, Any]]:
    """Where the name under the cursor is declared (a file of the project or the stdlib)."""
    chain = chain_at(module, offset)
    if not chain:
        return []
    node = chain[-1]
    if isinstance(node, ast.Name) and len(chain) >= 2 and isinstance(chain[-2], ast.Ref):
        node = chain[-2]
    target: Span | None = None
    if isinstance(node, ast.Ref):
        is_func = len(chain) >= 2 and isinstance(chain[-2], ast.Call) and chain[-2].func is node
        if is_func and an.program is not None and node.dotted in an.program.templates:
            target = an.program.templates[node.dotted].decl.name.span
        else:
            found = resolve_ref(an.program, chain, node, offset)
            if found is not None:
                kind, sym = found
                decl = sym if kind == "arg" else sym.decl
                target = decl.name.span
    elif isinstance(node, ast.ImportDecl):
        return _import_location(an, module, node)
    if target is None:
        return []
    loc = _location(an, target)
    return [loc] if loc else []


def _import_location(
    an: Analysis, module: ast.Module, node: ast.ImportDecl
) -> list[dict[str, Any]]:
    from mora.resources import stdlib_folder

    if node.is_path:
        base = an.path_of(node.span)
        if base is None:
            return []
        path = (base.parent / node.target).resolve()
        if not path.exists() and path.with_name(path.name + ".mora").exists():
            path = path.with_name(path.name + ".mora")
    else:
        path = Path(stdlib_folder(), f"{node.target}.mora").resolve()
    if not path.is_file():
        return []
    zero = {"line": 0, "character": 0}
    return [{"uri": path_to_uri(path), "range": {"start": zero, "end": zero}}]


# --- completion ----------------------------------------------------------------------------------


def _contexts(text: str, offset: int) -> list[tuple[str, str]]:
    """The brackets open at `offset`, outermost first: ("service"|"input"|"block"|"map"|
    "call"|"list"|"params"|"if", name). Strings and comments are skipped."""
    found = scan(text[:offset])
    skips = found.skips
    stack: list[tuple[str, str]] = []
    i = 0
    k = 0
    while i < offset:
        if k < len(skips) and skips[k][0] == i:
            i = skips[k][1]
            k += 1
            continue
        ch = text[i]
        if ch in "{([":
            before = text[:i].rstrip()
            line = before[before.rfind("\n") + 1 :].strip()
            prev = before[-1:] if before else ""
            word = _WORD.findall(line)
            if ch == "(":
                name = re.search(r"([A-Za-z_][A-Za-z0-9_.]*)\s*$", before)
                kind = "params" if line.startswith("template ") and len(word) == 2 else "call"
                stack.append((kind, name.group(1) if name else ""))
            elif ch == "[":
                stack.append(("list", ""))
            elif prev in ("=", ":", "(", "[", ",", "{") or (prev and prev not in "})" and not word):
                stack.append(("map", ""))
            elif line.startswith(("service ", "template ")) or line.startswith(")"):
                stack.append(("service", ""))
            elif line.startswith("input "):
                stack.append(("input", ""))
            elif line.startswith(("if ", "} else", "else")):
                stack.append(("if", ""))
            else:
                key = re.search(r'([A-Za-z_][A-Za-z0-9_]*|"[^"]*")\s*$', before)
                stack.append(("block", key.group(1).strip('"') if key else ""))
        elif ch in "})]" and stack:
            stack.pop()
        i += 1
    return stack


def _item(
    label: str, kind: int, detail: str = "", doc: str = "", insert: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"label": label, "kind": kind}
    if detail:
        item["detail"] = detail
    if doc:
        item["documentation"] = {"kind": "markdown", "value": doc}
    if insert is not None:
        item["insertText"] = insert
    return item


# LSP CompletionItemKind values.
_FIELD, _PROPERTY, _VARIABLE, _CLASS, _FUNCTION, _MODULE, _KEYWORD, _CONSTANT = (
    5,
    10,
    6,
    7,
    3,
    9,
    14,
    21,
)


def completion(
    an: Analysis, module: ast.Module | None, text: str, offset: int
) -> list[dict[str, Any]]:
    """Completion items for the cursor: what may be written there."""
    from mora.builtins import FUNCTIONS
    from mora.loader import stdlib_modules
    from mora.vocabulary import service as V

    program = an.program
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    stripped = line.lstrip()
    if re.fullmatch(r"import\s+[A-Za-z0-9_]*", stripped):
        return [_item(m, _MODULE, "stdlib module") for m in stdlib_modules()]
    dotted = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)$", line)
    stack = _contexts(text, offset)
    frames = [f for f in stack if f[0] != "if"]
    if dotted:
        head = dotted.group(1)
        if program is None:
            return []
        if head == "param":
            return [_item(n, _VARIABLE, str(s.type)) for n, s in program.params.items()]
        if head == "secret":
            return [_item(n, _VARIABLE, "secret") for n in program.secrets]
        if head == "input":
            return [_item(n, _VARIABLE, "input") for n in program.inputs]
        if head == "args" and module is not None:
            tmpl = _enclosing_template(chain_at(module, offset))
            if tmpl is not None:
                return [_item(p.name.text, _VARIABLE, p.type.span.text()) for p in tmpl.params]
            return []
        if head in program.services:
            from mora.checker import SERVICE_FIELDS

            return [_item(f, _FIELD) for f in SERVICE_FIELDS]
        return []
    value_position = bool(re.search(r"(=|:|\(|\[|,)\s*[A-Za-z0-9_]*$", line)) and not (
        frames
        and frames[-1][0] in ("service", "block", "input")
        and re.search(r"^\s*[A-Za-z0-9_]*$", line)
    )
    if frames and frames[-1][0] == "call" and not value_position_after_colon(line):
        name = frames[-1][1]
        if program is not None and name in program.templates:
            sym = program.templates[name]
            return [
                _item(p.name.text, _FIELD, p.type.span.text(), insert=p.name.text + ": ")
                for p in sym.decl.params
            ] + _names(program, FUNCTIONS)
        fn = FUNCTIONS.get(name)
        if fn is not None:
            return [
                _item(p.name, _FIELD, str(p.type), insert=p.name + ": ") for p in fn.params
            ] + _names(program, FUNCTIONS)
    if value_position or (frames and frames[-1][0] in ("call", "list", "map")):
        return _names(program, FUNCTIONS)
    if not frames:
        return [_item(k, _KEYWORD) for k in _KEYWORDS]
    kind, key = frames[-1]
    if kind == "service":
        items = [
            _item(
                a.name, _PROPERTY, f"{a.name} {{ }}" if a.block else str(a.type or "value"), a.doc
            )
            for a in V.ATTRS
        ]
        return items + [_item(k, _KEYWORD) for k in ("if", "secret", "input")]
    if kind == "block":
        attr = next((a for a in V.ATTRS if a.name == key), None)
        if attr is not None and attr.settings:
            return [_item(s.name, _PROPERTY, str(s.type or "value"), s.doc) for s in attr.settings]
        if key == "ports" or (attr is not None and attr.name == "ports"):
            return []
        return []
    if kind == "input":
        from mora.checker import INPUT_ATTRS

        return [_item(a, _PROPERTY) for a in INPUT_ATTRS]
    if kind == "params":
        return [_item(t, _CONSTANT) for t in _TYPES]
    return []


def value_position_after_colon(line: str) -> bool:
    """In a call, after `name:` the cursor is at a value, not at an argument name."""
    return bool(re.search(r":\s*[A-Za-z0-9_]*$", line))


def _names(program: Any, functions: dict[str, Any]) -> list[dict[str, Any]]:
    """What a value may start with: references, services, templates, functions, literals."""
    items = [_item(p, _KEYWORD, insert=p + ".") for p in ("param", "secret", "input", "site")]
    items += [_item(k, _CONSTANT) for k in ("true", "false")]
    if program is not None:
        items += [_item(n, _CLASS, "service") for n in program.services]
        items += [
            _item(n, _FUNCTION, "template", _template_signature(t.decl))
            for n, t in program.templates.items()
        ]
    items += [_item(n, _FUNCTION, "function", f.doc) for n, f in functions.items()]
    return items


# --- document symbols ----------------------------------------------------------------------------

# LSP SymbolKind values.
_SYMBOL_KINDS = {
    ast.ProjectDecl: 2,  # Module
    ast.ImportDecl: 3,  # Namespace
    ast.ParamDecl: 13,  # Variable
    ast.SecretDecl: 20,  # Key
    ast.InputDecl: 8,  # Field
    ast.ServiceDecl: 5,  # Class
    ast.TemplateDecl: 12,  # Function
    ast.TemplateBase: 12,  # Function
    ast.ContractDecl: 23,  # Struct
    ast.AmendDecl: 5,  # Class: it changes a service
}


def symbols(module: ast.Module, index: LineIndex) -> list[dict[str, Any]]:
    """The declarations of a file, with the blocks of each service and template as children."""
    out = []
    for decl in module.decls:
        name_node = getattr(decl, "name", None)
        if type(decl) not in _SYMBOL_KINDS:
            continue  # `require`, `moved`, `defaults`: no symbol of their own
        if isinstance(decl, ast.ImportDecl):
            name, sel = decl.target, decl.span
            if decl.alias is not None:  # a module: listed by what it is called here
                name, sel = f"{decl.target} as {decl.alias.text}", decl.alias.span
        elif isinstance(decl, ast.AmendDecl):
            name, sel = f"amend {decl.target.dotted}", decl.target.span
        else:
            assert isinstance(name_node, ast.Name)
            name, sel = name_node.text, name_node.span
        symbol: dict[str, Any] = {
            "name": name,
            "kind": _SYMBOL_KINDS[type(decl)],
            "range": index.range(decl.span.start, decl.span.end),
            "selectionRange": index.range(sel.start, sel.end),
        }
        body = getattr(decl, "body", None)
        if isinstance(body, ast.Body):
            symbol["children"] = [
                {
                    "name": e.key.text,
                    "kind": 7,  # Property
                    "range": index.range(e.span.start, e.span.end),
                    "selectionRange": index.range(e.key.span.start, e.key.span.end),
                }
                for e in body.entries
                if isinstance(e, ast.Attr | ast.Block)
            ]
        out.append(symbol)
    return out


def module_for(an: Analysis, path: Path | None, text: str) -> ast.Module:
    """The tree of the document: the analysed one when it is for this text, else a fresh parse."""
    if path is not None:
        module = an.modules.get(path.resolve())
        if module is not None and module.file.text == text:
            return module
    from mora.diagnostics import Diagnostics
    from mora.parser import parse_module
    from mora.source import SourceFile

    return parse_module(SourceFile(str(path or "<buffer>"), text), Diagnostics())
