"""SDMX-CSV exports and their SDMX-ML structure, read back by pandas, sdmx1 and iconv."""

from __future__ import annotations

import importlib
import io
import subprocess
from pathlib import Path
from types import ModuleType

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import exports
from exports.sdmx import data_structure, write_sdmx_csv, write_structure
from exports.text import MARKER, PRIVATE_USE_MAP, Unencodable, codec
from stats.catalogue import TABLES
from stats.schemas import V1_TABLES
from tests.exports.common import expected_problems, measures_of


@pytest.fixture(scope="module")
def sdmx1() -> ModuleType:
    """sdmx1, the SDMX reference client for Python (only its tests skip without it)."""
    module = pytest.importorskip("sdmx")
    importlib.import_module("sdmx.reader.csv")
    return module


ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
ICONV = {"cp950": "CP950", "big5hkscs": "BIG5-HKSCS", "euc-tw": "EUC-TW"}
UPPER = ["national", "county"]
SEX = {"M": 1, "F": 2}


def key_code(key: str, value: int) -> str:
    """The SDMX code of a key value (SDMX cross-domain SEX and AGE codes, digits otherwise)."""
    if key == "sex":
        return "MF"[value - 1]
    if key == "age":
        return "Y_GE100" if value == 100 else f"Y{value}"
    return str(value)


def read_csv(data: bytes, encoding: str) -> pl.DataFrame:
    """The SDMX-CSV as pandas reads it (codes as text; ``NaN`` is missing)."""
    # pyarrow's parser (fast) is UTF-8 only
    engine = "pyarrow" if codec(encoding).startswith("utf") else "c"
    frame = pd.read_csv(
        io.BytesIO(data), encoding=codec(encoding), dtype=str, keep_default_na=False, engine=engine
    )
    return pl.from_pandas(frame)


