"""Releases to export from: a demo one, and one with MOI's real village names."""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_data.generator import write_sample
from stats.codes import demo_code_table, load_code_table
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


@pytest.fixture(scope="session")
def demo_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2025-03 built from a small demo sample."""
    return _release(tmp_path_factory.mktemp("demo"), demo_code_table())


@pytest.fixture(scope="session")
def official_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES/2024-03 with MOI's official codes and village names (incl. made characters)."""
    table = SHARED / "codes" / "villages_history.csv"
    if not table.exists():
        pytest.skip(f"{table} not found (../shared is not beside the repository)")
    return _release(tmp_path_factory.mktemp("official"), load_code_table(table), "2024-03")
