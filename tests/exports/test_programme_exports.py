"""Every CONTRACT §8 table through ``exports.write`` in every format, read back with the
readers the other export tests use (csv, openpyxl/odf, pyreadstat and PSPP, pyarrow, xarray,
pyaxis, pyjstat, pandas for SDMX-CSV); MOI's layouts refuse them by name.

The release is a year (for the life table) of a small sample made v2 (the §8 columns added
by rule, ``tests/stats/v2_frames.py``): all fourteen tables.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import exports
from exports.moi import MoiLayoutError
from sample_data.generator import write_sample
import stats.encodings  # noqa: F401  (registers the euc_tw codec)
from stats.codes import CodeTable, demo_code_table
from stats.periods import Month, Period
from stats.release import build_release
from stats.schemas import STAR_TABLES, V1_TABLES, V2_ONLY_TABLES
from tests.exports import test_columnar as columnar_tests
from tests.exports import test_delimited as delimited_tests
from tests.exports import test_jsonstat as jsonstat_tests
from tests.exports import test_pcaxis as pcaxis_tests
from tests.exports import test_sdmx as sdmx_tests
from tests.exports import test_spreadsheets as spreadsheet_tests
from tests.exports import test_statpackages as statpackage_tests
from tests.exports.common import measures_of
from tests.stats.v2_frames import v2_events, v2_residents

PROGRAMME = [*STAR_TABLES, *V2_ONLY_TABLES]
ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")


@pytest.fixture(scope="module")
def programme_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2025 of a v2 extract: the seven §3 and the seven §8 tables."""
    root = tmp_path_factory.mktemp("programme")
    extract, codes = root / "extract", plain_names(demo_code_table())
    write_sample(extract, scale=0.0005, seed=3, start=Month(2025, 1), months=12, codes=codes)
    for path in extract.glob("residents_*.parquet"):
        v2_residents(pl.read_parquet(path)).write_parquet(path)
    for path in extract.glob("events_*.parquet"):
        v2_events(pl.read_parquet(path)).write_parquet(path)
    build_release(extract, Period.parse("2025"), root / "releases", codes)
    return root / "releases" / "2025"


def plain_names(table: CodeTable) -> CodeTable:
    """The code table without the villages whose names a legacy encoding cannot write
    (MOI's made characters are tested on the official release in the other export tests)."""
    names = table.villages.select(pl.concat_str("county_name", "town_name", "village_name")
                                  ).to_series()
    plain = names.map_elements(_encodable, return_dtype=pl.Boolean)
    return CodeTable(table.villages.filter(plain), f"{table.source}, plain names", table.version)


