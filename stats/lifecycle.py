"""A person's registrations within one events file, checked together.

A register records a person's birth once and death once, and nothing of them after their
death: within a month's events file, a second BIRTH or DEATH of the same ``person_id``, or
any event registered after their DEATH, is refused, naming both rows.

Only within a file: CONTRACT §1 makes ``person_id`` "unique in the file" — a pseudonymous
key the provider may draw anew for every monthly extract — so the same key in two months'
files need not be the same person, and a quarter or a year built from lawful monthly files
must not be refused for it.

What the extract cannot show is not checked: marriages and divorces are one row per
couple carrying spouse 1's ``person_id`` only, so a divorce in which a person was spouse 2,
and the death of a person's spouse, are invisible; a MARRIAGE of someone married in the
start snapshot may therefore be perfectly lawful (widowed or divorced as spouse 2 during
the period) and is not refused.

Group-bys and a join on ``person_id`` over the events only (≈ 180 k rows a month at
national scale); the snapshots are not read.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from stats.checks import MAX_LISTED_ROWS
from stats.problems import Problem
from stats.schemas import EVENT_COLUMNS
from stats.validate import typed_frame

COLUMNS = ("person_id", "event_type", "registration_date", "occurrence_date")
ONCE = ("BIRTH", "DEATH")
# (column, rule) the counts are kept under; each listed problem's rule names the other row
REPEATED = {kind: f"a second {kind} of the same person" for kind in ONCE}
AFTER_DEATH = "an event registered after the person's DEATH"


def _events(files: list[tuple[str, pl.LazyFrame]]) -> pl.LazyFrame:
    """file (its index among ``files``: a small integer is cheaper to group and join by
    than the path, over a year's 2 M events), row, order and the typed columns of every
    events file, in month order."""
    frames = [
        typed_frame(raw.select("row", *COLUMNS), {c: EVENT_COLUMNS[c] for c in COLUMNS})
        .select(pl.lit(index, pl.UInt32).alias("file"), "row",
                *[pl.col(f"t_{c}").alias(c) for c in COLUMNS])
        for index, (_, raw) in enumerate(files)
    ]
    # "order": files (months) in order, then rows; ties of registration dates go by it
    return pl.concat(frames).with_row_index("order").filter(pl.col("person_id").is_not_null())


def _where(file: pl.Expr, row: pl.Expr) -> pl.Expr:
    """``events_202501.csv row 7`` (the file's name: all files sit in one folder)."""
    return pl.format("{} row {}", file, row)


def lifecycle_problems(
    files: list[tuple[str, pl.LazyFrame]],
) -> tuple[list[Problem], Counter[tuple[str, str]]]:
    """Repeated BIRTHs or DEATHs of one person, and events registered after a DEATH.

    ``files`` are (file name, raw frame with ``row``) of the period's events files.
    """
    if not files:
        return [], Counter()
    names = {index: Path(file).name for index, (file, _) in enumerate(files)}
    # made once: both rules below read them (a year: 2.3 M events, 340 k births and deaths)
    events = _events(files).collect().lazy()
    # only births and deaths need ordering, and their file's name (a few percent of the events)
    once = (events.filter(pl.col("event_type").is_in(ONCE))
            .with_columns(pl.col("file").replace_strict(names, return_dtype=pl.String)
                          .alias("name"))
            .sort("registration_date", "order", nulls_last=True)
            .collect().lazy())
    by_person = ["file", "person_id", "event_type"]
    repeated = (
        # nearly everyone is born or dies once: the windows below (slow over string keys)
        # only over the few who repeat, in the same order, so with the same ranks
        once.filter(pl.struct(by_person).is_duplicated())
        .with_columns(
            pl.int_range(pl.len()).over(by_person).alias("nth"),
            _where(pl.col("name"), pl.col("row")).first().over(by_person).alias("first"),
        )
        .filter(pl.col("nth") > 0)
        .select("file", "row", "person_id", "event_type",
                pl.format("a second {} of this person (the first: {})",
                          pl.col("event_type"), pl.col("first")).alias("rule"),
                pl.col("event_type").replace_strict(REPEATED).alias("counted"))
    )
    deaths = (
        once.filter(pl.col("event_type") == "DEATH")
        # each person's first DEATH (as group_by(maintain_order).first(), without its cost)
        .filter(pl.struct("file", "person_id").is_first_distinct())
        .select("file", "person_id", pl.col("registration_date").alias("died_registered"),
                pl.col("occurrence_date").alias("died"),
                _where(pl.col("name"), pl.col("row")).alias("death"))
    )
    # the events of those who died, found first by 64-bit hashes of their ids (a superset:
    # the join confirms on the ids) — cheaper than joining 2 M string keys
    died = once.filter(pl.col("event_type") == "DEATH").select(pl.col("person_id").hash())
    after = (
        events.filter((pl.col("event_type") != "DEATH")
                      & pl.col("person_id").hash().is_in(died.collect().to_series().implode()))
        .join(deaths, on=["file", "person_id"])
        .filter((pl.col("registration_date") > pl.col("died_registered"))
                | ((pl.col("registration_date") == pl.col("died_registered"))
                   & (pl.col("occurrence_date") > pl.col("died"))))
        .sort("file", "row")  # a join's rows come in any order: listed in the files' order
        .select("file", "row", "person_id", "event_type",
                pl.format("{} registered after this person's DEATH ({})",
                          pl.col("event_type"), pl.col("death")).alias("rule"),
                pl.lit(AFTER_DEATH).alias("counted"))
    )
    paths = {index: file for index, (file, _) in enumerate(files)}
    found = (pl.concat([repeated, after])
             .with_columns(pl.col("file").replace_strict(paths, return_dtype=pl.String))
             .collect())
    problems = [
        Problem(file, int(row), "person_id", person, rule)
        for file, row, person, _, rule, _ in found.head(MAX_LISTED_ROWS).iter_rows()
    ]
    counts: Counter[tuple[str, str]] = Counter()
    for file, counted, n in found.group_by("file", "counted").len().iter_rows():
        counts[(file, f"person_id: {counted}")] += n
    return problems, counts
