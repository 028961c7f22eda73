"""SPSS and Stata exports read back by PSPP, pyreadstat and pandas."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import polars as pl
import pyreadstat
import pytest
from polars.testing import assert_frame_equal

import exports
from exports.statpackages import write_dta
from exports.text import PRIVATE_USE_MAP
from stats.catalogue import TABLES

UPPER = ["national", "county"]
needs_pspp = pytest.mark.skipif(
    shutil.which("pspp") is None, reason="Debian's pspp is not installed"
)
from tests.exports.common import IN_MONTHLY_V1, measures_of


def table_frame(release: Path, table: str) -> tuple[pl.DataFrame, exports.ExportMeta]:
    """A release table; for the 1.6-million-row age table only the upper levels (fast clients)."""
    frame, meta = exports.load_for_export(release, table)
    if table == "population_by_age":
        frame = frame.filter(pl.col("area_level").is_in(UPPER))
    return frame, meta


def typed_like(back: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """A read-back table with the release's column types (the packages store doubles)."""
    return back.select(pl.col(c).cast(frame.schema[c]) for c in frame.columns)


def unicode_names(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as written in Unicode: MOI's made characters mapped to standard characters."""
    return frame.with_columns(pl.col("area_name").str.replace_many(PRIVATE_USE_MAP))


def pspp_tables(sav: Path, tmp_path: Path) -> dict[str, list[list[str]]]:
    """PSPP's DISPLAY DICTIONARY / DOCUMENTS / FILE LABEL output, as CSV tables by title."""
    syntax = tmp_path / "show.sps"
    out = tmp_path / "show.csv"
    syntax.write_text(
        f"GET FILE='{sav}'.\nDISPLAY DICTIONARY.\nDISPLAY DOCUMENTS.\nDISPLAY FILE LABEL.\n",
        encoding="utf-8",
    )
    subprocess.run(
        ["pspp", "-O", "format=csv", "-o", str(out), str(syntax)], check=True, capture_output=True
    )
    tables: dict[str, list[list[str]]] = {}
    for block in out.read_text(encoding="utf-8").split("Table: ")[1:]:
        title, _, body = block.partition("\n")
        tables[title.strip()] = [row for row in csv.reader(io.StringIO(body)) if row]
    return tables


def pspp_value_labels(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """PSPP's value-label table: variable (label) → value → label."""
    labels: dict[str, dict[str, str]] = {}
    current = ""
    for variable, value, label in rows[1:]:
        current = variable or current
        labels.setdefault(current, {})[value] = label
    return labels


@needs_pspp
@pytest.mark.parametrize("table", IN_MONTHLY_V1)
def test_sav_every_table_reads_back_with_pspp_and_pyreadstat(
    demo_release: Path, tmp_path: Path, table: str
) -> None:
    frame, meta = table_frame(demo_release, table)
    path = tmp_path / f"{table}.sav"
    exports.write(frame, "sav", path, meta)
    data, info = pyreadstat.read_sav(str(path))
    assert_frame_equal(typed_like(pl.from_pandas(data), frame), frame)
    assert info.file_label == meta.spec.title_zh and info.file_encoding == "UTF-8"
    # PSPP, a client nobody here wrote: its CSV holds the same values (doubles at full precision)
    converted = tmp_path / f"{table}.csv"
    subprocess.run(["pspp-convert", str(path), str(converted)], check=True, capture_output=True)
    back = pl.read_csv(converted, infer_schema=False).with_columns(
        pl.col(m).str.strip_chars().replace("", None) for m in measures_of(table)
    )
    assert_frame_equal(typed_like(back, frame), frame)


@needs_pspp
def test_sav_labels_formats_and_documents_survive_in_pspp(
    demo_release: Path, tmp_path: Path
) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_marital_status")
    path = tmp_path / "marital.sav"
    exports.write(frame, "sav", path, meta)
    tables = pspp_tables(path, tmp_path)
    variables = {row[0]: row for row in tables["Variables"][1:]}
    assert variables["sex"][2] == "性別" and variables["area_name"][2] == "區域名稱"
    assert variables["population"][2] == "人口數" and variables["population"][7] == "F12.0"
    assert variables["population"][3] == "Scale" and variables["sex"][3] == "Nominal"
    labels = pspp_value_labels(tables["Value Labels"])
    assert labels["性別"] == {"1": "男", "2": "女"}
    assert labels["婚姻狀況"] == {"1": "未婚", "2": "有偶", "3": "離婚", "4": "喪偶"}
    assert labels["區域層級"]["national"] == "全國" and labels["統計期"] == {"2025-03": "114年3月"}
    names = dict(frame.select("area_code", "area_name").unique().iter_rows())
    assert labels["區域代碼"] == names  # area codes labelled with their names
    documents = "\n".join(row[0] for row in tables["Documents"])
    assert meta.table_sha256 in documents and "修訂版次 Revision: 1" in documents
    assert meta.spec.footnotes_en[0] in documents.replace("\n", " ")
    assert tables["File Label"] == [["Label", meta.spec.title_zh]]
    data, info = pyreadstat.read_sav(str(path))
    assert info.original_variable_types["population"] == "F12.0"
    assert all(len(line.encode("utf-8")) <= 80 for line in info.notes)  # SPSS document lines


def test_sav_indicators_keep_unrounded_floats_and_nulls(
    official_release: Path, tmp_path: Path
) -> None:
    frame, meta = exports.load_for_export(official_release, "indicators")
    path = tmp_path / "ind.sav"
    exports.write(frame, "sav", path, meta)
    data, info = pyreadstat.read_sav(str(path))
    assert_frame_equal(typed_like(pl.from_pandas(data), frame), unicode_names(frame))
    assert frame["aging_index"].null_count() > 0  # villages without children
    assert info.original_variable_types["sex_ratio"] == "F12.2"


@pytest.mark.parametrize("table", IN_MONTHLY_V1)
def test_dta_every_table_reads_back_with_pyreadstat_and_pandas(
    demo_release: Path, tmp_path: Path, table: str
) -> None:
    frame, meta = table_frame(demo_release, table)
    path = tmp_path / f"{table}.dta"
    exports.write(frame, "dta", path, meta)
    data, info = pyreadstat.read_dta(str(path))
    back = pl.from_pandas(data)
    assert_frame_equal(typed_like(back, frame), frame)
    levels = {"national": 1, "county": 2, "township": 3, "village": 4}
    assert back["area_level_id"].to_list() == [levels[lv] for lv in frame["area_level"]]
    stata = pd.read_stata(path, convert_categoricals=False)
    assert_frame_equal(typed_like(pl.from_pandas(stata), frame), frame)
    counts = [m for m in measures_of(table) if frame.schema[m] == pl.Int64]
    assert all(str(stata[m].dtype) == "int32" for m in counts)  # Stata long
    assert info.file_label == f"{meta.spec.code} {meta.spec.title_zh} {meta.period}"
    assert info.column_names_to_labels["area_name"] == "區域名稱"
    assert info.notes[0] == f"{meta.spec.code} {meta.spec.title_zh} / {meta.spec.title_en}"


def test_dta_value_labels_and_notes(official_release: Path, tmp_path: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "population_by_age")
    frame = frame.filter(pl.col("area_level") != "village")
    path = tmp_path / "age.dta"
    exports.write(frame, "dta", path, meta)
    with pd.io.stata.StataReader(path) as reader:
        labels = reader.value_labels()
        variable_labels = reader.variable_labels()
        data_label = reader.data_label
    assert data_label == "POP02 現住人口按性別及單一年齡分 2024-03"
    assert variable_labels["sex"] == "性別" and variable_labels["population"] == "人口數"
    by_variable = pyreadstat.read_dta(str(path), metadataonly=True)[1].variable_to_label
    sex, age, area, level = (
        labels[by_variable[v]] for v in ("sex", "age", "area_id", "area_level_id")
    )
    assert sex == {1: "男", 2: "女"} and age == {100: "100歲以上"}
    assert level == {1: "全國", 2: "縣市", 3: "鄉鎮市區", 4: "村里"}
    areas = frame.select("area_code", "area_name").unique(maintain_order=True)
    assert [area[i] for i in range(1, areas.height + 1)] == areas["area_name"].to_list()
    labelled = pd.read_stata(path)  # pandas applies the value labels
    assert labelled["area_id"].iloc[0] == "全國" and labelled["sex"].iloc[0] == "男"
    notes = pyreadstat.read_dta(str(path), metadataonly=True)[1].notes
    assert f"資料表SHA-256 Table SHA-256: {meta.table_sha256}" in notes
    assert "統計期 Period: 2024-03 (113年3月)" in notes
    info = pyreadstat.read_dta(str(path), metadataonly=True)[1]
    assert info.original_variable_types["population"] == "%12.0f"


def test_dta_and_sav_carry_official_names_in_unicode(
    official_release: Path, tmp_path: Path
) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    for fmt, read in (("sav", pyreadstat.read_sav), ("dta", pyreadstat.read_dta)):
        path = tmp_path / f"pop.{fmt}"
        exports.write(frame, fmt, path, meta, encoding="utf-8-sig")
        names = dict(
            pl.from_pandas(read(str(path))[0]).select("area_code", "area_name").iter_rows()
        )
        assert names["10007140010"] == "彰化縣埔鹽鄉瓦磘村"  # made character U+FFFA8 mapped to 磘
        assert any("廍" in n for n in names.values())  # outside Big5, kept in Unicode
        assert len(names) == frame.height


@pytest.mark.parametrize("fmt", ["sav", "dta"])
@pytest.mark.parametrize("encoding", ["cp950", "big5hkscs", "euc-tw"])
def test_stat_packages_are_unicode_only(demo_release: Path, fmt: str, encoding: str) -> None:
    frame, meta = exports.load_for_export(demo_release, "population")
    with pytest.raises(exports.UnknownFormat, match=f"{fmt} is written in utf-8 only"):
        exports.write(frame, fmt, io.BytesIO(), meta, encoding=encoding)


def test_dta_writer_direct_and_stata_names(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    buffer = io.BytesIO()
    write_dta(frame, meta, buffer, encoding="utf-8")
    assert buffer.getvalue().startswith(b"<stata_dta><header><release>118</release>")
    with pytest.raises(ValueError, match="not valid in Stata"):
        write_dta(frame.rename({"births": "births-total"}), meta, io.BytesIO(), encoding="utf-8")
