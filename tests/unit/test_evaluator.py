"""Evaluation against a site: params, precedence, conditionals, taint at the leaves, inputs."""

from __future__ import annotations

from pathlib import Path

from mora.api import compile_project
from mora.model import manifest_json
from mora.secrets.provider import MemoryProvider
from tests.unit.helpers import codes, compile_src, errors, write_project

IMG = 'image = "docker.io/library/busybox:1.36"'


def manifest(result: object):  # type: ignore[no-untyped-def]
    assert result.compiled is not None, [d.message for d in result.diagnostics]  # type: ignore[attr-defined]
    return result.compiled.manifest  # type: ignore[attr-defined]


def test_params_from_set_are_typed(tmp_path: Path) -> None:
    src = f"""
    param n: int
    param on: bool = false
    param names: list(string) = []
    param port: port = 80
    service a {{ {IMG} ports {{ http = param.port }}
      environment {{ N = param.n ON = param.on NAMES = join(param.names, separator: ";") }} }}
    """
    m = manifest(compile_src(tmp_path, src, sets=["n=3", "on=yes", "names=a,b", "port=8080"]))
    env = m.services["a"].environment
    assert (env["N"].value, env["ON"].value, env["NAMES"].value) == ("3", "true", "a;b")
    assert m.services["a"].ports[0].target == 8080
    assert m.params == {"n": 3, "on": True, "names": ["a", "b"], "port": 8080}


def test_missing_required_params_are_all_listed(tmp_path: Path) -> None:
    src = f"""
    param email: email
    param root: path
    service a {{ {IMG} environment {{ E = param.email R = param.root }} }}
    """
    result = compile_src(tmp_path, src)
    ds = errors(result.diagnostics)
    assert [d.code for d in ds] == ["E0502", "E0502"]
    assert "--set email=you@example.org" in (ds[0].help or "")
    assert result.compiled is None


def test_invalid_site_value_is_reported_with_its_origin(tmp_path: Path) -> None:
    src = f"param p: port = 80\nservice a {{ {IMG} ports {{ http = param.p }} }}"
    (d,) = errors(compile_src(tmp_path, src, sets=["p=99999"]).diagnostics)
    assert d.code == "E0506" and "--set" in d.message and "out of range" in d.message


def test_site_file_then_domain_then_set(tmp_path: Path) -> None:
    src = f'param tz: string = "UTC"\nservice a {{ {IMG} environment {{ TZ = param.tz D = site.domain }} }}'
    project = write_project(tmp_path, src)
    site = tmp_path / "site.yaml"
    site.write_text("domain: from-file.org\nparams:\n  tz: Europe/Berlin\n")
    provider = MemoryProvider(seed=b"x")
    m = manifest(compile_project(project, site_file=site, provider=provider))
    assert (m.domain, m.services["a"].environment["TZ"].value) == ("from-file.org", "Europe/Berlin")
    m = manifest(
        compile_project(
            project, site_file=site, domain="cli.org", sets=["tz=Asia/Tokyo"], provider=provider
        )
    )
    assert (m.domain, m.services["a"].environment["TZ"].value) == ("cli.org", "Asia/Tokyo")
    assert m.services["a"].environment["D"].value == "cli.org"


def test_no_domain_is_an_error(tmp_path: Path) -> None:
    result = compile_src(tmp_path, f'service a {{ {IMG} user = "1000" }}', domain=None)
    assert codes(result.diagnostics) == ["E0503"]


def test_conditionals_choose_branches_and_list_items(tmp_path: Path) -> None:
    src = f"""
    param gpu: bool = false
    service a {{
      {IMG}
      devices = ["/dev/dri" if param.gpu, "/dev/net/tun"]
      if param.gpu {{ user = "0" }} else {{ user = "1000" }}
    }}
    """
    off = manifest(compile_src(tmp_path, src)).services["a"]
    assert (off.devices, off.user) == (["/dev/net/tun"], "1000")
    on = manifest(compile_src(tmp_path, src, sets=["gpu=true"])).services["a"]
    assert (on.devices, on.user) == (["/dev/dri", "/dev/net/tun"], "0")


def test_secrets_become_references_and_material(tmp_path: Path) -> None:
    src = f"""
    secret pw = password(length: 20)
    service db {{ {IMG} ports {{ pg = 5432 }} environment {{ PW = secret.pw }} }}
    service app {{ {IMG}
      environment {{ URL = "postgres://app:${{secret.pw}}@db:${{db.ports.pg}}/app" PLAIN = "x" }}
      files {{ "/etc/app.yaml" = yaml({{ db: {{ password: secret.pw }} }}) "/etc/motd" = text("hi") }}
    }}
    """
    result = compile_src(tmp_path, src)
    m = manifest(result)
    material = result.compiled.material  # type: ignore[union-attr]
    url = m.services["app"].environment["URL"]
    assert url.value is None and url.secret == "app/env/URL" and url.sources == ["secret.pw"]
    password = material["db/env/PW"]
    assert len(password) == 20
    assert material["app/env/URL"] == f"postgres://app:{password}@db:5432/app"
    files = {f.path: f for f in m.services["app"].files}
    assert files["/etc/app.yaml"].secret == "app/file/etc/app.yaml"
    assert files["/etc/motd"].content == "hi"
    assert f"password: {password}" in material["app/file/etc/app.yaml"]
    assert password not in manifest_json(m)


