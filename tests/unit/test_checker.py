"""The checker: one test per rule, asserting the code, the place and the help users see."""

from __future__ import annotations

from pathlib import Path

from tests.unit.helpers import check_src, codes, errors

IMG = 'image = "docker.io/library/busybox:1.36"'


def test_valid_project_has_no_diagnostics(tmp_path: Path) -> None:
    src = f"""
    param tz: string = "UTC"
    secret pw = password(length: 24)
    service db {{ {IMG} user = "999" ports {{ pg = 5432 }} environment {{ PW = secret.pw TZ = param.tz }} }}
    service app {{ {IMG} user = "1000" subdomain = "app" ports {{ http = 80 }} depends_on = [db]
      environment {{ DB = "${{db.internal_url}}/x" PORT = db.ports.pg }} }}
    """
    assert codes(check_src(tmp_path, src).diagnostics) == []


def test_unknown_service_with_did_you_mean(tmp_path: Path) -> None:
    src = f"service jellyfin {{ {IMG} }}\nservice x {{ {IMG} depends_on = [jelyfin] }}"
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0204"
    assert d.help == "did you mean `jellyfin`?"
    assert d.span is not None and d.span.text() == "jelyfin"


def test_unknown_attribute_and_duplicate_attribute(tmp_path: Path) -> None:
    src = f'service a {{ {IMG} imag = "x" restart = "always" restart = "no" }}'
    ds = errors(check_src(tmp_path, src).diagnostics)
    assert [d.code for d in ds] == ["E0207", "E0201"]
    assert ds[0].help == "did you mean `image`?"
    assert ds[1].labels and ds[1].labels[0].message == "first set here"


def test_duplicate_service_labels_both_places(tmp_path: Path) -> None:
    src = f"service a {{ {IMG} }}\nservice a {{ {IMG} }}"
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0201"
    assert d.span is not None and d.span.line == 2
    assert d.labels[0].span.line == 1


def test_type_mismatch_names_both_types(tmp_path: Path) -> None:
    src = f'param n: int = "three"\nservice a {{ {IMG} environment {{ N = param.n }} }}'
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0301"
    assert "expected `int`, found `string`" in d.message


def test_secret_in_non_secret_places_is_an_error(tmp_path: Path) -> None:
    src = """
    secret pw = password()
    service a {
      image = "r/x:${secret.pw}"
      labels { l = secret.pw }
      command = ["run", "--password", secret.pw]
      healthcheck { test = ["CMD", secret.pw] }
      environment { OK = "postgres://u:${secret.pw}@db/x" }
    }
    """
    ds = errors(check_src(tmp_path, src).diagnostics)
    assert [d.code for d in ds] == ["E0302"] * 4
    assert all("`secret.pw`" in d.label for d in ds)
    assert all("environment" in (d.help or "") for d in ds)


def test_public_parts_of_multi_part_secrets_are_not_secret(tmp_path: Path) -> None:
    src = f"""
    secret wg = wireguard()
    service a {{ {IMG} labels {{ pub = secret.wg.public_key }} environment {{ K = secret.wg.private_key }} }}
    """
    assert errors(check_src(tmp_path, src).diagnostics) == []
    bad = f"""
    secret wg = wireguard()
    service a {{ {IMG} environment {{ K = secret.wg }} labels {{ k = secret.wg.private_key }} }}
    """
    assert codes(check_src(tmp_path, bad).diagnostics) == ["E0210", "E0302"]


def test_literals_are_validated(tmp_path: Path) -> None:
    src = """
    param e: email = "not-an-email"
    param lvl: enum("debug", "info") = "warn"
    service a {
      image = "Bad Image"
      ports { http = 70000 }
      volumes { "/x" = volume(size: 10Gb) }
      healthcheck { test = "true" interval = 10 }
    }
    """
    got = [d.code for d in errors(check_src(tmp_path, src).diagnostics)]
    assert got == ["E0308", "E0305", "E0303", "E0304", "E0308", "E0301"]


def test_dependency_cycle_shows_the_path(tmp_path: Path) -> None:
    src = f"""
    service a {{ {IMG} depends_on = [b] }}
    service b {{ {IMG} depends_on = [c] }}
    service c {{ {IMG} depends_on = [a] }}
    """
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0401"
    assert d.message == "dependency cycle: a -> b -> c -> a"
    assert len(d.labels) == 2


def test_self_dependency_is_a_cycle(tmp_path: Path) -> None:
    (d,) = errors(check_src(tmp_path, f"service a {{ {IMG} depends_on = [a] }}").diagnostics)
    assert d.message == "dependency cycle: a -> a"


