"""The tables of CONTRACT §8 for one period, next to the seven of §3 (``stats.tables``).

From every extract: ``deaths_by_age``, and for a year the ``life_table`` (the third §8
table of every extract, ``migration_flows``, ``stats.tables`` makes beside migration by
level, from the same indexed moves). From a v2 extract (residents with ``tribe``, events
with the mother's and the spouses' columns) also ``births_by_mother``, ``fertility``,
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
from stats.flows import FLOW_MEASURES
from stats.mortality import (
    LIFE_GROUPS,
    deaths_by_age,
    deaths_by_single_age,
    life_table,
)
from stats.nationality import MARRIAGE_MEASURES, marriages_by_nationality
from stats.periods import Period
from stats.schemas import (
    EVENT_V2_COLUMNS,
    SEXES,
    TABLE_KEY_VALUES,
    TABLE_LEVELS,
)
from stats.stocks import AgeCounts, Stock
from stats.tribes import indigenous_by_tribe


def is_v2(start: Stock, end: Stock, events: pl.LazyFrame) -> bool:
    """Whether the stocks and typed events carry the §8 columns (validation made sure all
    or none)."""
    return start.v2 and end.v2 and all(c in events.collect_schema() for c in EVENT_V2_COLUMNS)


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


def _life_groups(ages: AgeCounts, areas: pl.DataFrame, levels: tuple[str, ...]
                 ) -> pl.LazyFrame:
    return _completed(roll_up(ages.grouped(LIFE_GROUPS, "population"),
                              ["sex", "age_group"], ["population"], levels),
                      areas, "life_table", ["population"], levels, sex=SEXES)


def _women(ages: AgeCounts, areas: pl.DataFrame, levels: tuple[str, ...]) -> pl.LazyFrame:
    women = women_by_group(ages, levels)
    return complete(women, areas, None, women.collect_schema().names()[2:], levels)


def programme_frames(start: Stock, end: Stock, events: pl.LazyFrame, areas: pl.DataFrame,
                     period: Period) -> dict[str, pl.LazyFrame]:
    """The §8 tables this period and extract give (see the module's docstring), from the
    stocks of the start and end snapshots (each aged on its own reference date: the end
    stock's is the period's)."""
    died = deaths_by_single_age(events)  # by single age: grouped two ways below
    frames = {
        "deaths_by_age": _completed(
            deaths_by_age(events, list(TABLE_LEVELS["deaths_by_age"]), died), areas,
            "deaths_by_age", ["deaths"]),
    }
    v2 = is_v2(start, end, events)
    if period.kind == "year":
        levels = TABLE_LEVELS["life_table"]
        deaths = _completed(
            roll_up(died.grouped(LIFE_GROUPS, "deaths"), ["sex", "age_group"], ["deaths"],
                    levels), areas, "life_table", ["deaths"], levels, sex=SEXES)
        # the stocks by age, each aged on its own reference date
        frames["life_table"] = life_table(deaths, _life_groups(start.ages, areas, levels),
                                          _life_groups(end.ages, areas, levels))
    if v2:
        frames["births_by_mother"] = _completed(
            births_by_mother(events, TABLE_LEVELS["births_by_mother"]), areas,
            "births_by_mother", BIRTH_MEASURES)
        levels = TABLE_LEVELS["fertility"]
        births = fertility_births(events, levels)
        births = complete(births, areas, None, births.collect_schema().names()[2:], levels)
        frames["fertility"] = fertility(births, _women(start.ages, areas, levels),
                                        _women(end.ages, areas, levels),
                                        period.annualisation_factor)
        frames["marriages_by_nationality"] = _completed(
            marriages_by_nationality(events, TABLE_LEVELS["marriages_by_nationality"]), areas,
            "marriages_by_nationality", MARRIAGE_MEASURES)
        frames["indigenous_by_tribe"] = _completed(
            indigenous_by_tribe(end.tribes.lazy(), TABLE_LEVELS["indigenous_by_tribe"]), areas,
            "indigenous_by_tribe", ["male", "female"]
        ).with_columns((pl.col("male") + pl.col("female")).alias("population"))
    return frames


__all__ = ["FLOW_MEASURES", "is_v2", "programme_frames"]
