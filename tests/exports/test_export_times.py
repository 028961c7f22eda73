"""Times people read in exported files are Taipei times (ROC in Chinese, +08:00 in English,
to the second), machine fields stay ISO UTC; a file from an unpublished revision says
未公布，禁止外流 in its title in every format that has one, and in its metadata."""

from __future__ import annotations

import dataclasses
import io
import json

import openpyxl
import polars as pl
import pytest

import exports
from exports.meta import with_embargo

CREATED = "2026-12-09T16:28:03+00:00"  # 115年12月10日 00:28:03 in Taipei
ZH = "未公布，禁止外流至 115年12月10日 16:00 臺北時間"
EN = "Unpublished: embargoed until 2026-12-10 16:00 +08:00"


@pytest.fixture
def loaded(demo_release):
    frame, meta = exports.load_for_export(demo_release, "population")
    return frame.head(50), dataclasses.replace(meta, created_at=CREATED)


def _bytes(frame: pl.DataFrame, meta, fmt: str) -> bytes:
    buffer = io.BytesIO()
    exports.write(frame, fmt, buffer, meta, encoding="utf-8")
    return buffer.getvalue()


def test_the_creation_time_reads_in_taipei_time(loaded):
    frame, meta = loaded
    assert meta.created_taipei == ("115年12月10日 00:28:03 臺北時間", "2026-12-10 00:28:03 +08:00")
    described = meta.describe()
    assert described["created_at"] == CREATED  # the machine field stays ISO UTC
    book = openpyxl.load_workbook(io.BytesIO(_bytes(frame, meta, "xlsx")), read_only=True)
    line = next(book.worksheets[0].iter_rows(min_row=5, max_row=5, values_only=True))[0]
    assert ("製表時間 Created 115年12月10日 00:28:03 臺北時間（2026-12-10 00:28:03 +08:00）"
            in line)
    assert "+00:00" not in line
    px = _bytes(frame, meta, "px").decode("utf-8")
    assert "產製時間：115年12月10日 00:28:03 臺北時間" in px
    assert "created: 2026-12-10 00:28:03 +08:00" in px


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "px", "jsonstat", "parquet", "sdmx-csv"])
def test_an_embargoed_file_says_so_in_its_title_and_metadata(loaded, fmt):
    frame, meta = loaded
    marked = with_embargo(meta, ZH, EN)
    assert marked.spec.title_zh.startswith(f"【{ZH}】")
    assert marked.describe()["embargo_zh"] == ZH and marked.describe()["embargo_en"] == EN
    data = _bytes(frame, marked, fmt)
    if fmt == "sdmx-csv":  # the data has no title; its structure definition names the flow
        from exports.sdmx import write_structure

        buffer = io.BytesIO()
        write_structure(frame, marked, buffer)
        data = buffer.getvalue()
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        title = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True))[0]
        assert title.startswith("POP") and f"【{ZH}】" in title
        return
    if fmt == "ods":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as package:
            text = package.read("content.xml").decode("utf-8") + package.read("meta.xml").decode()
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        kv = pq.read_metadata(io.BytesIO(data)).metadata
        text = json.dumps({k.decode(): v.decode() for k, v in kv.items()}, ensure_ascii=False)
    else:
        text = data.decode("utf-8-sig")
        if fmt == "jsonstat":
            text = json.dumps(json.loads(text), ensure_ascii=False)
    assert ZH in text, fmt


def test_an_unmarked_file_has_no_embargo_keys(loaded):
    _, meta = loaded
    assert "embargo_zh" not in meta.describe()
    assert "未公布" not in json.dumps(meta.describe(), ensure_ascii=False)
