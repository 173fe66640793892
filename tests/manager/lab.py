"""Shared pieces of the manager's tests: a site, a manager over it, a logged-in client."""

from __future__ import annotations

import re
from pathlib import Path

from mora.manager.core import Manager
from mora.secrets.store import SecretStore

PROMPT = "Open https://db.example.org/keys, create a key, paste it here"


def shop(
    image: str = "localhost/mora-busybox:latest", *, cache: bool = False, project: str = "shop"
) -> str:
    """db -> web; web waits for an input that can be answered once db runs. With `cache`, a
    new service between them (web then depends on cache) with an input of its own."""
    idle = "trap 'exit 0' TERM; sleep 600 & wait"
    web_deps = "[cache]" if cache else "[db]"
    text = f"""project {project}

secret db_password = password(length: 24)

service db {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}"]
  environment {{ PASSWORD = secret.db_password }}
}}

service web {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}"]
  input web_key: secret {{
    after = db
    prompt = "{PROMPT}"
  }}
  environment {{ KEY = input.web_key }}
  depends_on = {web_deps}
}}
"""
    if cache:
        text += f"""
service cache {{
  image = "{image}"
  user = "65534"
  command = ["sh", "-c", "{idle}"]
  input cache_size: int {{ prompt = "How many MiB may the cache use?" }}
  environment {{ SIZE = input.cache_size }}
  depends_on = [db]
}}
"""
    return text


def make_site(tmp: Path) -> Path:
    site_dir = tmp / "site"
    site_dir.mkdir()
    site = site_dir / "site.yaml"
    site.write_text("domain: example.org\n")
    return site


def make_manager(tmp: Path) -> Manager:
    return Manager(make_site(tmp), tmp / "state", timeout=60, poll=0.2)


def store_values(manager: Manager, namespaces: list[str]) -> list[str]:
    """Every value in the site store's given namespaces (what no response may contain)."""
    path = manager.site_file.parent / "site.secrets"
    values: list[str] = []
    for ns in namespaces:
        store = SecretStore.open(path, namespace=ns)
        for name in store.names():
            entry = store.get(name)
            assert entry is not None
            values.extend(entry.parts.values())
    return values


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)
