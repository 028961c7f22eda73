"""Real data: MOI's village × month births, deaths, marriages and divorces (dataset 131138).

MOI's counts are turned into contract events files (tests/moi_data.py), built with
``build_release`` against the official code table, and the ``vital_events`` table must give
MOI's figures back exactly, village by village, with townships, counties and the nation as
sums of the villages; a year and a quarter must also match the published reference totals.
Residents snapshots are tiny (empty, or one person): only the flows are real.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stats.codes import CodeTable, load_code_table
from stats.periods import Month, Period
from stats.problems import ValidationError
from stats.release import build_release, read_table
from tests.helpers import SHARED, person
from tests.moi_data import (
    COUNTS,
    bdmd_month,
    bdmd_path,
    events_from_bdmd,
    read_bdmd,
    write_moi_events,
    write_residents,
)

BDMD = SHARED / "moi" / "bdmd"
HISTORY = SHARED / "codes" / "villages_history.csv"
NATIONAL_REFERENCE = SHARED / "reference" / "national_reference_figures.csv"
COUNTY_REFERENCE = SHARED / "reference" / "bdmd_by_county_year_2021_2024.csv"

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in (BDMD, HISTORY, NATIONAL_REFERENCE, COUNTY_REFERENCE)),
    reason=f"MOI open data or reference files not found under {SHARED} (../shared of the repo)",
)

# 2021-03: two header rows, empty snapshots. 2021-Q3: two header rows, villages retired in
# 2021-08 and new from 2021-09. 2024: the year spans the layout change (one header row from
# 2024-07), with a leap February.
MONTHS = [Month(2021, 3), *(Month(2021, m) for m in (7, 8, 9)),
          *(Month(2024, m) for m in range(1, 13))]
EMPTY_SNAPSHOTS = [Month(2021, 2), Month(2021, 3)]
# One resident, in a village valid throughout 2021-2026, for the other snapshots.
RESIDENT_VILLAGE = "09007010001"
ONE_RESIDENT = [Month(2021, m) for m in (6, 7, 8, 9)] + [Month(2023, 12)] + [
    Month(2024, m) for m in range(1, 13)
]

VITAL = [
    "births", "births_male", "births_female", "deaths", "deaths_male", "deaths_female",
    "marriages", "marriages_same_sex", "marriages_same_sex_male", "marriages_same_sex_female",
    "divorces", "divorces_same_sex", "divorces_same_sex_male", "divorces_same_sex_female",
    "in_migration", "out_migration", "natural_increase", "social_increase",
]
RATES = ["crude_birth_rate", "crude_death_rate", "natural_increase_rate",
         "crude_marriage_rate", "crude_divorce_rate"]
LEVEL_WIDTH = {"village": 11, "township": 8, "county": 5}
LEVEL_ORDER = {"national": 0, "county": 1, "township": 2, "village": 3}


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def codes() -> CodeTable:
    return load_code_table(HISTORY)


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> tuple[Path, dict[Month, pl.DataFrame]]:
    """Events files of MONTHS from MOI's data, and tiny residents snapshots."""
    folder = tmp_path_factory.mktemp("moi_extract")
    moi = write_moi_events(SHARED, MONTHS, folder)
    for month in EMPTY_SNAPSHOTS:
        write_residents(folder, month, [])
    for month in ONE_RESIDENT:
        write_residents(folder, month, [person("r1", RESIDENT_VILLAGE, sex=2, household="h1")])
    return folder, moi


@pytest.fixture(scope="module")
def build(extract, codes, tmp_path_factory):
    """Build a period once per module; return its tables by name."""
    folder, _ = extract
    releases = tmp_path_factory.mktemp("moi_releases")
    built: dict[str, dict[str, pl.DataFrame]] = {}

    def _build(period: str) -> dict[str, pl.DataFrame]:
        if period not in built:
            try:
                release = build_release(folder, Period.parse(period), releases, codes)
            except ValidationError as exc:
                pytest.fail(f"MOI data of {period} refused:\n{exc.report(limit=40)}")
            built[period] = {
                name: read_table(release.path, name) for name in ("vital_events", "indicators")
            }
        return built[period]

    return _build


# --- expected tables from MOI's figures -------------------------------------------------


