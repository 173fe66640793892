"""`placement` on Kubernetes (the real CLI): tags are node labels, and a tag that cannot be one
is an error rather than a pod the scheduler can never place. The nodeSelector itself and the
W0623 warning are in the golden folder tests/backends/kubernetes/job-placement/."""

from __future__ import annotations

from pathlib import Path

from tests.cli import run_mora

PROJECT = """project p

service web {
  image = "docker.io/library/busybox:1.36"
  user = "1000:1000"
  placement = ["rack 1", "ssd"]
}
"""


def test_a_placement_tag_that_cannot_be_a_node_label_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "main.mora").write_text(PROJECT)
    proc = run_mora(
        ["compile", "p", "--domain", "example.org", "--target", "kubernetes", "--out", "build"],
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    assert "error[E0611]: placement tag `rack 1` of service `web` cannot be a Kubernetes node" in (
        proc.stderr
    )
    assert "`ssd`" not in proc.stderr  # a valid tag is not reported
    assert not (tmp_path / "build" / "kubernetes" / "web").exists()
