"""The synthetic extract: determinism, exact balancing, contract shape, calibration, codes, CSV."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import stats.encodings  # noqa: F401  (registers the euc_tw codec)
from sample_data.generator import MANIFEST, write_sample
from stats.codes import CodeTable, builtin_code_table, load_code_table, month_index
from stats.periods import Month
from stats.schemas import (
    EVENT_COLUMNS,
    EVENT_V2_COLUMNS,
    NATIONALITIES,
    RESIDENT_COLUMNS,
    RESIDENT_V2_COLUMNS,
    TRIBE_CODES,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
HISTORY = SHARED / "codes" / "villages_history.csv"
AGEBANDS = SHARED / "moi" / "samples" / "village_pop_ageband_2021-03.csv"
START = Month(2025, 1)
LEVELS = {"village": 11, "township": 8, "county": 5, "national": 0}


# --- helpers: reading the extract back, independently of the product's readers -------------


def residents(folder: Path, month: Month) -> pl.DataFrame:
    """One residents file."""
    return pl.read_parquet(folder / f"residents_{month.compact}.parquet")


def events(folder: Path, month: Month) -> pl.DataFrame:
    """One events file."""
    return pl.read_parquet(folder / f"events_{month.compact}.parquet")


def manifest(folder: Path) -> dict:
    """The sample manifest."""
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))


def area(column: str, digits: int) -> pl.Expr:
    """The area of a village code at a level (national: one area)."""
    if digits:
        return pl.col(column).str.slice(0, digits)
    return pl.when(pl.col(column).is_not_null()).then(pl.lit("00000"))


def residuals(folder: Path, month: Month, digits: int) -> pl.DataFrame:
    """Per area: end - (start + births - deaths + in - out) for one month and level."""
    start, end, ev = residents(folder, month.shift(-1)), residents(folder, month), events(
        folder, month)
    moves = ev.filter(pl.col("event_type") == "MOVE").with_columns(
        area("from_village_code", digits).alias("o"), area("to_village_code", digits).alias("d")
    )
    crossing = pl.col("o").is_null() | pl.col("d").is_null() | (pl.col("o") != pl.col("d"))
    parts = [
        start.group_by(area("village_code", digits).alias("a")).agg(pl.len().alias("start")),
        end.group_by(area("village_code", digits).alias("a")).agg(pl.len().alias("end")),
        ev.filter(pl.col("event_type") == "BIRTH")
        .group_by(area("village_code", digits).alias("a")).agg(pl.len().alias("births")),
        ev.filter(pl.col("event_type") == "DEATH")
        .group_by(area("village_code", digits).alias("a")).agg(pl.len().alias("deaths")),
        moves.filter(crossing, pl.col("d").is_not_null())
        .group_by(pl.col("d").alias("a")).agg(pl.len().alias("in")),
        moves.filter(crossing, pl.col("o").is_not_null())
        .group_by(pl.col("o").alias("a")).agg(pl.len().alias("out")),
    ]
    table = parts[0]
    for part in parts[1:]:
        table = table.join(part, on="a", how="full", coalesce=True)
    table = table.fill_null(0).with_columns(pl.exclude("a").cast(pl.Int64))
    return table.select(
        "a",
        (pl.col("end") - (pl.col("start") + pl.col("births") - pl.col("deaths") + pl.col("in")
                          - pl.col("out"))).alias("residual"),
    )


def expected_residuals(folder: Path, month: Month, digits: int) -> pl.DataFrame:
    """Per area: the corrections and recodings the manifest lists for the month."""
    info = manifest(folder)
    rows = [e for e in info["corrections"] + info["recodings"] if e["month"] == str(month)]
    if not rows:
        return pl.DataFrame(schema={"a": pl.String, "expected": pl.Int64})
    frame = pl.DataFrame({"village_code": [r["village_code"] for r in rows],
                          "delta": [r["delta"] for r in rows]})
    return frame.group_by(area("village_code", digits).alias("a")).agg(
        pl.col("delta").sum().cast(pl.Int64).alias("expected"))


def assert_balanced(folder: Path, months: int, start: Month = START) -> None:
    """At every level, each area's residual equals its listed corrections and recodings."""
    for k in range(months):
        month = start.shift(k)
        for level, digits in LEVELS.items():
            got = residuals(folder, month, digits)
            want = expected_residuals(folder, month, digits)
            both = got.join(want, on="a", how="full", coalesce=True).fill_null(0)
            bad = both.filter(pl.col("residual") != pl.col("expected"))
            assert bad.is_empty(), f"{month} {level}: {bad.head(5)}"


