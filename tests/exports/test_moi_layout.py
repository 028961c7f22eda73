"""MOI's open-data layouts compared with MOI's own files in ../shared/moi, byte for byte.

Vital events: a release built from contract events reproducing MOI's monthly counts
(tests/moi_data.py) is exported and must equal MOI's original file. Single age: a release
built from residents reproducing MOI's 2015-05 Taoyuan file must equal it.
"""

from __future__ import annotations

import csv
import gzip
import io
import subprocess
from pathlib import Path

import polars as pl
import pytest

import exports
from exports.moi import (
    AGE_HEADER,
    SINGLE_AGE_HEADER,
    VITAL_HEADER,
    MoiLayoutError,
    load_for_moi,
)
from exports.text import Unencodable
from stats.codes import CODE_TABLE_SCHEMA, CodeTable, load_code_table
from stats.periods import Month, Period
from stats.release import build_release, read_table
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from tests.exports.test_delimited import ICONV, PYTHON_CODEC, expected_problems, expected_value
from tests.helpers import SHARED
from tests.moi_data import bdmd_path, write_moi_events, write_residents

SINGLE_AGE = SHARED / "moi" / "samples" / "village_single_age_2015-05_taoyuan_68000.csv"
HISTORY = SHARED / "codes" / "villages_history.csv"
TOWNS = SHARED / "codes" / "towns.csv"
ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
BOM = b"\xef\xbb\xbf"

needs_shared = pytest.mark.skipif(
    not all(p.exists() for p in (SINGLE_AGE, HISTORY, TOWNS, SHARED / "moi" / "bdmd")),
    reason=f"MOI files not found under {SHARED}",
)


