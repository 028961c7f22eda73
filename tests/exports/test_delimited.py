"""CSV exports read back by clients nobody here wrote: Python's codecs and csv module, polars,
the system ``iconv`` for Big5/EUC-TW, and the ``csvw`` library for the CSVW sidecar."""

from __future__ import annotations

import csv
import functools
import io
import json
import subprocess
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import exports
import exports.delimited as delimited
from exports.delimited import metadata_path, write_csv_metadata
from exports.text import MARKER, PRIVATE_USE_MAP, Unencodable
from stats.catalogue import TABLES
from tests.exports.common import IN_MONTHLY_V1
from tests.helpers import SHARED

ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
BIG5_EUC = ("cp950", "big5hkscs", "euc-tw")
PYTHON_CODEC = {
    "utf-8-sig": "utf-8-sig",
    "utf-8": "utf-8",
    "cp950": "cp950",
    "big5hkscs": "big5hkscs",
    "euc-tw": "euc_tw",
}
ICONV = {"cp950": "CP950", "big5hkscs": "BIG5-HKSCS", "euc-tw": "EUC-TW"}
HISTORY = SHARED / "codes" / "villages_history.csv"


# --- independent expectations: what the codec itself says, character by character ---------


@functools.cache
def refused(char: str, encoding: str) -> bool:
    """Whether ``encoding`` cannot hold ``char`` (private use never goes into Big5/EUC-TW)."""
    python_codec = PYTHON_CODEC[encoding]
    if python_codec.startswith("utf"):
        return False
    if 0xE000 <= ord(char) <= 0xF8FF or ord(char) >= 0xF0000:
        return True
    try:
        char.encode(python_codec)
    except UnicodeEncodeError:
        return True
    return False


@functools.cache
def expected_value(value: str, encoding: str, policy: str) -> str:
    """A text as it must read back: made characters mapped, refused ones per the policy."""
    out = []
    for char in (PRIVATE_USE_MAP.get(c, c) for c in value):
        if refused(char, encoding):
            out.append(f"&#x{ord(char):X};" if policy == "ncr" else MARKER)
        else:
            out.append(char)
    return "".join(out)


def expected_problems(frame: pl.DataFrame, encoding: str) -> set[tuple[str, str, str]]:
    """(column, area code, character) of every character the codec refuses."""
    found = set()
    for column, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        pairs = frame.select(pl.col("area_code").alias("_code"), pl.col(column).alias("_value"))
        for code, value in pairs.unique().drop_nulls().iter_rows():
            found |= {
                (column, code, c)
                for c in (PRIVATE_USE_MAP.get(c, c) for c in value)
                if refused(c, encoding)
            }
    return found


