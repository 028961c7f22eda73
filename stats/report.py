"""The pre-publication report: totals, changes, reconciliation residuals, outliers."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import polars as pl

from stats.areas import level_sort_key
from stats.catalogue import COLUMNS, VALUE_LABELS
from stats.periods import Period
from stats.publication import release_state
from stats.release import ReleaseError, current_revision_dir, read_areas, read_manifest, read_table
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


def comparison_periods(period: Period) -> list[tuple[str, Period]]:
    """What a period is compared with: the previous period and the same period a year
    earlier — for a year these are the same period, so it is compared once."""
    year_ago = ("year_ago", previous_period(period, years=1))
    return [year_ago] if period.kind == "year" else [("previous", previous_period(period)), year_ago]


def _name_columns(names: pl.DataFrame) -> list[str]:
    """The area name columns a release has (English names where the code table gave them)."""
    return [c for c in ("area_name", "area_name_en") if c in names.columns]


def residual_areas(reconciliation: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """Per level (national → county → township → village): the areas whose residual is not
    0, with code, name and residual, largest first; and the level's totals."""
    labels = _name_columns(names)
    named = reconciliation.join(names.select("area_level", "area_code", *labels),
                                on=["area_level", "area_code"], how="left")
    areas = (
        named.filter(pl.col("residual") != 0)
        .sort(pl.col("residual").abs(), "area_code", descending=[True, False])
        .group_by("area_level", maintain_order=True)
        .agg(pl.struct("area_code", *labels, "residual").alias("areas"))
    )
    return (
        named.group_by("area_level")
        .agg(
            (pl.col("residual") != 0).sum().alias("areas_with_residual"),
            pl.col("residual").abs().max().alias("max_abs_residual"),
            pl.col("residual").sum().alias("sum_residual"),
        )
        .join(areas, on="area_level", how="left")
        .with_columns(pl.col("areas").fill_null([]))
        .sort(level_sort_key())
    )


def release_report(releases: Path, period_text: str) -> dict[str, Any]:
    """Everything a statistician checks before publishing the current revision of a period."""
    period = Period.parse(period_text)
    release_dir = current_revision_dir(releases, str(period))
    manifest = read_manifest(release_dir)
    totals = national_totals(release_dir)
    comparisons: dict[str, Any] = {}
    for label, other in comparison_periods(period):
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
    names = read_areas(release_dir)
    flagged = outliers(reconciliation, history_of(releases, period)).head(50)
    flagged = flagged.join(names.select("area_level", "area_code", *_name_columns(names)),
                           on=["area_level", "area_code"], how="left", maintain_order="left")
    return {
        "period": str(period),
        "label_roc": period.roc_label,
        "revision": manifest["revision"],
        "state": release_state(release_dir, now_utc()),  # from the publication log
        "totals": totals,
        "comparisons": comparisons,
        "residuals": residual_areas(reconciliation, names).to_dicts(),
        "outliers": flagged.to_dicts(),
    }


# --- the report as a statistician reads it ----------------------------------------------

STATES = {"draft": ("草稿", "draft"), "scheduled": ("已排程", "scheduled"),
          "published": ("已公布", "published"), "superseded": ("已被取代", "superseded")}
BASES = {"peers": ("同級區域", "peers"), "own history": ("自身歷史", "own history")}
AREAS_LISTED = 20  # per level on the terminal; --json lists every one


def _width(text: str) -> int:
    """Columns a text takes on a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _right(text: str, width: int) -> str:
    return " " * max(0, width - _width(text)) + text


def format_report(report: dict[str, Any], lang: str = "zh") -> str:
    """The report as text, labelled in zh-TW (``lang="zh"``, as the catalogue labels tables)
    or English; levels national → county → township → village."""
    zh = lang == "zh"

    def t(pair: tuple[str, str]) -> str:
        return pair[0] if zh else pair[1]

    def area_name(area: dict[str, Any]) -> str:
        return (area.get("area_name") if zh else area.get("area_name_en")
                or area.get("area_name")) or ""

    period = Period.parse(report["period"])
    state = t(STATES.get(report["state"], (report["state"], report["state"])))
    title = (f"發布前檢查報告 {period.roc_label}（{period}），第 {report['revision']} 版，{state}"
             if zh else f"Release report {period.en_label} ({period}), revision "
             f"{report['revision']}, {state}")
    comparisons = [(key, report["comparisons"][key])
                   for key in ("previous", "year_ago") if key in report["comparisons"]]
    header = _left(t(VALUE_LABELS["area_level"]["national"]), 22) + _right(t(("數值", "value")), 14)
    for _, comp in comparisons:
        label = Period.parse(comp["period"]).label(lang)
        header += _right(f"較{label}" if zh else f"vs {label}", 22)
    lines = [title, "", header]
    for name, value in report["totals"].items():
        row = _left(t((COLUMNS[name].zh, COLUMNS[name].en)), 22) + _right(f"{value:,}", 14)
        for _, comp in comparisons:
            if not comp["available"]:
                cell = t(("無資料", "n/a"))
            else:
                pct = comp["change_pct"][name]
                cell = f"{comp['change'][name]:+,}" + (f" ({pct:+.2f}%)" if pct is not None else "")
            row += _right(cell, 22)
        lines.append(row)
    lines += ["", t(("人口平衡差額（期末 − 期初 − 出生 + 死亡 − 遷入 + 遷出）：",
                     "Reconciliation residuals (end − start − births + deaths − in + out):"))]
    for level in report["residuals"]:
        name = t(VALUE_LABELS["area_level"][level["area_level"]])
        n = level["areas_with_residual"]
        if not n:
            lines.append(f"  {_left(name, 10)} " + t(("差額皆為 0", "every residual is 0")))
            continue
        lines.append(f"  {_left(name, 10)} " + (
            f"{n:,} 個區域差額不為 0，最大絕對差額 {level['max_abs_residual']:,}，"
            f"合計 {level['sum_residual']:+,}：" if zh else
            f"{n:,} area{'s' if n != 1 else ''} ≠ 0, max |residual| "
            f"{level['max_abs_residual']:,}, sum {level['sum_residual']:+,}:"))
        for area in level["areas"][:AREAS_LISTED]:
            lines.append(f"      {area['area_code']:<12}{_left(area_name(area), 28)}"
                         f"{area['residual']:>+8,}")
        if n > AREAS_LISTED:
            more = n - AREAS_LISTED
            lines.append("      " + (f"……另有 {more:,} 個區域（--json 列出全部）" if zh else
                                     f"… {more:,} more (--json lists every one)"))
    lines += ["", (f"異常變動（相對同級區域或自身歷史 |z| ≥ {OUTLIER_Z:g}）：{len(report['outliers'])}"
                   if zh else f"Outliers (|z| ≥ {OUTLIER_Z:g} against peers or the area's own "
                   f"history): {len(report['outliers'])}")]
    for o in report["outliers"][:AREAS_LISTED]:
        level = t(VALUE_LABELS["area_level"][o["area_level"]])
        basis = t(BASES.get(o["basis"], (o["basis"], o["basis"])))
        change = (f"{o['population_start']:,} → {o['population_end']:,} "
                  f"({o['rate'] * 100:+.1f}%, z={o['z']:.1f}")
        lines.append(f"  {_left(level, 10)} {o['area_code']:<12}{_left(area_name(o), 28)}"
                     + (f"{change}，相對{basis})" if zh else f"{change}, against {basis})"))
    return "\n".join(lines)
