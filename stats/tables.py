"""The release tables of a period (CONTRACT §3, and §8 through ``stats.programme``), from
typed snapshots and events.

``release_tables`` is pure: LazyFrames and the period's area list in, DataFrames out.
``stock_tables`` is the same from the snapshots' ``Stock`` counts (``stats.stocks``), which
the build makes in the same read that validates each snapshot: the persons are counted
once per snapshot, at village level, and every table and level is rolled up from those.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import polars as pl

from stats.age_cube import age_cube
from stats.areas import complete, level_sort_key, roll_up
from stats.codes import LEVELS
from stats.events import VITAL_MEASURES, migration_by_level, vital_events_by_village
from stats.flows import migration_flows
from stats.indicators import indicators
from stats.moves import Moves, moves_of
from stats.periods import Period
from stats.programme import programme_frames
from stats.schemas import (
    MARITAL_STATUSES,
    SEXES,
    STAR_TABLES,
    TABLE_KEYS,
    V1_TABLES,
    V2_ONLY_TABLES,
    table_schema,
)
from stats.stocks import Stock, stock_from_frame

ALL_LEVELS = list(LEVELS)
STOCK_LEVELS = ["national", "county", "township"]


def _grid(**columns: tuple[int, ...]) -> pl.DataFrame:
    """Every combination of the given key values."""
    frame: pl.DataFrame | None = None
    for name, values in columns.items():
        part = pl.DataFrame({name: list(values)})
        frame = part if frame is None else frame.join(part, how="cross")
    assert frame is not None
    return frame


def _split_by_sex(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``male`` and ``female`` columns from a ``population`` counted by ``sex``."""
    return frame.with_columns(
        (pl.col("population") * (pl.col("sex") == 1)).alias("male"),
        (pl.col("population") * (pl.col("sex") == 2)).alias("female"),
    )


def _finish(frame: pl.LazyFrame, table: str, period: Period) -> pl.LazyFrame:
    """Contract column order and types, sorted national → village, then by keys."""
    schema = table_schema(table)
    return (
        frame.with_columns(pl.lit(str(period)).alias("period"))
        .select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
        .sort(level_sort_key(), "area_code", *TABLE_KEYS.get(table, []))
    )


def release_tables(
    start: pl.LazyFrame,
    end: pl.LazyFrame,
    events: pl.LazyFrame,
    areas: pl.DataFrame,
    period: Period,
) -> dict[str, pl.DataFrame]:
    """Build the seven §3 tables of ``period`` and the §8 tables it gives (v2-only tables
    only from a v2 extract, the life table only for a year): §3 first, then §8.

    Parameters as for ``v1_tables``.
    """
    return stock_tables(*_stocks(start, end, period), events, areas, period)


def _stocks(start: pl.LazyFrame, end: pl.LazyFrame, period: Period) -> tuple[Stock, Stock]:
    return (stock_from_frame(start, period.start_month, households=False),
            stock_from_frame(end, period.end_month))


def stock_tables(
    start: Stock,
    end: Stock,
    events: pl.LazyFrame,
    areas: pl.DataFrame,
    period: Period,
) -> dict[str, pl.DataFrame]:
    """``release_tables`` from the stocks of the period's start and end snapshots (the end
    stock with its households)."""
    # CONTRACT §8: the tables this period and extract give, finished the same way — made
    # on a thread while the §3 tables are: each is many small queries that keep one core
    # busy, not two; the county flows here, with migration by level, from the moves
    # indexed once for both
    with ThreadPoolExecutor(max_workers=1) as beside:
        programme = beside.submit(_programme_tables, start, end, events, areas, period)
        moves = moves_of(events, areas.filter(pl.col("area_level") == "village")["area_code"]
                         .sort())
        collected = stock_v1_tables(start, end, events, areas, period, moves)
        collected["migration_flows"] = _finish(migration_flows(events, areas, moves),
                                               "migration_flows", period).collect()
        collected.update(programme.result())
    order = [*V1_TABLES, *STAR_TABLES, *V2_ONLY_TABLES]
    return {name: collected[name] for name in order if name in collected}


def _programme_tables(start: Stock, end: Stock, events: pl.LazyFrame, areas: pl.DataFrame,
                      period: Period) -> dict[str, pl.DataFrame]:
    frames = {name: _finish(frame, name, period) for name, frame in
              programme_frames(start, end, events, areas, period).items()}
    return dict(zip(frames, pl.collect_all(list(frames.values())), strict=True))


