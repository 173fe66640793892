"""The quadlet backend: golden output per feature, escaping, leaks, determinism, real tools.

Golden folders live in tests/backends/quadlet/<feature>/: `input/` (the project), `site.yaml`,
and the expected results: `expected/` (every file written below out/quadlet/ and out/podman/:
both backends deploy the same containers), `modes.txt` (the mode of each of those files) and
`expected.diagnostics.txt` (absent = none). MORA_UPDATE_GOLDEN=1 rewrites them. The secret
files there hold values from a seeded test store, not real secrets.

The slow tests run the real quadlet generator of podman 5.x (`tests.toolchain.quadlet()`, with
QUADLET_UNIT_DIRS and `-dryrun`) over every unit of every compiled example, for podman 4.4, 5.0
and 5.4, and `systemd-analyze verify` over the services it generates.

The helpers at the top (compiling, reading an Exec line the way systemd does) are shared with
test_podman.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mora.api import CompileResult, compile_project
from mora.backends import Options, podman, quadlet
from mora.backends._podman_common import (
    KEY_SINCE,
    Version,
    go_duration,
    health_command,
    podman_cpus,
)
from mora.backends.systemd import (
    UnitFile,
    UnitValueError,
    c_escape,
    escape_exec,
    exec_word,
    exec_words,
    quote_word,
    raw_value,
)
from mora.compiled import Compiled
from mora.diagnostics import Diagnostics, render_text
from mora.secrets.provider import MemoryProvider
from tests.toolchain import quadlet as quadlet_binary
from tests.toolchain import systemd_analyze

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases"
PROJECTS = ROOT / "projects"
GOLDEN = Path(__file__).resolve().parent / "quadlet"
UPDATE = os.environ.get("MORA_UPDATE_GOLDEN") == "1"


# --- helpers (also used by test_podman.py) -------------------------------------------------------


def compile_dir(
    project: Path,
    site: Path | None = None,
    domain: str | None = None,
    answers: dict[str, object] | None = None,
) -> CompileResult:
    """Compile with a seeded in-memory secret store: the same bytes on every run."""
    if answers is None and site is not None and (site.parent / "answers.yaml").exists():
        answers = yaml.safe_load((site.parent / "answers.yaml").read_text()) or {}
    return compile_project(
        project,
        site_file=site,
        domain=domain,
        provider=MemoryProvider(seed=b"backends", values=answers or {}),  # type: ignore[arg-type]
    )


def build(project: Path, site: Path | None = None, domain: str | None = None) -> Compiled:
    """The compiled project; fails the test with the diagnostics when it does not compile."""
    result = compile_dir(project, site=site, domain=domain)
    assert isinstance(result.compiled, Compiled), [render_text(d) for d in result.diagnostics]
    return result.compiled


def write_targets(
    compiled: Compiled,
    out: Path,
    targets: tuple[str, ...] = ("quadlet", "podman"),
    no_secrets: bool = False,
) -> tuple[list[Path], Diagnostics]:
    diags = Diagnostics()
    written: list[Path] = []
    modules = {"quadlet": quadlet, "podman": podman}
    for target in targets:
        written += modules[target].write(compiled, out, Options(no_secrets=no_secrets), diags)
    return written, diags


def with_podman(compiled: Compiled, **settings: object) -> Compiled:
    """The same compile with other `podman:` site settings."""
    targets = dict(compiled.manifest.targets)
    targets["podman"] = {**targets.get("podman", {}), **settings}
    manifest = compiled.manifest.model_copy(update={"targets": targets})
    return Compiled(manifest, dict(compiled.material))


def _examples() -> list[tuple[str, Compiled]]:
    found: list[tuple[str, Compiled]] = []
    for project in sorted(p for p in PROJECTS.iterdir() if p.is_dir()):
        result = compile_dir(project, domain="example.org")
        if isinstance(result.compiled, Compiled) and not result.diagnostics.has_errors:
            found.append((f"projects/{project.name}", result.compiled))
    for folder, prefix in ((CASES, "cases"), (GOLDEN, "golden")):
        for case in sorted(p for p in folder.iterdir() if (p / "site.yaml").exists()):
            result = compile_dir(case / "input", site=case / "site.yaml")
            if isinstance(result.compiled, Compiled) and not result.diagnostics.has_errors:
                found.append((f"{prefix}/{case.name}", result.compiled))
    return found


_EXAMPLES: list[tuple[str, Compiled]] | None = None


def examples() -> list[tuple[str, Compiled]]:
    """Every example that compiles: projects/*, tests/cases/* and the golden cases with a site."""
    global _EXAMPLES
    if _EXAMPLES is None:
        _EXAMPLES = _examples()
    return _EXAMPLES


def host_dirs(out: Path) -> list[Path]:
    """The per-host folders below out/quadlet (none when no service is deployed)."""
    root = out / "quadlet"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Relative path -> (bytes, mode) of every file below `root`."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".mora-outputs.json"  # the record of what was written
    }


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "s": " ",
}


def _unescape(text: str, i: int) -> tuple[str, int]:
    ch = text[i]
    if ch in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[ch], i + 1
    if ch == "x":
        return chr(int(text[i + 1 : i + 3], 16)), i + 3
    if ch in "01234567":
        return chr(int(text[i : i + 3], 8)), i + 3
    if ch == "u":
        return chr(int(text[i + 1 : i + 5], 16)), i + 5
    raise ValueError(f"unknown escape \\{ch}")


def split_words(line: str) -> list[str]:
    """Split like systemd's ExecStart= (unquote, C-unescape), strictly: bad input raises."""
    words: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        quote: str | None = None
        while i < n and (quote is not None or line[i] not in " \t"):
            ch = line[i]
            if ch == "\\":
                if i + 1 >= n:
                    raise ValueError("trailing backslash")
                text, i = _unescape(line, i + 1)
                word.append(text)
            elif quote is None and ch in "\"'":
                quote, i = ch, i + 1
            elif ch == quote:
                quote, i = None, i + 1
            else:
                word.append(ch)
                i += 1
        if quote is not None:
            raise ValueError("unbalanced quote")
        words.append("".join(word))


def resolve_word(word: str) -> str:
    """What systemd runs for one word we wrote: `%%` -> `%`, `$$` -> `$`, and no expansion."""
    out: list[str] = []
    i = 0
    while i < len(word):
        pair = word[i : i + 2]
        if pair in ("%%", "$$"):
            out.append(pair[0])
            i += 2
        elif word[i] in "%$":
            raise ValueError(f"systemd would expand {word[i : i + 2]!r} in {word!r}")
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def dryrun(unit_dir: Path) -> subprocess.CompletedProcess[str]:
    """quadlet -dryrun over one folder of units."""
    env = {**os.environ, "QUADLET_UNIT_DIRS": str(unit_dir.resolve())}
    return subprocess.run(
        [str(quadlet_binary()), "-dryrun", "-no-kmsg-log"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def generated_units(stdout: str) -> dict[str, str]:
    """`---name.service---` sections of quadlet -dryrun's output."""
    units: dict[str, str] = {}
    name = None
    for line in stdout.splitlines():
        m = re.fullmatch(r"---(.+)---", line)
        if m:
            name = m.group(1)
            units[name] = ""
        elif name is not None:
            units[name] += line + "\n"
    return units


def quadlet_problems(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "Loading source unit file" not in line]


# --- golden folders ------------------------------------------------------------------------------


def _golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input").is_dir())


@pytest.mark.parametrize("name", _golden_cases())
def test_golden(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = GOLDEN / name
    monkeypatch.chdir(folder)  # diagnostics show paths relative to the case
    result = compile_dir(Path("input"), site=Path("site.yaml"))
    diags = result.diagnostics
    assert isinstance(result.compiled, Compiled), [render_text(d) for d in diags.sorted()]
    _, backend_diags = write_targets(result.compiled, tmp_path)
    diags.extend(backend_diags)
    actual = tree(tmp_path)
    text = "\n\n".join(render_text(d) for d in diags.sorted())
    text = text + "\n" if text else ""
    modes = "".join(f"{mode:04o} {rel}\n" for rel, (_, mode) in sorted(actual.items()))
    expected_dir = folder / "expected"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, (data, _) in actual.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_bytes(data)
        (folder / "modes.txt").write_text(modes)
        diag_file = folder / "expected.diagnostics.txt"
        if text:
            diag_file.write_text(text)
        elif diag_file.exists():
            diag_file.unlink()
        return
    expected = {rel: data for rel, (data, _) in tree(expected_dir).items()}
    assert sorted(actual) == sorted(expected), "files differ (MORA_UPDATE_GOLDEN=1 rewrites them)"
    for rel, (data, _) in actual.items():
        assert data.decode() == expected[rel].decode(), f"{rel} differs"
    assert modes == (folder / "modes.txt").read_text(), "file modes differ"
    diag_file = folder / "expected.diagnostics.txt"
    assert text == (diag_file.read_text() if diag_file.exists() else ""), "diagnostics differ"


# --- escaping ------------------------------------------------------------------------------------

ADVERSARIAL = [
    "line1\nExecStart=/bin/evil",
    "x\n[Service]\nExecStartPre=/bin/evil",
    "%h %n %% %",
    "$HOME ${HOME} $$ $",
    "\"double\" 'single'",
    "back\\slash\\",
    "  padded  ",
    "tab\tcr\rbell\a",
    "trailing backslash \\",
    "unicode é ✓",
    "# not a comment",
    "; nor this",
    "=",
]


@pytest.mark.parametrize("value", ADVERSARIAL)
def test_exec_word_round_trips(value: str) -> None:
    word = exec_word(value)
    assert "\n" not in word and "\r" not in word
    assert [resolve_word(w) for w in split_words(word)] == [value]


@pytest.mark.parametrize("value", ADVERSARIAL)
def test_quote_word_round_trips(value: str) -> None:
    assert [resolve_word(w) for w in split_words(quote_word(value))] == [value]


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1)))
def test_exec_words_round_trip(words: list[str]) -> None:
    line = exec_words(words)
    assert not any(ord(ch) < 0x20 for ch in line)
    assert [resolve_word(w) for w in split_words(line)] == words


def test_escape_basics() -> None:
    assert escape_exec("100% of $HOME") == "100%% of $$HOME"
    assert c_escape('a"b\\c\nd\x01') == 'a\\"b\\\\c\\nd\\x01'
    assert exec_word("plain-word_1.2:3,4=5") == "plain-word_1.2:3,4=5"
    assert exec_word("has space") == '"has space"'
    with pytest.raises(UnitValueError):
        exec_word("")
    with pytest.raises(UnitValueError):
        quote_word("nul\0byte")


@pytest.mark.parametrize(
    "value",
    ["", " lead", "trail ", '"quoted"', "'quoted'", "ends with \\", "new\nline", "tab\there"],
)
def test_raw_value_refuses(value: str) -> None:
    assert raw_value(value) is None


def test_raw_value_escapes() -> None:
    assert raw_value("pg_isready -U $USER # 100%") == "pg_isready -U $$USER # 100%%"
    assert raw_value("50%", exec_line=False) == "50%%"


def test_unit_file_refuses_new_lines() -> None:
    unit = UnitFile()
    for value in ("a\nb", "a\rb", " lead", "cont\\"):
        with pytest.raises(UnitValueError):
            unit.add("Container", "Environment", value)
    with pytest.raises(UnitValueError):
        unit.add("Container", "Bad Key", "x")
    with pytest.raises(UnitValueError):
        unit.add("Bad]Section", "Key", "x")
    unit.add("Container", "Image", "x")
    assert unit.render() == "[Container]\nImage=x\n"


def test_helpers_of_podman_options() -> None:
    assert health_command(["CMD-SHELL", "pg_isready"]) == "pg_isready"
    assert health_command(["CMD", "curl", "-f", "x"]) == '["curl","-f","x"]'
    assert health_command(["CMD", "/healthcheck"]) == "/healthcheck"
    assert health_command(["NONE"]) == "none"
    assert health_command(["CMD-SHELL", "CMD x"]) == '["/bin/sh","-c","CMD x"]'
    assert health_command(["curl", "x"]) == '["curl","x"]'
    assert go_duration(10.0) == "10s" and go_duration(0.5) == "500ms"
    assert podman_cpus("500m") == "0.5" and podman_cpus("2") == "2" and podman_cpus("x") is None
    assert Version.parse("5.10") > Version.parse("5.9")  # type: ignore[operator]
    assert Version.parse("4.4.1") == Version(4, 4, 1) and Version.parse("five") is None


def test_adversarial_unit_text(tmp_path: Path) -> None:
    """The escaping golden case: every line of the unit is one of ours."""
    compiled = build(GOLDEN / "escaping" / "input", site=GOLDEN / "escaping" / "site.yaml")
    write_targets(compiled, tmp_path)
    text = (tmp_path / "quadlet" / "local" / "evil-web.container").read_text()
    keys = [line.split("=", 1)[0] for line in text.splitlines() if "=" in line[:30]]
    assert "ExecStart" not in keys and "ExecStartPre" not in keys
    assert "WantedBy=evil.target" not in text.splitlines()
    sections = [line for line in text.splitlines() if line.startswith("[")]
    assert sections == ["[Unit]", "[Container]", "[Service]", "[Install]"]


# --- properties of everything compiled -----------------------------------------------------------


def test_deterministic(tmp_path: Path) -> None:
    for name, compiled in examples():
        a, b = tmp_path / "a" / name, tmp_path / "b" / name
        write_targets(compiled, a)
        write_targets(compiled, b)
        write_targets(compiled, b)  # a second compile into the same folder changes nothing
        assert tree(a) == tree(b), name


def test_no_secret_leaks(tmp_path: Path) -> None:
    """No secret value appears anywhere but in the 0600 files under secrets/."""
    checked = 0
    for name, compiled in examples():
        out = tmp_path / name
        write_targets(compiled, out)
        values = [v for v in compiled.material.values() if len(v) >= 6]
        for rel, (data, mode) in tree(out).items():
            text = data.decode("utf-8", "replace")
            if "/secrets/" in f"/{rel}":
                assert mode == 0o600, f"{name}: {rel} is {mode:o}"
                continue
            for value in values:
                assert value not in text, f"{name}: a secret value leaked into {rel}"
                checked += 1
    assert checked > 0


def test_no_secrets_option(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "secrets-files" / "input", domain="example.org")
    write_targets(compiled, tmp_path)
    assert (tmp_path / "quadlet" / "local" / "secrets").is_dir()
    write_targets(compiled, tmp_path, no_secrets=True)  # removes what the first wrote
    files = tree(tmp_path)
    assert not [rel for rel in files if "/secrets/" in rel], "secret files written"
    assert any(rel.endswith("/files/" + rel.rsplit("/", 1)[-1]) for rel in files)
    script = files["quadlet/local/secrets.sh"][0].decode()
    assert "secrets/vault-app-env-ADMIN_PASSWORD" in script  # still created, from a file you put


def test_stale_units_removed_drop_ins_kept(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "health-depends" / "input", domain="example.org")
    write_targets(compiled, tmp_path)
    host = tmp_path / "quadlet" / "local"
    drop_in = host / "shop-api.container.d" / "override.conf"
    drop_in.parent.mkdir()
    drop_in.write_text("[Service]\nTimeoutStartSec=60\n")
    services = {k: v for k, v in compiled.manifest.services.items() if k != "cache"}
    services["api"] = services["api"].model_copy(update={"depends_on": ["db"]})
    smaller = compiled.manifest.model_copy(update={"services": services})
    write_targets(Compiled(smaller, compiled.material), tmp_path)
    assert not (host / "shop-cache.container").exists()
    assert (host / "shop-db.container").exists()
    assert drop_in.exists()


def _diags_of(compiled: Compiled, tmp_path: Path) -> list[str]:
    _, diags = write_targets(compiled, tmp_path)
    return [render_text(d).splitlines()[0] for d in diags.sorted()]


def test_settings_are_checked(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "basic" / "input", domain="example.org")
    bad = with_podman(
        compiled, version="five", acme_email="not an email", rootles=True, http_port=0
    )
    lines = _diags_of(bad, tmp_path)
    assert any("E0701" in line and "`version`" in line for line in lines)
    assert any("E0701" in line and "`acme_email`" in line for line in lines)
    assert any("E0701" in line and "`http_port`" in line for line in lines)
    assert any("W0701" in line and "`rootles`" in line for line in lines)


def test_podman_too_old_for_quadlet(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "basic" / "input", domain="example.org")
    old = with_podman(compiled, version="4.3.1")
    written, diags = write_targets(old, tmp_path, targets=("quadlet",))
    assert written == [] and diags.has_errors
    written, diags = write_targets(old, tmp_path, targets=("podman",))
    assert written and not diags.has_errors  # the script target runs on 4.3.1


def test_proxy_ports_clash(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "proxy-acme" / "input", site=GOLDEN / "proxy-acme" / "site.yaml")
    clash = with_podman(compiled, https_port=5432)
    services = dict(clash.manifest.services)
    db = services["db"]
    services["db"] = db.model_copy(
        update={"ports": [db.ports[0].model_copy(update={"published": 5432})]}
    )
    manifest = clash.manifest.model_copy(update={"services": services})
    lines = _diags_of(Compiled(manifest, clash.material), tmp_path)
    assert any("E0707" in line for line in lines)


# The [Container], [Volume] and [Network] keys of quadlet in podman v4.4 (from its source), to
# check the 4.4 output with something other than the table the backend itself uses.
QUADLET_4_4 = {
    "Container": {
        "ContainerName",
        "Image",
        "Environment",
        "EnvironmentFile",
        "EnvironmentHost",
        "Exec",
        "NoNewPrivileges",
        "DropCapability",
        "AddCapability",
        "ReadOnly",
        "RemapUsers",
        "RemapUid",
        "RemapGid",
        "RemapUidSize",
        "Notify",
        "ExposeHostPort",
        "PublishPort",
        "User",
        "Group",
        "Volume",
        "PodmanArgs",
        "Label",
        "Annotation",
        "RunInit",
        "VolatileTmp",
        "Timezone",
        "SeccompProfile",
        "AddDevice",
        "Network",
    },
    # v4.4.0 pkg/systemd/quadlet/quadlet.go supportedVolumeKeys (Device/Type/Options: NFS shares)
    "Volume": {"User", "Group", "Label", "Device", "Type", "Options", "Copy"},
    "Network": {
        "DisableDNS",
        "Driver",
        "Gateway",
        "Internal",
        "IPRange",
        "IPAMDriver",
        "IPv6",
        "Options",
        "Subnet",
        "Label",
    },
}


def _unit_keys(text: str) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            keys.setdefault(section, set()).add(line.split("=", 1)[0])
    return keys


def test_podman_4_4_uses_only_its_keys(tmp_path: Path) -> None:
    for name, compiled in examples():
        out = tmp_path / name
        write_targets(with_podman(compiled, version="4.4"), out, targets=("quadlet",))
        for unit in sorted((out / "quadlet").rglob("*.*")):
            if unit.suffix not in (".container", ".volume", ".network"):
                continue
            for section, keys in _unit_keys(unit.read_text()).items():
                allowed = QUADLET_4_4.get(section)
                if allowed is not None:
                    assert keys <= allowed, f"{name}/{unit.name}: {sorted(keys - allowed)}"
                notify = re.search(r"^Notify=(.*)$", unit.read_text(), re.M)
                assert notify is None or notify.group(1) == "true", unit


def test_key_table_is_complete() -> None:
    """Every key the backend writes has a version in the table (and 4.4 ones match its source)."""
    for key, since in KEY_SINCE.items():
        if since == Version(4, 4):
            assert key in QUADLET_4_4["Container"], key


def test_hosts_and_placement(tmp_path: Path) -> None:
    case = GOLDEN / "multi-host"
    compiled = build(case / "input", site=case / "site.yaml")
    write_targets(compiled, tmp_path, targets=("quadlet",))
    hosts = {
        p.name: sorted(q.name for q in p.glob("*.container"))
        for p in (tmp_path / "quadlet").iterdir()
    }
    assert hosts == {
        "nas": ["lab-db.container", "lab-helper.container", "lab-metrics.container"],
        "gpu-box": ["lab-app.container", "lab-mora-proxy.container"],
    }
    app = (tmp_path / "quadlet" / "gpu-box" / "lab-app.container").read_text()
    assert "--add-host=db:192.168.1.10" in app and "Requires=lab-db.service" not in app


def test_no_hosts_means_local(tmp_path: Path) -> None:
    compiled = build(GOLDEN / "multi-host" / "input", domain="example.org")
    write_targets(compiled, tmp_path, targets=("quadlet",))
    assert [p.name for p in (tmp_path / "quadlet").iterdir()] == ["local"]


# --- the real quadlet generator and systemd-analyze ----------------------------------------------


def _supported_by_binary(compiled: Compiled, binary_version: Version) -> bool:
    raw = compiled.manifest.targets.get("podman", {}).get("version", "5.0")
    wanted = Version.parse(raw)
    return wanted is not None and wanted <= binary_version


@pytest.mark.slow
@pytest.mark.parametrize("version", ["4.4", "5.0", "5.4", None])
def test_quadlet_accepts_every_unit(version: str | None, tmp_path: Path) -> None:
    """quadlet -dryrun converts every unit of every example, with no error and no warning."""
    binary = Version.parse(
        subprocess.run([str(quadlet_binary()), "-version"], capture_output=True, text=True).stdout
    )
    assert binary is not None and binary >= Version(5, 0)
    units = 0
    for name, compiled in examples():
        if version is not None:
            compiled = with_podman(compiled, version=version)
        if not _supported_by_binary(compiled, binary):
            continue  # a site asking for keys newer than this quadlet (Memory= is 5.5)
        out = tmp_path / name
        write_targets(compiled, out, targets=("quadlet",))
        for host in host_dirs(out):
            sources = sorted(
                p for p in host.iterdir() if p.suffix in (".container", ".volume", ".network")
            )
            proc = dryrun(host)
            problems = quadlet_problems(proc)
            assert proc.returncode == 0 and not problems, f"{name}/{host.name}: {problems}"
            assert "unsupported key" not in proc.stderr
            made = generated_units(proc.stdout)
            for src in sources:
                service = {
                    ".container": f"{src.stem}.service",
                    ".volume": f"{src.stem}-volume.service",
                    ".network": f"{src.stem}-network.service",
                }[src.suffix]
                assert service in made, f"{name}/{host.name}: no {service}"
            units += len(sources)
    assert units > 0
    print(f"quadlet accepted {units} units (version {version or 'as in the site'})")


# systemd-analyze verify runs here in a container without a running systemd. Lines that come from
# that environment, not from our units, are dropped: only these, and only when they name none of
# our units (see docs/podman.md):
VERIFY_NOISE = [
    re.compile(r"Failed to (connect to|create) (the )?bus"),  # no D-Bus in a container
    re.compile(r"System has not been booted with systemd"),
    re.compile(r"Cannot determine cgroup we are running in|Failed to read /proc/"),
    re.compile(r"Failed to open (/dev/kmsg|/run/systemd)"),
]


def verify_problems(stderr: str, ours: list[str]) -> list[str]:
    problems = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        mentions_ours = any(name.removesuffix(".service") in line for name in ours)
        if not mentions_ours and any(p.search(line) for p in VERIFY_NOISE):
            continue
        problems.append(line)
    return problems


@pytest.mark.slow
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd-analyze verify finds nothing wrong with the services quadlet makes of our units."""
    analyze = systemd_analyze()
    services = 0
    for name, compiled in examples():
        if not _supported_by_binary(compiled, Version(5, 4)):
            continue
        out = tmp_path / "out" / name
        write_targets(compiled, out, targets=("quadlet",))
        for host in host_dirs(out):
            gen = tmp_path / "gen" / name / host.name
            gen.mkdir(parents=True)
            env = {**os.environ, "QUADLET_UNIT_DIRS": str(host.resolve())}
            proc = subprocess.run(
                [str(quadlet_binary()), "-no-kmsg-log", str(gen)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert proc.returncode == 0, quadlet_problems(proc)
            made = sorted(p.name for p in gen.glob("*.service"))
            verify = subprocess.run(
                [str(analyze), "verify", *made],
                cwd=gen,
                capture_output=True,
                text=True,
                timeout=120,
            )
            problems = verify_problems(verify.stderr + verify.stdout, made)
            assert verify.returncode == 0 and not problems, f"{name}/{host.name}: {problems}"
            services += len(made)
    assert services > 0
    print(f"systemd-analyze verified {services} services")


@pytest.mark.slow
def test_adversarial_values_reach_podman_unchanged(tmp_path: Path) -> None:
    """Through quadlet and systemd's parsing, each adversarial value is one intact argument."""
    case = GOLDEN / "escaping"
    compiled = build(case / "input", site=case / "site.yaml")
    svc = compiled.manifest.services["web"]
    write_targets(compiled, tmp_path, targets=("quadlet",))
    proc = dryrun(tmp_path / "quadlet" / "local")
    assert proc.returncode == 0, quadlet_problems(proc)
    unit = generated_units(proc.stdout)["evil-web.service"]
    keys = [line.split("=", 1)[0] for line in unit.splitlines() if re.match(r"[A-Za-z]+=", line)]
    assert "ExecStartPre" not in keys and keys.count("ExecStart") == 1
    assert "WantedBy=evil.target" not in unit.splitlines()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = split_words(exec_start.removeprefix("ExecStart="))
    # quadlet's own words (--cidfile=%t/%N.cid) keep their specifiers; ours must resolve cleanly.
    ours = [w if "%t/%N" in w else resolve_word(w) for w in argv]
    envs = dict(ours[i + 1].split("=", 1) for i, w in enumerate(ours) if w == "--env")
    assert envs == {k: v.value for k, v in svc.environment.items()}
    labels = [ours[i + 1] for i, w in enumerate(ours) if w == "--label"]
    for key, value in svc.labels.items():
        assert f"{key}={value}" in labels
    image_at = ours.index(svc.image)
    assert ours[image_at + 1 :] == svc.command
    hc = health_command(svc.healthcheck.test)  # type: ignore[union-attr]
    assert f"--health-cmd={hc}" in ours
    assert f"--user={svc.user}" in ours


def test_host_name_address_gets_no_add_host(tmp_path: Path) -> None:
    """--add-host takes an IP: a host known by name only gets a warning instead."""
    case = GOLDEN / "multi-host"
    compiled = build(case / "input", site=case / "site.yaml")
    hosts = [
        h.model_copy(update={"address": "nas.lan"}) if h.name == "nas" else h
        for h in compiled.manifest.hosts
    ]
    named = Compiled(compiled.manifest.model_copy(update={"hosts": hosts}), compiled.material)
    _, diags = write_targets(named, tmp_path, targets=("quadlet",))
    app = (tmp_path / "quadlet" / "gpu-box" / "lab-app.container").read_text()
    assert "--add-host" not in app
    warned = [d.message for d in diags if d.code == "W0704" and d.severity.value == "warning"]
    assert any("`db:5432`" in m for m in warned)


def test_an_unquoted_version_number_is_named(tmp_path: Path) -> None:
    """YAML reads `version: 5.10` as the float 5.1: say which version is used, and how to fix."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "a.mora").write_text('service a { image = "docker.io/library/busybox:1.36" }\n')
    compiled = build(project, domain="example.org")
    _written, diags = write_targets(
        with_podman(compiled, version=5.10), tmp_path / "out", targets=("quadlet",)
    )
    (warning,) = [d for d in diags if d.code == "W0712"]
    assert "the number 5.1: using podman 5.1" in warning.message
    assert 'version: "5.1"' in (warning.help or "")
    _written, quoted = write_targets(
        with_podman(compiled, version="5.10"), tmp_path / "out2", targets=("quadlet",)
    )
    assert not [d for d in quoted if d.code == "W0712"]
