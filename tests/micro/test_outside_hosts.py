"""Where a step may send a request: the project's own services, or hosts it declares.

The checker refuses a URL (or micromanager) whose host is outside the project and not in the
step's `outside_hosts`, and one whose host is not written out (E0938); `mora plan` lists the
declared hosts. The executor refuses at run time any URL whose host is neither a service nor
declared, before anything is sent (defence in depth: a manifest edited by hand, a value read
when running).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mora.api import check_project, compile_project
from mora.micro.executor import Response
from mora.micro.hook import SetupHook
from mora.plan import build_plan, render_plan
from mora.secrets.provider import StoreProvider
from mora.secrets.store import SecretStore

PROJECT = """\
project lab

param base: string = "https://api.example.com"

service db {{
  image = "localhost/db:1"
  user = "1000"
  ports {{ pg = 5432 }}
}}

service app {{
  image = "localhost/app:1"
  user = "1000"
  ports {{ http = 8080 }}
  subdomain = "app"
  setup {{
    own {{
      url = "${{self.internal_url}}/ready"
    }}
    other {{
      url = "${{db.internal_url}}/x"
    }}
    by_name {{
      url = "http://db:5432/x"
    }}
    step {{
      url = {url}
{extra}    }}
  }}
}}
"""


def _errors(tmp: Path, url: str, extra: str = "") -> list[tuple[str, str]]:
    folder = tmp / f"p{len(list(tmp.iterdir()))}"  # a folder per text: no cached parse
    folder.mkdir()
    (folder / "main.mora").write_text(PROJECT.format(url=url, extra=extra))
    result = check_project(folder)
    return [(d.code, d.message) for d in result.diagnostics if d.code.startswith("E")]


def test_the_checker_refuses_undeclared_and_unknown_hosts(tmp_path: Path) -> None:
    outside = "`api.github.com` is outside the project: a step may reach it only when declared"
    assert _errors(tmp_path, '"https://api.github.com/repos"') == [("E0938", outside)]
    declared = '      outside_hosts = ["api.github.com"]\n'
    assert _errors(tmp_path, '"https://api.github.com/repos"', declared) == []
    assert _errors(tmp_path, '"https://API.github.com:443/repos"', declared) == []
    unknown = "the host of a step's `url` must be known when compiling"
    for url in (
        '"${param.base}/v1"',  # a site's value
        '"${self.url}/x"',  # the public URL goes out through the proxy, to the site's domain
        '"http://db@api.github.com/"',  # user info: the host is the part after @
        '"http://${param.base}"',
    ):
        assert _errors(tmp_path, url, declared) == [("E0938", unknown)], url
    bad_list = '      outside_hosts = ["https://api.github.com/"]\n'
    assert ("E0931", '`outside_hosts` is a list of host names, like ["api.github.com"]') in (
        _errors(tmp_path, '"https://api.github.com/"', bad_list)
    )


def test_the_plan_lists_declared_hosts(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.mora").write_text(
        PROJECT.format(
            url='"https://api.github.com/repos"', extra='      outside_hosts = ["api.github.com"]\n'
        )
    )
    result = compile_project(
        tmp_path / "p", domain="example.org", provider=StoreProvider(SecretStore.in_memory())
    )
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    plan = build_plan(result.compiled.manifest)
    assert plan.to_json()["outside_hosts"] == {"app": ["api.github.com"]}
    assert "   its steps reach outside the project: api.github.com\n" in render_plan(plan)


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> Response:
        self.sent.append(url)
        return Response(200, "{}")

    def exec(self, service: str, argv: list[str], stdin: str | None, timeout: float) -> Response:
        raise OSError("no commands here")


def test_the_executor_refuses_a_host_that_is_not_declared(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    extra = '      outside_hosts = ["api.github.com"]\n      headers { "X-Key" = "k" }\n'
    (tmp_path / "p" / "main.mora").write_text(
        PROJECT.format(url='"https://api.github.com/repos"', extra=extra)
    )
    store = SecretStore.in_memory()
    result = compile_project(tmp_path / "p", domain="example.org", provider=StoreProvider(store))
    assert result.compiled is not None, [str(d) for d in result.diagnostics]
    manifest = result.compiled.manifest
    sent = _Recorder()
    hook = SetupHook(manifest, store, sent, lambda *_: None)
    assert hook("app") is None
    assert sent.sent == [
        "http://app:8080/ready",
        "http://db:5432/x",
        "http://db:5432/x",
        "https://api.github.com/repos",
    ]
    # the same step sent elsewhere (a manifest edited by hand): refused before sending
    app = manifest.services["app"]
    moved = app.setup[3].model_copy(
        update={"url": app.setup[3].url.model_copy(update={"lit": "https://evil.example/x"})}  # type: ignore[union-attr]
    )
    evil = manifest.model_copy(
        update={"services": {**manifest.services, "app": app.model_copy(update={"setup": [moved]})}}
    )
    sent.sent.clear()
    hook = SetupHook(evil, SecretStore.in_memory(), sent, lambda *_: None)
    problem = hook("app")
    assert problem is not None and "refused to send a request to `evil.example`" in problem
    assert sent.sent == []
