"""A template's own word on its login: the `# login: ...` paragraph of its module's header.

A stdlib template whose app cannot sign in through the project's identity provider says why in
its header (`# login: own: ...`, docs/stdlib/sso.md); E0306's help for `identity: ...` given to
it quotes that reason instead of suggesting forward auth, which would break such an app.
"""

from __future__ import annotations

PREFIX = "# login:"


def login_note(text: str) -> str | None:
    """The `# login:` paragraph of a module's leading comment block, joined into one line."""
    parts: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break  # the header ends at the first line that is not a comment
        if parts:
            if not line.startswith("#   "):
                break  # the paragraph ends where its indented continuation lines do
            parts.append(line[4:].strip())
        elif line.startswith(PREFIX):
            parts.append(line[len(PREFIX) :].strip())
    return " ".join(parts) or None
