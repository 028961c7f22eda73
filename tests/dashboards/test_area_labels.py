"""Area names in the reader's language (issue 9.9): English names from the release's
``area_name_en`` column where it has one, else the Chinese name with its code — tested on
releases built here, once as built and once with an ``area_name_en`` column added."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from dashboards import data
from dashboards.app import ServerSettings, create_app
from dashboards.figures import area_label, area_options
from dashboards.i18n import LANG_COOKIE
from popstats.cli import main
from stats.periods import Month
from stats.release import read_areas
from tests.helpers import person, write_extract

VILLAGE = "63000010002"  # 臺北市松山區莊敬里
TOWN, COUNTY = VILLAGE[:8], VILLAGE[:5]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published 2025-03 release of one Taipei village (Chinese names as the code table
    gives them, English ones taken out)."""
    root = tmp_path_factory.mktemp("labels")
    people = [person(f"p{i}", VILLAGE, born=date(1970 + i, 1, 1)) for i in range(5)]
    extract = write_extract(root / "x", {Month(2025, 2): people, Month(2025, 3): people},
                            {Month(2025, 3): []})
    out = root / "releases"
    for args in (["build", "--input", str(extract), "--period", "2025-03", "--out", str(out)],
                 ["publish", "--releases", str(out), "--period", "2025-03", "--by", "t"]):
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    # as a release built before the code table had English names: no area_name_en column
    target = (out / "2025-03").resolve() / "areas.parquet"
    read_areas(out / "2025-03").drop("area_name_en").write_parquet(target)
    return out


def chinese(areas: pl.DataFrame, code: str) -> str:
    return areas.filter(pl.col("area_code") == code)["area_name"][0]


def with_english(areas: pl.DataFrame) -> pl.DataFrame:
    """The release's areas with an ``area_name_en`` column: the township's English name
    given, the village's missing (null), as official tables leave some villages without."""
    english = {COUNTY: "Taipei City", TOWN: "Test District, Taipei City"}
    return areas.with_columns(pl.col("area_code").replace_strict(
        english, default=None, return_dtype=pl.String).alias("area_name_en"))


def labels(options: list[dict[str, str]]) -> dict[str, str]:
    return {o["value"]: o["label"] for o in options}


def test_release_without_english_names_shows_chinese_with_code(releases: Path) -> None:
    areas = read_areas(releases / "2025-03")
    assert "area_name_en" not in areas.columns
    english = labels(area_options(areas, "en"))
    assert english[VILLAGE] == f"{chinese(areas, VILLAGE)} ({VILLAGE})"
    assert english[TOWN] == f"{chinese(areas, TOWN)} ({TOWN})"
    assert english[COUNTY] == "Taipei City" and english["00000"] == "Taiwan"
    assert labels(area_options(areas, "zh"))[VILLAGE] == chinese(areas, VILLAGE)


def test_release_with_english_names_uses_them_and_falls_back_per_area(releases: Path) -> None:
    areas = with_english(read_areas(releases / "2025-03"))
    english = labels(area_options(areas, "en"))
    assert english[TOWN] == "Test District, Taipei City"
    assert english[VILLAGE] == f"{chinese(areas, VILLAGE)} ({VILLAGE})"  # none given
    assert area_label(areas, TOWN, "zh") == chinese(areas, TOWN)
    assert area_label(areas, "99999", "en") is None


def test_the_dashboards_area_name_reads_the_releases_english_column(releases: Path,
                                                                      tmp_path: Path) -> None:
    """``dashboards.data.area_name`` (every page's names) follows the release's column."""
    app = create_app(ServerSettings(releases=releases, db_url=f"sqlite:///{tmp_path / 'a.db'}",
                                    outbox=tmp_path / "outbox"))
    folder = releases / "2025-03"
    with app.test_request_context("/", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        plain = read_areas(folder)
        assert data.area_name(TOWN, "2025-03") == f"{chinese(plain, TOWN)} ({TOWN})"
    target = folder.resolve() / "areas.parquet"
    with_english(plain).write_parquet(target)
    data.RAW.clear()  # the release's files are cached per process; this one was rewritten
    with app.test_request_context("/", headers={"Cookie": f"{LANG_COOKIE}=en"}):
        assert data.area_name(TOWN, "2025-03") == "Test District, Taipei City"
        assert data.area_name(VILLAGE, "2025-03") == f"{chinese(plain, VILLAGE)} ({VILLAGE})"
    with app.test_request_context("/"):
        assert data.area_name(TOWN, "2025-03") == chinese(plain, TOWN)