def v1_tables(
    start: pl.LazyFrame,
    end: pl.LazyFrame,
    events: pl.LazyFrame,
    areas: pl.DataFrame,
    period: Period,
) -> dict[str, pl.DataFrame]:
    """Build the seven tables of CONTRACT §3.

    Parameters
    ----------
    start, end
        Typed residents snapshots of the month before the period and of its last month.
    events
        Typed events registered in the period's months.
    areas
        Every area of the period (``CodeTable.areas``).
    period
        The period the tables describe.
    """
    return stock_v1_tables(*_stocks(start, end, period), events, areas, period)


def stock_v1_tables(
    start: Stock,
    end: Stock,
    events: pl.LazyFrame,
    areas: pl.DataFrame,
    period: Period,
    moves: Moves | None = None,
) -> dict[str, pl.DataFrame]:
    """The seven tables of CONTRACT §3 from the start and end stocks (``moves``: the
    events' moves, when already indexed)."""
    assert end.households is not None, "the end stock is counted with its households"
    households = end.households
    start_pop, vital_v, migration = pl.collect_all(
        [start.by_village(), vital_events_by_village(events),
         migration_by_level(events, ALL_LEVELS, moves)]
    )

    # by area × sex × age in one dense array: the by-age table, totals and age summary
    ages = age_cube(end.ages, areas)
    population = (
        complete(ages.totals(), areas, None, ["male", "female"], ALL_LEVELS)
        .join(households.lazy(), on=["area_level", "area_code"], how="left")
        .with_columns(
            pl.col("households").fill_null(0),
            (pl.col("male") + pl.col("female")).alias("population"),
        )
    )
    marital = complete(
        roll_up(
            end.marital.lazy(), ["sex", "marital_status"], ["population"],
            STOCK_LEVELS,
        ),
        areas, _grid(sex=SEXES, marital_status=MARITAL_STATUSES), ["population"], STOCK_LEVELS,
    )
    indigenous = (
        complete(
            roll_up(
                _split_by_sex(end.indigenous.lazy()),
                ["indigenous"], ["male", "female"], ALL_LEVELS,
            ),
            areas, _grid(indigenous=(1, 2)), ["male", "female"], ALL_LEVELS,
        ).with_columns((pl.col("male") + pl.col("female")).alias("population"))
    )
    vital = (
        complete(
            roll_up(vital_v.lazy(), [], VITAL_MEASURES, ALL_LEVELS), areas, None,
            VITAL_MEASURES, ALL_LEVELS,
        )
        .join(migration.lazy(), on=["area_level", "area_code"], how="left")
        .with_columns(pl.col("in_migration").fill_null(0), pl.col("out_migration").fill_null(0))
        .with_columns(
            (pl.col("births") - pl.col("deaths")).alias("natural_increase"),
            (pl.col("in_migration") - pl.col("out_migration")).alias("social_increase"),
        )
    )
    reconciliation = (
        complete(
            roll_up(start_pop.lazy(), [], ["population"], ALL_LEVELS), areas, None,
            ["population"], ALL_LEVELS,
        )
        .rename({"population": "population_start"})
        .join(vital.select("area_level", "area_code", "births", "deaths", "in_migration",
                           "out_migration"), on=["area_level", "area_code"], how="left")
        .join(population.select("area_level", "area_code", pl.col("population").alias("population_end")),
              on=["area_level", "area_code"], how="left")
        .with_columns(
            (
                pl.col("population_end")
                - (pl.col("population_start") + pl.col("births") - pl.col("deaths")
                   + pl.col("in_migration") - pl.col("out_migration"))
            ).alias("residual")
        )
    )
    frames = {
        "population": population,
        "vital_events": vital,
        "population_by_marital_status": marital,
        "indigenous_population": indigenous,
        "reconciliation": reconciliation,
    }
    finished = {name: _finish(frame, name, period) for name, frame in frames.items()}
    collected = dict(zip(finished, pl.collect_all(list(finished.values())), strict=True))
    collected["population_by_age"] = ages.table(period)
    collected["indicators"] = _finish(
        indicators(
            collected["population"].lazy(),
            collected["population_by_age"].lazy(),
            collected["vital_events"].lazy(),
            collected["reconciliation"].lazy(),
            period.annualisation_factor,
            ages.summary(),
        ),
        "indicators",
        period,
    ).collect()
    return {name: collected[name] for name in V1_TABLES}
