"""The `# login:` paragraphs that E0306's help and the stdlib table both read (mora.comments)."""

from __future__ import annotations

from mora.comments import header, login_paragraphs
from mora.contracts.login import login_note


def test_a_paragraph_joins_its_continuation_lines() -> None:
    comment = [
        "# login: own: the app's users. Its clients sign in",
        "#   with tokens.",
        "# source image: somewhere",
    ]
    assert login_paragraphs(comment) == ["own: the app's users. Its clients sign in with tokens."]


def test_a_paragraph_ends_at_the_first_line_that_does_not_continue_it() -> None:
    # An indented line after another comment line belongs to that line, not to the login.
    comment = ["# login: own: reason", "# source port: doc", "#   more about the port"]
    assert login_paragraphs(comment) == ["own: reason"]


def test_each_login_line_is_its_own_paragraph() -> None:
    comment = ["# login: oidc", "# login: own: fallback", "#   when OIDC is off"]
    assert login_paragraphs(comment) == ["oidc", "own: fallback when OIDC is off"]


def test_the_header_is_the_opening_comment_block() -> None:
    text = "# login: own: a\n#   b\n\nservice x {}\n# login: not the header\n"
    assert header(text) == ["# login: own: a", "#   b"]
    assert login_note(text) == "own: a b"
    assert login_note("service x {}\n# login: own: late\n") is None
