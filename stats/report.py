"""The pre-publication report: totals, changes, reconciliation residuals, outliers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from stats.periods import Period
from stats.release import ReleaseError, current_revision_dir, read_manifest, read_table

HEADLINES = ["population", "households", "births", "deaths", "marriages", "divorces",
             "in_migration", "out_migration", "natural_increase", "social_increase"]
NET_BALANCES = {"natural_increase", "social_increase"}
OUTLIER_Z = 6.0  # robust z-score beyond which an area's change is worth a look
OUTLIER_MIN_PERSONS = 20  # ignore tiny absolute changes in tiny areas


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


def outliers(reconciliation: pl.DataFrame) -> pl.DataFrame:
    """Townships and villages whose relative population change is far from their peers'.

    Uses a robust z-score (median and MAD of the change rate within each level), so a
    handful of extreme areas cannot hide themselves by inflating the spread.
    """
    rates = reconciliation.filter(
        pl.col("area_level").is_in(["township", "village"]), pl.col("population_start") > 0
    ).with_columns(
        (pl.col("population_end") - pl.col("population_start")).alias("change"),
        ((pl.col("population_end") - pl.col("population_start")) / pl.col("population_start"))
        .alias("rate"),
    )
    median = pl.col("rate").median().over("area_level")
    mad = (pl.col("rate") - median).abs().median().over("area_level") * 1.4826
    return (
        rates.with_columns(((pl.col("rate") - median) / mad).alias("z"))
        .filter(pl.col("z").abs() >= OUTLIER_Z, pl.col("change").abs() >= OUTLIER_MIN_PERSONS)
        .sort(pl.col("z").abs(), descending=True)
        .select("area_level", "area_code", "population_start", "population_end", "change",
                "rate", "z", "residual")
    )


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
        "state": "draft" if not manifest.get("publication") else manifest.get("status"),
        "totals": totals,
        "comparisons": comparisons,
        "residuals": residuals.to_dicts(),
        "outliers": outliers(reconciliation).head(50).to_dicts(),
    }