def release_layout(rows: pl.DataFrame, frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """SDMX observations pivoted back to the release table (key codes decoded)."""
    keys = TABLES[table].keys
    decode = {
        "sex": pl.col("SEX").replace_strict(SEX, return_dtype=pl.Int64),
        "age": pl.col("AGE").str.replace("Y_GE100", "Y100").str.strip_prefix("Y").cast(pl.Int64),
        "marital_status": pl.col("MARITAL_STATUS").cast(pl.Int64),
        "indigenous": pl.col("INDIGENOUS").cast(pl.Int64),
    }
    long = rows.select(
        pl.col("TIME_PERIOD").alias("period"),
        pl.col("REF_AREA").alias("area_code"),
        pl.col("REF_AREA_NAME").alias("area_name"),
        *(decode[k].alias(k) for k in keys),
        pl.col("MEASURE").str.to_lowercase().alias("measure"),
        pl.when(pl.col("OBS_VALUE") == "NaN")
        .then(None)
        .otherwise(pl.col("OBS_VALUE"))
        .alias("value"),
    )
    measures = measures_of(table)
    if len(measures) == 1:  # nothing to pivot
        wide = long.rename({"value": measures[0]})
    else:
        wide = long.pivot(
            "measure", index=["period", "area_code", "area_name", *keys], values="value"
        )
    return wide.select(
        "period",
        "area_code",
        "area_name",
        *(pl.col(k).cast(frame.schema[k]) for k in keys),
        *(pl.col(m).cast(frame.schema[m]) for m in measures_of(table)),
    )


def expected_of(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The release columns an SDMX-CSV carries."""
    return frame.select(
        "period", "area_code", "area_name", *TABLES[table].keys, *measures_of(table)
    )


def written(frame: pl.DataFrame, meta: exports.ExportMeta, **options: str) -> bytes:
    """The bytes ``exports.write`` produces for the frame."""
    buffer = io.BytesIO()
    exports.write(frame, "sdmx-csv", buffer, meta, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("table", list(V1_TABLES))  # §8: test_programme_exports.py
def test_sdmx_csv_every_table_reads_back_with_pandas(demo_release: Path, table: str) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    rows = read_csv(written(frame, meta), "utf-8-sig")
    dims = {
        "sex": "SEX",
        "age": "AGE",
        "marital_status": "MARITAL_STATUS",
        "indigenous": "INDIGENOUS",
    }
    assert rows.columns == [
        "STRUCTURE",
        "STRUCTURE_ID",
        "ACTION",
        "FREQ",
        "REF_AREA",
        *(dims[k] for k in TABLES[table].keys),
        "MEASURE",
        "TIME_PERIOD",
        "OBS_VALUE",
        "UNIT_MEASURE",
        "OBS_STATUS",
        "REF_AREA_NAME",
    ]
    assert set(rows["STRUCTURE"]) == {"dataflow"} and set(rows["ACTION"]) == {"I"}
    assert set(rows["STRUCTURE_ID"]) == {f"TW_MOI:DF_{meta.spec.code}(1.0)"}
    assert set(rows["FREQ"]) == {"M"}
    assert rows.height == frame.height * len(measures_of(table))
    assert_frame_equal(release_layout(rows, frame, table), expected_of(frame, table))


@pytest.mark.parametrize("table", list(V1_TABLES))  # §8: test_programme_exports.py
def test_sdmx_structure_and_data_read_with_sdmx1(
    demo_release: Path, table: str, sdmx1: ModuleType
) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    # sdmx1 reads observation by observation: upper levels only
    frame = frame.filter(pl.col("area_level").is_in(UPPER))
    message = sdmx1.read_sdmx(io.BytesIO(data_structure(frame, meta)))
    code = meta.spec.code
    flow, dsd = message.dataflow[f"DF_{code}"], message.structure[f"DSD_{code}"]
    assert str(flow.name.localizations["zh-TW"]) == meta.spec.title_zh
    assert str(dsd.name.localizations["en"]) == meta.spec.title_en
    dims = [d.id for d in dsd.dimensions.components]
    keys = {
        "sex": "SEX",
        "age": "AGE",
        "marital_status": "MARITAL_STATUS",
        "indigenous": "INDIGENOUS",
    }
    assert dims == [
        "FREQ",
        "REF_AREA",
        *(keys[k] for k in meta.spec.keys),
        "MEASURE",
        "TIME_PERIOD",
    ]
    assert [a.id for a in dsd.attributes.components] == ["UNIT_MEASURE", "OBS_STATUS"]
    assert [m.id for m in dsd.measures.components] == ["OBS_VALUE"]
    areas = message.codelist["CL_AREA"]
    assert {c.id: str(c.name) for c in areas} == dict(
        frame.select("area_code", "area_name").unique().iter_rows()
    )
    assert areas["63000"].parent.id == "00000"
    annotations = {a.type: a for a in flow.annotations}
    assert annotations["TABLE_SHA256"].title == meta.table_sha256
    assert annotations["REVISION"].title == str(meta.revision)
    assert str(annotations["PERIOD"].text) == meta.period_roc
    notes = [str(a.text.localizations["en"]) for a in flow.annotations if a.type == "NOTE"]
    assert notes == list(meta.spec.footnotes_en)
    data = sdmx1.reader.csv.Reader().convert(
        io.BytesIO(written(frame, meta, encoding="utf-8")), structure=flow
    )
    observed = sdmx1.to_pandas(data.data[0]).to_dict()
    expected = {
        (
            "M",
            row["area_code"],
            *(key_code(k, row[k]) for k in meta.spec.keys),
            m.upper(),
            meta.period,
        ): row[m]
        for row in frame.iter_rows(named=True)
        for m in measures_of(table)
    }
    assert observed.keys() == expected.keys()
    assert all(
        observed[k] == v or (v is None and observed[k] != observed[k]) for k, v in expected.items()
    )


def test_sdmx_nulls_are_nan_with_status_m(official_release: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "indicators")
    rows = read_csv(written(frame, meta), "utf-8-sig")
    missing = rows.filter(pl.col("OBS_VALUE") == "NaN")
    assert (
        missing.height
        == frame.select(measures_of("indicators")).null_count().sum_horizontal()[0]
        > 0
    )
    assert set(missing["OBS_STATUS"]) == {"M"} and set(rows["OBS_STATUS"]) == {"A", "M"}
    units = dict(rows.select("MEASURE", "UNIT_MEASURE").unique().iter_rows())
    assert units["SEX_RATIO"] == "MALES_PER_100_FEMALES" and units["CRUDE_BIRTH_RATE"] == "PER_1000"
    back = release_layout(rows, frame, "indicators")  # floats written in round-trip form
    expected = expected_of(frame, "indicators").with_columns(
        pl.col("area_name").str.replace_many(PRIVATE_USE_MAP)
    )
    assert_frame_equal(back, expected)


def written_name(name: str, bad: set[str], policy: str) -> str:
    """A name as a policy writes it: made characters mapped, refused ones as NCR or marker."""
    out = []
    for char in (PRIVATE_USE_MAP.get(c, c) for c in name):
        out.append(char if char not in bad else f"&#x{ord(char):X};" if policy == "ncr" else MARKER)
    return "".join(out)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_sdmx_csv_official_names_in_every_encoding(official_release: Path, encoding: str) -> None:
    frame, meta = exports.load_for_export(official_release, "vital_events")
    refused = expected_problems(frame, encoding)
    bad = {char for _, char in refused}
    policies = ["strict"] if encoding.startswith("utf") else ["ncr", "replace"]
    if not encoding.startswith("utf"):
        with pytest.raises(Unencodable) as error:
            written(frame, meta, encoding=encoding)
        assert {(p.area_code, p.character) for p in error.value.problems} == refused
        assert refused
    for policy in policies:
        data = written(frame, meta, encoding=encoding, policy=policy)
        rows = read_csv(data, encoding)
        names = rows.select("REF_AREA", "REF_AREA_NAME").unique(maintain_order=True)
        assert names["REF_AREA_NAME"].to_list() == [
            written_name(n, bad, policy) for n in frame["area_name"]
        ]
        expected = expected_of(frame, "vital_events").with_columns(
            pl.col("area_name").map_elements(
                lambda n, policy=policy: written_name(n, bad, policy), return_dtype=pl.String
            )
        )
        assert_frame_equal(release_layout(rows, frame, "vital_events"), expected)
        if encoding in ICONV:
            decoded = subprocess.run(
                ["iconv", "-f", ICONV[encoding], "-t", "UTF-8"],
                input=data,
                capture_output=True,
                check=True,
            ).stdout
            assert decoded.decode("utf-8") == data.decode(codec(encoding))


def test_sdmx_csv_area_names_are_formula_safe(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    frame = frame.head(3).with_columns(pl.lit('=HYPERLINK("x")').alias("area_name"))
    buffer = io.BytesIO()
    write_sdmx_csv(frame, meta, buffer, encoding="utf-8")
    rows = read_csv(buffer.getvalue(), "utf-8")
    assert set(rows["REF_AREA_NAME"]) == {'\'=HYPERLINK("x")'}
    increase = rows.filter(pl.col("MEASURE") == "NATURAL_INCREASE")["OBS_VALUE"]
    assert increase.to_list() == [str(v) for v in frame["natural_increase"]]  # numbers untouched
    assert buffer.getvalue().split(b"\n")[0].endswith(b"\r")  # RFC 4180 line ends


def test_sdmx_structure_is_utf8_xml_with_quarterly_and_annual_forms(
    demo_release: Path, sdmx1: ModuleType
) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    frame = frame.filter(pl.col("area_level") == "national")
    buffer = io.BytesIO()
    write_structure(frame, meta, buffer)
    assert buffer.getvalue().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    message = sdmx1.read_sdmx(io.BytesIO(buffer.getvalue()))
    ages = message.codelist["CL_AGE"]
    assert (
        ages["Y_GE100"].name.localizations["zh-TW"] == "100歲以上"
        and ages["Y0"].name.localizations["en"] == "0"
    )
    assert {c.id for c in message.codelist["CL_SEX"]} == {"M", "F"}
    for period, freq in (("2025-Q1", "Q"), ("2025", "A")):
        quarter = meta.__class__(**{**meta.__dict__, "period": period})
        rows = read_csv(
            written(frame.with_columns(pl.lit(period).alias("period")), quarter), "utf-8-sig"
        )
        assert set(rows["FREQ"]) == {freq} and set(rows["TIME_PERIOD"]) == {period}
