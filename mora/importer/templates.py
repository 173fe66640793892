"""Compose services the standard library already knows: written as a template instance.

A service becomes `service db = postgres(...)` only when everything it sets maps onto the
template's arguments (or is something the template does itself: health check, restart, user,
the data volume); otherwise it stays a plain service and a note (W0906) names what did not map.
The database password, whether written in `environment`, taken from a variable or from a compose
secret file (`POSTGRES_PASSWORD_FILE`), becomes the template's own secret
(`secret.<service>_password`), and every other service that used the same value uses that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mora.importer.interpolate import has_placeholder
from mora.importer.yamlnodes import Node

if TYPE_CHECKING:
    from mora.importer.convert import Converter, SecretGroup


# Keys the templates set themselves: compose's value is replaced by the template's.
_TEMPLATE_OWNS = {"restart", "healthcheck", "container_name", "networks", "expose"}


@dataclass
class TemplateUse:
    module: str
    args: list[str]
    secrets: dict[str, SecretGroup] = field(default_factory=dict)  # instance secret -> group
    replaced: list[str] = field(default_factory=list)  # compose keys the template sets itself


def repository(image: str) -> str:
    """`docker.io/library/postgres:16` -> `postgres`; `lscr.io/linuxserver/sonarr` -> `linuxserver/sonarr`."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[:1] == ["library"]:
        parts = parts[1:]
    return "/".join(parts)


def stdlib_images() -> dict[str, str]:
    """Repository -> stdlib module, read from each template's default `image` argument."""
    from pathlib import Path

    from mora.resources import stdlib_folder

    out: dict[str, str] = {}
    stdlib = Path(stdlib_folder())
    if not stdlib.is_dir():
        return out
    for path in sorted(stdlib.glob("*.mora")):
        for m in re.finditer(r'image: string = "([^"]+)"', path.read_text(encoding="utf-8")):
            repo = repository(m.group(1))
            out.setdefault(repo, path.stem)
            out.setdefault(repo.replace("-rootless", ""), path.stem)
    return out


def _env(conv: Converter, svc: Node) -> dict[str, Node]:
    return conv.environment(svc)


def _value_group(conv: Converter, svc: Node, env: dict[str, Node], name: str) -> SecretGroup | None:
    """The secret group of an env value (written, from a variable, or from a secret file)."""
    node = env.get(name)
    if node is not None and isinstance(node.value, str):
        var = conv.interp.var(node.value)
        if var is not None:
            return conv.by_var.get(var.name)
        if not has_placeholder(node.value):
            return conv.by_value.get(node.value)
    node = env.get(name + "_FILE")
    if node is not None and isinstance(node.value, str) and node.value.startswith("/run/secrets/"):
        return conv.by_var.get("file:" + node.value.removeprefix("/run/secrets/"))
    return None


def _data_volume(conv: Converter, svc: Node, path: str, problems: list[str]) -> None:
    for item in (
        svc.get("volumes").value if svc.get("volumes") and svc.get("volumes").is_list() else []
    ):
        text = conv.interp.resolve(str(item.value)) if item.is_scalar() else ""
        if item.is_map():
            plain = item.plain()
            kind, target = plain.get("type", "volume"), plain.get("target")
        else:
            parts = text.split(":")
            target = parts[1] if len(parts) > 1 else parts[0]
            kind = "bind" if parts[0].startswith(("/", ".", "~")) and len(parts) > 1 else "volume"
        if target != path or kind != "volume":
            problems.append(f"volume `{text or target}`")


def match(conv: Converter, cname: str, svc: Node, images: dict[str, str]) -> TemplateUse | None:
    """The template use for a service, or None (with a W0906 note when the image is known)."""
    from mora.importer import codes

    image = svc.get("image")
    if image is None or not isinstance(image.value, str):
        return None
    repo = repository(conv.interp.resolve(image.value))
    module = images.get(repo)
    if module is None:
        return None
    problems: list[str] = []
    if module == "postgres":
        use = _postgres(conv, cname, svc, problems)
    elif module == "mariadb":
        use = _mariadb(conv, cname, svc, problems)
    else:
        use = None
        problems.append(
            f"the importer maps only `postgres` and `mariadb` onto templates (see docs/stdlib/{module}.md)"
        )
    if use is not None and not problems:
        for instance, group in use.secrets.items():
            group.name = f"{conv.names[cname]}_{instance}"
            group.declared = False
        return use
    conv.diags.note(
        codes.W_TEMPLATE,
        f"service `{cname}` is imported as a plain service, not as the stdlib template `{module}`",
        image.span,
        f"the standard library knows this image: `import {module}`",
        help="did not map onto its arguments: " + "; ".join(problems),
    )
    return None


def _allowed(svc: Node, keys: set[str], problems: list[str]) -> list[str]:
    replaced = []
    for k in svc.value:
        if k.startswith("x-") or k in (
            "image",
            "environment",
            "volumes",
            "env_file",
            "secrets",
            "ports",
        ):
            continue
        if k in keys or k in _TEMPLATE_OWNS:
            if k in ("restart", "healthcheck"):
                replaced.append(k)
            continue
        problems.append(f"`{k}`")
    return replaced


