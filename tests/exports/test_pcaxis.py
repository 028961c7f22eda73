"""PC-Axis exports read back by pyaxis (and iconv for the Chinese encodings)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyaxis import pyaxis

import exports
from exports.pcaxis import write_px
from exports.text import MARKER, PRIVATE_USE_MAP, Unencodable, codec
from stats.catalogue import TABLES

ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
ICONV = {"cp950": "CP950", "big5hkscs": "BIG5-HKSCS", "euc-tw": "EUC-TW"}
CODEPAGE = {
    "utf-8-sig": "utf-8",
    "utf-8": "utf-8",
    "cp950": "big5",
    "big5hkscs": "big5-hkscs",
    "euc-tw": "euc-tw",
}
from tests.exports.common import SQUARE, expected_problems, measures_of


def parse(path: Path, encoding: str, lang: str | None = None) -> dict[str, Any]:
    """The file as pyaxis reads it, in the Python codec of the export encoding."""
    return pyaxis.parse(str(path), encoding=codec(encoding), lang=lang)


def unique_names(frame: pl.DataFrame) -> pl.DataFrame:
    """area_code → the name PX must show: names occurring twice carry their code."""
    areas = frame.select("area_code", "area_name").unique("area_code", maintain_order=True)
    twice = pl.col("area_name").count().over("area_name") > 1
    return areas.with_columns(
        pl.when(twice)
        .then(pl.format("{} ({})", "area_name", "area_code"))
        .otherwise("area_name")
        .alias("area_name")
    )


def cube_from_px(px: dict[str, Any], frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """pyaxis's long table turned back into the release layout (codes via CODES)."""
    meta, data = px["METADATA"], pl.from_pandas(px["DATA"])
    variables = [*meta["STUB"], *meta["HEADING"]]
    to_code = {
        v: dict(zip(meta[f"VALUES({v})"], meta[f"CODES({v})"], strict=True)) for v in variables
    }
    area, *keys, _, measure = variables
    spec = TABLES[table]
    long = data.select(
        pl.col(area).replace_strict(to_code[area]).alias("area_code"),
        pl.col(area).alias("area_name"),
        *(
            pl.col(k).replace_strict(to_code[k]).cast(frame.schema[name]).alias(name)
            for k, name in zip(keys, spec.keys, strict=True)
        ),
        pl.col(measure).replace_strict(to_code[measure]).alias("measure"),
        pl.when(pl.col("DATA") == "").then(None).otherwise(pl.col("DATA")).alias("value"),
    )
    wide = long.pivot("measure", index=["area_code", "area_name", *spec.keys], values="value")
    return wide.select(
        "area_code",
        "area_name",
        *spec.keys,
        *(pl.col(m).cast(frame.schema[m]) for m in measures_of(table)),
    )


@pytest.mark.parametrize("table", SQUARE)
def test_px_every_table_reads_back_with_pyaxis(
    demo_release: Path, tmp_path: Path, table: str
) -> None:
    frame, meta = exports.load_for_export(demo_release, table)
    path = tmp_path / f"{table}.px"
    exports.write(frame, "px", path, meta)  # default encoding: utf-8-sig
    px = parse(path, "utf-8-sig")
    expected = (
        frame.drop("area_name")
        .join(unique_names(frame), on="area_code", maintain_order="left")
        .select("area_code", "area_name", *TABLES[table].keys, *measures_of(table))
    )
    assert_frame_equal(cube_from_px(px, frame, table), expected)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_px_demo_in_every_encoding(demo_release: Path, tmp_path: Path, encoding: str) -> None:
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    path = tmp_path / "vital.px"
    exports.write(frame, "px", path, meta, encoding=encoding)
    assert path.read_bytes().startswith(
        b"\xef\xbb\xbfCHARSET" if encoding == "utf-8-sig" else b"CHARSET"
    )
    expected = (
        frame.drop("area_name")
        .join(unique_names(frame), on="area_code", maintain_order="left")
        .select("area_code", "area_name", *measures_of("vital_events"))
    )
    assert_frame_equal(cube_from_px(parse(path, encoding), frame, "vital_events"), expected)


