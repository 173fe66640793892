"""Secret values of a compose project never reach the imported project or the diagnostics, and a
value shared by several services stays one secret (tests/import/golden/secrets is the input)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mora.diagnostics import render_text
from mora.importer import import_compose

GOLDEN = Path(__file__).resolve().parent / "golden"
VALUES = [
    "Zq8vR2mX9tLk4wPc",  # a database password, written in two services and inside a URL
    "tok_live_aaaaaaaaaaaaaaaaaaaaaaaa",  # from .env, through ${API_TOKEN}
    "0123456789abcdef0123456789abcdef",  # a variable's default
    "changeme",  # a placeholder, also inside a command line
    "r00tR00tR00tR00t",  # MariaDB's root password (a stdlib template's secret)
    "sh0pSh0pSh0pSh0p",  # MariaDB's user password, shared with an app
]


@pytest.mark.parametrize("case", ["secrets", "stdlib"])
def test_no_secret_value_in_output(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(GOLDEN / case, tmp_path / case)
    monkeypatch.chdir(tmp_path / case)
    result = import_compose([Path("compose.yaml")], Path("out"))
    assert result.text is not None and result.check_errors == 0
    source = Path("compose.yaml").read_text() + (
        Path(".env").read_text() if Path(".env").exists() else ""
    )
    present = [v for v in VALUES if v in source]
    assert present, "the case holds none of the values: the test would prove nothing"
    shown = "\n".join(render_text(d) for d in result.diagnostics.sorted())
    assert "compose.yaml" in shown  # diagnostics quote compose lines...
    for value in present:
        assert value not in result.text, value
        assert value not in shown, value  # ...with every secret value hidden


def test_one_value_one_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(GOLDEN / "secrets", tmp_path / "s")
    monkeypatch.chdir(tmp_path / "s")
    text = import_compose([Path("compose.yaml")], Path("out")).text or ""
    used = dict(
        re.findall(
            r"^\s+(DB_PASSWORD|POSTGRES_PASSWORD|ADMIN_PASSWORD|INVITE_CODE) = (\S+)", text, re.M
        )
    )
    assert used["DB_PASSWORD"] == used["POSTGRES_PASSWORD"] == "secret.db_password"
    assert used["ADMIN_PASSWORD"] == used["INVITE_CODE"] == "secret.admin_password"
    assert '"postgres://app:${secret.db_password}@db:5432/app"' in text
    assert len(re.findall(r"^secret ", text, re.M)) == 5
