"""``popstats sample`` as a user types it: v2 by default, ``--v1`` for the old shape, ``--v2``
accepted as a no-op alias, both at once refused."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from popstats.cli import main
from stats.schemas import EVENT_COLUMNS, EVENT_V2_COLUMNS, RESIDENT_COLUMNS, RESIDENT_V2_COLUMNS

ARGS = ("--scale", "0.001", "--seed", "4", "--start", "2025-03", "--months", "1")


def sample(out: Path, *flags: str) -> str:
    result = CliRunner().invoke(main, ["sample", "--out", str(out), *ARGS, *flags])
    assert result.exit_code == 0, result.output
    return result.output


def test_default_is_v2_and_v2_flag_changes_nothing(tmp_path: Path) -> None:
    said = sample(tmp_path / "default")
    assert "v2 extract" in said
    sample(tmp_path / "v2", "--v2")
    files = sorted(p.name for p in (tmp_path / "default").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "v2").iterdir())
    for name in files:
        assert (tmp_path / "default" / name).read_bytes() == (tmp_path / "v2" / name).read_bytes()
    residents = pl.read_parquet(tmp_path / "default" / "residents_202503.parquet")
    events = pl.read_parquet(tmp_path / "default" / "events_202503.parquet")
    assert residents.columns == [*RESIDENT_COLUMNS, *RESIDENT_V2_COLUMNS]
    assert events.columns == [*EVENT_COLUMNS, *EVENT_V2_COLUMNS]


def test_v1_writes_the_contract_section_1_columns_only(tmp_path: Path) -> None:
    said = sample(tmp_path, "--v1")
    assert "v1 extract" in said
    for path in tmp_path.glob("residents_*.parquet"):
        assert pl.read_parquet(path).columns == list(RESIDENT_COLUMNS)
    for path in tmp_path.glob("events_*.parquet"):
        assert pl.read_parquet(path).columns == list(EVENT_COLUMNS)
    manifest = json.loads((tmp_path / "sample_manifest.json").read_text(encoding="utf-8"))
    assert "version" not in manifest["arguments"]  # a v1 manifest is as it always was


def test_v1_and_v2_together_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sample", "--out", str(tmp_path), *ARGS, "--v1", "--v2"])
    assert result.exit_code == 2
    assert "--v1 and --v2 exclude each other" in result.output
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
