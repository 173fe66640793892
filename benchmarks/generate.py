"""Generated projects for the benchmark: a synthetic one and a realistic one.

`synthetic(n)`: `n` plain services in one file, each with environment, a secret, ports,
volumes, a health check and a dependency on the one before (a chain: the worst case for
dependency ordering). `realistic(n)`: the media stack of `projects/media` (stdlib templates
for Postgres, Jellyfin, Sonarr, Radarr, Prowlarr, Seerr and Janitorr, with their generated
secrets, subdomains and Janitorr's three inputs) repeated `n / 7` times under distinct names.
"""

from __future__ import annotations

SYNTHETIC_SERVICE = """service svc{i} {{
  image = "ghcr.io/example/app{app}:1.{minor}.0"
  user = "1000:1000"
  subdomain = "app{i}"
  ports {{ http = {port} }}
  environment {{
    TZ = param.timezone
    API_KEY = secret.key{i}
    URL = "http://svc{prev}:${{svc{prev}.ports.http}}/api"
  }}
  volumes {{
    "/config" = volume(size: 1Gi)
    "/data" = bind(param.root)
  }}
  healthcheck {{ test = ["CMD", "true"] interval = 30s }}
  {dep}
}}"""


SERVICES_PER_FILE = 1000


def synthetic(n: int) -> dict[str, str]:
    """Files of a project of `n` services in the shape of a real stack."""
    files = {
        "main.mora": [
            "project bench",
            'param timezone: string = "Etc/UTC"',
            'param root: path = "/srv"',
        ]
    }
    for i in range(n):
        # A file stays under mora's 1 MiB limit (E0105): 1,000 services to a file.
        lines = (
            files["main.mora"]
            if i < SERVICES_PER_FILE
            else files.setdefault(f"services{i // SERVICES_PER_FILE}.mora", [])
        )
        prev = max(i - 1, 0)
        dep = f"depends_on = [svc{i - 1}]" if i else ""
        lines.append(f"secret key{i} = hex(16)")
        lines.append(
            SYNTHETIC_SERVICE.format(
                i=i, app=i % 7, minor=i % 10, port=8000 + i % 1000, prev=prev, dep=dep
            )
        )
    return {name: "\n".join(lines) + "\n" for name, lines in files.items()}


REALISTIC_HEADER = """project bench
import postgres
import jellyfin
import sonarr
import radarr
import prowlarr
import seerr
import janitorr

param timezone: string = "Etc/UTC"
param media_root: path = "/srv/media"
param uid: int = 1000
param render_group: int = 0
"""

# One copy of projects/media (without qBittorrent) with every name suffixed by {k}.
REALISTIC_STACK = """
service db{k} = postgres(
  user: "media",
  databases: ["sonarr-main", "sonarr-log", "radarr-main", "radarr-log", "prowlarr-main",
              "prowlarr-log", "seerr"],
)
service watch{k} = jellyfin(
  media: param.media_root, subdomain: "watch{k}", media_readonly: false,
  render_group: param.render_group, uid: param.uid, timezone: param.timezone,
)
service tv{k} = sonarr(
  media: param.media_root, subdomain: "tv{k}",
  db: db{k},
  uid: param.uid, timezone: param.timezone,
)
service movies{k} = radarr(
  media: param.media_root, subdomain: "movies{k}",
  db: db{k},
  uid: param.uid, timezone: param.timezone,
)
service indexers{k} = prowlarr(
  subdomain: "indexers{k}",
  db: db{k}, sonarr: tv{k}, radarr: movies{k},
  uid: param.uid, timezone: param.timezone,
)
service requests{k} = seerr(
  subdomain: "requests{k}",
  db: db{k}, depends_on: [watch{k}],
  jellyfin_host: watch{k}.name, jellyfin_password: secret.watch{k}_admin_password,
  sonarr: tv{k}, radarr: movies{k},
  timezone: param.timezone,
)
service janitor{k} = janitorr(
  media: param.media_root,
  jellyfin: watch{k}, seerr: requests{k}, sonarr: tv{k}, radarr: movies{k},
  jellyfin_api_key: input.janitor{k}_jellyfin_key,
  jellyfin_password: secret.watch{k}_janitorr_password,
  seerr_api_key: input.janitor{k}_seerr_key,
  uid: param.uid, timezone: param.timezone,
)
input janitor{k}_jellyfin_key: secret {{ from = watch{k}.setup.keys.janitorr }}
input janitor{k}_seerr_key: secret {{ from = requests{k}.setup.api_key.key }}
"""

STACK_SIZE = 7  # services per copy of the media stack


STACKS_PER_FILE = 140  # 980 services, ~200 KiB: a file stays under E0105's 1 MiB limit


def realistic(n: int) -> dict[str, str]:
    """Files of a project of about `n` services (a multiple of 7): copies of the media stack,
    140 copies to a file (each file imports the templates it instantiates)."""
    copies = max(1, round(n / STACK_SIZE))
    files: dict[str, list[str]] = {"main.mora": [REALISTIC_HEADER]}
    imports = "".join(
        line + "\n" for line in REALISTIC_HEADER.splitlines() if line.startswith("import")
    )
    for k in range(copies):
        name = "main.mora" if k < STACKS_PER_FILE else f"stacks{k // STACKS_PER_FILE}.mora"
        files.setdefault(name, [imports]).append(REALISTIC_STACK.format(k=k))
    return {name: "".join(body) for name, body in files.items()}


GENERATORS = {"synthetic": synthetic, "realistic": realistic}
