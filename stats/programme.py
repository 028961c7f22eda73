"""The tables of CONTRACT §8 for one period, next to the seven of §3 (``stats.tables``).

From every extract: ``migration_flows`` and ``deaths_by_age``, and for a year the
``life_table``. From a v2 extract (residents with ``tribe``, events with the mother's and
the spouses' columns) also ``births_by_mother``, ``fertility``,
``marriages_by_nationality`` and ``indigenous_by_tribe``; a v1 extract gives none of these
(absent, not empty). Returned unfinished (no ``period`` column, not sorted or cast):
``stats.tables`` finishes every table the same way.
"""

from __future__ import annotations

import polars as pl

from stats.areas import complete, roll_up
from stats.fertility import (
    BIRTH_MEASURES,
    births_by_mother,
    fertility,
    fertility_births,
    women_by_group,
)
from stats.flows import FLOW_MEASURES, migration_flows
from stats.mortality import OPEN_GROUP, age_group, deaths_by_age, deaths_by_village, life_table
from stats.nationality import MARRIAGE_MEASURES, marriages_by_nationality
from stats.periods import Period
from stats.population import age_at
from stats.schemas import (
    EVENT_V2_COLUMNS,
    RESIDENT_V2_COLUMNS,
    SEXES,
    TABLE_KEY_VALUES,
    TABLE_LEVELS,
)
from stats.tribes import indigenous_by_tribe


def is_v2(start: pl.LazyFrame, end: pl.LazyFrame, events: pl.LazyFrame) -> bool:
    """Whether the typed frames carry the §8 columns (validation made sure all or none)."""
    return all(c in frame.collect_schema() for frame in (start, end)
               for c in RESIDENT_V2_COLUMNS) and all(
        c in events.collect_schema() for c in EVENT_V2_COLUMNS)


def _grid(table: str, **override: tuple[int, ...]) -> pl.DataFrame:
    """Every combination of a table's key values, typed like the builders' keys."""
    values = {**TABLE_KEY_VALUES[table], **override}
    frame: pl.DataFrame | None = None
    for name, codes in values.items():
        part = pl.DataFrame({name: list(codes)}, schema={name: pl.Int16})
        frame = part if frame is None else frame.join(part, how="cross")
    assert frame is not None
    return frame


def _keys_as_int16(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    return frame.with_columns(pl.col(k).cast(pl.Int16) for k in keys)


def _completed(values: pl.LazyFrame, areas: pl.DataFrame, table: str, measures: list[str],
               levels: tuple[str, ...] | None = None, **override: tuple[int, ...]
               ) -> pl.LazyFrame:
    grid = _grid(table, **override)
    return complete(_keys_as_int16(values, grid.columns), areas, grid, measures,
                    levels or TABLE_LEVELS[table])


def _stock_cells(residents: pl.LazyFrame, reference) -> pl.LazyFrame:  # noqa: ANN001
    """A snapshot by village × sex × single age on ``reference`` (its own reference date)."""
    return residents.group_by("village_code", "sex", age_at(reference, pl.col("birth_date"))
                              .alias("age")).agg(pl.len().cast(pl.Int64).alias("population"))


def _life_groups(cells: pl.LazyFrame, areas: pl.DataFrame, levels: tuple[str, ...]
                 ) -> pl.LazyFrame:
    grouped = cells.group_by("village_code", "sex",
                             age_group(pl.col("age"), OPEN_GROUP).alias("age_group")
                             ).agg(pl.col("population").sum())
    return _completed(roll_up(grouped, ["sex", "age_group"], ["population"], levels), areas,
                      "life_table", ["population"], levels, sex=SEXES)


def _women(cells: pl.LazyFrame, areas: pl.DataFrame, levels: tuple[str, ...]) -> pl.LazyFrame:
    women = women_by_group(cells, levels)
    return complete(women, areas, None, women.collect_schema().names()[2:], levels)


def programme_frames(start: pl.LazyFrame, end: pl.LazyFrame, events: pl.LazyFrame,
                     areas: pl.DataFrame, period: Period, end_cells: pl.LazyFrame
                     ) -> dict[str, pl.LazyFrame]:
    """The §8 tables this period and extract give (see the module's docstring).

    ``end_cells``: the end stock by village × sex × age on the period's reference date
    (at least those columns and ``population``), already counted for the §3 tables.
    """
    frames = {
        "migration_flows": migration_flows(events, areas),
        "deaths_by_age": _completed(deaths_by_age(events, list(TABLE_LEVELS["deaths_by_age"])),
                                    areas, "deaths_by_age", ["deaths"]),
    }
    v2 = is_v2(start, end, events)
    start_cells = None
    if period.kind == "year" or v2:
        # the start stock aged on its own reference date: the last day of the month before
        start_cells = _stock_cells(start, period.start_month.last_day).collect().lazy()
    end_cells = end_cells.group_by("village_code", "sex", "age").agg(pl.col("population").sum())
    if period.kind == "year":
        assert start_cells is not None
        levels = TABLE_LEVELS["life_table"]
        deaths = _completed(
            roll_up(deaths_by_village(events, OPEN_GROUP), ["sex", "age_group"], ["deaths"],
                    levels), areas, "life_table", ["deaths"], levels, sex=SEXES)
        frames["life_table"] = life_table(deaths, _life_groups(start_cells, areas, levels),
                                          _life_groups(end_cells, areas, levels))
    if v2:
        assert start_cells is not None
        frames["births_by_mother"] = _completed(
            births_by_mother(events, TABLE_LEVELS["births_by_mother"]), areas,
            "births_by_mother", BIRTH_MEASURES)
        levels = TABLE_LEVELS["fertility"]
        births = fertility_births(events, levels)
        births = complete(births, areas, None, births.collect_schema().names()[2:], levels)
        frames["fertility"] = fertility(births, _women(start_cells, areas, levels),
                                        _women(end_cells, areas, levels),
                                        period.annualisation_factor)
        frames["marriages_by_nationality"] = _completed(
            marriages_by_nationality(events, TABLE_LEVELS["marriages_by_nationality"]), areas,
            "marriages_by_nationality", MARRIAGE_MEASURES)
        frames["indigenous_by_tribe"] = _completed(
            indigenous_by_tribe(end, TABLE_LEVELS["indigenous_by_tribe"]), areas,
            "indigenous_by_tribe", ["male", "female"]
        ).with_columns((pl.col("male") + pl.col("female")).alias("population"))
    return frames


__all__ = ["FLOW_MEASURES", "is_v2", "programme_frames"]
