"""The compose keys (hostname, extra_hosts, dns, ulimits, ...): the checker's rules and what the
manifest holds. The backends' mappings are golden cases (tests/backends/*/compose-keys*)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.helpers import check_src, compile_src, errors

IMG = 'image = "docker.io/library/busybox:1.36" user = "1000"'


@pytest.mark.parametrize(
    ("body", "code", "marked", "help_part"),
    [
        ('dns = ["9.9.9.9", "dns.quad9.net"]', "E0308", '"dns.quad9.net"', "192.168.1.10"),
        ('extra_hosts { nas = "192.168.1" }', "E0308", '"192.168.1"', "fd00::1"),
        ('extra_hosts { "nas lan" = "192.168.1.2" }', "E0305", '"nas lan"', None),
        ('stop_signal = "quit"', "E0308", '"quit"', "SIGQUIT"),
        ('ulimits { nofiles = 1024 }', "E0207", "nofiles", "`nofile`"),
        ('ulimits { nofile = "65536:1024" }', "E0308", '"65536:1024"', "SOFT <= HARD"),
        ('ulimits { nofile = "lots" }', "E0308", '"lots"', "SOFT:HARD"),
        ('sysctls { somaxconn = 1024 }', "E0305", "somaxconn", None),
        ("shm_size = 64", "E0301", "64", None),
        ("stop_grace_period = 30", "E0301", "30", None),
        ('working_dir = "srv"', "E0308", '"srv"', None),
        ("init = 1", "E0301", "1", None),
        ("security { cap_drop = \"NET_RAW\" }", "E0301", '"NET_RAW"', None),
        ('volumes { "/x" = tmpfs(mode: "rwx") }', "E0308", '"rwx"', "1777"),
    ],
)
def test_compose_key_rules(
    tmp_path: Path, body: str, code: str, marked: str, help_part: str | None
) -> None:
    (d,) = errors(check_src(tmp_path, f"service s {{ {IMG} {body} }}").diagnostics)
    assert d.code == code
    assert d.span is not None and d.span.text() == marked
    if help_part:
        assert help_part in ((d.help or "") + (d.label or "")), (d.help, d.label)


def test_compose_keys_reach_the_manifest(tmp_path: Path) -> None:
    src = f"""service s {{ {IMG}
      hostname = "box"  working_dir = "/srv"  stop_grace_period = 1m30s  stop_signal = "SIGINT"
      init = true  shm_size = 1Gi  dns = ["192.168.1.1"]
      extra_hosts {{ "nas.lan" = "192.168.1.10" }}
      sysctls {{ "net.ipv4.ip_unprivileged_port_start" = 0 }}
      ulimits {{ nofile = 65536  nproc = "512:1024" }}
      security {{ cap_drop = ["NET_RAW"] }}
      volumes {{ "/scratch" = tmpfs(size: 8Mi, mode: "1777") }}
    }}"""
    result = compile_src(tmp_path, src)
    assert not errors(result.diagnostics)
    svc = result.compiled.manifest.services["s"]  # type: ignore[union-attr]
    assert (svc.hostname, svc.working_dir, svc.stop_signal) == ("box", "/srv", "SIGINT")
    assert (svc.stop_grace_period_seconds, svc.init, svc.shm_size) == (90.0, True, "1Gi")
    assert svc.dns == ["192.168.1.1"] and svc.extra_hosts == {"nas.lan": "192.168.1.10"}
    assert svc.sysctls == {"net.ipv4.ip_unprivileged_port_start": "0"}
    assert svc.ulimits == {"nofile": "65536", "nproc": "512:1024"}
    assert svc.security.cap_drop == ["NET_RAW"]
    (scratch,) = svc.volumes
    assert (scratch.kind, scratch.size, scratch.mode) == ("tmpfs", "8Mi", "1777")


@pytest.mark.parametrize(
    ("security", "kept"),
    [
        ('cap_drop = ["KILL", "cap_chown"]', {"CHOWN", "KILL"}),  # unknown user: defaults less
        ('run_as_root = true reason = "gosu" cap_drop = ["SETUID"]', {"SETUID"}),
        ('cap_drop = ["ALL"]', None),
    ],
)
def test_cap_drop_removes_from_what_the_contract_grants(
    tmp_path: Path, security: str, kept: set[str] | None
) -> None:
    from mora.model import run_as

    src = f'service s {{ image = "docker.io/library/busybox:1.36" security {{ {security} }} }}'
    result = compile_src(tmp_path, src)
    assert not errors(result.diagnostics)
    who = run_as(result.compiled.manifest.services["s"])  # type: ignore[union-attr]
    if kept is None:
        assert who.capabilities == ()
    else:
        assert who.capabilities and not kept & set(who.capabilities)


def test_network_mode_is_host_with_a_reason(tmp_path: Path) -> None:
    (d,) = errors(check_src(tmp_path, f'service s {{ {IMG} network_mode = "host" }}').diagnostics)
    assert d.code == "E0307" and d.span is not None and d.span.text() == "network_mode"
    assert d.help is not None and "security { reason" in d.help
    ok = f'service s {{ {IMG} network_mode = "host" security {{ reason = "mDNS discovery" }} }}'
    assert errors(check_src(tmp_path, ok).diagnostics) == []
    for mode in ("none", "bridge"):
        src = f'service s {{ {IMG} network_mode = "{mode}" security {{ reason = "x" }} }}'
        (d,) = errors(check_src(tmp_path, src).diagnostics)
        assert d.code == "E0305" and d.span is not None and d.span.text() == f'"{mode}"'


def test_network_mode_of_another_service(tmp_path: Path) -> None:
    vpn = f"service vpn {{ {IMG} }}\n"
    (d,) = errors(
        check_src(tmp_path, vpn + f'service t {{ {IMG} network_mode = "service:vpm" }}').diagnostics
    )
    assert (d.code, d.help) == ("E0204", "did you mean `vpn`?")
    (d,) = errors(check_src(tmp_path, f'service t {{ {IMG} network_mode = "service:t" }}').diagnostics)
    assert d.code == "E0204"
    cycle = f'service vpn {{ {IMG} depends_on = [t] }}\nservice t {{ {IMG} network_mode = "service:vpn" }}'
    assert "E0401" in [d.code for d in errors(check_src(tmp_path, cycle).diagnostics)]
    result = compile_src(tmp_path, vpn + f'service t {{ {IMG} network_mode = "service:vpn" }}')
    assert not errors(result.diagnostics)
    t = result.compiled.manifest.services["t"]  # type: ignore[union-attr]
    assert (t.network_mode, t.depends_on) == ("service:vpn", ["vpn"])  # it starts after vpn
