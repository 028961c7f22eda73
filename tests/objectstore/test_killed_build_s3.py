"""A build killed (SIGKILL, no clean-up) while putting its objects leaves the old revision
current in the bucket, and the next build on this host takes over the dead build's lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from popstats.cli import main
from stats.store import ObjectPath
from tests.objectstore.conftest import keys
from tests.objectstore.test_cli_s3 import extract

ROOT = Path(__file__).resolve().parents[2]

# the real command in a new process, killed by SIGKILL right after its third object is put
KILLED_BUILD = """
import os, signal, sys
from stats.store import ObjectPath
real, done = ObjectPath.upload, []
def upload(self, local):
    real(self, local)
    done.append(self)
    if len(done) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
ObjectPath.upload = upload
from popstats.cli import main
main(sys.argv[1:])
"""


def test_a_killed_build_leaves_the_old_release_current(bucket: str, tmp_path: Path) -> None:
    rel = f"s3://{bucket}/rel"
    first = CliRunner().invoke(main, ["build", "--input", str(extract(tmp_path / "a")),
                                      "--period", "2025-03", "--out", rel])
    assert first.exit_code == 0, first.output
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BUILD, "build", "--input",
         str(extract(tmp_path / "b", people=30)), "--period", "2025-03", "--out", rel],
        cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    left = keys(bucket, "rel/.revisions/2025-03/")
    assert len([k for k in left if k.startswith("rel/.revisions/2025-03/r0002/")]) == 3
    assert "rel/.revisions/2025-03/r0002/manifest.json" not in left  # put last: never reached
    assert "rel/.revisions/2025-03/.build.lock" in left  # the dead build's, left behind
    # readers: the old revision is current and the only one
    assert json.loads(ObjectPath(f"{rel}/2025-03").read_bytes())["popstats_pointer"] == \
        ".revisions/2025-03/r0001"
    listing = json.loads(CliRunner().invoke(main, ["releases", "--releases", rel, "--json"])
                         .output)
    assert [r["revision"] for r in listing] == [1]
    population = CliRunner().invoke(main, ["export", "--release", f"{rel}/2025-03", "--table",
                                           "population", "--format", "csv", "--out",
                                           str(tmp_path / "p.csv")])
    assert population.exit_code == 0, population.output
    # the next build takes the dead build's lock over and writes a whole revision 2
    again = CliRunner().invoke(main, ["build", "--input", str(tmp_path / "b"), "--period",
                                      "2025-03", "--out", rel])
    assert again.exit_code == 0, again.output
    assert json.loads(ObjectPath(f"{rel}/2025-03").read_bytes())["popstats_pointer"] == \
        ".revisions/2025-03/r0002"
    after = keys(bucket, "rel/.revisions/2025-03/")
    assert "rel/.revisions/2025-03/.build.lock" not in after
    manifest = json.loads(ObjectPath(f"{rel}/.revisions/2025-03/r0002/manifest.json")
                          .read_bytes())
    revision_files = {k.rsplit("/", 1)[1] for k in after if "/r0002/" in k}
    assert revision_files == {t["file"] for t in manifest["tables"]} | {"areas.parquet",
                                                                         "manifest.json"}


def test_a_live_build_elsewhere_is_refused_with_its_holder(bucket: str, tmp_path: Path) -> None:
    rel = f"s3://{bucket}/rel"
    lock = ObjectPath(f"{rel}/.revisions/2025-03/.build.lock")
    lock.write_bytes(json.dumps({"host": "builder-2", "pid": 4242,
                                 "since": "2026-12-01T03:00:00+00:00"}).encode())
    refused = CliRunner().invoke(main, ["build", "--input", str(extract(tmp_path / "a")),
                                        "--period", "2025-03", "--out", rel])
    assert refused.exit_code != 0
    assert "pid 4242 on builder-2" in refused.output and str(lock) in refused.output
    assert keys(bucket, "rel/") == ["rel/.revisions/2025-03/.build.lock"]