def villages_valid(period: Period) -> pl.DataFrame:
    """Village codes valid on some day of the period, read from the history file directly."""
    first, last = str(period.months[0]), str(period.months[-1])
    history = pl.read_csv(HISTORY, infer_schema=False).with_columns(
        pl.col("valid_from", "valid_to").fill_null("")
    )
    return history.filter(
        (pl.col("valid_from") == "") | (pl.col("valid_from") <= last),
        (pl.col("valid_to") == "") | (pl.col("valid_to") >= first),
    ).select(pl.col("village_code").alias("area_code"))


def by_level(villages: pl.DataFrame, period: str) -> pl.DataFrame:
    """Village rows plus their township, county and national sums, sorted like a table."""
    counts = [c for c in villages.columns if c != "area_code"]
    frames = [villages.select(pl.lit("village").alias("area_level"), "area_code", *counts)]
    for level in ("township", "county"):
        code = pl.col("area_code").str.slice(0, LEVEL_WIDTH[level])
        frames.append(
            villages.group_by(code).agg(pl.col(counts).sum())
            .select(pl.lit(level).alias("area_level"), "area_code", *counts)
        )
    frames.append(villages.select(
        pl.lit("national").alias("area_level"), pl.lit("00000").alias("area_code"),
        pl.col(counts).sum(),
    ))
    return sort_areas(pl.concat(frames).select(pl.lit(period).alias("period"), pl.all()))


def sort_areas(frame: pl.DataFrame) -> pl.DataFrame:
    level = pl.col("area_level").replace_strict(LEVEL_ORDER, return_dtype=pl.Int8)
    return frame.sort(level, "area_code")


def expected_vital(moi: list[pl.DataFrame], period: str) -> pl.DataFrame:
    """The vital_events table MOI's village rows imply: zeros for villages MOI lacks."""
    p = Period.parse(period)
    sums = pl.concat(moi).group_by("village_code").agg(pl.col(COUNTS).sum())
    valid = villages_valid(p)
    stray = sums.join(valid, left_on="village_code", right_on="area_code", how="anti")
    assert stray.height == 0, f"MOI codes not valid in {period}: {stray['village_code'].to_list()}"
    v = valid.join(sums, left_on="area_code", right_on="village_code", how="left").fill_null(0)
    villages = v.select(
        "area_code",
        "births", "births_male", "births_female", "deaths", "deaths_male", "deaths_female",
        (pl.col("marriages_opposite") + pl.col("marriages_same_sex")).alias("marriages"),
        "marriages_same_sex", "marriages_same_sex_male", "marriages_same_sex_female",
        (pl.col("divorces_opposite") + pl.col("divorces_same_sex")).alias("divorces"),
        "divorces_same_sex", "divorces_same_sex_male", "divorces_same_sex_female",
        pl.lit(0, pl.Int64).alias("in_migration"), pl.lit(0, pl.Int64).alias("out_migration"),
        (pl.col("births") - pl.col("deaths")).alias("natural_increase"),
        pl.lit(0, pl.Int64).alias("social_increase"),
    )
    return by_level(villages, period)


def moi_frames(extract, period: str) -> list[pl.DataFrame]:
    _, moi = extract
    return [moi[m] for m in Period.parse(period).months]


# --- reading MOI's two header layouts ----------------------------------------------------


@pytest.mark.parametrize("month, header_rows", [
    (Month(2021, 3), 2),
    (Month(2024, 6), 2),   # the last month with English codes above the Chinese labels
    (Month(2024, 7), 1),   # the first with the Chinese labels only
    (Month(2024, 12), 1),
])
def test_read_bdmd_detects_the_header_layout(month, header_rows):
    path = bdmd_path(SHARED, month)
    lines = pl.read_csv(path, has_header=False, infer_schema=False).height
    frame = read_bdmd(path)
    assert frame.height == lines - header_rows  # no label row left among the data
    assert frame["yyymm"].str.contains(r"^\d{5}$").all()
    assert frame["village_code"].str.contains(r"^\d{11}$").all()
    assert bdmd_month(frame) == month
    assert frame.select(pl.col(COUNTS).null_count().sum()).sum_horizontal().item() == 0


