"""Reading compose as docker compose does: YAML features, interpolation, .env, merging, profiles.

Each test feeds real compose text through `mora.importer.compose.load` and looks at the merged
model (values with their places), so a rule that is not followed fails here, not in an import.
"""

from __future__ import annotations

from pathlib import Path

from mora.diagnostics import Diagnostics, render_text
from mora.importer import compose
from mora.importer.interpolate import Interpolator


def _load(tmp_path: Path, *texts: str, env: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"c{i}.yml"
        path.write_text(text)
        paths.append(path)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    diags = Diagnostics()
    project = compose.load(paths, diags, **kw)  # type: ignore[arg-type]
    return project, diags


def _plain(project, service: str):  # type: ignore[no-untyped-def]
    node = project.services[service]
    return _resolve(project.interp, node.plain())


def _resolve(interp: Interpolator, value: object) -> object:
    if isinstance(value, str):
        return interp.resolve(value)
    if isinstance(value, list):
        return [_resolve(interp, v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(interp, v) for k, v in value.items()}
    return value


def test_anchors_merge_keys_and_extensions(tmp_path: Path) -> None:
    project, diags = _load(
        tmp_path,
        """
x-base: &base
  restart: always
  environment: {A: "1", B: "2"}
x-more: &more
  restart: "no"
  user: "1000"
services:
  web:
    <<: [*base, *more]
    image: nginx:1.27
    environment:
      <<: {A: "0", C: "3"}
      A: "9"
""",
    )
    assert not diags.items
    web = _plain(project, "web")
    assert web["restart"] == "always"  # the first merged mapping wins
    assert web["user"] == "1000"
    assert web["environment"] == {"A": "9", "C": "3"}  # written keys win over `<<`
    assert "x-base" in project.top  # extensions are read, not services


def test_interpolation_forms(tmp_path: Path) -> None:
    project, diags = _load(
        tmp_path,
        """
services:
  s:
    image: "img:${TAG:-1.0}"
    environment:
      UNSET_DASH: "${NOPE-dflt}"
      EMPTY_COLON: "${EMPTY:-dflt}"
      EMPTY_DASH: "${EMPTY-dflt}"
      FROM_ENV: "$FROMENV/x"
      REQUIRED: "${REQ:?give it}"
      PLUS: "${FROMENV:+yes}"
      DOLLAR: "cost $$5 and $${NOT}"
      NESTED: "${NOPE:-${FROMENV}}"
""",
        env="FROMENV=hello\nEMPTY=\nexport TAG=2.0 # comment\nQ='a $b'\n",
    )
    assert not diags.items
    env = _plain(project, "s")["environment"]
    assert _plain(project, "s")["image"] == "img:2.0"
    assert env == {
        "UNSET_DASH": "dflt",
        "EMPTY_COLON": "dflt",
        "EMPTY_DASH": "",
        "FROM_ENV": "hello/x",
        "REQUIRED": "",
        "PLUS": "yes",
        "DOLLAR": "cost $5 and ${NOT}",
        "NESTED": "hello",
    }
    req = next(v for v in project.interp.uses if v.name == "REQ")
    assert req.required and req.arg == "give it"
    assert project.interp.env["Q"].value == "a $b"  # single quotes are literal


def test_bad_interpolation_is_reported_at_its_place(tmp_path: Path) -> None:
    _, diags = _load(tmp_path, "services:\n  s:\n    image: x:1\n    command: echo ${\n")
    assert [d.code for d in diags] == ["W0901"]
    text = render_text(diags.items[0])
    assert "c0.yml:4:14" in text and "^" in text


def test_several_files_merge_by_the_spec(tmp_path: Path) -> None:
    project, diags = _load(
        tmp_path,
        """
services:
  web:
    image: nginx:1.26
    command: ["a", "b"]
    ports: ["8080:80", "9000:9000"]
    volumes: ["data:/data", "./x:/x"]
    environment: ["A=1", "B=2"]
    dns: [1.1.1.1]
    labels: {keep: "1", drop: "2"}
    depends_on: [db]
    healthcheck: {test: ["CMD", "a"], retries: 3}
  db:
    image: postgres:16
""",
        """
services:
  web:
    image: nginx:1.27
    command: ["c"]
    ports: ["8080:80", "8443:443"]
    volumes: ["other:/data"]
    environment: {B: "3", C: "4"}
    dns: [8.8.8.8]
    labels: {drop: !reset null}
    depends_on: {cache: {condition: service_healthy}}
    healthcheck: {test: ["CMD", "b"]}
  cache:
    image: redis:7
  db:
    ports: !override ["5432:5432"]
""",
    )
    assert not diags.items
    web = _plain(project, "web")
    assert web["image"] == "nginx:1.27"
    assert web["command"] == ["c"]  # replaced, not appended
    assert web["ports"] == ["8080:80", "9000:9000", "8443:443"]  # unique by port
    assert web["volumes"] == ["other:/data", "./x:/x"]  # unique by target
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert web["dns"] == ["1.1.1.1", "8.8.8.8"]  # other sequences are appended
    assert web["labels"] == {"keep": "1"}  # !reset removes
    assert web["depends_on"] == {"db": {}, "cache": {"condition": "service_healthy"}}
    assert web["healthcheck"] == {"test": ["CMD", "b"], "retries": 3}
    assert _plain(project, "db")["ports"] == ["5432:5432"]
    assert list(project.services) == ["web", "db", "cache"]


def test_profiles(tmp_path: Path) -> None:
    text = """
services:
  app: {image: "a:1"}
  debug: {image: "b:1", profiles: [debug]}
  tools: {image: "c:1", profiles: [tools, ops]}
"""
    project, diags = _load(tmp_path, text, profiles=["ops"])
    assert list(project.services) == ["app", "tools"]
    assert list(project.skipped) == ["debug"]
    assert [d.code for d in diags] == ["W0907"]
    assert "--profile debug" in (diags.items[0].help or "")


def test_keys_keep_line_and_column(tmp_path: Path) -> None:
    project, _ = _load(tmp_path, "services:\n  web:\n    image: nginx:1.27\n    user: '1000'\n")
    node = project.services["web"].get("user")
    assert node is not None and node.key_span is not None
    assert node.key_span.location().endswith("c0.yml:4:5")
    assert node.span is not None and node.span.location().endswith("c0.yml:4:11")


def test_unreadable_inputs_are_diagnostics(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    for text, code in [
        ("services: [", "E0902"),
        ("- a\n- b\n", "E0902"),
        ("services: {}\n", "E0902"),
        (bomb, "E0902"),
        ("services:\n  a: {image: x}\n  a: {image: y}\n", "E0902"),
    ]:
        _, diags = _load(tmp_path, text)
        assert diags.has_errors and {d.code for d in diags} == {code}, text
    _, diags = _load(tmp_path)
    diags = Diagnostics()
    assert compose.load([tmp_path / "missing.yml"], diags) is None
    assert [d.code for d in diags] == ["E0901"]


def test_no_service_left_by_profiles_is_an_error(tmp_path: Path) -> None:
    """Found by the property test: every service behind a profile used to import nothing, silently."""
    _, diags = _load(tmp_path, "services:\n  a: {image: 'a:1', profiles: [x]}\n")
    assert [d.code for d in diags.sorted()] == ["E0902", "W0907"]


def test_extends_in_this_file_and_another(tmp_path: Path) -> None:
    (tmp_path / "common.yml").write_text(
        "services:\n  base:\n    image: ghcr.io/example/base:1\n    environment: {A: '1', B: '1'}\n"
        "    command: [run]\n"
    )
    project, diags = _load(
        tmp_path,
        """
services:
  web:
    extends: {file: common.yml, service: base}
    environment: {B: "2"}
  worker:
    extends: web
    command: [work]
  loop:
    extends: loop
""",
    )
    assert [(d.code, d.message) for d in diags] == [("E0902", "a cycle of `extends`")]
    assert _plain(project, "web") == {
        "image": "ghcr.io/example/base:1",
        "environment": {"A": "1", "B": "2"},
        "command": ["run"],
    }
    assert _plain(project, "worker")["command"] == ["work"]
    assert _plain(project, "worker")["environment"] == {"A": "1", "B": "2"}


def test_services_that_are_not_a_mapping_are_said_once(tmp_path: Path) -> None:
    """Found by a new user's review: `services: [1, 2]` also said "no services in the compose file"."""
    _, diags = _load(tmp_path, "services: [1, 2]\n")
    assert [(d.code, d.message) for d in diags] == [("E0902", "`services` must be a mapping")]
