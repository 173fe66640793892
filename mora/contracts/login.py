"""A template's own word on its login: the `# login: ...` paragraph of its module's header.

A stdlib template whose app cannot sign in through the project's identity provider says why in
its header (`# login: own: ...`, docs/stdlib/sso.md); E0306's help for `identity: ...` given to
it quotes that reason instead of suggesting forward auth, which would break such an app.
"""

from __future__ import annotations

from mora.comments import header, login_paragraphs


def login_note(text: str) -> str | None:
    """The first `# login:` paragraph of a module's header, joined into one line."""
    found = login_paragraphs(header(text))
    return found[0] if found else None
