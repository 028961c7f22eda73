"""Grouped tables (the table builder's bands and summed-away keys) in the coded formats.

A county-level ``population_by_age`` with age in 5-year bands is written as PX, JSON-stat
and SDMX-CSV and read back with pyaxis, pyjstat and sdmx1; every value is compared with the
release's single ages summed per band by hand (polars), every category list with the bands
written out here.
"""

from __future__ import annotations

import importlib
import io
import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyaxis import pyaxis
from pyjstat import pyjstat

import exports
from access.packages import SelectionError, check_selection, selected_rows, selected_spec
from exports.jsonstat import band_labels, key_column, table_cube
from exports.sdmx import band_code, data_structure

FIVE_YEARS = [[low, low + 4] for low in range(0, 100, 5)] + [[100, None]]
BANDS = [f"{low}-{low + 4}" for low in range(0, 100, 5)] + ["100+"]  # ascending, as written
SDMX_BANDS = [f"Y{low}T{low + 4}" for low in range(0, 100, 5)] + ["Y_GE100"]
SEX_CODE = {"M": 1, "F": 2}


@pytest.fixture(scope="module")
def sdmx1() -> ModuleType:
    """sdmx1, the SDMX reference client for Python (only its tests skip without it)."""
    module = pytest.importorskip("sdmx")
    importlib.import_module("sdmx.reader.csv")
    return module


def selection(keys: list[str]) -> dict[str, Any]:
    """The builder's selection: county level, ``keys`` kept, age in 5-year bands."""
    return {"level": "county", "keys": keys, "bands": {"age": FIVE_YEARS},
            "measures": ["population"]}


def grouped(demo_release: Path, keys: list[str]) -> tuple[pl.DataFrame, exports.ExportMeta]:
    """The release table cut to a selection, the way a delivery cuts it."""
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    chosen = selection(keys)
    narrowed = exports.ExportMeta(**{**meta.__dict__, "spec": selected_spec(meta.spec, chosen)})
    return selected_rows(frame, chosen), narrowed


def hand_sums(demo_release: Path, keys: list[str]) -> pl.DataFrame:
    """County population per kept key and 5-year band, summed from the single ages."""
    frame, _ = exports.load_for_export(demo_release, "population_by_age")
    low = pl.col("age") // 5 * 5
    band = (pl.when(pl.col("age") >= 100).then(pl.lit("100+"))
            .otherwise(pl.format("{}-{}", low, low + 4)))
    return (frame.filter(pl.col("area_level") == "county")
            .with_columns(band.alias("age_group"))
            .group_by("area_code", *keys, "age_group")
            .agg(pl.col("population").sum())
            .sort("area_code", *keys, "age_group"))


def written(frame: pl.DataFrame, meta: exports.ExportMeta, fmt: str, **options: str) -> bytes:
    """The bytes ``exports.write`` produces."""
    buffer = io.BytesIO()
    exports.write(frame, fmt, buffer, meta, **options)
    return buffer.getvalue()


# --- PC-Axis, read back by pyaxis ---------------------------------------------------------


def px_cells(path: Path, encoding: str) -> pl.DataFrame:
    """pyaxis's long table of a grouped PX file, categories turned into their CODES."""
    px = pyaxis.parse(str(path), encoding=encoding)
    meta, data = px["METADATA"], pl.from_pandas(px["DATA"])
    to_code = {v: dict(zip(meta[f"VALUES({v})"], meta[f"CODES({v})"], strict=True))
               for v in meta["STUB"]}
    columns = {"區域": "area_code", "性別": "sex", "年齡組": "age_group"}
    return data.select(
        *(pl.col(v).replace_strict(to_code[v]).alias(columns[v]) for v in meta["STUB"]),
        pl.col("DATA").cast(pl.Int64).alias("population"),
    )


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp950"])
def test_px_bands_read_back_as_hand_sums(demo_release: Path, tmp_path: Path,
                                         encoding: str) -> None:
    frame, meta = grouped(demo_release, ["sex", "age"])
    path = tmp_path / "age_groups.px"
    exports.write(frame, "px", path, meta, encoding=encoding)
    python_codec = {"utf-8-sig": "utf-8-sig", "cp950": "cp950"}[encoding]
    cells = px_cells(path, python_codec).with_columns(pl.col("sex").cast(pl.Int64))
    assert_frame_equal(cells.sort("area_code", "sex", "age_group"),
                       hand_sums(demo_release, ["sex"]), check_dtypes=False)
    zh = pyaxis.parse(str(path), encoding=python_codec)["METADATA"]
    assert zh["STUB"] == ["區域", "性別", "年齡組"]
    assert zh["CODES(年齡組)"] == BANDS  # ascending, not text order ("100+" last)
    assert zh["VALUES(年齡組)"] == [*BANDS[:-1], "100歲以上"]
    en = pyaxis.parse(str(path), encoding=python_codec, lang="en")["METADATA"]
    assert en["STUB"] == ["Area", "Sex", "Age group"]
    assert en["VALUES(Age group)"] == [*BANDS[:-1], "100 and over"]


