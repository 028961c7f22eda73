"""Release folders: manifest and checksums, revisions, atomicity under failure and SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from stats.io import sha256_of
from stats.periods import Month, Period
from stats.release import build_release, read_manifest, read_table, verify_release
from stats.schemas import V1_TABLES
from tests.helpers import event, person, tiny_codes, write_extract

FEB, MAR = Month(2024, 2), Month(2024, 3)
V1, KHH = "63000010001", "64000010001"


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    people = [person(f"p{i}", V1 if i % 2 else KHH, sex=1 + i % 2, born=date(1950 + i, 1, 1))
              for i in range(40)]
    births = [event("b1", "BIRTH", date(2024, 3, 3), pid="n1", born=date(2024, 3, 1), village=V1)]
    return write_extract(tmp_path / "extract", {FEB: people, MAR: people + [person("n1", V1)]},
                         {MAR: births})


def test_manifest_lists_inputs_and_tables_with_checksums(extract, tmp_path):
    built = build_release(extract, Period.parse("2024-03"), tmp_path / "rel", tiny_codes(),
                          note="first cut")
    current = tmp_path / "rel" / "2024-03"
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["period"] == "2024-03" and manifest["kind"] == "month"
    assert manifest["revision"] == 1 and manifest["note"] == "first cut"
    assert manifest["code_table"] == {"source": "tests", "version": "tiny-1"}
    assert manifest["software"]["name"] == "popstats"
    assert {i["file"]: i["rows"] for i in manifest["inputs"]} == {
        "residents_202402.parquet": 40, "residents_202403.parquet": 41, "events_202403.parquet": 1}
    for entry in manifest["inputs"]:
        assert entry["sha256"] == sha256_of(extract / entry["file"])
    # a month of a v1 extract: the seven §3 tables and the two monthly §8 tables it gives
    assert [t["table"] for t in manifest["tables"]] == [*V1_TABLES, "migration_flows",
                                                         "deaths_by_age"]
    for entry in manifest["tables"]:
        path = current / entry["file"]
        assert entry["sha256"] == sha256_of(path)
        assert entry["rows"] == pl.read_parquet(path).height
    assert verify_release(current) == []
    assert built.path == current.resolve()


def test_rebuilding_makes_a_new_revision_and_keeps_the_old(extract, tmp_path):
    releases = tmp_path / "rel"
    first = build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    old_population = read_table(first.path, "population")
    # a corrected extract: one more resident
    pl.concat([pl.read_parquet(extract / "residents_202403.parquet"),
               pl.read_parquet(extract / "residents_202403.parquet").head(1)
               .with_columns(pl.lit("extra").alias("person_id"))]
              ).write_parquet(extract / "residents_202403.parquet")
    second = build_release(extract, Period.parse("2024-03"), releases, tiny_codes(),
                           note="late registration added")
    assert (first.revision, second.revision) == (1, 2)
    assert read_manifest(releases / "2024-03")["revision"] == 2
    assert read_manifest(second.path)["supersedes"] == 1
    assert read_table(first.path, "population").equals(old_population)  # untouched
    assert verify_release(first.path) == []
    national = read_table(releases / "2024-03", "population").filter(pl.col("area_code") == "00000")
    assert national["population"].item() == old_population["population"][0] + 1


def test_rebuilding_the_same_input_writes_the_same_bytes(tmp_path):
    """A table's SHA-256 in the manifest is the same for a rebuild of the same input (its
    pages must not follow how the frame happened to be chunked)."""
    from sample_data.generator import write_sample
    from stats.codes import code_table

    codes = code_table(None)
    write_sample(tmp_path / "x", scale=0.003, seed=2, start=Month(2025, 1), months=1,
                 codes=codes)
    sums = []
    for out in ("a", "b"):
        built = build_release(tmp_path / "x", Period.parse("2025-01"), tmp_path / out, codes)
        sums.append({t["table"]: t["sha256"] for t in read_manifest(built.path)["tables"]})
    assert sums[0] == sums[1]


def test_a_failing_build_leaves_the_previous_state(extract, tmp_path, monkeypatch):
    releases = tmp_path / "rel"
    first = build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    before = sorted(p.relative_to(releases) for p in releases.rglob("*"))
    calls = {"n": 0}
    original = pl.DataFrame.write_parquet

    def failing(self, *args, **kwargs):  # the disk fills up after three tables
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError("No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing)
    with pytest.raises(OSError):
        build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    assert sorted(p.relative_to(releases) for p in releases.rglob("*")) == before
    assert (releases / "2024-03").resolve() == first.path


def test_a_build_killed_at_any_moment_leaves_a_consistent_state(tmp_path):
    """SIGKILL a real build process at increasing delays: the period link always points at
    a complete revision whose checksums verify, and every revision folder is complete."""
    people = pl.DataFrame({
        "person_id": [f"p{i}" for i in range(60_000)],
        "household_id": [f"h{i // 3}" for i in range(60_000)],
        "village_code": [("63000010001", "63000020001", "64000010001")[i % 3] for i in range(60_000)],
        "sex": [1 + i % 2 for i in range(60_000)],
        "birth_date": [date(1930 + i % 90, 1 + i % 12, 1 + i % 28) for i in range(60_000)],
        "indigenous": [i % 3 for i in range(60_000)],
        "marital_status": [1 + i % 4 for i in range(60_000)],
    }, schema_overrides={"sex": pl.Int8, "indigenous": pl.Int8, "marital_status": pl.Int8})
    folder = tmp_path / "extract"
    folder.mkdir()
    people.write_csv(folder / "residents_202402.csv")
    people.write_csv(folder / "residents_202403.csv")
    write_extract(folder, {}, {MAR: []}, fmt="csv")
    releases = tmp_path / "rel"
    script = (
        "import sys; from pathlib import Path; from stats.periods import Period;"
        "from stats.release import build_release; from tests.helpers import tiny_codes;"
        "build_release(Path(sys.argv[1]), Period.parse('2024-03'), Path(sys.argv[2]), tiny_codes())"
    )
    root = Path(__file__).resolve().parents[2]
    run = [sys.executable, "-c", script, str(folder), str(releases)]
    subprocess.run(run, check=True, cwd=root)  # revision 1, complete
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0):
        proc = subprocess.Popen(run, cwd=root)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        current = releases / "2024-03"
        assert (current / "manifest.json").exists()
        assert verify_release(current) == []
        for revision in (releases / ".revisions" / "2024-03").glob("r*"):
            assert verify_release(revision) == [], revision
    revisions = sorted(p.name for p in (releases / ".revisions" / "2024-03").glob("r*"))
    assert read_manifest(releases / "2024-03")["revision"] == int(revisions[-1][1:])
    assert os.path.islink(releases / "2024-03")
