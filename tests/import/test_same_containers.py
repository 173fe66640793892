"""An imported project compiles to the containers the compose file describes (podman backend).

For every service of a compose file, the `podman run` arguments that mora's podman target writes
(`mora.backends.podman.run_args`) are compared with what the compose file says, read here
independently of the importer's mapping: the image, the command, every environment variable (a
secret one delivered as a podman secret, never as `--env`), every published port and every
volume and bind mount. Cases are the golden inputs and corpus files whose services are plain
services (stdlib templates deliberately differ: they bring their own settings).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from mora.api import compile_project
from mora.backends._podman_common import plan, read_settings
from mora.backends.podman import run_args
from mora.diagnostics import Diagnostics
from mora.importer import compose, import_compose
from mora.importer.secrets import placeholder_value, plain_value, secret_name
from mora.importer.writer import mora_name
from mora.secrets.provider import MemoryProvider

HERE = Path(__file__).resolve().parent
CASES = {
    "keys": HERE / "golden" / "keys" / "compose.yaml",
    "interpolation": HERE / "golden" / "interpolation" / "compose.yaml",
    "secrets": HERE / "golden" / "secrets" / "compose.yaml",
    "routes": HERE / "golden" / "routes" / "compose.yaml",
    "files": HERE / "golden" / "files" / "compose.yaml",
    "authentik": HERE.parent / "corpus" / "compose" / "authentik" / "docker-compose.yml",
    "wireguard": HERE.parent
    / "corpus"
    / "compose"
    / "awesome-compose"
    / "wireguard"
    / "compose.yaml",
    "elk": HERE.parent
    / "corpus"
    / "compose"
    / "awesome-compose"
    / "elasticsearch-logstash-kibana"
    / "compose.yaml",
}


# Values for the params an import leaves required (`${APP_HOST:?...}`), as a site gives them.
SETS = {"interpolation": ["app_host=app.example.org"]}


def _expected_ports(node: compose.Node | None, resolve) -> set[str]:  # type: ignore[no-untyped-def]
    out = set()
    for item in node.value if node is not None and node.is_list() else []:
        if item.is_map():
            d = item.plain()
            if d.get("published") is not None and not d.get("host_ip"):
                out.add(f"{resolve(str(d['published']))}:{d['target']}/{d.get('protocol', 'tcp')}")
            continue
        text = resolve(str(item.value))
        spec, _, proto = text.partition("/")
        parts = spec.split(":")
        if len(parts) == 2 and "-" not in spec:  # a host ip or a range is not published
            out.add(f"{parts[0]}:{parts[1]}/{proto or 'tcp'}")
    return out


def _expected_volumes(node, resolve, project: str, base: Path) -> set[str]:  # type: ignore[no-untyped-def]
    out = set()
    for item in node.value if node is not None and node.is_list() else []:
        if item.is_map():
            d = item.plain()
            kind, source, target = d.get("type", "volume"), d.get("source"), d["target"]
            ro = ":ro" if d.get("read_only") else ""
        else:
            parts = resolve(str(item.value)).split(":")
            if len(parts) < 2:
                continue  # an anonymous volume: mora names it after the service
            source, target = parts[0], parts[1]
            ro = ":ro" if "ro" in (parts[2].split(",") if len(parts) > 2 else []) else ""
            kind = "bind" if source.startswith(("/", ".")) else "volume"
        if kind == "bind":
            host = (base / source).resolve() if not str(source).startswith("/") else Path(source)
            out.add(f"{host}:{target}{ro}")
        elif kind == "volume" and source:
            out.add(f"{project}-{source}:{target}{ro}")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_containers(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = CASES[case]
    work = tmp_path / case
    shutil.copytree(src.parent, work)
    monkeypatch.chdir(work)
    result = import_compose([Path(src.name)], Path("out"), project_directory=work)
    assert result.written is not None and result.check_errors == 0
    compiled = compile_project(
        Path("out"),
        domain="example.org",
        sets=SETS.get(case, []),
        provider=MemoryProvider(seed=b"same"),
    )
    assert compiled.compiled is not None, [d.message for d in compiled.diagnostics if d.is_error]
    diags = Diagnostics()
    manifest = compiled.compiled.manifest  # type: ignore[attr-defined]
    dep = plan(compiled.compiled, read_settings(manifest, diags), diags, one_host=True)  # type: ignore[arg-type]
    containers = {c.service.name: run_args(dep, c) for c in dep.hosts[0].containers}
    templated = {c.service.name for c in dep.hosts[0].containers if c.service.template}

    places = {
        (d.span.file.path, d.span.line)
        for d in result.diagnostics
        if d.span is not None and d.code in ("W0902", "W0903", "W0904")
    }

    def diagnosed(node: compose.Node) -> bool:
        span = node.where
        return span is not None and (span.file.path, span.line) in places

    env_files = [p for p in [work / ".env"] if p.exists()]
    if case in SETS:  # the site's values, as compose would read them from an env file
        site_env = tmp_path / "site.env"
        site_env.write_text(
            "".join(f"{s.split('=')[0].upper()}={s.split('=', 1)[1]}\n" for s in SETS[case])
        )
        env_files.append(site_env)
    loaded = compose.load([Path(src.name)], Diagnostics(), env_files=env_files)
    assert loaded is not None
    resolve = loaded.interp.resolve
    project = manifest.project
    secret_values = set()
    for svc in loaded.services.values():
        env = svc.get("environment")
        for key, value in env.value.items() if env is not None and env.is_map() else []:
            text = resolve(str(value.value)) if value.value is not None else ""
            if (secret_name(key) and not plain_value(text)) or placeholder_value(text):
                secret_values.add(text)
    checked = 0

    def hosts(text: str) -> str:
        """A renamed service (`my-blog` -> `my_blog`, W0905) is reached under its new name."""
        for cname in loaded.services:
            if text == cname:  # `self` -> `self_svc`: only a whole value
                return mora_name(cname) if mora_name(cname) != "self" else "self_svc"
            if "-" in cname or "." in cname:
                text = re.sub(rf"(?<![\w.-]){re.escape(cname)}(?![\w.-])", mora_name(cname), text)
        return text

    for cname, svc in loaded.services.items():
        name = mora_name(cname) if mora_name(cname) != "self" else "self_svc"
        args = containers[name]
        image = resolve(str(svc.get("image").value))
        at = args.index(image)
        assert args[at] == image
        if name in templated:
            continue  # a stdlib template brings its own settings (docs/import.md)
        command = svc.get("command")
        if command is not None:
            words = (
                [resolve(str(w.value)) for w in command.value]
                if command.is_list()
                else shlex.split(resolve(str(command.value)))
            )
            # a secret in a command is left out, and said so at its line (W0904)
            assert args[at + 1 :] == words or diagnosed(command), cname
        env = svc.get("environment")
        for key, value in env.value.items() if env is not None and env.is_map() else []:
            text = resolve(str(value.value)) if value.value is not None else None
            if text is None:
                continue
            raw = loaded.interp.show(str(value.value))
            secret = (
                (secret_name(key) and not plain_value(text))
                or placeholder_value(text)
                or any(len(v) >= 8 and v in text for v in secret_values)
                or any(secret_name(v.name) and v.name in raw for v in loaded.interp.uses)
            )
            if secret:
                assert not any(a.startswith(f"--env={key}=") for a in args), (cname, key)
                assert any(a.startswith("--secret=") and f"target={key}" in a for a in args), (
                    cname,
                    key,
                )
            elif f"--env={key}={text}" not in args and f"--env={key}={hosts(text)}" not in args:
                assert diagnosed(value), (cname, key)  # left out, and said so at its line
        published = {a.removeprefix("--publish=") for a in args if a.startswith("--publish=")}
        assert published == _expected_ports(svc.get("ports"), resolve), cname
        mounts = {a.removeprefix("--volume=") for a in args if a.startswith("--volume=")}
        expected = _expected_volumes(svc.get("volumes"), resolve, project, work)
        assert expected <= mounts, (cname, expected - mounts)
        drop = svc.get("cap_drop")
        if drop is not None and "ALL" in [str(c.value).upper() for c in drop.value]:
            # compose: drop everything, then add cap_add: the container has exactly cap_add
            added = (
                {str(c.value) for c in svc.get("cap_add").value} if svc.get("cap_add") else set()
            )
            assert {
                a.removeprefix("--cap-add=") for a in args if a.startswith("--cap-add=")
            } == added
        checked += 1
    assert checked == len(loaded.services) - len(templated) > 0
