"""CONTRACT §8 tables wired into a release: which tables a build gives, the §3 tables left
exactly as they were, and the §8 tables v1 extracts give checked against the §3 ones and by
hand."""

from __future__ import annotations

import functools
import io
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from sample_data.generator import write_sample
from stats.codes import demo_code_table
from stats.extract import load_extract
from stats.periods import Month, Period
from stats.schemas import (
    DEATH_AGE_GROUPS,
    LIFE_AGE_GROUPS,
    TABLE_KEY_VALUES,
    V1_TABLES,
    V2_ONLY_TABLES,
)
from stats.tables import release_tables, v1_tables
from tests.helpers import event, person, row, tables_for
from tests.stats.v2_frames import with_v2_columns

CODES = demo_code_table()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic v1 extract of 2025 (residents from 2024-12): the tests here are about
    what a v1 extract gives, and add the §8 columns themselves (tests.stats.v2_frames)."""
    folder = tmp_path_factory.mktemp("programme") / "extract"
    write_sample(folder, scale=0.001, seed=11, start=Month(2025, 1), months=12, codes=CODES,
                 version=1)
    return folder


@functools.cache
def _frames(folder: Path, period: Period) -> tuple:
    extract = load_extract(folder, period, CODES)
    frames = (extract.start.collect(), extract.end.collect(), extract.events.collect())
    extract.cleanup()
    return frames


def _parquet(frame: pl.DataFrame) -> bytes:
    """The Parquet bytes of a frame's content (rechunked: polars' chunk sizes vary from run
    to run, even for the v1 computation alone, and Parquet pages follow them)."""
    buffer = io.BytesIO()
    frame.rechunk().write_parquet(buffer, statistics=True)
    return buffer.getvalue()


@pytest.mark.parametrize("period", ["2025-03", "2025-Q2", "2025"])
def test_the_seven_v1_tables_are_unchanged_and_the_star_tables_added(sample: Path,
                                                                      period: str) -> None:
    p = Period.parse(period)
    start, end, events = _frames(sample, p)
    areas = CODES.areas(p)
    built = release_tables(start.lazy(), end.lazy(), events.lazy(), areas, p)
    alone = v1_tables(start.lazy(), end.lazy(), events.lazy(), areas, p)
    star = ["migration_flows", "deaths_by_age", *(["life_table"] if p.kind == "year" else [])]
    assert list(built) == [*V1_TABLES, *star]  # no v2-only table from a v1 extract
    for name in V1_TABLES:
        assert built[name].equals(alone[name]), name
        assert _parquet(built[name]) == _parquet(alone[name]), name
    # the same extract with the §8 columns: the same seven tables, byte for byte, and all 14
    v2 = release_tables(*(f.lazy() for f in with_v2_columns(start, end, events)), areas, p)
    assert list(v2) == [*V1_TABLES, *star, *V2_ONLY_TABLES]
    for name in V1_TABLES:
        assert _parquet(v2[name]) == _parquet(alone[name]), name


def test_star_tables_agree_with_vital_events(sample: Path) -> None:
    p = Period.parse("2025-Q2")
    tables = release_tables(*(f.lazy() for f in _frames(sample, p)), CODES.areas(p), p)
    vital, flows, deaths = (tables[t] for t in ("vital_events", "migration_flows",
                                                "deaths_by_age"))
    # the complete grid: every area of the three levels × sex × 22 age groups
    stock_areas = vital.filter(pl.col("area_level") != "village").height
    assert deaths.height == stock_areas * 2 * len(DEATH_AGE_GROUPS)
    per_area = deaths.group_by("area_level", "area_code").agg(pl.col("deaths").sum())
    joined = vital.join(per_area, on=["area_level", "area_code"], suffix="_by_age")
    assert (joined["deaths"] == joined["deaths_by_age"]).all() and joined["deaths"].sum() > 0
    for sex, column in ((1, "deaths_male"), (2, "deaths_female")):
        national = deaths.filter((pl.col("area_level") == "national") & (pl.col("sex") == sex))
        assert national["deaths"].sum() == row(vital, "00000")[column]
    # a county's flows out (to anywhere, 99999 included) are its out-migration, flows in
    # its in-migration
    counties = vital.filter(pl.col("area_level") == "county")
    out = flows.group_by(pl.col("area_code")).agg(pl.col("moves").sum().alias("out"))
    into = flows.group_by(pl.col("to_code").alias("area_code")).agg(pl.col("moves").sum()
                                                                    .alias("in"))
    checked = counties.join(out, on="area_code").join(into, on="area_code")
    assert checked.height == counties.height
    assert (checked["out"] == checked["out_migration"]).all()
    assert (checked["in"] == checked["in_migration"]).all()
    n = counties.height + 1
    assert flows.height == n * n - n and flows["moves"].sum() > 0
    assert (flows["moves"] == flows["moves_male"] + flows["moves_female"]).all()


def test_a_quarters_flows_are_its_months_summed(sample: Path) -> None:
    def flows(period: str) -> pl.DataFrame:
        p = Period.parse(period)
        return release_tables(*(f.lazy() for f in _frames(sample, p)), CODES.areas(p),
                              p)["migration_flows"]
    quarter = flows("2025-Q1").drop("period")
    months = (pl.concat([flows(m) for m in ("2025-01", "2025-02", "2025-03")])
              .group_by("area_level", "area_code", "to_code", maintain_order=True)
              .agg(pl.col("moves", "moves_male", "moves_female").sum()))
    assert quarter.equals(months)


def test_life_table_ages_each_stock_on_its_own_reference_date() -> None:
    """The start stock (2024-12-31) and the end stock (2025-12-31) each at their own age."""
    start = [person(f"s{s}{g}", "63000010001", sex=s, born=date(2024 - g, 6, 1))
             for s in (1, 2) for g in LIFE_AGE_GROUPS]
    end = [person(f"e{s}{g}", "63000010001", sex=s, born=date(2025 - g, 6, 1))
           for s in (1, 2) for g in LIFE_AGE_GROUPS]
    # 24 on the start's reference date (group 20), 25 on the end's (group 25)
    mover = person("m", "63000010001", sex=1, born=date(2000, 6, 15))
    deaths = [event("d1", "DEATH", date(2025, 5, 2), pid="x1", sex=1, born=date(2004, 1, 1),
                    village="63000010001"),  # aged 21: group 20
              *(event(f"o{s}", "DEATH", date(2025, 5, 2), pid=f"o{s}", sex=s,
                      born=date(1930, 1, 1), village="63000010001") for s in (1, 2))]
    table = tables_for("2025", [*start, mover], [*end, mover], deaths)["life_table"]
    men = {r["age_group"]: r for r in table.filter(
        (pl.col("area_code") == "63000") & (pl.col("sex") == 1)).iter_rows(named=True)}
    assert men[20]["mx"] == pytest.approx(1 / ((2 + 1) / 2))  # start 2 (with m), end 1
    assert men[25]["mx"] == 0.0  # start 1, end 2 (with m), no deaths
    assert men[85]["mx"] == pytest.approx(1 / 1) and men[85]["qx"] == 1.0
    assert men[0]["lx"] == 100_000 and men[0]["ax"] == 0.1
    both = {r["age_group"]: r for r in table.filter(
        (pl.col("area_code") == "63000") & (pl.col("sex") == 0)).iter_rows(named=True)}
    assert both[20]["mx"] == pytest.approx(1 / ((3 + 2) / 2))  # both sexes pooled
    # national and county only; 高雄市 has nobody: its tables are null, not missing
    assert set(table["area_level"]) == {"national", "county"}
    kaohsiung = table.filter(pl.col("area_code") == "64000")
    assert kaohsiung.height == 3 * len(LIFE_AGE_GROUPS) and kaohsiung["ex"].is_null().all()
    assert table.height == 3 * 3 * len(LIFE_AGE_GROUPS)
    assert tuple(TABLE_KEY_VALUES["life_table"]["sex"]) == (0, 1, 2)


def test_no_life_table_for_months_and_quarters() -> None:
    people = [person("a", "63000010001")]
    for period in ("2025-12", "2025-Q4"):
        assert "life_table" not in tables_for(period, people, people, [])


def test_v2_tables_agree_with_the_v1_tables_and_sum_up_the_levels(sample: Path) -> None:
    p = Period.parse("2025-Q2")
    tables = release_tables(*(f.lazy() for f in with_v2_columns(*_frames(sample, p))),
                            CODES.areas(p), p)
    vital = tables["vital_events"]
    births = tables["births_by_mother"].group_by("area_level", "area_code").agg(
        pl.col("births", "births_male", "births_female").sum())
    checked = vital.join(births, on=["area_level", "area_code"], suffix="_m")
    assert checked.height == vital.filter(pl.col("area_level") != "village").height
    for column in ("births", "births_male", "births_female"):
        assert (checked[column] == checked[f"{column}_m"]).all(), column
    persons = tables["marriages_by_nationality"].group_by("area_level", "area_code").agg(
        pl.col("persons", "persons_same_sex").sum())
    checked = vital.join(persons, on=["area_level", "area_code"])
    assert (checked["persons"] == 2 * checked["marriages"]).all()
    assert (checked["persons_same_sex"] == 2 * checked["marriages_same_sex"]).all()
    tribes = tables["indigenous_by_tribe"].group_by("area_level", "area_code").agg(
        pl.col("male", "female", "population").sum())
    indigenous = tables["indigenous_population"].group_by("area_level", "area_code").agg(
        pl.col("male", "female", "population").sum())
    assert tribes.sort("area_level", "area_code").equals(
        indigenous.sort("area_level", "area_code"))
    # each keyed count: the nation is the sum of its counties, a county of its townships
    for name, keys in (("births_by_mother", ["mother_age_group", "mother_nationality"]),
                       ("marriages_by_nationality", ["sex", "nationality"]),
                       ("indigenous_by_tribe", ["tribe"]), ("deaths_by_age", ["sex", "age_group"])):
        table = tables[name]
        measure = table.columns[-1]
        for upper, lower, digits in (("national", "county", 0), ("county", "township", 5)):
            summed = (table.filter(pl.col("area_level") == lower)
                      .group_by(pl.col("area_code").str.slice(0, digits).alias("parent"), *keys)
                      .agg(pl.col(measure).sum()))
            top = table.filter(pl.col("area_level") == upper).with_columns(
                pl.col("area_code").str.slice(0, digits).alias("parent"))
            both = top.join(summed, on=["parent", *keys], how="full", suffix="_sum")
            assert both[measure].eq_missing(both[f"{measure}_sum"]).all(), (name, upper)
    national = row(tables["fertility"], "00000")
    assert 0.3 < national["total_fertility_rate"] < 5
    assert 20 < national["mean_age_at_birth"] < 45