def test_subdomain_and_port_clashes(tmp_path: Path) -> None:
    src = f"""
    service a {{ {IMG} subdomain = "x" ports {{ http = 80 dns = {{ target: 53, published: 53, protocol: "udp" }} }} }}
    service b {{ {IMG} subdomain = "x" ports {{ http = 80 dns = {{ target: 5353, published: 53, protocol: "udp" }} }} }}
    """
    ds = errors(check_src(tmp_path, src).diagnostics)
    assert sorted(d.code for d in ds) == ["E0402", "E0403"]
    assert all(d.labels for d in ds)


def test_url_of_a_service_without_subdomain(tmp_path: Path) -> None:
    src = f"service db {{ {IMG} ports {{ pg = 5432 }} }}\nservice a {{ {IMG} environment {{ U = db.url }} }}"
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0210" and "internal_url" in (d.help or "")


def test_unused_declarations_are_warnings(tmp_path: Path) -> None:
    src = f"""
    param unused: string = "x"
    secret unused_secret = hex(16)
    service a {{ {IMG} user = "1000" input key: secret {{ after = b prompt = "p" }} }}
    service b {{ {IMG} user = "1000" }}
    """
    result = check_src(tmp_path, src)
    assert codes(result.diagnostics) == ["W0001", "W0002", "W0003"]
    assert not result.diagnostics.has_errors


def test_image_without_tag_warns(tmp_path: Path) -> None:
    assert codes(check_src(tmp_path, 'service a { image = "nginx" user = "101" }').diagnostics) == [
        "W0004"
    ]


def test_missing_image_and_unknown_template(tmp_path: Path) -> None:
    src = 'service a { restart = "always" }\nservice b = nope(x: 1)'
    assert codes(check_src(tmp_path, src).diagnostics) == ["E0307", "E0208"]


def test_template_arguments_are_checked(tmp_path: Path) -> None:
    src = """
    template web(port: port = 80, tag: string) {
      image = "docker.io/library/nginx:${args.tag}"
      ports { http = args.port }
    }
    service a = web(tag: "1.27")
    service b = web(tag: 1, prt: 8)
    service c = web(port: 8080)
    """
    ds = errors(check_src(tmp_path, src).diagnostics)
    assert [d.code for d in ds] == ["E0301", "E0306", "E0306"]
    assert ds[0].labels and ds[0].labels[0].message == "expected because of this"
    assert ds[1].help == "did you mean `port`?"
    assert "`tag`" in ds[2].message


def test_generator_misuse(tmp_path: Path) -> None:
    src = f"""
    secret a = pasword(length: 3)
    secret b = "literal"
    service x {{ {IMG} environment {{ A = hex(16) }} }}
    """
    ds = errors(check_src(tmp_path, src).diagnostics)
    assert [d.code for d in ds] == ["E0208", "E0301", "E0208"]
    assert ds[0].help == "did you mean `password`?"
    assert "secret NAME = hex(16)" in (ds[2].help or "")


def test_all_errors_of_a_run_are_reported(tmp_path: Path) -> None:
    src = f"""
    service a {{ {IMG} depends_on = [nope1] }}
    service b {{ {IMG} depends_on = [nope2] environment {{ X = param.nope3 }} }}
    service c {{ image = "Bad" }}
    """
    assert codes(check_src(tmp_path, src).diagnostics) == ["E0204", "E0204", "E0203", "E0303"]


def test_templates_and_services_have_separate_names(tmp_path: Path) -> None:
    src = f'template db() {{ {IMG} user = "999" ports {{ pg = 5432 }} }}\nservice db = db()'
    assert codes(check_src(tmp_path, src).diagnostics) == []


def test_service_arguments_expose_service_fields(tmp_path: Path) -> None:
    src = f"""
    template app(db: service) {{ {IMG}
      environment {{ URL = args.db.internal_url PORT = args.db.ports.pg BAD = args.db.nope }} }}
    service db {{ {IMG} ports {{ pg = 5432 }} }}
    service a = app(db: db)
    """
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0210" and d.span is not None and d.span.text() == "nope"


def test_structured_template_params_may_carry_secrets_but_stay_secret(tmp_path: Path) -> None:
    src = f"""
    secret s = password()
    template app(clients: list(map(secret)), keys: list(secret)) {{ {IMG}
      files {{ "/c.yaml" = yaml({{ clients: args.clients }}) }}
      environment {{ KEYS = join(args.keys) }}
      labels {{ leak = join(args.keys) }}
    }}
    service a = app(clients: [{{ id: "x", secret: secret.s }}], keys: [secret.s])
    """
    (d,) = errors(check_src(tmp_path, src).diagnostics)
    assert d.code == "E0302" and d.span is not None and d.span.text() == "join(args.keys)"
