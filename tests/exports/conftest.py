"""Releases to export from: a demo one, and one with MOI's real village names."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import stats.encodings  # noqa: F401  (registers the euc_tw codec)
from sample_data.generator import write_sample
from stats.codes import CodeTable, builtin_code_table, load_code_table
from stats.periods import Period
from stats.publication import publish
from stats.release import build_release
from stats.taipei import now_utc
from tests.helpers import SHARED


def _release(root: Path, codes, period: str = "2025-03") -> Path:
    extract = root / "extract"
    p = Period.parse(period)
    write_sample(extract, scale=0.002, seed=7, start=p.months[0], months=len(p.months), codes=codes)
    build_release(extract, p, root / "releases", codes)
    # published: ``popstats export`` refuses a draft without --embargoed
    publish(root / "releases", period, by="stat", now=now_utc())
    return root / "releases" / period


def plain_code_table() -> CodeTable:
    """The built-in official table without the 97 villages whose names some legacy encoding
    cannot write (廍, 󿾨 …): the plain release every encoding and format can carry whole.
    MOI's hard names are tested on ``official_release``."""
    table = builtin_code_table()
    names = (table.villages["county_name"] + table.villages["town_name"]
             + table.villages["village_name"]).to_list()

    def plain(name: str) -> bool:
        try:
            for encoding in ("cp950", "big5hkscs", "euc_tw"):
                name.encode(encoding)
        except UnicodeEncodeError:
            return False
        return True

    keep = pl.Series([plain(n) for n in names])
    return CodeTable(table.villages.filter(keep), "built-in, plain names", table.version)


@pytest.fixture(scope="session")
def demo_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2025-03 built from a small sample on the official geography (plain names)."""
    return _release(tmp_path_factory.mktemp("demo"), plain_code_table())


@pytest.fixture(scope="session")
def official_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2024-03 with MOI's official codes and village names (incl. made characters)."""
    table = SHARED / "codes" / "villages_history.csv"
    if not table.exists():
        pytest.skip(f"{table} not found (../shared is not beside the repository)")
    return _release(tmp_path_factory.mktemp("official"), load_code_table(table), "2024-03")