def test_read_bdmd_every_file_sums_to_the_county_reference():
    """All 48 files, either layout, add up to the county × year reference sums."""
    frames = []
    for path in sorted(BDMD.glob("*.csv.gz")):
        frame = read_bdmd(path)
        assert str(bdmd_month(frame)) == path.name[:7]
        frames.append(frame.with_columns(pl.lit(int(path.name[:4])).alias("year")))
    moi = pl.concat(frames).with_columns(
        pl.col("village_code").str.slice(0, 5).alias("county_code")
    )
    sums = ["births", "births_male", "births_female", "deaths", "deaths_male", "deaths_female",
            "marriages_opposite", "marriages_same_sex", "divorces_opposite", "divorces_same_sex"]
    county = moi.group_by("year", "county_code").agg(pl.col(sums).sum())
    national = moi.group_by("year").agg(pl.lit("00000").alias("county_code"), pl.col(sums).sum())
    got = pl.concat([county, national.select(county.columns)]).sort("year", "county_code")
    reference = pl.read_csv(COUNTY_REFERENCE, schema_overrides={"county_code": pl.String})
    want = reference.select(
        pl.col("year").cast(pl.Int32), "county_code",
        *[pl.col(label).alias(name) for label, name in zip(
            ["出生數", "出生數-男", "出生數-女", "死亡數", "死亡數-男", "死亡數-女",
             "結婚對數_異性", "結婚對數_同性", "離婚對數_異性", "離婚對數_同性"], sums, strict=True)],
    ).sort("year", "county_code")
    assert_frame_equal(got, want, check_dtypes=False)


def test_events_from_bdmd_one_row_per_person_or_couple():
    frame = read_bdmd(bdmd_path(SHARED, Month(2024, 2)))
    events = events_from_bdmd(frame, Month(2024, 2))
    kinds = events.group_by("event_type", "sex", "partner_sex").len()
    got = {(k, s, p): n for k, s, p, n in kinds.iter_rows()}
    total = frame.select(pl.col(COUNTS).sum()).row(0, named=True)
    assert got == {
        ("BIRTH", 1, None): total["births_male"],
        ("BIRTH", 2, None): total["births_female"],
        ("DEATH", 1, None): total["deaths_male"],
        ("DEATH", 2, None): total["deaths_female"],
        ("MARRIAGE", 1, 2): total["marriages_opposite"],
        ("MARRIAGE", 1, 1): total["marriages_same_sex_male"],
        ("MARRIAGE", 2, 2): total["marriages_same_sex_female"],
        ("DIVORCE", 1, 2): total["divorces_opposite"],
        ("DIVORCE", 1, 1): total["divorces_same_sex_male"],
        ("DIVORCE", 2, 2): total["divorces_same_sex_female"],
    }
    assert events["event_id"].is_unique().all()
    # occurrences spread over every day of the leap February, registered within it
    assert events["occurrence_date"].max() == date(2024, 2, 29)
    assert events["registration_date"].unique().to_list() == [date(2024, 2, 29)]


# --- months -------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2021-03", "2024-02", "2024-07", "2024-12"])
def test_vital_events_reproduce_moi_village_by_village(build, extract, period):
    vital = build(period)["vital_events"]
    want = expected_vital(moi_frames(extract, period), period)
    assert_frame_equal(sort_areas(vital), want, check_dtypes=False)


@pytest.mark.parametrize("period", ["2021-03", "2024-02", "2024-07", "2024-12"])
def test_every_village_valid_in_the_month_appears(build, period):
    vital = build(period)["vital_events"].filter(pl.col("area_level") == "village")
    assert sorted(vital["area_code"]) == sorted(villages_valid(Period.parse(period))["area_code"])


def test_codes_not_valid_in_the_month_are_refused(codes, tmp_path):
    """MOI's 2021-03 villages registered in 2024-12: the ones retired since must all fail."""
    moi = read_bdmd(bdmd_path(SHARED, Month(2021, 3)))
    december = Month(2024, 12)
    folder = tmp_path / "extract"
    folder.mkdir()
    events_from_bdmd(moi, december).write_parquet(folder / f"events_{december.compact}.parquet")
    for month in (Month(2024, 11), december):
        write_residents(folder, month, [])
    with_events = moi.filter(pl.sum_horizontal(COUNTS) > 0)["village_code"]
    valid = villages_valid(Period.parse("2024-12"))["area_code"]
    retired = set(with_events) - set(valid)
    assert retired, "expected some 2021-03 villages to be retired by 2024-12"
    with pytest.raises(ValidationError) as caught:
        build_release(folder, Period.parse("2024-12"), tmp_path / "releases", codes)
    problems = caught.value.problems
    assert {p.rule for p in problems} == {"village code not valid in 2024-12"}
    assert {p.value for p in problems} == retired
    assert not (tmp_path / "releases" / "2024-12").exists()


# --- a quarter and a year -----------------------------------------------------------------


