"""The pre-publication report: totals, changes, reconciliation residuals, outliers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from stats.periods import Period
from stats.publication import release_state
from stats.release import ReleaseError, current_revision_dir, read_manifest, read_table
from stats.taipei import now_utc

HEADLINES = ["population", "households", "births", "deaths", "marriages", "divorces",
             "in_migration", "out_migration", "natural_increase", "social_increase"]
NET_BALANCES = {"natural_increase", "social_increase"}
OUTLIER_Z = 6.0  # robust z-score beyond which an area's change is worth a look
OUTLIER_MIN_PERSONS = 20  # ignore tiny absolute changes in tiny areas
MIN_HISTORY = 6  # earlier periods needed before an area's own history is a basis


def previous_period(period: Period, years: int = 0) -> Period:
    """The period before (same kind), or the same period ``years`` earlier."""
    if years:
        return Period(period.kind, period.year - years, period.number)
    if period.kind == "year":
        return Period("year", period.year - 1, 0)
    step = 1 if period.kind == "month" else 3
    month = period.months[0].shift(-step)
    number = month.month if period.kind == "month" else (month.month - 1) // 3 + 1
    return Period(period.kind, month.year, number)


def national_totals(release_dir: Path) -> dict[str, int]:
    """Headline national figures of a release."""
    population = read_table(release_dir, "population").filter(pl.col("area_level") == "national")
    vital = read_table(release_dir, "vital_events").filter(pl.col("area_level") == "national")
    row = {**population.row(0, named=True), **vital.row(0, named=True)}
    return {name: int(row[name]) for name in HEADLINES}


def _change_rates(reconciliation: pl.DataFrame) -> pl.DataFrame:
    """Population change and change rate of townships and villages with people at the start."""
    return reconciliation.filter(
        pl.col("area_level").is_in(["township", "village"]), pl.col("population_start") > 0
    ).with_columns(
        (pl.col("population_end") - pl.col("population_start")).alias("change"),
        ((pl.col("population_end") - pl.col("population_start")) / pl.col("population_start"))
        .alias("rate"),
    )


def _flagged(rates: pl.DataFrame, basis: str) -> pl.DataFrame:
    return (
        rates.filter(pl.col("z").abs() >= OUTLIER_Z, pl.col("change").abs() >= OUTLIER_MIN_PERSONS)
        .with_columns(pl.lit(basis).alias("basis"))
        .select("area_level", "area_code", "basis", "population_start", "population_end", "change",
                "rate", "z", "residual")
    )


def outliers(reconciliation: pl.DataFrame, history: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Townships and villages whose population change is far outside the usual.

    Two bases: against their peers of the same level (robust z-score from the median and
    MAD, so a handful of extreme areas cannot hide themselves by inflating the spread),
    and, where at least ``MIN_HISTORY`` earlier periods of the same kind exist, against the
    area's own history of change rates.
    """
    rates = _change_rates(reconciliation)
    median = pl.col("rate").median().over("area_level")
    mad = (pl.col("rate") - median).abs().median().over("area_level") * 1.4826
    found = [_flagged(rates.with_columns(((pl.col("rate") - median) / mad).alias("z")), "peers")]
    if history and len(history) >= MIN_HISTORY:
        past = (
            pl.concat([_change_rates(h).select("area_code", "rate") for h in history])
            .group_by("area_code")
            .agg(pl.col("rate").mean().alias("mean"), pl.col("rate").std().alias("std"),
                 pl.len().alias("n"))
            .filter(pl.col("n") >= MIN_HISTORY, pl.col("std") > 0)
        )
        own = rates.join(past, on="area_code").with_columns(
            ((pl.col("rate") - pl.col("mean")) / pl.col("std")).alias("z")
        )
        found.append(_flagged(own, "own history"))
    return pl.concat(found).sort(pl.col("z").abs(), descending=True)


def history_of(releases: Path, period: Period, limit: int = 12) -> list[pl.DataFrame]:
    """Reconciliation tables of up to ``limit`` earlier periods of the same kind, if built."""
    found = []
    other = period
    for _ in range(limit):
        other = previous_period(other)
        try:
            found.append(read_table(current_revision_dir(releases, str(other)), "reconciliation"))
        except ReleaseError:
            break
    return found


def release_report(releases: Path, period_text: str) -> dict[str, Any]:
    """Everything a statistician checks before publishing the current revision of a period."""
    period = Period.parse(period_text)
    release_dir = current_revision_dir(releases, str(period))
    manifest = read_manifest(release_dir)
    totals = national_totals(release_dir)
    comparisons: dict[str, Any] = {}
    for label, other in (("previous", previous_period(period)),
                         ("year_ago", previous_period(period, years=1))):
        try:
            before = national_totals(current_revision_dir(releases, str(other)))
        except ReleaseError:
            comparisons[label] = {"period": str(other), "available": False}
            continue
        comparisons[label] = {
            "period": str(other),
            "available": True,
            "change": {k: totals[k] - before[k] for k in HEADLINES},
            # percentages only for counts: a change of a net balance in percent misleads
            "change_pct": {k: (totals[k] - before[k]) / before[k] * 100
                           if before[k] > 0 and k not in NET_BALANCES else None
                           for k in HEADLINES},
        }
    reconciliation = read_table(release_dir, "reconciliation")
    residuals = (
        reconciliation.group_by("area_level")
        .agg(
            (pl.col("residual") != 0).sum().alias("areas_with_residual"),
            pl.col("residual").abs().max().alias("max_abs_residual"),
            pl.col("residual").sum().alias("sum_residual"),
        )
        .sort("area_level")
    )
    return {
        "period": str(period),
        "label_roc": period.roc_label,
        "revision": manifest["revision"],
        "state": release_state(release_dir, now_utc()),  # from the publication log
        "totals": totals,
        "comparisons": comparisons,
        "residuals": residuals.to_dicts(),
        "outliers": outliers(reconciliation, history_of(releases, period)).head(50).to_dicts(),
    }