def _text_arg(conv: Converter, node: Node | None) -> str | None:
    if node is None or node.value is None:
        return None
    return conv.text(str(node.value), secret_ok=False, what="a template argument", span=node.span)


def _secret_group_ok(group: SecretGroup | None, what: str, problems: list[str]) -> bool:
    if group is None:
        problems.append(f"{what} is not a secret the importer found")
        return False
    if not group.declared:
        problems.append(f"{what} is already another template's secret")
        return False
    return True


def _postgres(conv: Converter, cname: str, svc: Node, problems: list[str]) -> TemplateUse | None:
    env = _env(conv, svc)
    group = _value_group(conv, svc, env, "POSTGRES_PASSWORD")
    _secret_group_ok(group, "`POSTGRES_PASSWORD`", problems)
    for k in env:
        if k not in (
            "POSTGRES_PASSWORD",
            "POSTGRES_PASSWORD_FILE",
            "POSTGRES_USER",
            "POSTGRES_DB",
            "PGDATA",
            "POSTGRES_INITDB_ARGS",
        ):
            problems.append(f"environment `{k}`")
    pgdata = env.get("PGDATA")
    if pgdata is not None and not str(pgdata.value).startswith("/var/lib/postgresql/data"):
        problems.append("`PGDATA` outside /var/lib/postgresql/data")
    user = svc.get("user")
    if user is not None and str(user.value) not in ("postgres", "999", "999:999"):
        problems.append(f"`user: {user.value}`")
    for item in svc.get("ports").value if svc.get("ports") and svc.get("ports").is_list() else []:
        problems.append(f"published port `{item.plain()}`")
    _data_volume(conv, svc, "/var/lib/postgresql/data", problems)
    replaced = _allowed(svc, {"user", "shm_size", "secrets"}, problems)
    if problems:
        return None
    args = []
    user_arg = _text_arg(conv, env.get("POSTGRES_USER"))
    db_arg = _text_arg(conv, env.get("POSTGRES_DB")) or user_arg
    if user_arg and user_arg != '"postgres"':
        args.append(f"user: {user_arg}")
    if db_arg and db_arg != '"postgres"':
        args.append(f"database: {db_arg}")
    if env.get("POSTGRES_INITDB_ARGS") is not None:
        args.append(f"initdb_args: {_text_arg(conv, env['POSTGRES_INITDB_ARGS'])}")
    if svc.get("shm_size") is not None:
        size = conv.size(svc.get("shm_size"))
        if size:
            args.append(f"shm_size: {size}")
    args.append(f"image: {conv.text(image_text(svc), secret_ok=False, what='`image`')}")
    assert group is not None
    return TemplateUse("postgres", args, {"password": group}, replaced)


def _mariadb(conv: Converter, cname: str, svc: Node, problems: list[str]) -> TemplateUse | None:
    env = _env(conv, svc)

    def pick(name: str) -> tuple[str, Node | None]:
        for prefix in ("MARIADB_", "MYSQL_"):
            if prefix + name in env:
                return prefix + name, env[prefix + name]
            if prefix + name + "_FILE" in env:
                return prefix + name, None
        return "MARIADB_" + name, None

    known = set()
    for suffix in ("ROOT_PASSWORD", "PASSWORD", "DATABASE", "USER"):
        for prefix in ("MARIADB_", "MYSQL_"):
            known |= {prefix + suffix, prefix + suffix + "_FILE"}
    for k in env:
        if k not in known and k != "MARIADB_AUTO_UPGRADE":
            problems.append(f"environment `{k}`")
    root_name, _ = pick("ROOT_PASSWORD")
    user_name, _ = pick("PASSWORD")
    root = _value_group(conv, svc, env, root_name)
    password = _value_group(conv, svc, env, user_name)
    _secret_group_ok(root, "the root password", problems)
    _secret_group_ok(password, "the user's password", problems)
    if root is not None and root is password:
        problems.append("the root password is the user's password (the template keeps them apart)")
    _, database = pick("DATABASE")
    _, user = pick("USER")
    if database is None or user is None:
        problems.append("a database and a user (the template creates both)")
    for item in svc.get("ports").value if svc.get("ports") and svc.get("ports").is_list() else []:
        problems.append(f"published port `{item.plain()}`")
    _data_volume(conv, svc, "/var/lib/mysql", problems)
    replaced = _allowed(svc, {"secrets"}, problems)
    if problems:
        return None
    args = [f"database: {_text_arg(conv, database)}", f"user: {_text_arg(conv, user)}"]
    args.append(f"image: {conv.text(image_text(svc), secret_ok=False, what='`image`')}")
    assert root is not None and password is not None
    return TemplateUse("mariadb", args, {"root_password": root, "password": password}, replaced)


def image_text(svc: Node) -> str:
    image = svc.get("image")
    return str(image.value) if image is not None else ""