def exported(frame: pl.DataFrame, meta: exports.ExportMeta, **options: object) -> bytes:
    """The bytes of ``exports.write(..., "moi", ...)``."""
    buffer = io.BytesIO()
    exports.write(frame, "moi", buffer, meta, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


# --- releases reproducing MOI's files ---------------------------------------------------------


@pytest.fixture(scope="module")
def moi_vital(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Releases of 2024-12 (single-header file) and 2021-03 (two header rows) from MOI's counts."""
    if not HISTORY.exists():
        pytest.skip(f"{HISTORY} not found")
    codes = load_code_table(HISTORY)
    root = tmp_path_factory.mktemp("moi_vital")
    releases = {}
    for month in (Month(2024, 12), Month(2021, 3)):
        folder = root / str(month)
        write_moi_events(SHARED, [month], folder)
        for snapshot in (month.shift(-1), month):
            write_residents(folder, snapshot, [])
        releases[str(month)] = build_release(
            folder, Period.parse(str(month)), root / "releases", codes
        ).path
    return releases


def taoyuan_codes(moi: pl.DataFrame) -> tuple[CodeTable, pl.DataFrame]:
    """A code table of the sample's villages (township codes from towns.csv) and the sample
    with its village codes. Codes run against name order, so the file's order must come
    from the names, as MOI's does, not from the codes."""
    towns = pl.read_csv(TOWNS, infer_schema=False).select(
        (pl.col("county_name") + pl.col("town_name")).alias("區域別"),
        "town_code",
        "town_name",
        "county_code",
        "county_name",
    )
    villages = moi.join(towns, on="區域別", how="left", maintain_order="left").with_columns(
        (
            pl.col("town_code") + (900 - pl.int_range(pl.len()).over("town_code")).cast(pl.String)
        ).alias("village_code")
    )
    assert villages["town_code"].null_count() == 0
    table = villages.select(
        "village_code",
        pl.col("村里").alias("village_name"),
        "town_code",
        "town_name",
        "county_code",
        "county_name",
        pl.lit(None).alias("valid_from"),
        pl.lit(None).alias("valid_to"),
    ).cast(CODE_TABLE_SCHEMA)  # type: ignore[arg-type]
    return CodeTable(table, "MOI 77132 sample", "2015-05"), villages


def taoyuan_residents(villages: pl.DataFrame) -> pl.DataFrame:
    """One resident per person of MOI's counts (age on 2015-05-31 as counted), spread over
    exactly the file's number of households in each village."""
    ages = list(AGE_HEADER)
    long = (
        villages.select(
            "village_code",
            pl.col("戶數").cast(pl.Int64).alias("households"),
            *[pl.col(c).cast(pl.Int64) for c in ages],
        )
        .unpivot(index=["village_code", "households"], variable_name="column", value_name="n")
        .filter(pl.col("n") > 0)
    )
    people = (
        long.with_columns(
            pl.col("column").str.extract(r"^(\d+)").cast(pl.Int32).alias("age"),
            pl.when(pl.col("column").str.ends_with("男")).then(1).otherwise(2).alias("sex"),
            pl.int_ranges(0, pl.col("n")).alias("i"),
        )
        .explode("i")
        .with_columns(pl.int_range(pl.len()).over("village_code").alias("j"))
    )
    return people.select(
        pl.format("p{}-{}", "village_code", "j").alias("person_id"),
        pl.format("h{}-{}", "village_code", pl.col("j") % pl.col("households")).alias(
            "household_id"
        ),
        "village_code",
        "sex",
        pl.date(2015 - pl.col("age"), 1, 15).alias("birth_date"),  # 15 Jan: same age at both ends
        pl.lit(0).alias("indigenous"),
        pl.lit(1).alias("marital_status"),
    ).cast(RESIDENT_COLUMNS)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def moi_single_age(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2015-05 release of Taoyuan whose residents are MOI's single-age counts (2.08 M people)."""
    if not SINGLE_AGE.exists():
        pytest.skip(f"{SINGLE_AGE} not found")
    moi = pl.read_csv(SINGLE_AGE, infer_schema=False)
    moi = moi.rename({moi.columns[0]: "統計年月"}).drop(
        moi.columns[-1]
    )  # BOM; trailing empty column
    codes, villages = taoyuan_codes(moi)
    residents = taoyuan_residents(villages)
    assert residents.height == moi["人口數"].cast(pl.Int64).sum()
    root = tmp_path_factory.mktemp("moi_age")
    folder = root / "extract"
    folder.mkdir()
    for month in ("201504", "201505"):
        residents.write_parquet(folder / f"residents_{month}.parquet")
    pl.DataFrame(schema=EVENT_COLUMNS).write_csv(folder / "events_201505.csv")
    return build_release(folder, Period.parse("2015-05"), root / "releases", codes).path


# --- byte for byte ------------------------------------------------------------------------


@needs_shared
def test_moi_vital_events_equal_moi_file_byte_for_byte(moi_vital: dict[str, Path]) -> None:
    """2024-12: header, BOM, CRLF, field formatting, row order and values all MOI's."""
    frame, meta = load_for_moi(moi_vital["2024-12"], "vital_events")
    original = gzip.decompress(bdmd_path(SHARED, Month(2024, 12)).read_bytes())
    # MOI's file carries its made characters as private-use code points: keep them as they are
    assert exported(frame, meta, private_use={}) == original


@needs_shared
def test_moi_vital_events_two_header_month_equals_moi_without_the_english_row(
    moi_vital: dict[str, Path],
) -> None:
    """2021-03: MOI's file then opened with English codes; ours is the single-header form."""
    frame, meta = load_for_moi(moi_vital["2021-03"], "vital_events")
    original = gzip.decompress(bdmd_path(SHARED, Month(2021, 3)).read_bytes())
    english, rest = original.removeprefix(BOM).split(b"\r\n", 1)
    assert english.startswith(b"statistic_yyymm,")
    assert exported(frame, meta, private_use={}) == BOM + rest


@needs_shared
def test_moi_vital_events_map_made_characters_by_default(moi_vital: dict[str, Path]) -> None:
    """Only lines with MOI's private-use characters differ, each by the mapping alone."""
    frame, meta = load_for_moi(moi_vital["2024-12"], "vital_events")
    ours = exported(frame, meta).decode("utf-8-sig").split("\r\n")
    moi = (
        gzip.decompress(bdmd_path(SHARED, Month(2024, 12)).read_bytes())
        .decode("utf-8-sig")
        .split("\r\n")
    )
    changed = [(a, b) for a, b in zip(moi, ours, strict=True) if a != b]
    assert changed and all(expected_value(a, "utf-8", "strict") == b for a, b in changed)
    assert any("瓦\U000fffa8里" in a and "瓦磘里" in b for a, b in changed)


@needs_shared
def test_moi_single_age_equals_moi_file_byte_for_byte(moi_single_age: Path) -> None:
    """Taoyuan 2015-05 from residents: trailing commas, villages in name order, households."""
    frame, meta = load_for_moi(moi_single_age, "population_by_age")
    assert exported(frame, meta) == SINGLE_AGE.read_bytes()


# --- header and field formatting on other releases --------------------------------------------


@pytest.mark.parametrize("table", ["vital_events", "population_by_age"])
def test_moi_layout_values_equal_the_release(demo_release: Path, table: str) -> None:
    """MOI's header, CRLF and plain integers; values equal the release's village rows."""
    frame, meta = load_for_moi(demo_release, table)
    text = exported(frame, meta).decode("utf-8-sig")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text)))
    villages = frame.filter(pl.col("area_level") == "village")
    if table == "vital_events":
        assert tuple(rows[0]) == VITAL_HEADER
        got = pl.DataFrame(rows[1:], schema=list(VITAL_HEADER), orient="row")
        assert got["統計年月"].unique().to_list() == ["11403"]
        want = villages.select(
            "area_code",
            "births",
            "deaths",
            (pl.col("marriages") - pl.col("marriages_same_sex")).alias("m"),
            "divorces_same_sex_female",
        )
        back = got.select(
            pl.col("區域別代碼").alias("area_code"),
            *[
                pl.col(c).cast(pl.Int64)
                for c in ("出生數", "死亡數", "結婚對數_異性", "離婚對數_同性_女")
            ],
        )
        assert sorted(back.rows()) == sorted(want.rows())
        assert all(c.isdigit() for row in rows[1:] for c in row[4:])
    else:
        assert tuple(rows[0]) == (*SINGLE_AGE_HEADER, "")  # MOI's trailing comma
        assert all(row[-1] == "" and len(row) == len(SINGLE_AGE_HEADER) + 1 for row in rows)
        got = pl.DataFrame([r[:-1] for r in rows[1:]], schema=list(SINGLE_AGE_HEADER), orient="row")
        population = read_table(demo_release, "population").filter(
            pl.col("area_level") == "village"
        )
        totals = got.select(
            pl.col(c).cast(pl.Int64) for c in ("戶數", "人口數", "人口數-男", "人口數-女")
        )
        assert sorted(totals.rows()) == sorted(
            population.select("households", "population", "male", "female").rows()
        )
        ages = got.select(pl.col(AGE_HEADER).cast(pl.Int64)).sum().row(0)
        by_age = villages.group_by("age", "sex").agg(pl.col("population").sum()).sort("age", "sex")
        assert list(ages) == by_age["population"].to_list()


