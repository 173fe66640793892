"""The app table of docs/stdlib/README.md (issue 15's closing note) is generated and kept true.

`scripts/stdlib-table` (mora/stdlib_table.py) derives each row from the template's syntax tree
and its module's `# source` lines; other engineers change the templates' logins, so a table typed
by hand would go stale. These tests run the real tool: on the repository (the committed table
must be the generated one) and on a small stdlib written here, one template per rule.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mora import stdlib_table
from mora.stdlib_table import doubtful_lines, main, read_stdlib, rows

REPO = Path(__file__).resolve().parent.parent
README = REPO / "docs" / "stdlib" / "README.md"
STDLIB = REPO / "stdlib"

SOURCES = """\
# source image: github.com/example/app tag v1.2.3 (the release) (checked 2026-11-30)
# source port: Dockerfile@v1.2.3 (EXPOSE 80); https://docs.example.org/install/ (checked 2026-11-30)
# source env: src/Options/AuthOptions.cs as indexed (APP__AUTH__METHOD) (checked 2026-11-30)
"""

APPS = (
    SOURCES
    + """
# login: own, the wizard creates
#   the first admin
template wizard(image: string = "docker.io/example/wizard:1.0") {
  image = args.image
}

template plain() {
  image = "docker.io/example/plain:2.0"
  subdomain = "plain"
}

template worker() {
  image = "docker.io/example/worker:2.1"
}

template sso(identity: optional(identity) = none, image: string = "docker.io/example/sso:3.0") {
  image = args.image
  if args.identity != none {
    request args.identity oidc_client {
      client_id = self.name
    }
    routes { "." = route(auth: args.identity) }
  }
  setup {
    first {
      url = "${self.internal_url}/api"
      output { id = body.id }
    }
    if args.identity != none {
      second {
        url = "${self.internal_url}/api/sso"
      }
    } else {
      third {
        url = "${self.internal_url}/api/own"
      }
    }
  }
}

template directory() {
  image = "docker.io/example/directory:4.0"
  provides identity {
    issuer = self.url
  }
}

template binder(directory: service) {
  image = "docker.io/example/binder:5.0"
  request args.directory ldap_bind {
    user = self.name
  }
}
"""
)

DERIVED = """\
# source image: none here: the base's (checked 2026-11-30)

import apps

template derived = sso(image: "docker.io/example/derived:6.0")
"""

GROUP = """\
import apps

service one = plain()
service two = wizard()
"""


@pytest.fixture
def stdlib(tmp_path: Path) -> Path:
    folder = tmp_path / "stdlib"
    folder.mkdir()
    (folder / "apps.mora").write_text(APPS, encoding="utf-8")
    (folder / "derived.mora").write_text(DERIVED, encoding="utf-8")
    (folder / "group.mora").write_text(GROUP, encoding="utf-8")
    return folder


def _readme(tmp_path: Path) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# apps\n\nbefore\n\n"
        f"{stdlib_table.BEGIN}\nstale\n{stdlib_table.END}\n\nbetween\n\n"
        f"{stdlib_table.DOUBT_BEGIN}\n{stdlib_table.DOUBT_END}\n\nafter\n",
        encoding="utf-8",
    )
    return readme


def test_the_committed_table_is_the_generated_one() -> None:
    """The tool's own --check, as a user runs it: it fails naming the command that fixes it."""
    proc = subprocess.run(
        [sys.executable, "-m", "mora.stdlib_table", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + "\n(run scripts/stdlib-table and commit README.md)"


def test_every_template_and_group_module_has_a_row() -> None:
    modules = read_stdlib(STDLIB)
    names = {r.name for r in rows(modules)}
    text = README.read_text(encoding="utf-8")
    for module in modules:
        page = f"({module}.md)"
        if module != "contracts":  # contracts only: no app
            assert page in text.split(stdlib_table.BEGIN)[1], module
    assert {"sonarr", "radarr", "servarr", "immich_ml", "immich_stack"} <= names


def test_login_methods_come_from_the_template(stdlib: Path) -> None:
    by_name = {r.name: r for r in rows(read_stdlib(stdlib))}
    assert by_name["sso"].logins == ["OpenID Connect", "forward auth"]
    assert by_name["directory"].logins == ["identity provider"]
    assert by_name["binder"].logins == ["LDAP"]
    assert by_name["wizard"].logins == ["own, the wizard creates the first admin"]
    assert by_name["plain"].logins == [] and by_name["plain"].routed  # "own login"
    assert by_name["worker"].logins == [] and not by_name["worker"].routed  # "none: not routed"
    derived = by_name["derived"]
    assert (derived.base, derived.base_module) == ("sso", "apps")
    assert derived.logins == ["OpenID Connect", "forward auth"]


def test_images_and_steps_come_from_the_template(stdlib: Path) -> None:
    by_name = {r.name: r for r in rows(read_stdlib(stdlib))}
    assert by_name["wizard"].image == "docker.io/example/wizard:1.0"  # the parameter's default
    assert by_name["plain"].image == "docker.io/example/plain:2.0"  # the attribute
    assert by_name["derived"].image == "docker.io/example/derived:6.0"  # the base call's
    # the steps, under an `if` and its `else` too; `output` inside a step is not one
    assert by_name["sso"].steps == ["first", "second", "third"]
    assert by_name["derived"].steps == ["first", "second", "third"]
    assert by_name["plain"].steps == []
    assert by_name["group"].group == ["one = [plain](apps.md)", "two = [wizard](apps.md)"]


def test_sources_are_shortened_to_upstream_files_and_pages(stdlib: Path) -> None:
    by_name = {r.name: r for r in rows(read_stdlib(stdlib))}
    assert by_name["plain"].sources == [
        "example/app@v1.2.3",
        "docs.example.org/install",
        "Dockerfile",  # at the module's tag: said once, on the repository
        "src/Options/AuthOptions.cs",
    ]
    assert doubtful_lines(read_stdlib(stdlib)) == [
        ("apps", "env", "src/Options/AuthOptions.cs as indexed (APP__AUTH__METHOD)")
    ]


def test_check_fails_until_the_tool_rewrites_the_table(
    stdlib: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = _readme(tmp_path)
    assert main(["--check", str(readme), str(stdlib)]) == 1
    assert "run `scripts/stdlib-table`" in capsys.readouterr().err
    assert main([str(readme), str(stdlib)]) == 0
    assert main(["--check", str(readme), str(stdlib)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# apps\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "stale" not in text and "\n\nbetween\n\n" in text
    assert (
        "| [sso](apps.md) | `docker.io/example/sso:3.0` | OpenID Connect, forward auth "
        "| yes: `first`, `second`, `third` |" in text
    )
    assert "| [plain](apps.md) | `docker.io/example/plain:2.0` | own login | no |" in text
    assert "| [worker](apps.md) | `docker.io/example/worker:2.1` | none: not routed | no |" in text
    assert "built on [sso](apps.md)" in text
    assert "- [apps](apps.md), env: src/Options/AuthOptions.cs as indexed" in text
    # a template that learns a login makes the committed table stale again
    (stdlib / "apps.mora").write_text(
        APPS.replace(
            'subdomain = "plain"',
            'subdomain = "plain"\n  routes { "." = route(auth: "x") }',
        ),
        encoding="utf-8",
    )
    assert main(["--check", str(readme), str(stdlib)]) == 1


def test_a_login_reason_is_cut_to_its_first_sentence() -> None:
    from mora.stdlib_table import _login_words

    comment = [
        "# login: own: Actual's server password. Its phone apps sync with",
        "#   the server URL directly.",
    ]
    assert _login_words(comment) == ["own: Actual's server password"]
