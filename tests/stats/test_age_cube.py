"""The dense by-age cube (stats.age_cube) against the general way of making the same
figures: ``roll_up`` + ``complete`` + the tables' sort for ``population_by_age``, the
totals by sex, and ``indicators.age_groups`` / ``median_age`` — equal value for value
(floats bit for bit), with an area of the period nobody lives in (median null) and a
village outside the period's areas (counted in its township, not listed itself)."""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from stats.age_cube import age_cube
from stats.areas import complete, roll_up
from stats.codes import LEVELS
from stats.indicators import AREA, age_groups, median_age
from stats.periods import Period
from stats.schemas import AGES, SEXES
from stats.stocks import AgeCounts
from stats.tables import _finish, _grid, _split_by_sex
from tests.helpers import tiny_codes

PERIOD = Period.parse("2024-03")  # 63000010002 is no longer valid: not among the areas
LEVELS_ALL = list(LEVELS)


def _sex_age() -> pl.DataFrame:
    """Village × sex × age counts with gaps, over four villages (63000020001 left empty,
    63000010002 retired)."""
    rng = np.random.default_rng(7)
    rows = []
    for village in ("63000010001", "63000010002", "63000010003", "64000010001"):
        for sex in SEXES:
            for age in AGES:
                if rng.random() < 0.6:
                    rows.append((village, sex, age, int(rng.integers(1, 40))))
    return pl.DataFrame(rows, schema={"village_code": pl.String, "sex": pl.Int8,
                                      "age": pl.Int16, "population": pl.Int64}, orient="row")


def test_the_cube_equals_the_general_tables() -> None:
    sex_age, areas = _sex_age(), tiny_codes().areas(PERIOD)
    cube = age_cube(AgeCounts.of_cells(sex_age), areas)
    rolled = roll_up(sex_age.lazy(), ["sex", "age"], ["population"], LEVELS_ALL)
    by_age = _finish(complete(rolled, areas, _grid(sex=SEXES, age=AGES), ["population"],
                              LEVELS_ALL), "population_by_age", PERIOD).collect()
    assert_frame_equal(cube.table(PERIOD), by_age)  # order too: the table as written
    totals = complete(_split_by_sex(rolled).group_by(AREA).agg(pl.col("male", "female").sum()),
                      areas, None, ["male", "female"], LEVELS_ALL).collect()
    assert_frame_equal(cube.totals().collect(), totals, check_row_order=False)
    general = (age_groups(by_age.lazy()).join(median_age(by_age.lazy()), on=AREA, how="left")
               .collect())
    summary = cube.summary().collect()
    assert_frame_equal(summary, general.select(summary.columns), check_row_order=False,
                       check_exact=True)
    empty = summary.filter(pl.col("area_code") == "63000020001")
    assert empty["median_age"].is_null().all() and empty["young"].item() == 0
    assert "63000010002" not in summary["area_code"].to_list()
    township = summary.filter(pl.col("area_code") == "63000010")
    retired = sex_age.filter(pl.col("village_code") == "63000010002")["population"].sum()
    kept = sex_age.filter(pl.col("village_code").is_in(["63000010001", "63000010003"]))
    assert (township.select(pl.sum_horizontal("young", "working", "old")).item()
            == retired + kept["population"].sum())


def test_many_villages_each_counted_where_it_lies() -> None:
    """Hundreds of villages (more cells than a 16-bit index holds), most of them outside the
    period's areas: each counted in its township and county as the general way does."""
    rng = np.random.default_rng(11)
    rows = [(f"63000010{v:03d}", sex, age, int(rng.integers(1, 9)))
            for v in range(1, 401) for sex in SEXES for age in AGES if rng.random() < 0.3]
    sex_age = pl.DataFrame(rows, schema={"village_code": pl.String, "sex": pl.Int8,
                                         "age": pl.Int16, "population": pl.Int64}, orient="row")
    areas = tiny_codes().areas(PERIOD)
    rolled = roll_up(sex_age.lazy(), ["sex", "age"], ["population"], LEVELS_ALL)
    by_age = _finish(complete(rolled, areas, _grid(sex=SEXES, age=AGES), ["population"],
                              LEVELS_ALL), "population_by_age", PERIOD).collect()
    assert_frame_equal(age_cube(AgeCounts.of_cells(sex_age), areas).table(PERIOD), by_age)