def test_quarter_reproduces_moi_and_equals_the_sum_of_its_months(build, extract):
    """2021-Q3: villages retired after 2021-08 and new from 2021-09 are all in the quarter."""
    quarter = sort_areas(build("2021-Q3")["vital_events"])
    assert_frame_equal(quarter, expected_vital(moi_frames(extract, "2021-Q3"), "2021-Q3"),
                       check_dtypes=False)
    months = pl.concat([build(f"2021-{m:02d}")["vital_events"] for m in (7, 8, 9)])
    summed = months.group_by("area_level", "area_code").agg(pl.col(VITAL).sum())
    assert_frame_equal(sort_areas(summed), quarter.drop("period"))
    per_month = [set(build(f"2021-{m:02d}")["vital_events"]["area_code"]) for m in (7, 8, 9)]
    assert per_month[0] != per_month[2]  # the code change is really in there


def test_year_2024_reproduces_moi_and_the_published_totals(build, extract):
    vital = sort_areas(build("2024")["vital_events"])
    assert_frame_equal(vital, expected_vital(moi_frames(extract, "2024"), "2024"),
                       check_dtypes=False)

    national = vital.filter(pl.col("area_level") == "national").row(0, named=True)
    published = pl.read_csv(NATIONAL_REFERENCE).filter(pl.col("year") == 2024)
    figures = dict(zip(published["indicator"], published["value"], strict=True))
    assert national["births"] == figures["births"] == 134_856
    assert national["deaths"] == figures["deaths"] == 202_107
    assert national["marriages"] == figures["marriages_total_pairs"] == 123_061
    assert national["divorces"] == figures["divorces_total_pairs"] == 53_469

    reference = pl.read_csv(COUNTY_REFERENCE, schema_overrides={"county_code": pl.String})
    want = reference.filter(pl.col("year") == 2024).select(
        pl.col("county_code").alias("area_code"),
        pl.col("出生數").alias("births"), pl.col("出生數-男").alias("births_male"),
        pl.col("出生數-女").alias("births_female"), pl.col("死亡數").alias("deaths"),
        pl.col("死亡數-男").alias("deaths_male"), pl.col("死亡數-女").alias("deaths_female"),
        pl.col("結婚對數_合計").alias("marriages"), pl.col("結婚對數_同性").alias("marriages_same_sex"),
        pl.col("離婚對數_合計").alias("divorces"), pl.col("離婚對數_同性").alias("divorces_same_sex"),
    ).sort("area_code")
    got = vital.filter(pl.col("area_level").is_in(["national", "county"])).select(want.columns)
    assert_frame_equal(got.sort("area_code"), want, check_dtypes=False)


# --- indicators ---------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["2021-03", "2024-02", "2021-Q3"])
def test_rates_are_null_where_nobody_lives_never_inf_or_nan(build, period):
    tables = build(period)
    indicators = tables["indicators"]
    vital = tables["vital_events"]
    assert indicators.height == vital.height
    floats = indicators.select(pl.selectors.float())
    bad = floats.select(pl.any_horizontal(pl.all().is_nan() | pl.all().is_infinite()).sum()).item()
    assert bad == 0
    rates = indicators.join(vital.select("area_level", "area_code", "births"),
                            on=["area_level", "area_code"])
    # areas without the one resident have MOI's births but no population: null rates
    lives_there = (pl.col("area_level") == "national") | pl.lit(RESIDENT_VILLAGE).str.starts_with(
        pl.col("area_code"))
    empty = rates if period in ("2021-03",) else rates.filter(~lives_there)
    assert empty.filter(pl.col("births") > 0).height > 0
    assert empty.select(pl.col(RATES).is_null().all()).row(0) == (True,) * len(RATES)


def test_crude_birth_rate_over_a_population_of_one(build):
    """2024-02 (29 days) with one resident: the rate is births × 1000 × 365 / 29."""
    tables = build("2024-02")
    births = tables["vital_events"].filter(pl.col("area_code") == RESIDENT_VILLAGE)["births"].item()
    rate = tables["indicators"].filter(pl.col("area_code") == RESIDENT_VILLAGE)
    assert rate["crude_birth_rate"].item() == pytest.approx(births * 1000 * 365 / 29)
    national = tables["indicators"].filter(pl.col("area_level") == "national")
    total = tables["vital_events"].filter(pl.col("area_level") == "national")["births"].item()
    assert math.isfinite(national["crude_birth_rate"].item())
    assert national["crude_birth_rate"].item() == pytest.approx(total * 1000 * 365 / 29)