def expected_frame(frame: pl.DataFrame, encoding: str, policy: str = "strict") -> pl.DataFrame:
    """The frame as its export must read back."""
    return frame.with_columns(
        pl.col(name).map_elements(
            lambda v: expected_value(v, encoding, policy), return_dtype=pl.String
        )
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


# --- reading back -----------------------------------------------------------------------


def exported(
    frame: pl.DataFrame, meta: exports.ExportMeta, encoding: str, **options: object
) -> bytes:
    """The CSV bytes ``exports.write`` produces."""
    buffer = io.BytesIO()
    exports.write(frame, "csv", buffer, meta, encoding=encoding, **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def decoded(data: bytes, encoding: str) -> str:
    """The text, decoded as declared (the BOM of utf-8-sig removed)."""
    return data.decode(PYTHON_CODEC[encoding])


def parsed(text: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The CSV text as a frame with the release's dtypes."""
    return pl.read_csv(text.encode("utf-8"), schema=schema)


def iconv_text(data: bytes, encoding: str) -> str:
    """The bytes decoded by the system's iconv command."""
    result = subprocess.run(
        ["iconv", "-f", ICONV[encoding], "-t", "UTF-8"], input=data, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def sample(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The whole table, or for the 1.6 M-row age table its national and county rows (speed)."""
    if table == "population_by_age":
        return frame.filter(pl.col("area_level").is_in(["national", "county"]))
    return frame


# --- every table in every encoding ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("table", IN_MONTHLY_V1)
def test_csv_reads_back_equal_to_the_release_table(
    demo_release: Path, table: str, encoding: str
) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    frame = sample(frame, table)
    data = exported(frame, meta, encoding)
    assert data.startswith(b"\xef\xbb\xbf") is (encoding == "utf-8-sig")
    text = decoded(data, encoding)
    assert text.count("\r\n") == frame.height + 1 and "\n" not in text.replace("\r\n", "")
    header = next(csv.reader(io.StringIO(text)))
    assert header == frame.columns  # the contract's column names, area_name after area_code
    assert_frame_equal(parsed(text, frame.schema), frame)
    if encoding in ICONV:
        assert iconv_text(data, encoding) == text


def test_csv_largest_table_in_full(demo_release: Path) -> None:
    """The whole village × sex × age table (1.6 M rows) round-trips in the default encoding."""
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    text = decoded(exported(frame, meta, "utf-8-sig"), "utf-8-sig")
    assert_frame_equal(parsed(text, frame.schema), frame)


def test_csv_slices_make_the_same_file(demo_release: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing in many small slices gives the bytes of one slice: one header, one BOM."""
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    for encoding in ("utf-8-sig", "euc-tw"):
        whole = exported(frame, meta, encoding)
        monkeypatch.setattr(delimited, "CHUNK_ROWS", 777)
        sliced = exported(frame, meta, encoding)
        monkeypatch.undo()
        assert sliced == whole
        assert sliced.count(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
        assert sliced.count(b"period,area_level") == 1


def test_csv_empty_table_has_its_header(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population")
    text = decoded(exported(frame.clear(), meta, "cp950"), "cp950")
    assert text == ",".join(frame.columns) + "\r\n"


# --- real village names: made characters and characters outside Big5 --------------------


@pytest.mark.parametrize("encoding", BIG5_EUC)
@pytest.mark.parametrize("table", ["population", "vital_events", "population_by_marital_status"])
def test_csv_strict_lists_exactly_what_the_codec_refuses(
    official_release: Path, table: str, encoding: str
) -> None:
    """Village names hold refused characters; the township-level table has none and is written."""
    frame, meta = exports.load_for_export(official_release, table)
    want = expected_problems(frame, encoding)
    if table == "population_by_marital_status":  # no village level: every name fits
        assert not want
        text = decoded(exported(frame, meta, encoding), encoding)
        assert_frame_equal(parsed(text, frame.schema), frame)
        return
    with pytest.raises(Unencodable) as caught:
        exported(frame, meta, encoding)
    got = {(p.column, p.area_code, p.character) for p in caught.value.problems}
    assert want and got == want
    if encoding == "cp950":
        assert {"廍", "嵵"} <= {c for _, _, c in got}  # 嵵: MOI's U+FCC79, mapped, still not Big5


@pytest.mark.parametrize("policy", ["ncr", "replace"])
@pytest.mark.parametrize("encoding", BIG5_EUC)
def test_csv_policies_read_back_with_iconv(
    official_release: Path, encoding: str, policy: str
) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    data = exported(frame, meta, encoding, policy=policy)
    text = decoded(data, encoding)
    assert iconv_text(data, encoding) == text
    assert_frame_equal(parsed(text, frame.schema), expected_frame(frame, encoding, policy))
    assert "?" not in text


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_csv_unicode_keeps_every_name_and_maps_made_characters(
    official_release: Path, encoding: str
) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    made = frame.filter(pl.col("area_name").str.contains("\U000fffa8"))
    assert made.height > 0  # 瓦󿾨里 and others
    text = decoded(exported(frame, meta, encoding), encoding)
    back = parsed(text, frame.schema)
    assert_frame_equal(back, expected_frame(frame, encoding))
    assert "瓦磘里" in text and "\U000fffa8" not in text
    # with the map switched off, MOI's private-use code points pass through UTF-8 unchanged
    raw = decoded(exported(frame, meta, encoding, private_use={}), encoding)
    assert_frame_equal(parsed(raw, frame.schema), frame)


@pytest.fixture(scope="module")
def all_village_names() -> pl.DataFrame:
    """All 7,818 village names of 2021-01…2026-06 as a village-level frame."""
    if not HISTORY.exists():
        pytest.skip(f"{HISTORY} not found")
    codes = pl.read_csv(HISTORY, infer_schema=False)
    assert codes.height == 7818
    return codes.select(
        pl.lit("2024-03").alias("period"),
        pl.lit("village").alias("area_level"),
        pl.col("village_code").alias("area_code"),
        (pl.col("county_town_name") + pl.col("village_name")).alias("area_name"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("population"),
    )


@pytest.mark.parametrize("encoding", BIG5_EUC)
def test_csv_all_7818_village_names(
    all_village_names: pl.DataFrame, official_release: Path, encoding: str
) -> None:
    """Strict names exactly the refused characters; replace and ncr read back through iconv."""
    _, meta = exports.load_for_export(official_release, "population")
    frame = all_village_names
    with pytest.raises(Unencodable) as caught:
        exported(frame, meta, encoding)
    got = {(p.column, p.area_code, p.character) for p in caught.value.problems}
    assert got == expected_problems(frame, encoding)
    for policy in ("replace", "ncr"):
        data = exported(frame, meta, encoding, policy=policy)
        text = iconv_text(data, encoding)
        assert text == decoded(data, encoding)
        assert_frame_equal(parsed(text, frame.schema), expected_frame(frame, encoding, policy))


# --- quoting and formula injection ---------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_csv_quotes_and_formulas(demo_release: Path, encoding: str) -> None:
    """Commas and quotes are quoted (also beside Big5's 0x5C trail bytes, 許 = B3 5C);
    text a spreadsheet would run gets an apostrophe; numbers stay numbers."""
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    names = [
        "許厝里",
        '甲,乙"丙',
        '=HYPERLINK("x")',
        "+886",
        "-1",
        "@SUM(A1)",
        "\t村",
        "\r村",
        "功\\里",
    ]
    frame = frame.head(len(names)).with_columns(
        pl.Series("area_name", names),
        pl.Series("natural_increase", [-5] * len(names), dtype=pl.Int64),
    )
    back = parsed(decoded(exported(frame, meta, encoding), encoding), frame.schema)
    want = [
        "許厝里",
        '甲,乙"丙',
        '\'=HYPERLINK("x")',
        "'+886",
        "'-1",
        "'@SUM(A1)",
        "'\t村",
        "'\r村",
        "功\\里",
    ]
    assert back["area_name"].to_list() == want
    assert back["natural_increase"].to_list() == [-5] * len(names)


# --- the CSVW sidecar ------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp950", "euc-tw"])
def test_csv_metadata_sidecar_read_by_csvw(
    demo_release: Path, tmp_path: Path, encoding: str
) -> None:
    csvw = pytest.importorskip("csvw")
    frame, meta = exports.load_for_export(demo_release, "indicators")
    frame = frame.head(40)
    out = tmp_path / "MOI_IND01_2025-03_all_r1.csv"
    exports.write(frame, "csv", out, meta, encoding=encoding)
    write_csv_metadata(meta, metadata_path(out), encoding=encoding)
    assert metadata_path(out).name == "MOI_IND01_2025-03_all_r1.csv-metadata.json"
    table = csvw.Table.from_file(metadata_path(out))
    rows = list(table.iterdicts())
    assert [r["area_code"] for r in rows] == frame["area_code"].to_list()
    assert [r["median_age"] for r in rows] == frame[
        "median_age"
    ].to_list()  # doubles, nulls as None
    assert [c.name for c in table.tableSchema.columns] == frame.columns
    titles = {c.name: dict(c.titles) for c in table.tableSchema.columns}
    assert titles["area_name"] == {
        "und": ["area_name"],
        "zh-Hant-TW": ["區域名稱"],
        "en": ["Area name"],
    }
    assert titles["median_age"]["zh-Hant-TW"] == ["年齡中位數"]


def test_csv_metadata_sidecar_carries_the_release_facts(demo_release: Path, tmp_path: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    path = tmp_path / "x.csv-metadata.json"
    write_csv_metadata(meta, path, encoding="big5hkscs")
    doc = json.loads(path.read_text(encoding="utf-8"))
    manifest = json.loads((demo_release / "manifest.json").read_text())
    sha = next(t["sha256"] for t in manifest["tables"] if t["table"] == "population_by_age")
    assert doc["url"] == "x.csv"
    assert doc["schema:sha256"] == sha and doc["schema:version"] == str(manifest["revision"])
    assert doc["dc:temporal"] == ["2025-03", {"@value": "114年3月", "@language": "zh-Hant-TW"}]
    assert [t["@value"] for t in doc["dc:title"]] == [meta.spec.title_zh, meta.spec.title_en]
    assert doc["dc:created"]["@value"] == meta.created_at
    assert "100表示100歲以上" in doc["dc:description"][0]["@value"]
    assert doc["dialect"]["encoding"] == "Big5-HKSCS" and doc["dialect"]["lineTerminators"] == [
        "\r\n"
    ]
    columns = {c["name"]: c for c in doc["tableSchema"]["columns"]}
    assert list(columns) == frame.columns
    assert columns["population"]["schema:unitText"][1] == {"@value": "persons", "@language": "en"}
    assert columns["sex"]["dc:description"][0]["@value"] == "1=男；2=女"
    assert columns["age"]["datatype"] == "integer" and columns["area_code"]["datatype"] == "string"
    assert doc["tableSchema"]["primaryKey"] == ["period", "area_level", "area_code", "sex", "age"]
