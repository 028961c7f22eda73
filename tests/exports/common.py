"""Helpers shared by the export tests: measure columns, and what a codec refuses."""

from __future__ import annotations

import polars as pl

from exports.text import PRIVATE_USE_MAP, codec, is_private_use
from stats.catalogue import TABLES
from stats.schemas import V2_ONLY_TABLES, YEAR_ONLY_TABLES

# The tables a month of a v1 extract gives (the demo and official releases): CONTRACT §8's
# v2-only tables and the life table (years only) are checked in test_programme_exports.py.
IN_MONTHLY_V1 = [t for t in TABLES if t not in (*V2_ONLY_TABLES, *YEAR_ONLY_TABLES)]
# migration_flows has no origin = destination cells, which cube formats (PX, JSON-stat,
# NetCDF) hold as missing: it is read back in test_programme_exports.py
SQUARE = [t for t in IN_MONTHLY_V1 if t != "migration_flows"]


def measures_of(table: str) -> list[str]:
    """The measure columns of a release table."""
    spec = TABLES[table]
    return [
        c.name
        for c in spec.columns
        if c.name not in ("period", "area_level", "area_code", *spec.keys)
    ]


def expected_problems(frame: pl.DataFrame, encoding: str) -> set[tuple[str, str]]:
    """(area code, character) pairs the codec itself refuses, made characters mapped first;
    private-use characters never go into Big5/EUC-TW even where a codec would take them."""
    python_codec = codec(encoding)
    names = frame.select("area_code", pl.col("area_name").str.replace_many(PRIVATE_USE_MAP))
    refused_chars = set()
    for char in set("".join(names["area_name"])):  # each distinct character asked once
        try:
            char.encode(python_codec)
        except UnicodeEncodeError:
            refused_chars.add(char)
        else:
            if is_private_use(char) and not python_codec.startswith("utf"):
                refused_chars.add(char)
    return {
        (code, char) for code, name in names.iter_rows() for char in name if char in refused_chars
    }
