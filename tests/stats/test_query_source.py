"""Queries on real release folders: the result's cells equal sums of the release tables."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sample_data.generator import write_sample
from stats.codes import code_table
from stats.periods import Month, Period
from stats.query import QueryError, parse_query
from stats.query_source import run_on_releases
from stats.release import build_release

PERIODS = ["2025-01", "2025-02", "2025-03"]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query")
    codes = code_table(None)
    write_sample(root / "extract", scale=0.001, seed=5, start=Month(2025, 1), months=3,
                 codes=codes)
    for period in PERIODS:
        build_release(root / "extract", Period.parse(period), root / "releases", codes)
    return root / "releases"


def _folders(releases: Path) -> dict[str, Path]:
    return {p: releases / p for p in PERIODS}


def test_months_across_townships_by_sex_equal_the_release(releases: Path) -> None:
    query = parse_query({"table": "population_by_age", "periods": "2025-01..2025-03",
                         "area_level": "township", "within": "63000", "keep": ["sex"],
                         "stub": ["area", "sex"], "heading": ["period", "measure"],
                         "labels": "codes"})
    result = run_on_releases(query, _folders(releases))
    for period in PERIODS:
        expected = (pl.read_parquet(releases / period / "population_by_age.parquet")
                    .filter(pl.col("area_level") == "township",
                            pl.col("area_code").str.starts_with("63000"))
                    .group_by("area_code", "sex").agg(pl.col("population").sum())
                    .sort("area_code", "sex"))
        got = result.frame.select("area_code", "sex", pl.col(f"{period}|population")
                                  .alias("population"))
        assert got.to_dicts() == expected.to_dicts()
    assert result.revisions == dict.fromkeys(PERIODS, 1)
    assert result.frame.height == 2 * 12  # Taipei's 12 districts × 2 sexes


def test_labelled_result_has_names_and_the_grant_restricts(releases: Path) -> None:
    query = parse_query({"table": "vital_events", "periods": PERIODS, "area_level": "county",
                         "measures": ["births", "deaths"], "labels": "zh-TW"})
    result = run_on_releases(query, _folders(releases),
                             allowed=lambda code: code == "64000")
    assert result.frame.columns == ["area_code", "area_name", "period", "出生數", "死亡數"]
    assert result.frame["area_name"].unique().to_list() == ["高雄市"]
    assert result.frame["period"].to_list() == ["114年1月", "114年2月", "114年3月"]


def test_unreleased_period_is_a_query_error(releases: Path) -> None:
    query = parse_query({"table": "population", "periods": "2025-03..2025-04",
                         "area_level": "county"})
    with pytest.raises(QueryError, match="2025-04 not released"):
        run_on_releases(query, {p: releases / p for p in ("2025-03",)})