def _encodable(name: str) -> bool:
    try:
        for encoding in ("cp950", "big5hkscs", "euc_tw"):
            name.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _without_diagonal(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Cube formats hold migration_flows' origin = destination cells as missing: drop them."""
    if table != "migration_flows":
        return frame
    return frame.filter(pl.col("area_code") != pl.col("to_code"))


def test_a_v2_year_holds_all_fourteen_tables(programme_release: Path) -> None:
    manifest = json.loads((programme_release / "manifest.json").read_text("utf-8"))
    assert [t["table"] for t in manifest["tables"]] == [*V1_TABLES, *PROGRAMME]
    flows, _ = exports.load_for_export(programme_release, "migration_flows")
    assert set(flows.filter(pl.col("area_code") == "99999")["area_name"]) == {"戶籍以外"}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("table", PROGRAMME)
def test_csv(programme_release: Path, table: str, encoding: str) -> None:
    delimited_tests.test_csv_reads_back_equal_to_the_release_table(programme_release, table,
                                                                  encoding)


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
@pytest.mark.parametrize("table", PROGRAMME)
def test_spreadsheets(fmt: str, table: str, request: pytest.FixtureRequest) -> None:
    spreadsheet_tests.test_spreadsheet_tables_read_back(fmt, table, "programme_release", request)


@pytest.mark.parametrize("table", PROGRAMME)
def test_sav(programme_release: Path, tmp_path: Path, table: str) -> None:
    if shutil.which("pspp-convert") is None:
        pytest.skip("Debian's pspp is not installed")
    statpackage_tests.test_sav_every_table_reads_back_with_pspp_and_pyreadstat(
        programme_release, tmp_path, table)


@pytest.mark.parametrize("table", PROGRAMME)
def test_dta(programme_release: Path, tmp_path: Path, table: str) -> None:
    statpackage_tests.test_dta_every_table_reads_back_with_pyreadstat_and_pandas(
        programme_release, tmp_path, table)


@pytest.mark.parametrize("table", PROGRAMME)
def test_parquet(programme_release: Path, table: str) -> None:
    columnar_tests.test_parquet_is_the_release_table_with_its_metadata(programme_release, table)


@pytest.mark.parametrize("table", PROGRAMME)
def test_netcdf(programme_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(programme_release, table)
    ds = columnar_tests.opened(columnar_tests.exported(frame, meta, "netcdf"))
    keys = list(meta.spec.keys)
    measures = measures_of(table)
    assert tuple(ds.sizes) == ("area", *keys) and sorted(ds.data_vars) == sorted(measures)
    back = pl.from_pandas(ds.to_dataframe().reset_index()).select(
        pl.lit(meta.period).alias("period"), "area_level", pl.col("area").alias("area_code"),
        "area_name", *keys, *measures)
    if table == "migration_flows":  # the diagonal: missing (CF _FillValue), not zero
        diagonal = back.filter(pl.col("area_code") == pl.col("to_code"))
        assert diagonal.height == back["area_code"].n_unique()
        assert diagonal.select(pl.col(measures).is_null().all()).row(0) == (True,) * 3
        assert ds["moves"].encoding["_FillValue"] == -1
    assert_frame_equal(_without_diagonal(back, table).sort("area_code", *keys),
                       frame.sort("area_code", *keys), check_dtypes=False)
    for name in measures:
        assert ds[name].attrs["long_name_zh"] == meta.spec.column(name).zh


@pytest.mark.parametrize("table", PROGRAMME)
def test_px(programme_release: Path, tmp_path: Path, table: str) -> None:
    frame, meta = exports.load_for_export(programme_release, table)
    path = tmp_path / f"{table}.px"
    exports.write(frame, "px", path, meta)
    back = pcaxis_tests.cube_from_px(pcaxis_tests.parse(path, "utf-8-sig"), frame, table)
    expected = (frame.drop("area_name")
                .join(pcaxis_tests.unique_names(frame), on="area_code", maintain_order="left")
                .select("area_code", "area_name", *meta.spec.keys, *measures_of(table)))
    assert_frame_equal(_without_diagonal(back, table), expected)


@pytest.mark.parametrize("table", PROGRAMME)
def test_jsonstat(programme_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(programme_release, table)
    frame = frame.filter(pl.col("area_level").is_in(["national", "county"]))  # pyjstat: slow
    cells = jsonstat_tests.read_back(jsonstat_tests.written(frame, meta))
    back = jsonstat_tests.release_layout(cells, frame, table)
    expected = frame.select("period", "area_code", *meta.spec.keys, *measures_of(table))
    assert_frame_equal(_without_diagonal(back, table), expected)


SDMX_DECODE = {
    "sex": pl.col("SEX").replace_strict({"_T": 0, "M": 1, "F": 2}, return_dtype=pl.Int64),
    "age_group": pl.col("AGE_GROUP").cast(pl.Int64),
    "mother_age_group": pl.col("MOTHER_AGE_GROUP").cast(pl.Int64),
    "mother_nationality": pl.col("MOTHER_NATIONALITY").cast(pl.Int64),
    "nationality": pl.col("NATIONALITY").cast(pl.Int64),
    "tribe": pl.col("TRIBE").cast(pl.Int64),
    "to_code": pl.col("COUNTERPART_AREA"),
}


@pytest.mark.parametrize("table", PROGRAMME)
def test_sdmx_csv(programme_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(programme_release, table)
    rows = sdmx_tests.read_csv(sdmx_tests.written(frame, meta), "utf-8-sig")
    keys = list(meta.spec.keys)
    long = rows.select(
        pl.col("TIME_PERIOD").alias("period"), pl.col("REF_AREA").alias("area_code"),
        pl.col("REF_AREA_NAME").alias("area_name"), *(SDMX_DECODE[k].alias(k) for k in keys),
        pl.col("MEASURE").replace_strict({m.upper(): m for m in measures_of(table)})
        .alias("measure"),
        pl.when(pl.col("OBS_VALUE") == "NaN").then(None).otherwise(pl.col("OBS_VALUE"))
        .alias("value"))
    wide = long.pivot("measure", index=["period", "area_code", "area_name", *keys],
                      values="value")
    back = wide.select("period", "area_code", "area_name",
                       *(pl.col(k).cast(frame.schema[k]) for k in keys),
                       *(pl.col(m).cast(frame.schema[m]) for m in measures_of(table)))
    assert_frame_equal(_without_diagonal(back, table), sdmx_tests.expected_of(frame, table))
    # and its structure definition is SDMX-ML that names every dimension
    structure = sdmx_tests.data_structure(frame, meta).decode("utf-8")
    for key in keys:
        assert f'id="{sdmx_dimension(key)}"' in structure


def sdmx_dimension(key: str) -> str:
    from exports.sdmx import dimension_of
    return dimension_of(key)


@pytest.mark.parametrize("table", PROGRAMME)
def test_moi_layout_refuses_them_by_name(programme_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(programme_release, table)
    with pytest.raises(MoiLayoutError, match=f"not '{table}'"):
        exports.write(frame, "moi", io.BytesIO(), meta)


def test_life_table_sex_0_is_labelled_both_sexes(programme_release: Path) -> None:
    frame, meta = exports.load_for_export(programme_release, "life_table")
    data = jsonstat_tests.written(frame.filter(pl.col("area_level") == "national"), meta)
    labels = json.loads(data)["dimension"]["sex"]["category"]["label"]
    assert labels["0"] == "兩性" and np.isfinite(frame.filter(
        (pl.col("area_level") == "national") & (pl.col("sex") == 0))["ex"][0])