def valid_codes(codes: CodeTable, month: Month) -> set[str]:
    """Village codes valid in a month."""
    return set(codes.villages_valid_in([month])["village_code"].to_list())


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample, 3 months, no corrections."""
    out = tmp_path_factory.mktemp("small")
    write_sample(out, scale=0.003, seed=7, months=3)
    return out


@pytest.fixture(scope="module")
def small_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sample's arguments, as a v1 extract (CONTRACT §1 columns only)."""
    out = tmp_path_factory.mktemp("small_v1")
    write_sample(out, scale=0.003, seed=7, months=3, version=1)
    return out


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample with injected corrections."""
    out = tmp_path_factory.mktemp("corrected")
    write_sample(out, scale=0.002, seed=3, months=2, corrections=30)
    return out


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample large enough for national shares (2 % of Taiwan)."""
    out = tmp_path_factory.mktemp("calibration")
    write_sample(out, scale=0.02, seed=11, months=3)
    return out


# --- determinism ------------------------------------------------------------------------------


def test_write_sample_same_arguments_same_bytes(small: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    summary = write_sample(tmp_path, scale=0.003, seed=7, months=3, progress=lines.append)
    names = sorted(p.name for p in small.iterdir())
    assert names == sorted(p.name for p in tmp_path.iterdir())
    for name in names:
        assert (small / name).read_bytes() == (tmp_path / name).read_bytes(), name
    assert len(lines) == 4 and lines[1].startswith("2025-01: ")
    assert summary.residents == residents(small, START.shift(2)).height
    assert summary.months == ("2025-01", "2025-02", "2025-03")


def test_write_sample_other_seed_differs(small: Path, tmp_path: Path) -> None:
    write_sample(tmp_path, scale=0.003, seed=8, months=1)
    for name in ("residents_202412.parquet", "events_202501.parquet"):
        assert (small / name).read_bytes() != (tmp_path / name).read_bytes()


def test_parquet_metadata_has_no_timestamps_or_arrow_schema(small: Path) -> None:
    import pyarrow.parquet as pq

    meta = pq.read_metadata(small / "residents_202501.parquet")
    assert meta.metadata is None  # no ARROW:schema blob, no key-value pairs at all
    assert "parquet-cpp-arrow" in meta.created_by


# --- exact consistency ------------------------------------------------------------------------


def test_balancing_equation_holds_exactly_at_every_level(small: Path) -> None:
    assert_balanced(small, 3)
    assert manifest(small)["corrections"] == []


def test_residual_equals_injected_corrections(corrected: Path) -> None:
    listed = manifest(corrected)["corrections"]
    assert len(listed) == 30
    assert {e["delta"] for e in listed} <= {-1, 1}
    assert_balanced(corrected, 2)
    # and the residual is not zero everywhere: the corrections show
    national = [residuals(corrected, START.shift(k), 0)["residual"].sum() for k in range(2)]
    assert sum(national) == sum(e["delta"] for e in listed)
    village = residuals(corrected, START, 11).filter(pl.col("residual") != 0)
    assert village.height > 0


def test_events_agree_with_snapshots_person_by_person(small: Path) -> None:
    for k in range(3):
        month = START.shift(k)
        before, after, ev = residents(small, month.shift(-1)), residents(small, month), events(
            small, month)
        here = after.select("person_id", pl.col("village_code").alias("now"))
        was = before.select("person_id", pl.col("village_code").alias("was"))
        deaths = ev.filter(pl.col("event_type") == "DEATH").join(was, on="person_id", how="left")
        assert deaths["was"].null_count() == 0
        assert (deaths["was"] == deaths["village_code"]).all()
        assert deaths.join(here, on="person_id").is_empty()
        births = ev.filter(pl.col("event_type") == "BIRTH")
        assert births.join(was, on="person_id").is_empty()
        born = births.join(here, on="person_id")
        assert born.height == births.height and (born["now"] == born["village_code"]).all()
        moves = ev.filter(pl.col("event_type") == "MOVE").join(was, on="person_id", how="left")
        moves = moves.join(here, on="person_id", how="left")
        assert (moves["was"].eq_missing(moves["from_village_code"])).all()
        assert (moves["now"].eq_missing(moves["to_village_code"])).all()
        assert ev.filter(pl.col("event_type") != "MARRIAGE", pl.col("event_type") != "DIVORCE")[
            "person_id"].is_unique().all()
        # survivors keep their ids and their sex and birth date
        kept = before.join(after, on="person_id", suffix="_after")
        assert (kept["sex"] == kept["sex_after"]).all()
        assert (kept["birth_date"] == kept["birth_date_after"]).all()
        # marriage and divorce change the status of spouse 1 only in the right way
        wed = ev.filter(pl.col("event_type") == "MARRIAGE").join(
            after.select("person_id", "marital_status"), on="person_id")
        assert (wed["marital_status"] == 2).all()
        split = ev.filter(pl.col("event_type") == "DIVORCE").join(
            after.select("person_id", "marital_status"), on="person_id")
        assert (split["marital_status"] == 3).all()


@pytest.mark.parametrize("fixture", ["small", "corrected"])
def test_marital_changes_come_in_couples(fixture: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(fixture)
    months = manifest(folder)["months"][1:]
    for k, counts in enumerate(months):
        month = START.shift(k)
        before, after = residents(folder, month.shift(-1)), residents(folder, month)
        both = before.join(after, on="person_id", suffix="_after").filter(
            pl.col("marital_status") != pl.col("marital_status_after"))
        change = dict(both.group_by("marital_status", "marital_status_after").len().select(
            pl.format("{}>{}", "marital_status", "marital_status_after"), "len").iter_rows())
        ev = events(folder, month).group_by("event_type").len()
        n = dict(ev.iter_rows())
        # spouse 1 and partner change together; the widowed lose a spouse who died
        assert change.get("1>2", 0) + change.get("3>2", 0) + change.get("4>2", 0) == 2 * n[
            "MARRIAGE"]
        assert change.pop("2>3", 0) == 2 * n["DIVORCE"]
        assert change.pop("2>4", 0) == counts["widowed"] > 0
        assert set(change) <= {"1>2", "3>2", "4>2"}


def test_manifest_counts_match_the_files(corrected: Path) -> None:
    info = manifest(corrected)
    assert info["arguments"]["corrections"] == 30 and info["arguments"]["scale"] == 0.002
    assert info["files"] == ["residents_202412.parquet", "events_202501.parquet",
                             "residents_202501.parquet", "events_202502.parquet",
                             "residents_202502.parquet"]
    initial, *months = info["months"]
    assert initial["persons"] == residents(corrected, START.shift(-1)).height
    for k, counts in enumerate(months):
        ev = events(corrected, START.shift(k))
        r = residents(corrected, START.shift(k))
        assert counts["persons"] == r.height
        assert counts["households"] == r["household_id"].n_unique()
        assert counts["events"] == ev.height
        assert counts["births"] == ev.filter(pl.col("event_type") == "BIRTH").height
        assert counts["moves"] == sum(counts[f"moves_{kind}"] for kind in (
            "same_village", "same_township", "same_county", "other_county", "from_abroad",
            "to_abroad"))


def test_write_sample_refuses_unknown_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file format"):
        write_sample(tmp_path, scale=0.001, file_format="xlsx")
    with pytest.raises(ValueError, match="encoding"):
        write_sample(tmp_path, scale=0.001, file_format="csv", encoding="latin-1")
    with pytest.raises(ValueError, match="date style"):
        write_sample(tmp_path, scale=0.001, file_format="csv", date_style="us")
    with pytest.raises(ValueError, match="scale"):
        write_sample(tmp_path, scale=0)
    with pytest.raises(ValueError, match="extract version 3"):
        write_sample(tmp_path, scale=0.001, version=3)
    assert not list(tmp_path.iterdir())


# --- contract shape ---------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, version", [("small", 2), ("small_v1", 1)])
def test_files_columns_and_types_follow_the_contract(fixture: str, version: int,
                                                     request: pytest.FixtureRequest) -> None:
    small: Path = request.getfixturevalue(fixture)
    resident_columns = RESIDENT_COLUMNS | (RESIDENT_V2_COLUMNS if version == 2 else {})
    event_columns = EVENT_COLUMNS | (EVENT_V2_COLUMNS if version == 2 else {})
    assert manifest(small)["arguments"].get("version", 1) == version
    names = {p.name for p in small.iterdir()}
    assert names == {
        "residents_202412.parquet", "residents_202501.parquet", "residents_202502.parquet",
        "residents_202503.parquet", "events_202501.parquet", "events_202502.parquet",
        "events_202503.parquet", MANIFEST,
    }
    for k in range(-1, 3):
        r = residents(small, START.shift(k))
        assert r.schema == pl.Schema(resident_columns)
        assert r["person_id"].str.contains(r"^P\d{10}$").all()
        assert r["household_id"].str.contains(r"^H\d{9}$").all()
        assert r["person_id"].is_unique().all()
        assert r.null_count().sum_horizontal().item() == 0
        assert set(r["sex"].unique()) <= {1, 2}
        assert set(r["indigenous"].unique()) <= {0, 1, 2}
        assert set(r["marital_status"].unique()) <= {1, 2, 3, 4}
    for k in range(3):
        month = START.shift(k)
        ev = events(small, month)
        assert ev.schema == pl.Schema(event_columns)
        assert ev["event_id"].is_unique().all()
        assert ev["event_id"].str.contains(rf"^E{month.compact}\d{{6}}$").all()
        assert set(ev["event_type"].unique()) == {"BIRTH", "DEATH", "MARRIAGE", "DIVORCE", "MOVE"}
        reg = ev["registration_date"]
        assert reg.is_between(month.first_day, month.last_day).all()
        assert (ev["occurrence_date"] <= reg).all()
        assert (ev["birth_date"] <= ev["occurrence_date"]).all()
        assert reg.dt.weekday().max() <= 5  # offices are closed on weekends
        births = ev.filter(pl.col("event_type") == "BIRTH")
        assert (births["birth_date"] == births["occurrence_date"]).all()
        assert ((births["registration_date"] - births["occurrence_date"]).dt.total_days()
                <= 60).all()
        couples = ev.filter(pl.col("event_type").is_in(["MARRIAGE", "DIVORCE"]))
        assert couples["partner_sex"].null_count() == 0
        assert (couples["occurrence_date"] <= couples["registration_date"]).all()
        assert ev.filter(pl.col("event_type") == "MARRIAGE").select(
            (pl.col("occurrence_date") == pl.col("registration_date")).all()).item()
        others = ev.filter(~pl.col("event_type").is_in(["MARRIAGE", "DIVORCE"]))
        assert others["partner_sex"].null_count() == others.height
        moves = ev.filter(pl.col("event_type") == "MOVE")
        assert moves["village_code"].null_count() == moves.height
        assert moves.filter(pl.col("from_village_code").is_null()
                            & pl.col("to_village_code").is_null()).is_empty()
        rest = ev.filter(pl.col("event_type") != "MOVE")
        assert rest["village_code"].null_count() == 0
        assert rest["from_village_code"].null_count() == rest.height
        if version == 2:
            assert_section_8_rules(residents(small, month), ev)


def assert_section_8_rules(r: pl.DataFrame, ev: pl.DataFrame) -> None:
    """CONTRACT §8 on one month: tribe 0 exactly for the non-indigenous; mothers' birth dates
    and nationalities on births only, spouses' nationalities on marriages only, from the
    code list; a mother aged 13 to 55 at the birth."""
    assert set(r["tribe"].unique()) <= set(TRIBE_CODES)
    assert ((r["tribe"] == 0) == (r["indigenous"] == 0)).all()
    kind = pl.col("event_type")
    births = ev.filter(kind == "BIRTH")
    assert births["mother_birth_date"].null_count() == 0  # the sampler knows every mother
    assert births["mother_nationality"].is_in(list(NATIONALITIES)).all()
    age = (births["birth_date"] - births["mother_birth_date"]).dt.total_days() / 365.25
    assert age.min() >= 13 and age.max() < 56
    marriages = ev.filter(kind == "MARRIAGE")
    for column in ("nationality", "partner_nationality"):
        assert marriages[column].is_in(list(NATIONALITIES)).all()
        assert ev.filter(kind != "MARRIAGE")[column].null_count() == ev.height - marriages.height
    others = ev.filter(kind != "BIRTH")
    assert others["mother_birth_date"].null_count() == others.height
    assert others["mother_nationality"].null_count() == others.height


def test_codes_are_valid_in_their_month(small: Path) -> None:
    valid = valid_codes(builtin_code_table(), START)
    for k in range(-1, 3):
        assert set(residents(small, START.shift(k))["village_code"].unique()) <= valid
    for k in range(3):
        ev = events(small, START.shift(k))
        used = pl.concat([ev["village_code"], ev["from_village_code"], ev["to_village_code"]])
        assert set(used.drop_nulls().unique()) <= valid


def test_move_kinds_are_all_present(small: Path) -> None:
    moves = pl.concat([events(small, START.shift(k)) for k in range(3)]).filter(
        pl.col("event_type") == "MOVE")
    o, d = pl.col("from_village_code"), pl.col("to_village_code")
    kinds = moves.select(
        (o == d).sum().alias("same_village"),
        ((o != d) & (o.str.slice(0, 8) == d.str.slice(0, 8))).sum().alias("same_township"),
        ((o.str.slice(0, 8) != d.str.slice(0, 8)) & (o.str.slice(0, 5) == d.str.slice(0, 5)))
        .sum().alias("same_county"),
        (o.str.slice(0, 5) != d.str.slice(0, 5)).sum().alias("other_county"),
        o.is_null().sum().alias("from_abroad"),
        d.is_null().sum().alias("to_abroad"),
    ).row(0, named=True)
    assert all(v > 0 for v in kinds.values()), kinds
    months = manifest(small)["months"]
    assert sum(m.get("moves_from_abroad", 0) for m in months) == kinds["from_abroad"]


# --- calibration ------------------------------------------------------------------------------

SCALE = 0.02


def ages(frame: pl.DataFrame, on: date) -> pl.Series:
    """Completed years on a date."""
    born = frame["birth_date"]
    years = on.year - born.dt.year().cast(pl.Int32)
    before_birthday = (born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32)) > (
        on.month * 100 + on.day)
    return (years - before_birthday.cast(pl.Int32)).clip(0, 100)


def test_population_structure_is_taiwanese(calibration: Path) -> None:
    r = residents(calibration, START.shift(2))
    n = r.height
    age = ages(r, START.shift(2).last_day)
    assert abs(n / SCALE - 23.4e6) / 23.4e6 < 0.01
    households = r["household_id"].n_unique()
    # 23.4 M in ~9.5 M households (2.46); small samples split households at village borders
    assert 2.2 < n / households < 2.65
    assert 0.11 <= (age <= 14).mean() <= 0.125
    assert 0.185 <= (age >= 65).mean() <= 0.21
    counts = np.bincount(age.to_numpy(), minlength=101)
    cumulative = np.cumsum(counts)
    a = int(np.searchsorted(cumulative, n / 2))
    median = a + (n / 2 - (cumulative[a - 1] if a else 0)) / counts[a]
    assert 44.0 <= median <= 47.0
    males = (r["sex"] == 1).sum()
    assert 96.5 <= males / (n - males) * 100 <= 99.0
    children = r.filter(age <= 9)  # ~28 k children: sex ratio at birth 107
    assert 1.02 <= (children["sex"] == 1).sum() / (children["sex"] == 2).sum() <= 1.12
    old = r.filter(age >= 80)
    assert (old["sex"] == 1).sum() / (old["sex"] == 2).sum() < 0.85  # women outlive men
    indigenous = r.filter(pl.col("indigenous") > 0)
    assert 0.021 <= indigenous.height / n <= 0.029
    assert 0.35 <= (indigenous["indigenous"] == 1).mean() <= 0.6
    by_county = r.group_by(pl.col("village_code").str.slice(0, 5).alias("county")).agg(
        (pl.col("indigenous") > 0).mean().alias("share"))
    share = dict(by_county.iter_rows())
    assert 0.28 <= share["10014"] <= 0.44 and 0.22 <= share["10015"] <= 0.36  # 臺東, 花蓮
    assert share["63000"] < 0.02 and share["10013"] > 0.04  # 臺北 low, 屏東 high


def test_marital_status_by_age_and_sex(calibration: Path) -> None:
    r = residents(calibration, START.shift(2))
    r = r.with_columns(ages(r, START.shift(2).last_day).alias("age"))
    adults = r.filter(pl.col("age") >= 15)
    divorced = (adults["marital_status"] == 3).mean()
    assert 0.08 <= divorced <= 0.105
    young = r.filter(pl.col("age").is_between(20, 29))
    assert (young["marital_status"] == 1).mean() > 0.7
    middle = r.filter(pl.col("age").is_between(40, 65))
    assert (middle["marital_status"] == 2).mean() > 0.55
    widows = adults.filter(pl.col("marital_status") == 4)
    assert (widows["sex"] == 2).sum() > 2.5 * (widows["sex"] == 1).sum()
    old = r.filter(pl.col("age") >= 85)
    assert (old["marital_status"] == 4).mean() > (r.filter(pl.col("age").is_between(60, 64))[
        "marital_status"] == 4).mean()


def test_monthly_events_match_national_figures(calibration: Path) -> None:
    ev = pl.concat([events(calibration, START.shift(k)) for k in range(3)])
    per_month = {t: n / 3 / SCALE for t, n in ev.group_by("event_type").len().iter_rows()}
    assert 8_500 <= per_month["BIRTH"] <= 11_500
    assert 15_000 <= per_month["DEATH"] <= 19_500
    assert 8_000 <= per_month["MARRIAGE"] <= 12_500
    assert 3_500 <= per_month["DIVORCE"] <= 5_500
    assert 120_000 <= per_month["MOVE"] <= 180_000
    births = ev.filter(pl.col("event_type") == "BIRTH")
    assert 0.44 <= (births["sex"] == 1).mean() <= 0.6  # 107 boys per 100 girls, +/- 4 sd
    deaths = ev.filter(pl.col("event_type") == "DEATH")
    assert 0.52 <= (deaths["sex"] == 1).mean() <= 0.64
    death_age = (deaths["occurrence_date"] - deaths["birth_date"]).dt.total_days() / 365.25
    assert death_age.median() > 70
    wed = ev.filter(pl.col("event_type") == "MARRIAGE")
    same = wed.filter(pl.col("sex") == pl.col("partner_sex"))
    assert 0.005 <= same.height / wed.height <= 0.04
    moves = ev.filter(pl.col("event_type") == "MOVE")
    arrivals = moves["from_village_code"].null_count() / 3 / SCALE
    departures = moves["to_village_code"].null_count() / 3 / SCALE
    assert 3_000 < arrivals < 8_000 and 3_000 < departures < 8_000
    assert abs(arrivals - departures) < 2_500  # small net international flow
    mover_age = (moves["registration_date"] - moves["birth_date"]).dt.total_days() / 365.25
    assert 25 <= mover_age.median() <= 40


@pytest.mark.skipif(not AGEBANDS.exists(), reason="needs ../shared/moi/samples")
def test_county_shares_match_real_counties(calibration: Path) -> None:
    real = pl.read_csv(AGEBANDS, infer_schema=False).select(
        pl.col("村里代碼").str.slice(0, 5).alias("county"), pl.col("人口").cast(pl.Int64)
    ).group_by("county").agg(pl.col("人口").sum().alias("real"))
    ours = residents(calibration, START.shift(-1)).group_by(
        pl.col("village_code").str.slice(0, 5).alias("county")).agg(pl.len().alias("ours"))
    both = real.join(ours, on="county", how="full", coalesce=True).fill_null(0).with_columns(
        (pl.col("real") / pl.col("real").sum()).alias("real_share"),
        (pl.col("ours") / pl.col("ours").sum()).alias("our_share"),
    )
    assert both.height == 22
    # 2024 county sizes against 2021 ones: within 6 % of the share, or 0.05 points
    off = both.filter((pl.col("our_share") - pl.col("real_share")).abs()
                      > pl.max_horizontal(0.06 * pl.col("real_share"), pl.lit(0.0005)))
    assert off.is_empty(), off


def test_village_sizes_are_uneven(calibration: Path) -> None:
    sizes = residents(calibration, START.shift(-1)).group_by("village_code").len()["len"]
    assert sizes.n_unique() > 50
    assert sizes.quantile(0.9) > 3 * sizes.quantile(0.1)


# --- official code table with code changes ----------------------------------------------------


def _a_code_change(codes: CodeTable) -> Month:
    """The first month in which a village code stops being valid."""
    last = codes.villages["valid_to"].drop_nulls().min()
    assert last is not None
    return Month(int(last) // 12, int(last) % 12 + 1).shift(1)


@pytest.mark.skipif(not HISTORY.exists(), reason="needs ../shared/codes")
def test_official_codes_with_a_code_change(tmp_path: Path) -> None:
    codes = load_code_table(HISTORY)
    change = _a_code_change(codes)
    start = change.shift(-1)
    write_sample(tmp_path, scale=0.003, seed=5, start=start, months=2, codes=codes)
    for k in range(-1, 2):
        month = start.shift(k)
        valid = valid_codes(codes, month)
        assert set(residents(tmp_path, month)["village_code"].unique()) <= valid, month
    for k in range(2):
        month = start.shift(k)
        ev = events(tmp_path, month)
        used = pl.concat([ev["village_code"], ev["from_village_code"], ev["to_village_code"]])
        assert set(used.drop_nulls().unique()) <= valid_codes(codes, month), month
    retired = codes.villages.filter(pl.col("valid_to") == month_index(change) - 1)
    recodings = manifest(tmp_path)["recodings"]
    assert recodings and {e["month"] for e in recodings} == {str(change)}
    gone = {e["village_code"] for e in recodings if e["delta"] < 0}
    assert gone <= set(retired["village_code"].to_list())
    # recodings stay inside the township, so townships balance exactly
    for e in recodings:
        partner = e.get("to_village_code") or e.get("from_village_code")
        assert partner[:8] == e["village_code"][:8]
    assert sum(e["delta"] for e in recodings) == 0
    assert_balanced(tmp_path, 2, start)


@pytest.mark.skipif(not (SHARED / "codes" / "villages.csv").exists(), reason="needs ../shared")
def test_current_code_table_without_validity(tmp_path: Path) -> None:
    codes = load_code_table(SHARED / "codes" / "villages.csv")
    write_sample(tmp_path, scale=0.002, seed=1, months=1, codes=codes)
    known = set(codes.villages["village_code"].to_list())
    assert set(residents(tmp_path, START)["village_code"].unique()) <= known
    assert manifest(tmp_path)["recodings"] == []
    assert_balanced(tmp_path, 1)


# --- CSV in legacy encodings ------------------------------------------------------------------


def read_csv(path: Path, encoding: str) -> pl.DataFrame:
    """A CSV file decoded in ``encoding``, dates parsed from ISO or ROC text."""
    text = path.read_bytes().decode(encoding)
    frame = pl.read_csv(text.lstrip("\ufeff").encode("utf-8"), infer_schema=False)
    dates = [c for c in ("birth_date", "registration_date", "occurrence_date",
                         "mother_birth_date") if c in frame.columns]
    iso = pl.col
    converted = []
    for c in dates:
        roc = iso(c).str.contains(r"^\d{7}$")
        converted.append(
            pl.when(roc)
            .then(pl.format("{}-{}-{}", (iso(c).str.slice(0, 3).cast(pl.Int32) + 1911)
                            .cast(pl.String), iso(c).str.slice(3, 2), iso(c).str.slice(5, 2)))
            .otherwise(iso(c)).str.to_date("%Y-%m-%d").alias(c)
        )
    ints = [c for c in ("sex", "indigenous", "marital_status", "partner_sex", "tribe",
                        "mother_nationality", "nationality", "partner_nationality")
            if c in frame.columns]
    return frame.with_columns(*converted, *(pl.col(c).cast(pl.Int8) for c in ints))


@pytest.mark.parametrize("encoding, date_style", [
    ("cp950", "roc"),
    ("euc-tw", "mixed"),
    ("utf-8-sig", "iso"),
])
def test_csv_reads_back_as_the_parquet(tmp_path: Path, encoding: str, date_style: str) -> None:
    parquet, csv = tmp_path / "parquet", tmp_path / "csv"
    write_sample(parquet, scale=0.002, seed=9, months=1, corrections=4)
    write_sample(csv, scale=0.002, seed=9, months=1, corrections=4, file_format="csv",
                 encoding=encoding, date_style=date_style)
    codec = {"euc-tw": "euc_tw", "utf-8-sig": "utf-8"}.get(encoding, encoding)
    for name in ("residents_202412", "residents_202501", "events_202501"):
        raw = (csv / f"{name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
        text = raw.decode(codec)
        if date_style == "roc":
            assert "-" not in text.split("\n")[1]  # no ISO dates after 1911
        if date_style == "mixed" and name.startswith("residents"):
            assert "-" in text and any(len(f) == 7 for f in text.split("\n")[2].split(","))
        got = read_csv(csv / f"{name}.csv", codec)
        want = pl.read_parquet(parquet / f"{name}.parquet")
        assert got.columns == want.columns
        assert got.equals(want.select(got.columns)), name


def test_v1_and_v2_start_from_the_same_register(small: Path, small_v1: Path) -> None:
    """The v2 draws have random streams of their own: the initial snapshot of a v2 extract is
    the v1 one plus ``tribe`` (the months then differ: v2 draws mothers by calibrated ages)."""
    v2 = residents(small, START.shift(-1))
    assert v2.drop("tribe").equals(residents(small_v1, START.shift(-1)))
    assert (v2["tribe"] > 0).any()
