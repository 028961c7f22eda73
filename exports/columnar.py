"""Parquet and NetCDF: binary formats in their own native encoding (UTF-8 text).

Parquet is the release table as is (plus ``area_name``), the metadata in the file's
key-value metadata: every ``ExportMeta.describe()`` pair under its own key, and
``popstats:columns`` holding each column's zh/en label and unit as JSON.

NetCDF (netCDF-4 via h5netcdf) holds one table as an xarray Dataset: dimensions
``area`` × the table's keys (sex, age, marital status, indigenous status), one variable per
measure, area codes, names and levels as coordinates, the period as a scalar coordinate.
Attributes follow the CF conventions where they have a name for it (``long_name``,
``units``, ``flag_values``/``flag_meanings`` for coded keys); the zh-TW texts sit beside
them with a ``_zh`` suffix, and the global attributes carry ``describe()``.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from exports.meta import ExportMeta
from stats.catalogue import VALUE_LABELS

AREA_NAME_ZH, AREA_NAME_EN = "區域名稱", "Area name"
AREA_COLUMNS = ("period", "area_level", "area_code", "area_name")


class IncompleteGrid(ValueError):
    """A keyed table lacking some key combination, so it is no rectangular array."""


# CONTRACT §8: migration_flows has no flow from a place to itself. In NetCDF's origin ×
# destination array those cells are missing (CF ``_FillValue``), not zero.
WITHOUT_DIAGONAL = ("migration_flows",)
MISSING_COUNT = -1


def _with_diagonal(frame: pl.DataFrame) -> pl.DataFrame:
    """The flows with the origin = destination cells added as nulls."""
    areas = frame.select(*[c for c in AREA_COLUMNS if c in frame.columns]).unique(
        "area_code", maintain_order=True)
    pairs = areas.join(frame.select("to_code").unique(maintain_order=True), how="cross")
    return pairs.join(frame.drop(*[c for c in AREA_COLUMNS if c in frame.columns and
                                   c != "area_code"]),
                      on=["area_code", "to_code"], how="left", maintain_order="left")


def _labels(meta: ExportMeta, name: str) -> tuple[str, str, str, str]:
    """(zh, en, unit_zh, unit_en) of a column, ``area_name`` included."""
    if name == "area_name":
        return AREA_NAME_ZH, AREA_NAME_EN, "", ""
    col = meta.spec.column(name)
    return col.zh, col.en, col.unit_zh, col.unit_en


def parquet_metadata(meta: ExportMeta, columns: list[str]) -> dict[str, str]:
    """Parquet key-value metadata: the description pairs and the column labels as JSON."""
    labels = {
        name: dict(zip(("zh", "en", "unit_zh", "unit_en"), _labels(meta, name), strict=True))
        for name in columns
    }
    return {**meta.describe(), "popstats:columns": json.dumps(labels, ensure_ascii=False)}


def write_parquet(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as Parquet with its metadata in the schema's key-value metadata."""
    table = frame.to_arrow()
    # per-column labels on the Arrow fields too, so a reader sees them beside each column
    fields = [
        field.with_metadata(dict(zip(("label_zh", "label_en", "unit_zh", "unit_en"),
                                     _labels(meta, field.name), strict=True)))
        for field in table.schema
    ]
    schema = pa.schema(fields, metadata=parquet_metadata(meta, frame.columns))
    # pyarrow, not polars: polars' writer keeps key-value pairs out of the Arrow schema, so
    # pyarrow's read_schema() would not show them
    pq.write_table(table.cast(schema), dest, compression="zstd", write_statistics=True)


def _flag_attrs(name: str) -> dict[str, Any]:
    """CF flag attributes of a coded key (sex, marital status, indigenous status)."""
    labels = VALUE_LABELS.get(name)
    if not labels:
        return {}
    return {
        "flag_values": np.array(list(labels), dtype=np.int16),
        "flag_meanings": " ".join(en.replace(" ", "_").replace("/", "_")
                                  for _, en in labels.values()),
        "flag_meanings_zh": " ".join(zh for zh, _ in labels.values()),
    }