def test_inputs_pending_then_answered(tmp_path: Path) -> None:
    src = f"""
    service jellyfin {{ {IMG} subdomain = "tv" ports {{ http = 8096 }} }}
    service janitorr {{
      {IMG}
      input jf_key: secret {{ after = jellyfin prompt = "Open ${{jellyfin.url}}/keys" }}
      environment {{ KEY = input.jf_key }}
    }}
    """
    pending = manifest(compile_src(tmp_path, src))
    assert pending.services["janitorr"].pending_inputs == ["jf_key"]
    assert pending.services["janitorr"].environment["KEY"].pending == ["jf_key"]
    info = pending.inputs["jf_key"]
    assert (info.answered, info.after, info.prompt) == (
        False,
        ["jellyfin"],
        "Open https://tv.example.org/keys",
    )
    answered = compile_src(tmp_path, src, answers={"input.jf_key": "abc123"})
    m = manifest(answered)
    assert m.services["janitorr"].pending_inputs == []
    assert m.services["janitorr"].environment["KEY"].secret == "janitorr/env/KEY"
    assert answered.compiled.material["janitorr/env/KEY"] == "abc123"  # type: ignore[union-attr]


def test_service_urls_hosts_and_ports(tmp_path: Path) -> None:
    src = f"""
    service web {{ {IMG} subdomain = "www" ports {{ http = 8080 admin = 9000 }} }}
    service x {{ {IMG} environment {{ U = web.url H = web.host I = web.internal_url P = web.ports.admin }} }}
    """
    m = manifest(compile_src(tmp_path, src))
    env = {k: v.value for k, v in m.services["x"].environment.items()}
    assert env == {
        "U": "https://www.example.org",
        "H": "www.example.org",
        "I": "http://web:8080",
        "P": "9000",
    }
    assert m.services["web"].route_port == "http"


def test_templates_instantiate_with_their_arguments(tmp_path: Path) -> None:
    src = """
    template web(tag: string = "1.27", sub: string) {
      image = "docker.io/library/nginx:${args.tag}"
      subdomain = args.sub
      ports { http = 80 }
      environment { ME = self.url }
    }
    service a = web(sub: "a")
    service b = web(tag: "1.26", sub: "b")
    """
    m = manifest(compile_src(tmp_path, src))
    assert m.services["a"].image.endswith(":1.27") and m.services["b"].image.endswith(":1.26")
    assert m.services["b"].environment["ME"].value == "https://b.example.org"
    assert m.services["a"].template == "web"


def test_computed_subdomain_clash_is_found_at_compile_time(tmp_path: Path) -> None:
    src = """
    template web(sub: string) {
      image = "docker.io/library/nginx:1" user = "101" subdomain = args.sub ports { http = 80 }
    }
    service a = web(sub: "same")
    service b = web(sub: "same")
    """
    assert codes(compile_src(tmp_path, src).diagnostics) == ["E0402"]


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "projects" / "media" / "media.mora"
    text = src.read_text()
    provider = MemoryProvider(seed=b"same")
    project = write_project(tmp_path, text)
    first = compile_project(project, domain="example.org", provider=provider)
    second = compile_project(project, domain="example.org", provider=provider)
    assert manifest_json(manifest(first)) == manifest_json(manifest(second))
    assert first.compiled.material == second.compiled.material  # type: ignore[union-attr]


def test_param_defaults_may_use_later_params_and_site_durations_are_durations(
    tmp_path: Path,
) -> None:
    src = f"""
    param first: string = "${{param.second}}-suffix"
    param second: string = "two"
    param hc: duration = 30s
    param ports: list(port) = [80]
    service a {{ {IMG} environment {{ F = param.first P = join(param.ports) }}
      healthcheck {{ test = "true" interval = param.hc }} }}
    """
    m = manifest(compile_src(tmp_path, src, sets=["hc=45s", "ports=8080,9090"]))
    svc = m.services["a"]
    assert svc.environment["F"].value == "two-suffix"
    assert svc.environment["P"].value == "8080,9090"
    assert svc.healthcheck is not None and svc.healthcheck.interval_seconds == 45


def test_a_condition_on_an_unanswered_input_holds_the_service(tmp_path: Path) -> None:
    src = f"""
    service a {{
      {IMG}
      input mode: string {{ prompt = "mode?" }}
      if input.mode == "a" {{ user = "1" }} else {{ user = "2" }}
      devices = ["/dev/dri" if input.mode == "gpu"]
      environment {{ M = input.mode }}
    }}
    """
    pending = manifest(compile_src(tmp_path, src))
    assert pending.services["a"].user is None
    assert pending.services["a"].pending_inputs == ["mode"]
    answered = manifest(compile_src(tmp_path, src, answers={"input.mode": "a"}))
    assert (answered.services["a"].user, answered.services["a"].devices) == ("1", [])


def test_interpolated_paths_and_urls_keep_their_kind(tmp_path: Path) -> None:
    src = f"""
    param root: path = "/srv"
    service a {{ {IMG} volumes {{ "/m" = bind("${{param.root}}/movies") }} }}
    """
    m = manifest(compile_src(tmp_path, src))
    assert m.services["a"].volumes[0].host_path == "/srv/movies"


def test_what_shapes_a_deployment_cannot_wait_for_an_input(tmp_path: Path) -> None:
    src = """
    service a {
      image = "docker.io/library/busybox:${input.tag}"
      input tag: string { prompt = "tag?" }
      input p: path { prompt = "path?" }
      ports { http = 80 }
      volumes { "/x" = bind(input.p) }
      command = ["run", input.tag]
    }
    """
    ds = errors(compile_src(tmp_path, src).diagnostics)
    assert [d.message for d in ds] == [
        "`image` needs an input that is not answered yet",
        "volume `/x` needs an input that is not answered yet",
    ]
    assert all("environment, files, command" in (d.help or "") for d in ds)