def test_px_metadata_in_both_languages(demo_release: Path, tmp_path: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "population_by_age")
    frame = frame.filter(pl.col("area_level").is_in(["national", "county"]))
    path = tmp_path / "age.px"
    exports.write(frame, "px", path, meta, encoding="utf-8")
    zh = parse(path, "utf-8")["METADATA"]
    assert (
        zh["CHARSET"] == ["ANSI"] and zh["AXIS-VERSION"] == ["2013"] and zh["CODEPAGE"] == ["utf-8"]
    )
    assert zh["LANGUAGE"] == ["zh"] and zh["LANGUAGES"] == ["zh", "en"]
    assert zh["MATRIX"] == ["POP02"] and zh["DECIMALS"] == "0"
    assert zh["STUB"] == ["區域", "性別", "年齡"] and zh["HEADING"] == ["統計期", "統計項目"]
    assert zh["CONTENTS"] == ["現住人口按性別及單一年齡分"]
    assert zh["TITLE"] == ["現住人口按性別及單一年齡分按區域、性別、年齡分（114年3月）"]
    assert zh["VALUES(性別)"] == ["男", "女"] and zh["CODES(性別)"] == ["1", "2"]
    assert zh["VALUES(年齡)"][0] == "0歲" and zh["VALUES(年齡)"][-1] == "100歲以上"
    assert zh["VALUES(統計期)"] == ["2025M03"] and zh["TIMEVAL(統計期)"] == ["2025M03"]
    assert zh["CODES(統計期)"] == ["2025-03"] and zh["CONTVARIABLE"] == ["統計項目"]
    assert zh["UNITS(人口數)"] == ["人"]
    assert len(zh["CREATION-DATE"][0]) == len("20250401 09:00")
    note = zh["NOTE"][0]
    assert meta.table_sha256 in note and "修訂版次：1" in note and "100表示100歲以上" in note
    en = parse(path, "utf-8", lang="en")["METADATA"]
    assert en["TITLE"] == [
        "Resident population by sex and single year of age by area, sex, age, 2025-03"
    ]
    assert en["STUB"] == ["Area", "Sex", "Age"] and en["VALUES(Sex)"] == ["male", "female"]
    assert en["UNITS(Population)"] == ["persons"] and en["VALUES(Age)"][-1] == "100 and over"
    assert "Age in completed years" in en["NOTE"][0] and meta.table_sha256 in en["NOTE"][0]


def test_px_nulls_are_the_missing_symbol(official_release: Path, tmp_path: Path) -> None:
    frame, meta = exports.load_for_export(official_release, "indicators")
    # villages without children (every village has residents, small ones a handful)
    assert frame["aging_index"].null_count() > 0
    path = tmp_path / "ind.px"
    exports.write(frame, "px", path, meta)
    text = path.read_text(encoding="utf-8-sig")
    assert "DECIMALS=15;" in text and "SHOWDECIMALS=2;" in text and '"."' in text.split("DATA=")[1]
    back = cube_from_px(parse(path, "utf-8-sig"), frame, "indicators")
    assert_frame_equal(
        back.drop("area_name"), frame.select("area_code", *measures_of("indicators"))
    )


def written_name(name: str, bad: set[str], policy: str) -> str:
    """A name as a policy writes it: made characters mapped, refused ones as NCR or marker."""
    out = []
    for char in (PRIVATE_USE_MAP.get(c, c) for c in name):
        if char not in bad:
            out.append(char)
        else:
            out.append(f"&#x{ord(char):X};" if policy == "ncr" else MARKER)
    return "".join(out)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_px_official_names_in_every_encoding(
    official_release: Path, tmp_path: Path, encoding: str
) -> None:
    frame, meta = exports.load_for_export(official_release, "population")
    refused = expected_problems(frame, encoding)
    bad = {char for _, char in refused}
    path = tmp_path / "pop.px"
    if encoding.startswith("utf"):
        assert not refused
        policies = ["strict"]
    else:
        assert refused  # 廍, 𥕢 … are outside Big5 and CNS 11643 as glibc maps it
        with pytest.raises(Unencodable) as error:
            exports.write(frame, "px", path, meta, encoding=encoding)
        assert {(p.area_code, p.character) for p in error.value.problems} == refused
        assert not path.exists()
        policies = ["ncr", "replace"]
    for policy in policies:
        report = exports.write(frame, "px", path, meta, encoding=encoding, policy=policy)
        assert {(p.area_code, p.character) for p in report.replaced} == refused
        px = parse(path, encoding)
        assert px["METADATA"]["CODEPAGE"] == [CODEPAGE[encoding]]
        written = frame.with_columns(
            pl.col("area_name").map_elements(
                lambda n, policy=policy: written_name(n, bad, policy), return_dtype=pl.String
            )
        )
        assert px["METADATA"]["VALUES(區域)"] == unique_names(written)["area_name"].to_list()
        assert px["METADATA"]["CODES(區域)"] == frame["area_code"].to_list()
        if encoding in ICONV:  # the system's iconv decodes the whole file to the same text
            decoded = subprocess.run(
                ["iconv", "-f", ICONV[encoding], "-t", "UTF-8", str(path)],
                capture_output=True,
                check=True,
            ).stdout.decode("utf-8")
            assert decoded == path.read_bytes().decode(codec(encoding))
        if encoding.startswith("utf"):
            assert "彰化縣埔鹽鄉瓦磘村" in px["METADATA"]["VALUES(區域)"]  # U+FFFA8 mapped to 磘


def test_px_writer_streams_into_a_buffer(demo_release: Path) -> None:
    frame, meta = exports.load_for_export(demo_release, "vital_events")
    buffer = io.BytesIO()
    write_px(frame, meta, buffer, encoding="cp950")
    text = buffer.getvalue().decode("cp950")
    assert text.startswith('CHARSET="ANSI";\nAXIS-VERSION="2013";\nCODEPAGE="big5";')
    data = text.split("DATA=\n")[1].rstrip().removesuffix(";").splitlines()
    assert len(data) == frame.height and len(data[0].split()) == len(measures_of("vital_events"))
    assert data[0].split()[0] == str(frame["births"][0])