def test_px_without_sex_has_no_sex_variable(demo_release: Path, tmp_path: Path) -> None:
    frame, meta = grouped(demo_release, ["age"])
    path = tmp_path / "age_groups.px"
    exports.write(frame, "px", path, meta)
    assert pyaxis.parse(str(path), encoding="utf-8-sig")["METADATA"]["STUB"] == ["區域", "年齡組"]
    cells = px_cells(path, "utf-8-sig").sort("area_code", "age_group")
    assert_frame_equal(cells, hand_sums(demo_release, []), check_dtypes=False)


# --- JSON-stat, read back by pyjstat ------------------------------------------------------


def jsonstat_cells(data: bytes) -> pl.DataFrame:
    """pyjstat's table of the dataset (category ids), one row per cell."""
    with warnings.catch_warnings():  # pyjstat's own Dataset.write calls its deprecated helper
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = pyjstat.Dataset.read(data.decode("utf-8")).write("dataframe", naming="id")
    return pl.from_pandas(frame)


def test_jsonstat_bands_read_back_as_hand_sums(demo_release: Path) -> None:
    frame, meta = grouped(demo_release, ["sex", "age"])
    data = written(frame, meta, "jsonstat")
    cells = jsonstat_cells(data).select(
        pl.col("area").alias("area_code"), pl.col("sex").cast(pl.Int64), "age_group",
        pl.col("value").cast(pl.Int64).alias("population"))
    assert_frame_equal(cells.sort("area_code", "sex", "age_group"),
                       hand_sums(demo_release, ["sex"]), check_dtypes=False)
    doc = json.loads(data)
    assert doc["id"] == ["period", "area", "sex", "age_group", "measure"]
    assert doc["size"] == [1, frame["area_code"].n_unique(), 2, 21, 1]
    age = doc["dimension"]["age_group"]
    assert age["label"] == "年齡組" and age["extension"]["label_en"] == "Age group"
    assert age["category"]["index"] == BANDS
    assert age["category"]["label"]["100+"] == "100歲以上"
    assert age["category"]["label"]["0-4"] == "0-4"
    assert age["extension"]["category_label_en"]["100+"] == "100 and over"


def test_jsonstat_without_sex_has_no_sex_dimension(demo_release: Path) -> None:
    frame, meta = grouped(demo_release, ["age"])
    data = written(frame, meta, "jsonstat")
    assert json.loads(data)["id"] == ["period", "area", "age_group", "measure"]
    cells = jsonstat_cells(data).select(pl.col("area").alias("area_code"), "age_group",
                                        pl.col("value").cast(pl.Int64).alias("population"))
    assert_frame_equal(cells.sort("area_code", "age_group"), hand_sums(demo_release, []),
                       check_dtypes=False)


def test_release_spec_labels_a_band_column_like_the_selected_spec(demo_release: Path) -> None:
    """A grouped frame written with the release's own spec gets the same dimension."""
    frame, narrowed = grouped(demo_release, ["sex", "age"])
    _, release_meta = exports.load_for_export(demo_release, "population_by_age")
    doc = json.loads(written(frame, release_meta, "jsonstat"))
    assert doc["id"] == ["period", "area", "sex", "age_group", "measure"]
    assert doc["dimension"]["age_group"]["label"] == "年齡組"
    assert doc["value"] == json.loads(written(frame, narrowed, "jsonstat"))["value"]
    assert key_column(release_meta.spec, "age_group").en == "Age group"


def test_a_band_missing_from_the_first_area_keeps_its_place(demo_release: Path) -> None:
    frame, meta = grouped(demo_release, ["sex", "age"])
    first = frame["area_code"][0]
    gap = (pl.col("area_code") == first) & (pl.col("sex") == 1) & (pl.col("age_group") == "5-9")
    complete = json.loads(written(frame, meta, "jsonstat"))["value"]
    holed = json.loads(written(frame.filter(~gap), meta, "jsonstat"))["value"]
    assert holed[1] is None and complete[1] == frame.filter(gap)["population"].item()
    assert holed[:1] + holed[2:] == complete[:1] + complete[2:]  # every other cell in place


