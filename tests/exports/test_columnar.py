"""Parquet read back by pyarrow and polars, NetCDF by xarray (h5netcdf): values, labels, meta."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import xarray as xr
from polars.testing import assert_frame_equal

import exports
from exports.columnar import IncompleteGrid, table_dataset
from exports.text import PRIVATE_USE_MAP
from stats.catalogue import TABLES, VALUE_LABELS
from tests.exports.common import IN_MONTHLY_V1, SQUARE

MADE = "\U000fffa8"  # MOI's made character read as 磘 (瓦󿾨里)


def exported(frame: pl.DataFrame, meta: exports.ExportMeta, fmt: str, **options: object) -> bytes:
    """The bytes ``exports.write`` produces."""
    buffer = io.BytesIO()
    exports.write(frame, fmt, buffer, meta, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def mapped(frame: pl.DataFrame) -> pl.DataFrame:
    """Area names with MOI's made characters mapped to standard Unicode, as exports write them."""
    table = str.maketrans({k: v for k, v in PRIVATE_USE_MAP.items()})
    return frame.with_columns(
        pl.col("area_name").map_elements(lambda v: v.translate(table), return_dtype=pl.String)
    )


# --- Parquet -----------------------------------------------------------------------------


@pytest.mark.parametrize("table", IN_MONTHLY_V1)
def test_parquet_is_the_release_table_with_its_metadata(demo_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    data = exported(frame, meta, "parquet")
    assert_frame_equal(pl.read_parquet(io.BytesIO(data)), frame)  # polars: same dtypes too
    arrow = pq.read_table(io.BytesIO(data))  # pyarrow, another reader
    assert arrow.column_names == frame.columns and arrow.num_rows == frame.height
    assert arrow.column("area_code").to_pylist()[:50] == frame["area_code"].head(50).to_list()
    described = {k.decode(): v.decode() for k, v in arrow.schema.metadata.items()}
    for key, value in meta.describe().items():
        assert described[key] == value
    labels = json.loads(described["popstats:columns"])
    assert labels["area_name"] == {
        "zh": "區域名稱",
        "en": "Area name",
        "unit_zh": "",
        "unit_en": "",
    }
    for column in meta.spec.columns:
        field = arrow.schema.field(column.name).metadata
        assert (
            field[b"label_zh"].decode() == column.zh
            and field[b"unit_en"].decode() == column.unit_en
        )


def test_parquet_official_names_in_unicode(official_release: Path) -> None:
    """Every real name survives; made characters are mapped unless the map is switched off."""
    frame, meta = exports.load_for_export(official_release, "population")
    assert frame["area_name"].str.contains(MADE).any()
    back = pl.read_parquet(io.BytesIO(exported(frame, meta, "parquet")))
    assert_frame_equal(back, mapped(frame))
    assert (
        back["area_name"].str.contains("瓦磘里").any()
        and back["area_name"].str.contains("廍").any()
    )
    raw = pl.read_parquet(io.BytesIO(exported(frame, meta, "parquet", private_use={})))
    assert_frame_equal(raw, frame)


@pytest.mark.parametrize("fmt", ["parquet", "netcdf"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw"])
def test_binary_formats_are_written_in_their_native_encoding(
    demo_release: Path, fmt: str, encoding: str
) -> None:
    """Unicode names are accepted (the file is UTF-8 inside); Big5/EUC-TW are refused."""
    frame, meta = exports.load_for_export(demo_release, "population_by_marital_status")
    if encoding.startswith("utf"):
        assert exported(frame, meta, fmt, encoding=encoding)
    else:
        with pytest.raises(exports.UnknownFormat, match="native encoding"):
            exported(frame, meta, fmt, encoding=encoding)


# --- NetCDF -------------------------------------------------------------------------------


def opened(data: bytes) -> xr.Dataset:
    """The NetCDF bytes opened by xarray (h5netcdf engine), loaded."""
    return xr.open_dataset(io.BytesIO(data), engine="h5netcdf").load()


@pytest.mark.parametrize("table", SQUARE)
def test_netcdf_holds_the_table_with_labels(demo_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    ds = opened(exported(frame, meta, "netcdf"))
    keys = list(meta.spec.keys)
    assert tuple(ds.sizes) == ("area", *keys)
    measures = [
        c.name
        for c in meta.spec.columns
        if c.name not in ("period", "area_level", "area_code", *keys)
    ]
    assert sorted(ds.data_vars) == sorted(measures)
    # back to a long frame, compared with the release table value by value
    long = ds.to_dataframe().reset_index()
    back = pl.from_pandas(long).select(
        pl.lit(meta.period).alias("period"),
        "area_level",
        pl.col("area").alias("area_code"),
        "area_name",
        *keys,
        *measures,
    )
    # (NaN, NetCDF's missing value, comes back from pandas as null: the release's nulls)
    assert_frame_equal(
        back.sort("area_code", *keys), frame.sort("area_code", *keys), check_dtypes=False
    )
    for name in measures:
        column = meta.spec.column(name)
        assert (
            ds[name].attrs["long_name"] == column.en and ds[name].attrs["long_name_zh"] == column.zh
        )
        assert ds[name].attrs.get("units", "") == column.unit_en
        assert ds[name].dtype == (np.float64 if frame[name].dtype == pl.Float64 else np.int64)
    for key in keys:
        assert ds[key].attrs["long_name_zh"] == meta.spec.column(key).zh
        if key in VALUE_LABELS:
            assert list(ds[key].attrs["flag_values"]) == list(VALUE_LABELS[key])
            assert ds[key].attrs["flag_meanings_zh"].split() == [
                zh for zh, _ in VALUE_LABELS[key].values()
            ]
    assert ds["period"].item() == meta.period and ds["period"].attrs["roc_label"] == "114年3月"
    for key, value in meta.describe().items():
        assert ds.attrs[key] == value
    assert ds.attrs["Conventions"] == "CF-1.8"


def test_netcdf_official_names_and_nulls(official_release: Path) -> None:
    """Real names (廍, mapped made characters) survive; ratios over zero are NaN, not inf."""
    frame, meta = exports.load_for_export(official_release, "indicators")
    ds = opened(exported(frame, meta, "netcdf"))
    names = dict(zip(ds["area"].values.tolist(), ds["area_name"].values.tolist(), strict=True))
    want = dict(mapped(frame).select("area_code", "area_name").iter_rows())
    assert names == want
    assert any("廍" in n for n in names.values()) and any("瓦磘里" in n for n in names.values())
    nulls = frame["sex_ratio"].null_count()
    assert nulls > 0 and int(np.isnan(ds["sex_ratio"].values).sum()) == nulls
    assert not np.isinf(ds["sex_ratio"].values).any()


def test_netcdf_refuses_an_incomplete_grid(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_marital_status")
    with pytest.raises(IncompleteGrid, match="every combination"):
        table_dataset(frame.slice(1), meta)
