"""v1 frames made v2 for tests (CONTRACT §8 columns added by rule, deterministically, every
code used: ``popstats sample``'s v2 extracts draw realistic values, most codes rarely)."""

from __future__ import annotations

import polars as pl

from stats.schemas import NATIONALITIES, TRIBES


def _pick(column: str, values: tuple[int, ...]) -> pl.Expr:
    """A value of ``values`` chosen by the row's id (the same every run)."""
    index = pl.col(column).hash(seed=3) % len(values)
    return index.replace_strict(list(range(len(values))), list(values), return_dtype=pl.Int8)


def v2_residents(frame: pl.DataFrame) -> pl.DataFrame:
    """``tribe``: 0 exactly for the non-indigenous, one of 1…16, 99 for the others."""
    return frame.with_columns(
        pl.when(pl.col("indigenous") == 0).then(0).otherwise(_pick("person_id", TRIBES))
        .cast(pl.Int8).alias("tribe"))


def v2_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Mother's birth date (every 7th unknown, mothers 13 to 52) and nationality on births,
    the spouses' nationalities on marriages, empty elsewhere."""
    kind = pl.col("event_type")
    years = 13 + pl.col("event_id").hash(seed=5) % 40
    mother = pl.col("birth_date").dt.offset_by(pl.format("-{}y", years))
    known = pl.col("event_id").hash(seed=7) % 7 != 0
    return frame.with_columns(
        pl.when((kind == "BIRTH") & known).then(mother).alias("mother_birth_date"),
        pl.when(kind == "BIRTH").then(_pick("event_id", NATIONALITIES)).alias("mother_nationality"),
        pl.when(kind == "MARRIAGE").then(_pick("person_id", NATIONALITIES)).alias("nationality"),
        pl.when(kind == "MARRIAGE").then(_pick("event_id", NATIONALITIES))
        .alias("partner_nationality"),
    )


def with_v2_columns(start: pl.DataFrame, end: pl.DataFrame, events: pl.DataFrame
                    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three typed frames of a period with the §8 columns."""
    return v2_residents(start), v2_residents(end), v2_events(events)