def test_rows_outside_every_band_are_in_no_category(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    partial = {"level": "county", "keys": ["age"], "bands": {"age": [[0, 14], [15, 64]]},
               "measures": ["population"]}
    rows = selected_rows(frame, partial)
    assert rows["age_group"].null_count() > 0  # ages 65 and over: no band asked for them
    spec = selected_spec(meta.spec, partial)
    cube = table_cube(rows, exports.ExportMeta(**{**meta.__dict__, "spec": spec}))
    assert cube.key_values["age_group"] == ["0-14", "15-64"]
    counties = frame.filter(pl.col("area_level") == "county")
    young = counties.filter(pl.col("age") <= 14).group_by("area_code", maintain_order=True).agg(
        pl.col("population").sum())
    assert cube.rows.filter(pl.col("age_group") == "0-14")["population"].to_list() == (
        young["population"].to_list())


def test_band_labels_and_codes() -> None:
    assert band_labels("age_group", "100+") == ("100歲以上", "100 and over")
    assert band_labels("age_group", "15-64") == ("15-64", "15-64")
    assert band_code("age_group", "0-4") == "Y0T4" and band_code("age_group", "65+") == "Y_GE65"
    with pytest.raises(ValueError, match="not a band"):
        band_code("age_group", "young")


# --- SDMX-CSV and its DSD, read back by pandas and sdmx1 ---------------------------------


def test_sdmx_csv_bands_read_back_as_hand_sums(demo_release: Path) -> None:
    frame, meta = grouped(demo_release, ["sex", "age"])
    rows = pl.from_pandas(pd.read_csv(io.BytesIO(written(frame, meta, "sdmx-csv")), dtype=str,
                                      keep_default_na=False))
    assert rows.columns == ["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "REF_AREA", "SEX",
                            "AGE_GROUP", "MEASURE", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE",
                            "OBS_STATUS", "REF_AREA_NAME"]
    assert rows["AGE_GROUP"].unique(maintain_order=True).to_list() == SDMX_BANDS
    to_band = dict(zip(SDMX_BANDS, BANDS, strict=True))
    back = rows.select(
        pl.col("REF_AREA").alias("area_code"),
        pl.col("SEX").replace_strict(SEX_CODE, return_dtype=pl.Int64).alias("sex"),
        pl.col("AGE_GROUP").replace_strict(to_band).alias("age_group"),
        pl.col("OBS_VALUE").cast(pl.Int64).alias("population"))
    assert_frame_equal(back.sort("area_code", "sex", "age_group"),
                       hand_sums(demo_release, ["sex"]), check_dtypes=False)


@pytest.mark.parametrize("keys", [["sex", "age"], ["age"]])
def test_sdmx_dsd_and_data_read_with_sdmx1(demo_release: Path, sdmx1: ModuleType,
                                            keys: list[str]) -> None:
    frame, meta = grouped(demo_release, keys)
    message = sdmx1.read_sdmx(io.BytesIO(data_structure(frame, meta)))
    flow, dsd = message.dataflow["DF_POP02"], message.structure["DSD_POP02"]
    dims = ["SEX", "AGE_GROUP"] if "sex" in keys else ["AGE_GROUP"]
    assert [d.id for d in dsd.dimensions.components] == ["FREQ", "REF_AREA", *dims, "MEASURE",
                                                          "TIME_PERIOD"]
    assert "CL_AGE" not in message.codelist  # the single-year code list is not claimed
    bands = message.codelist["CL_AGE_GROUP"]
    assert [c.id for c in bands] == SDMX_BANDS
    assert str(bands.name.localizations["zh-TW"]) == "年齡組"
    assert str(bands.name.localizations["en"]) == "Age group"
    assert str(bands["Y_GE100"].name.localizations["zh-TW"]) == "100歲以上"
    assert str(bands["Y_GE100"].name.localizations["en"]) == "100 and over"
    assert str(bands["Y0T4"].name.localizations["en"]) == "0-4"
    data = sdmx1.reader.csv.Reader().convert(
        io.BytesIO(written(frame, meta, "sdmx-csv", encoding="utf-8")), structure=flow)
    observed = sdmx1.to_pandas(data.data[0]).to_dict()
    to_code = dict(zip(BANDS, SDMX_BANDS, strict=True))
    kept = [k for k in keys if k == "sex"]
    expected = {
        ("M", row["area_code"], *("MF"[row["sex"] - 1] for _ in kept),
         to_code[row["age_group"]], "POPULATION", meta.period): row["population"]
        for row in hand_sums(demo_release, kept).iter_rows(named=True)
    }
    assert observed == expected


# --- what the builder may now ask for -----------------------------------------------------


@pytest.mark.parametrize("fmt", ["px", "jsonstat", "sdmx-csv"])
def test_bands_are_accepted_in_the_coded_formats(fmt: str) -> None:
    assert check_selection("population_by_age", selection(["sex", "age"]), fmt) is None


def test_bands_are_refused_in_the_moi_layout() -> None:
    with pytest.raises(SelectionError, match="moi files keep MOI's single-age layout"):
        check_selection("population_by_age", selection(["sex", "age"]), "moi")
