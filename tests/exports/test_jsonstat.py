"""JSON-stat 2.0 exports read back by pyjstat."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyjstat import pyjstat

import exports
from exports.jsonstat import write_jsonstat
from stats.catalogue import TABLES

UPPER = ["national", "county"]
from tests.exports.common import SQUARE, measures_of


def read_back(data: bytes, naming: str = "id") -> pl.DataFrame:
    """The dataset as pyjstat turns it into a table (one row per cell)."""
    with warnings.catch_warnings():  # pyjstat's own Dataset.write calls its deprecated helper
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = pyjstat.Dataset.read(data.decode("utf-8")).write("dataframe", naming=naming)
    return pl.from_pandas(frame)


def release_layout(cells: pl.DataFrame, frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """pyjstat's cells pivoted back to the release table's columns."""
    keys = TABLES[table].keys
    wide = cells.pivot("measure", index=["period", "area", *keys], values="value")
    return wide.select(
        "period",
        pl.col("area").alias("area_code"),
        *(pl.col(k).cast(frame.schema[k]) for k in keys),
        *(pl.col(m).cast(frame.schema[m]) for m in measures_of(table)),
    )


def written(frame: pl.DataFrame, meta: exports.ExportMeta, **options: Any) -> bytes:
    """The bytes ``exports.write`` produces for the frame."""
    buffer = io.BytesIO()
    exports.write(frame, "jsonstat", buffer, meta, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("table", SQUARE)
def test_jsonstat_every_table_reads_back_with_pyjstat(demo_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    if table == "population_by_age":  # pyjstat builds rows in pure Python: upper levels only
        frame = frame.filter(pl.col("area_level").is_in(UPPER))
    data = written(frame, meta)
    expected = frame.select("period", "area_code", *TABLES[table].keys, *measures_of(table))
    assert_frame_equal(release_layout(read_back(data), frame, table), expected)


def test_jsonstat_full_table_in_row_major_order(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    doc = json.loads(written(frame, meta))
    assert doc["id"] == ["period", "area", "sex", "age", "measure"]
    assert doc["size"] == [1, frame["area_code"].n_unique(), 2, 101, 1]
    areas = frame.select("area_code").unique(maintain_order=True).with_row_index("area_index")
    cells = frame.join(areas, on="area_code").sort("area_index", "sex", "age")  # last id fastest
    assert doc["value"] == cells["population"].to_list()
    assert doc["dimension"]["area"]["category"]["index"] == areas["area_code"].to_list()


def test_jsonstat_labels_roles_units_and_metadata(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_marital_status")
    doc = json.loads(written(frame, meta))
    assert doc["version"] == "2.0" and doc["class"] == "dataset"
    assert doc["label"] == "15歲以上現住人口按性別及婚姻狀況分（114年3月）"
    assert doc["role"] == {"time": ["period"], "geo": ["area"], "metric": ["measure"]}
    assert doc["updated"] == meta.created_at and doc["note"] == list(meta.spec.footnotes_zh)
    extension = doc["extension"]
    assert extension["revision"] == meta.revision and extension["table_sha256"] == meta.table_sha256
    assert extension["title_en"] == meta.spec.title_en and extension["note_en"] == list(
        meta.spec.footnotes_en
    )
    dims = doc["dimension"]
    assert dims["period"]["category"]["label"] == {"2025-03": "114年3月"}
    assert dims["marital_status"]["label"] == "婚姻狀況"
    assert dims["marital_status"]["extension"]["label_en"] == "Marital status"
    assert dims["marital_status"]["category"]["label"] == {
        "1": "未婚",
        "2": "有偶",
        "3": "離婚",
        "4": "喪偶",
    }
    assert dims["sex"]["extension"]["category_label_en"] == {"1": "male", "2": "female"}
    assert dims["measure"]["category"]["unit"] == {"population": {"label": "人", "decimals": 0}}
    area = dims["area"]
    assert (
        area["category"]["label"]["00000"] == "全國"
        and area["extension"]["level"]["63000"] == "county"
    )
    children = area["category"]["child"]
    assert "63000" in children["00000"] and all(c.startswith("63000") for c in children["63000"])
    assert "63000010" not in children["00000"]  # townships hang under their county
    labelled = read_back(
        written(frame.filter(pl.col("area_code") == "00000"), meta), naming="label"
    )
    assert labelled.columns == ["統計期", "區域", "性別", "婚姻狀況", "統計項目", "value"]
    assert labelled.row(0) == (
        "114年3月",
        "全國",
        "男",
        "未婚",
        "人口數",
        frame.filter(pl.col("area_code") == "00000")["population"][0],
    )


def test_jsonstat_nulls_and_unrounded_floats(official_release: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "indicators")
    doc = json.loads(written(frame, meta))
    assert doc["dimension"]["measure"]["category"]["unit"]["sex_ratio"] == {
        "label": "男/百女",
        "decimals": 2,
    }
    values = frame.select(measures_of("indicators"))
    assert doc["value"] == [v for row in values.iter_rows() for v in row]  # nulls are JSON null
    assert None in doc["value"]


def test_jsonstat_official_names_are_unicode(official_release: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    data = written(frame, meta, encoding="utf-8-sig")
    assert not data.startswith(b"\xef\xbb\xbf")  # JSON never carries a byte-order mark (RFC 8259)
    names = json.loads(data)["dimension"]["area"]["category"]["label"]
    assert names["10007140010"] == "彰化縣埔鹽鄉瓦磘村"  # made character U+FFFA8 mapped to 磘
    assert any("廍" in n for n in names.values())  # outside Big5, kept in Unicode
    assert set(names) == set(frame["area_code"])


def test_jsonstat_made_character_of_tainan_wennan(official_release: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    frame = frame.filter(pl.col("area_code") == "67000350003")
    names = json.loads(written(frame, meta))["dimension"]["area"]["category"]["label"]
    assert names["67000350003"] == "臺南市安南區\u586d南里"  # 塭南里: U+FB56F is 塭 (U+586D)


@pytest.mark.parametrize("encoding", ["cp950", "big5hkscs", "euc-tw"])
def test_jsonstat_is_unicode_only(demo_release: Path, encoding: str) -> None:
    frame, meta = exports.load_for_export(demo_release, "population")
    with pytest.raises(exports.UnknownFormat, match="jsonstat is written in utf-8 only"):
        exports.write(frame, "jsonstat", io.BytesIO(), meta, encoding=encoding)


def test_jsonstat_writer_direct(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "reconciliation")
    buffer = io.BytesIO()
    write_jsonstat(frame, meta, buffer, encoding="utf-8")
    doc = json.loads(buffer.getvalue())
    assert doc["dimension"]["measure"]["category"]["index"] == measures_of("reconciliation")
    assert len(doc["value"]) == frame.height * len(measures_of("reconciliation"))


def test_jsonstat_missing_combinations_are_null(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_marital_status")
    frame = frame.filter(pl.col("area_level").is_in(UPPER))
    gap = (pl.col("area_code") == "63000") & (pl.col("sex") == 2) & (pl.col("marital_status") == 3)
    doc = json.loads(written(frame.filter(~gap), meta))
    assert doc["size"] == [1, frame["area_code"].n_unique(), 2, 4, 1]  # the cube stays complete
    cells = release_layout(
        read_back(json.dumps(doc).encode()), frame, "population_by_marital_status"
    )
    expected = frame.select("period", "area_code", "sex", "marital_status", "population")
    expected = expected.with_columns(
        pl.when(gap).then(None).otherwise(pl.col("population")).alias("population")
    )
    assert_frame_equal(cells, expected)
