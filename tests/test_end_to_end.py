"""The statistician's path through the real commands: sample → build → publish → report.

Reconciliation is checked against what the generator says it injected: residual 0 where
nothing was injected, exactly the corrections (and village recodings) where it was.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from popstats.cli import main
from tests.helpers import SHARED


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def expected_residuals(manifest: dict, months: set[str], period: str) -> Counter[tuple[str, str]]:
    """Residual per (level, area) implied by the manifest's corrections in ``months``."""
    expected: Counter[tuple[str, str]] = Counter()
    for item in manifest["corrections"]:
        if item["month"] in months:
            code = item["village_code"]
            for level, part in (("village", code), ("township", code[:8]), ("county", code[:5]),
                                ("national", "00000")):
                expected[(level, part)] += item["delta"]
    return expected


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "extract"
    cli("sample", "--out", str(out), "--scale", "0.003", "--seed", "11", "--start", "2025-01",
        "--months", "3", "--corrections", "12", "--format", "csv", "--encoding", "euc-tw",
        "--dates", "mixed")
    return out


@pytest.mark.parametrize("period, months", [
    ("2025-02", {"2025-02"}), ("2025-Q1", {"2025-01", "2025-02", "2025-03"}),
])
def test_residuals_are_exactly_the_injected_corrections(corrected, tmp_path, period, months):
    releases = tmp_path / "rel"
    cli("build", "--input", str(corrected), "--period", period, "--out", str(releases),
        "--encoding", "euc-tw")
    manifest = json.loads((corrected / "sample_manifest.json").read_text(encoding="utf-8"))
    expected = expected_residuals(manifest, months, period)
    assert sum(abs(v) for v in expected.values()) > 0  # the sample did inject some
    rec = pl.read_parquet(releases / period / "reconciliation.parquet")
    got = {(lv, code): r for lv, code, r in rec.select("area_level", "area_code", "residual").iter_rows()}
    for key, residual in got.items():
        assert residual == expected.get(key, 0), key


def test_sample_build_publish_report(tmp_path):
    extract, releases = tmp_path / "x", tmp_path / "rel"
    cli("sample", "--out", str(extract), "--scale", "0.002", "--start", "2025-01", "--months", "2")
    for period in ("2025-01", "2025-02"):
        cli("build", "--input", str(extract), "--period", period, "--out", str(releases))
        cli("publish", "--releases", str(releases), "--period", period, "--by", "stat.chen")
    rec = pl.read_parquet(releases / "2025-02" / "reconciliation.parquet")
    assert rec["residual"].abs().max() == 0
    report = json.loads(cli("report", "--releases", str(releases), "--period", "2025-02", "--json"))
    assert report["comparisons"]["previous"]["available"] is True
    assert report["state"] == "published"
    pop = pl.read_parquet(releases / "2025-02" / "population.parquet")
    assert report["totals"]["population"] == pop.filter(pl.col("area_level") == "national")["population"][0]


def test_official_codes_with_recodings_reconcile_above_the_village(tmp_path):
    table = SHARED / "codes" / "villages_history.csv"
    if not table.exists():
        pytest.skip("../shared/codes is not beside the repository")
    codes = pl.read_csv(table, infer_schema=False)
    # a month in which some village codes end: their people are re-coded, not moved
    ending = codes.filter(pl.col("valid_to").is_not_null())["valid_to"].value_counts().sort("count")
    last_valid = ending["valid_to"][-1]  # the month with the most retirements
    year, month = int(last_valid[:4]), int(last_valid[5:])
    first = f"{year + (month == 12):04d}-{month % 12 + 1:02d}"
    extract, releases = tmp_path / "x", tmp_path / "rel"
    cli("sample", "--out", str(extract), "--scale", "0.002", "--start", first, "--months", "1",
        "--codes", str(table))
    cli("build", "--input", str(extract), "--period", first, "--out", str(releases),
        "--codes", str(table))
    manifest = json.loads((extract / "sample_manifest.json").read_text(encoding="utf-8"))
    assert manifest["recodings"], "the chosen month should retire villages"
    rec = pl.read_parquet(releases / first / "reconciliation.parquet")
    # recodings stay within a township: every level above the village reconciles exactly
    assert rec.filter(pl.col("area_level") != "village")["residual"].abs().max() == 0
    retired = {r["village_code"] for r in manifest["recodings"] if r["delta"] < 0}
    assert not set(rec["area_code"]) & retired  # retired codes are not areas of the period


def test_quick_start_demo_builds_publishes_and_creates_accounts(tmp_path):
    args = ["demo", "--out", str(tmp_path / "demo"), "--scale", "0.002",
            "--db", f"sqlite:///{tmp_path / 'access.db'}", "--no-serve"]
    first = cli(*args)
    assert "17 revisions of 17 periods, all published" in first
    for user in ("moi_official", "national_user", "taipei_user", "kaohsiung_user"):
        assert user in first
    again = cli(*args)  # a second run adds no revisions
    assert "17 revisions of 17 periods" in again