def table_dataset(frame: pl.DataFrame, meta: ExportMeta) -> xr.Dataset:
    """One table as a Dataset: dims area × keys, a variable per measure, labelled.

    Raises
    ------
    IncompleteGrid
        When some area lacks a key combination (release tables never do: they are zero-filled).
    """
    keys = [k for k in meta.spec.keys if k in frame.columns]
    measures = [c for c in frame.columns if c not in (*AREA_COLUMNS, *keys)]
    if meta.spec.table in WITHOUT_DIAGONAL and keys == ["to_code"]:
        frame = _with_diagonal(frame)
    areas = frame.select("area_code", "area_name", "area_level").unique("area_code",
                                                                        maintain_order=True)
    key_values = {k: frame[k].unique().sort() for k in keys}
    shape = (areas.height, *(len(v) for v in key_values.values()))
    if frame.height != int(np.prod(shape)):
        cells = " × ".join(map(str, shape))
        raise IncompleteGrid(f"{meta.spec.table}: {frame.height} rows, but {cells} area/key "
                             "combinations; NetCDF needs every combination")
    # rows in the order area (as in the table), then keys ascending, so reshape lays them out
    order = areas.select("area_code").with_row_index("_area")
    ordered = frame.join(order, on="area_code", how="left").sort("_area", *keys)
    dims = ("area", *keys)
    data_vars: dict[str, xr.Variable] = {}
    for name in measures:
        zh, en, unit_zh, unit_en = _labels(meta, name)
        series = ordered[name]
        encoding = {}
        if series.dtype.is_integer() and series.null_count():  # cells absent by definition
            series, encoding = series.fill_null(MISSING_COUNT), {"_FillValue": MISSING_COUNT}
        values = (series.cast(pl.Float64).fill_null(float("nan")) if series.dtype.is_float()
                  else series).to_numpy().reshape(shape)
        attrs: dict[str, Any] = {"long_name": en, "long_name_zh": zh, "table": meta.spec.table}
        if unit_en:
            attrs |= {"units": unit_en, "units_zh": unit_zh}
        data_vars[name] = xr.Variable(dims, values, attrs, encoding=encoding)
    coords: dict[str, Any] = {
        "area": ("area", areas["area_code"].to_numpy().astype(str),
                 {"long_name": "Area code", "long_name_zh": "區域代碼"}),
        "area_name": ("area", areas["area_name"].fill_null("").to_numpy().astype(str),
                      {"long_name": AREA_NAME_EN, "long_name_zh": AREA_NAME_ZH}),
        "area_level": ("area", areas["area_level"].to_numpy().astype(str),
                       {"long_name": "Area level", "long_name_zh": "區域層級"}),
        "period": ((), meta.period, {"long_name": "Period", "long_name_zh": "統計期",
                                     "roc_label": meta.period_roc}),
    }
    for key, key_series in key_values.items():
        zh, en, unit_zh, unit_en = _labels(meta, key)
        attrs = {"long_name": en, "long_name_zh": zh, **_flag_attrs(key)}
        if unit_en:
            attrs |= {"units": unit_en, "units_zh": unit_zh}
        coords[key] = (key, key_series.to_numpy(), attrs)
    described = meta.describe()
    attrs = {"Conventions": "CF-1.8", "title": described["title_en"],
             "source": described["source_en"], "institution": described["provider_en"],
             "history": f"{described['created_at']} popstats export", **described}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def write_netcdf(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as a netCDF-4 file (h5netcdf)."""
    dataset = table_dataset(frame, meta)
    # h5py needs a readable, seekable file; render in memory and copy the bytes to dest
    rendered = dataset.to_netcdf(engine="h5netcdf")
    assert isinstance(rendered, memoryview)
    dest.write(rendered)