@pytest.fixture(scope="module")
def demo_moi(demo_release: Path) -> dict[str, tuple[pl.DataFrame, exports.ExportMeta, str]]:
    """Both MOI tables of the demo release, with their text in the default encoding."""
    loaded = {}
    for table in ("vital_events", "population_by_age"):
        frame, meta = load_for_moi(demo_release, table)
        loaded[table] = (frame, meta, exported(frame, meta).decode("utf-8-sig"))
    return loaded


@pytest.mark.parametrize("encoding", ENCODINGS[1:])
@pytest.mark.parametrize("table", ["vital_events", "population_by_age"])
def test_moi_layout_in_every_encoding_reads_back(
    demo_moi: dict[str, tuple[pl.DataFrame, exports.ExportMeta, str]], table: str, encoding: str
) -> None:
    """The same text in every encoding, decoded by Python and by iconv; a BOM only in utf-8-sig."""
    frame, meta, reference = demo_moi[table]
    data = exported(frame, meta, encoding=encoding)
    assert not data.startswith(BOM)
    assert data.decode(PYTHON_CODEC[encoding]) == reference
    if encoding in ICONV:
        iconv = subprocess.run(
            ["iconv", "-f", ICONV[encoding], "-t", "UTF-8"],
            input=data,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        assert iconv == reference


def test_moi_header_bytes_equal_moi_files(
    demo_moi: dict[str, tuple[pl.DataFrame, exports.ExportMeta, str]],
) -> None:
    """The header lines are MOI's bytes (BOM included); from a demo release too."""
    if not SINGLE_AGE.exists():
        pytest.skip(f"{SINGLE_AGE} not found")
    for table, moi_first_line in (
        (
            "vital_events",
            gzip.decompress(bdmd_path(SHARED, Month(2024, 12)).read_bytes()).split(b"\r\n")[0],
        ),
        ("population_by_age", SINGLE_AGE.read_bytes().split(b"\r\n")[0]),
    ):
        ours = demo_moi[table][2].split("\r\n")[0]
        assert BOM + ours.encode("utf-8") == moi_first_line


@pytest.mark.parametrize("encoding", ["cp950", "big5hkscs", "euc-tw"])
def test_moi_official_names_strict_and_ncr(official_release: Path, encoding: str) -> None:
    frame, meta = load_for_moi(official_release, "vital_events")
    with pytest.raises(Unencodable) as caught:
        exported(frame, meta, encoding=encoding)
    got = {(p.column, p.area_code, p.character) for p in caught.value.problems}
    assert got == expected_problems(frame, encoding)
    data = exported(frame, meta, encoding=encoding, policy="ncr")
    text = subprocess.run(
        ["iconv", "-f", ICONV[encoding], "-t", "UTF-8"], input=data, capture_output=True, check=True
    ).stdout.decode("utf-8")
    assert text == data.decode(PYTHON_CODEC[encoding])
    names = {row[1]: row[2] + row[3] for row in csv.reader(io.StringIO(text)) if row[1].isdigit()}
    want = {
        code: expected_value(name, encoding, "ncr")
        for code, name in frame.filter(pl.col("area_level") == "village")
        .select("area_code", "area_name")
        .iter_rows()
    }
    assert names == want


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        "population",
        "indicators",
        "population_by_marital_status",
        "indigenous_population",
        "reconciliation",
    ],
)
def test_moi_refuses_tables_without_an_moi_layout(demo_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    with pytest.raises(MoiLayoutError, match="vital_events and population_by_age only"):
        exported(frame, meta)
    with pytest.raises(MoiLayoutError, match="vital_events and population_by_age only"):
        load_for_moi(demo_release, table)


def test_moi_refuses_vital_events_of_a_quarter(demo_release: Path) -> None:
    frame, meta = load_for_moi(demo_release, "vital_events")
    quarter = type(meta)(**{**meta.__dict__, "period": "2025-Q1"})
    with pytest.raises(MoiLayoutError, match="monthly.*2025-01, 2025-02, 2025-03"):
        exported(frame, quarter)


def test_moi_single_age_of_a_quarter_is_its_last_month(demo_release: Path) -> None:
    frame, meta = load_for_moi(demo_release, "population_by_age")
    quarter = type(meta)(**{**meta.__dict__, "period": "2025-Q1"})
    assert exported(frame, quarter).split(b"\r\n")[1].startswith(b"11403,")


def test_moi_single_age_needs_households(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    with pytest.raises(MoiLayoutError, match="load_for_moi"):
        exported(frame, meta)
