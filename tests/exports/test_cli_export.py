"""`popstats export` (CONTRACT §4): every format from the command line, failures listed."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from exports import FORMATS, SUFFIX
from popstats.cli import main


def export(*args: str):
    return CliRunner().invoke(main, ["export", *args], catch_exceptions=False)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_from_the_command_line(demo_release, tmp_path, fmt):
    table = "vital_events" if fmt == "moi" else "population"
    out = tmp_path / f"out.{SUFFIX[fmt]}"
    encoding = "utf-8-sig" if len(FORMATS[fmt][2]) > 1 else "utf-8"
    result = export("--release", str(demo_release), "--table", table, "--format", fmt,
                    "--encoding", encoding, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0
    assert not list(tmp_path.glob(".*partial"))


def test_csv_gets_its_metadata_sidecar(demo_release, tmp_path):
    out = tmp_path / "pop.csv"
    assert export("--release", str(demo_release), "--table", "population", "--format", "csv",
                  "--out", str(out)).exit_code == 0
    sidecar = json.loads((tmp_path / "pop.csv-metadata.json").read_text(encoding="utf-8"))
    assert "現住人口數及戶數" in json.dumps(sidecar, ensure_ascii=False)
    frame = pl.read_csv(out, infer_schema=False)
    assert frame.columns[:4] == ["period", "area_level", "area_code", "area_name"]


def test_unencodable_names_fail_with_every_character_listed(official_release, tmp_path):
    out = tmp_path / "pop.csv"
    result = CliRunner().invoke(main, ["export", "--release", str(official_release), "--table",
                                       "population", "--format", "csv", "--encoding", "cp950",
                                       "--out", str(out)])
    assert result.exit_code == 2
    assert "cannot be written in cp950" in result.output and "U+5ECD" in result.output  # 廍
    assert not out.exists()
    ok = export("--release", str(official_release), "--table", "population", "--format", "csv",
                "--encoding", "cp950", "--policy", "ncr", "--out", str(out))
    assert ok.exit_code == 0 and "&#x5ECD;" in out.read_bytes().decode("cp950")


def test_big5e_is_explained_not_silently_substituted(demo_release, tmp_path):
    result = CliRunner().invoke(main, ["export", "--release", str(demo_release), "--table",
                                       "population", "--format", "csv", "--encoding", "big5e",
                                       "--out", str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "BIG-5E" in result.output


def test_sdmx_csv_gets_its_structure_definition(demo_release, tmp_path):
    out = tmp_path / "pop.csv"
    assert export("--release", str(demo_release), "--table", "population", "--format", "sdmx-csv",
                  "--out", str(out)).exit_code == 0
    assert (tmp_path / "pop.csv.dsd.xml").read_bytes().startswith(b"<?xml")
