"""``popstats build --period FROM..TO``: a range of periods, run as a user runs it.

Each period of the range is the same release, byte for byte, as its single build; a
period whose input is refused does not stop the others and is listed at the end (non-zero
exit); a malformed range is a usage error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from popstats.cli import main
from sample_data.generator import write_sample
from stats.backfill import parse_periods
from stats.codes import demo_code_table
from stats.periods import Month, PeriodError


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("backfill") / "extract"
    write_sample(folder, scale=0.001, seed=5, start=Month(2025, 1), months=4,
                 codes=demo_code_table())
    return folder


def _tables(release: Path) -> dict[str, str]:
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return {t["table"]: t["sha256"] for t in manifest["tables"]}


def test_a_range_builds_each_period_as_its_single_build(extract: Path, tmp_path: Path) -> None:
    ranged = CliRunner().invoke(main, ["build", "--input", str(extract), "--period",
                                       "2025-01..2025-04", "--out", str(tmp_path / "range")])
    assert ranged.exit_code == 0, ranged.output
    assert "4 period(s) built" in ranged.output
    for month in ("2025-01", "2025-02", "2025-03", "2025-04"):
        single = CliRunner().invoke(main, ["build", "--input", str(extract), "--period", month,
                                           "--out", str(tmp_path / "single")])
        assert single.exit_code == 0, single.output
        assert _tables(tmp_path / "range" / month) == _tables(tmp_path / "single" / month)
    quarters = CliRunner().invoke(main, ["build", "--input", str(extract), "--period",
                                         "2025-Q1..2025-Q1", "--out", str(tmp_path / "range")])
    assert quarters.exit_code == 0, quarters.output
    assert (tmp_path / "range" / "2025-Q1" / "manifest.json").exists()


def test_a_refused_period_does_not_stop_the_others(extract: Path, tmp_path: Path) -> None:
    spoilt = tmp_path / "extract"
    spoilt.mkdir()
    for path in extract.iterdir():
        (spoilt / path.name).symlink_to(path)
    (spoilt / "events_202502.parquet").unlink()  # 2025-02 cannot be built
    result = CliRunner().invoke(main, ["build", "--input", str(spoilt), "--period",
                                       "2025-01..2025-03", "--out", str(tmp_path / "rel")])
    assert result.exit_code != 0
    assert "2025-02 refused" in result.output
    assert "events_202502" in result.output
    for month in ("2025-01", "2025-03"):
        assert (tmp_path / "rel" / month / "manifest.json").exists(), month
    assert not (tmp_path / "rel" / "2025-02").exists()


def test_range_syntax() -> None:
    assert [str(p) for p in parse_periods("2024-11..2025-02")] == [
        "2024-11", "2024-12", "2025-01", "2025-02"]
    assert [str(p) for p in parse_periods("2025-Q1")] == ["2025-Q1"]
    for bad in ("2025-03..2025-01", "2025-01..2025-Q2", "2025-01..", "..2025-01"):
        with pytest.raises(PeriodError):
            parse_periods(bad)
    result = CliRunner().invoke(main, ["build", "--input", "x", "--period", "2025-03..2025-01",
                                       "--out", "y"])
    assert result.exit_code == 2 and "ends before it starts" in result.output
