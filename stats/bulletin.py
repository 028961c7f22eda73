"""The figures of a release's statistical bulletin (內政統計通報 / 人口統計月報), as numbers.

``bulletin_figures`` reads one release (and, for the changes and the trend, the releases of
the periods before it in the same releases folder) and returns plain numbers: the national
headline figures with their values one period and one year earlier, a 13-period trend, the
population pyramid, the county table and the v2 figures (TFR, births to mothers of foreign
or mainland original nationality, marriages with such spouses, the indigenous peoples,
migration between counties, life expectancy) — or, for each v2 figure the release does not
hold, why it is left out. ``stats.bulletin_text`` writes the sentences from these numbers and
``exports.bulletin_html`` lays them out; nothing here formats or writes anything.

Comparisons come from the newest *public* revision of the earlier period, so a bulletin
never carries figures of an unpublished draft of another period; only a statistician's
embargoed preview (``unpublished_ok``) falls back to the current revision.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from stats.periods import Period
from stats.publication import publication_of, published_revision_dir, state_of
from stats.release import MANIFEST, REVISIONS, ReleaseError, read_manifest

NATIONAL = "00000"
TREND_PERIODS = 13

# Headline measures: (key, table, column). Stocks at the period's end, flows in the period.
MEASURES: tuple[tuple[str, str, str], ...] = (
    ("population", "population", "population"),
    ("households", "population", "households"),
    ("male", "population", "male"),
    ("female", "population", "female"),
    ("births", "vital_events", "births"),
    ("deaths", "vital_events", "deaths"),
    ("natural_increase", "vital_events", "natural_increase"),
    ("social_increase", "vital_events", "social_increase"),
    ("marriages", "vital_events", "marriages"),
    ("divorces", "vital_events", "divorces"),
    ("crude_birth_rate", "indicators", "crude_birth_rate"),
    ("crude_death_rate", "indicators", "crude_death_rate"),
    ("crude_marriage_rate", "indicators", "crude_marriage_rate"),
    ("crude_divorce_rate", "indicators", "crude_divorce_rate"),
    ("share_0_14", "indicators", "share_0_14"),
    ("share_65_plus", "indicators", "share_65_plus"),
    ("aging_index", "indicators", "aging_index"),
    ("dependency_ratio", "indicators", "dependency_ratio"),
    ("sex_ratio", "indicators", "sex_ratio"),
    ("median_age", "indicators", "median_age"),
    ("avg_household_size", "indicators", "avg_household_size"),
)
# Measures that are rates or shares: their change is a difference, never a percentage.
RATES = frozenset({"crude_birth_rate", "general_fertility_rate", "crude_death_rate",
                   "crude_marriage_rate", "crude_divorce_rate", "share_0_14", "share_65_plus",
                   "aging_index", "dependency_ratio", "sex_ratio", "median_age",
                   "avg_household_size",
                   "total_fertility_rate", "mean_age_at_birth", "foreign_mother_share",
                   "foreign_spouse_share", "e0_male", "e0_female", "e0_both"})
# Balances (births − deaths, in − out): a percentage of a balance means nothing.
NETS = frozenset({"natural_increase", "social_increase"})
FOREIGN = pl.col("nationality").is_in([0, 1]).not_()  # original nationality known, not ROC


def release_root(release_dir: Path) -> Path | None:
    """``RELEASES`` of ``RELEASES/P`` or ``RELEASES/.revisions/P/rNNNN`` (None for a
    revision folder copied elsewhere: it has no neighbours to compare with)."""
    folder = release_dir.resolve()
    if folder.parent.parent.name == REVISIONS:
        return folder.parent.parent.parent
    return None


def _national(release_dir: Path, table: str, columns: list[str]) -> dict[str, Any] | None:
    """The national row of one table (None when the release does not hold the table)."""
    path = release_dir / f"{table}.parquet"
    if not path.is_file():
        return None
    rows = (pl.scan_parquet(path).filter(pl.col("area_code") == NATIONAL)
            .select(columns).collect().to_dicts())
    return rows[0] if rows else None


def _v2_national(release_dir: Path) -> dict[str, float | int | None]:
    """TFR, mean age at birth, births to mothers of foreign/mainland original nationality
    and persons marrying with such a nationality, nationally (missing keys: no table)."""
    found: dict[str, float | int | None] = {}
    fertility = _national(release_dir, "fertility",
                          ["total_fertility_rate", "general_fertility_rate", "mean_age_at_birth"])
    if fertility is not None:
        found.update(fertility)
    path = release_dir / "births_by_mother.parquet"
    if path.is_file():
        births = (pl.scan_parquet(path).filter(pl.col("area_code") == NATIONAL)
                  .rename({"mother_nationality": "nationality"})
                  .select(pl.col("births").sum().alias("all"),
                          pl.col("births").filter(FOREIGN).sum().alias("foreign"),
                          pl.col("births").filter(pl.col("nationality") == 2).sum()
                          .alias("mainland"))
                  .collect().row(0, named=True))
        found["births_foreign_mother"] = births["foreign"]
        found["births_mainland_mother"] = births["mainland"]
        found["foreign_mother_share"] = (100 * births["foreign"] / births["all"]
                                         if births["all"] else None)
    path = release_dir / "marriages_by_nationality.parquet"
    if path.is_file():
        persons = (pl.scan_parquet(path).filter(pl.col("area_code") == NATIONAL)
                   .select(pl.col("persons").sum().alias("all"),
                           pl.col("persons").filter(FOREIGN).sum().alias("foreign"))
                   .collect().row(0, named=True))
        found["persons_marrying"] = persons["all"]
        found["spouses_foreign"] = persons["foreign"]
        found["foreign_spouse_share"] = (100 * persons["foreign"] / persons["all"]
                                         if persons["all"] else None)
    path = release_dir / "life_table.parquet"
    if path.is_file():
        ex = (pl.scan_parquet(path).filter((pl.col("area_code") == NATIONAL)
                                           & (pl.col("age_group") == 0))
              .select("sex", "ex").collect())
        by_sex = dict(zip(ex["sex"].to_list(), ex["ex"].to_list(), strict=True))
        found.update(e0_both=by_sex.get(0), e0_male=by_sex.get(1), e0_female=by_sex.get(2))
    return found


def headline(release_dir: Path) -> dict[str, Any]:
    """Every headline measure of one release, nationally (v2 measures where it has them)."""
    values: dict[str, Any] = {}
    for table in {t for _, t, _ in MEASURES}:
        row = _national(release_dir, table, [c for _, t, c in MEASURES if t == table]) or {}
        values.update({key: row.get(column) for key, t, column in MEASURES if t == table})
    values["indigenous"] = _indigenous_total(release_dir)
    values.update(_v2_national(release_dir))
    return values


def _indigenous_total(release_dir: Path) -> int | None:
    path = release_dir / "indigenous_population.parquet"
    if not path.is_file():
        return None
    return int(pl.scan_parquet(path).filter(pl.col("area_code") == NATIONAL)
               .select(pl.col("population").sum()).collect().item())


def comparison_dir(root: Path | None, period: Period, now: datetime,
                   unpublished_ok: bool) -> Path | None:
    """The release of an earlier period to compare with: its newest public revision, or
    (an embargoed preview only) its current revision; None when there is none."""
    if root is None:
        return None
    public = published_revision_dir(root, str(period), now)
    if public is not None or not unpublished_ok:
        return public
    current = root / str(period)
    return current.resolve() if (current / MANIFEST).exists() else None


def year_earlier(period: Period) -> Period:
    """The same period one year before (for a year, the year before)."""
    return period.shift({"month": -12, "quarter": -4, "year": -1}[period.kind])


def _trend(root: Path | None, period: Period, here: dict[str, Any], now: datetime,
           unpublished_ok: bool) -> list[dict[str, Any]]:
    """The last 13 periods (this one last): population at the end, births, deaths."""
    points = []
    for step in range(TREND_PERIODS - 1, -1, -1):
        earlier = period.shift(-step)
        if step == 0:
            values: dict[str, Any] = here
        else:  # only the three figures drawn: a year's trend reads 12 other releases
            folder = comparison_dir(root, earlier, now, unpublished_ok)
            values = {**(_national(folder, "population", ["population"]) or {}),
                      **(_national(folder, "vital_events", ["births", "deaths"]) or {})
                      } if folder is not None else {}
        points.append({"period": str(earlier), "population": values.get("population"),
                       "births": values.get("births"), "deaths": values.get("deaths")})
    return points


def _pyramid(release_dir: Path) -> list[dict[str, Any]]:
    """National population by sex in five-year groups (0–4 … 95–99, 100+)."""
    frame = (pl.scan_parquet(release_dir / "population_by_age.parquet")
             .filter(pl.col("area_code") == NATIONAL)
             .with_columns((pl.col("age") // 5 * 5).clip(upper_bound=100).alias("group"))
             .group_by("group")
             .agg(pl.col("population").filter(pl.col("sex") == 1).sum().alias("male"),
                  pl.col("population").filter(pl.col("sex") == 2).sum().alias("female"))
             .sort("group").collect())
    return frame.to_dicts()


def _counties(release_dir: Path) -> list[dict[str, Any]]:
    """The county table: population at the end and its change in the period (from the
    release's own start stock), vital events, crude birth rate, share 65+, and TFR where
    the release has fertility."""
    county = pl.col("area_level") == "county"

    def scan(table: str) -> pl.LazyFrame:
        return pl.scan_parquet(release_dir / f"{table}.parquet").filter(county)

    frame = (pl.scan_parquet(release_dir / "areas.parquet").filter(county)
             .select("area_code", "area_name", *_english_names(release_dir))
             .join(scan("reconciliation").select("area_code", "population_start",
                                                 "population_end"), on="area_code")
             .join(scan("population").select("area_code", "households"), on="area_code")
             .join(scan("vital_events").select("area_code", "births", "deaths",
                                               "natural_increase", "social_increase",
                                               "marriages", "divorces"), on="area_code")
             .join(scan("indicators").select("area_code", "crude_birth_rate",
                                             "share_65_plus"), on="area_code"))
    if (release_dir / "fertility.parquet").is_file():
        frame = frame.join(scan("fertility").select("area_code", "total_fertility_rate"),
                           on="area_code", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, pl.Float64).alias("total_fertility_rate"))
    if "area_name_en" not in frame.collect_schema().names():
        frame = frame.with_columns(pl.col("area_name").alias("area_name_en"))
    # in code order; the bulletin's layout puts them in MOI's order (exports.moi)
    frame = frame.with_columns(
        (pl.col("population_end") - pl.col("population_start")).alias("change"),
    ).sort("area_code")
    return frame.collect().to_dicts()


def _english_names(release_dir: Path) -> list[str]:
    """``area_name_en`` when the release's areas have it (releases built before the official
    code table have Chinese names only)."""
    names = pl.read_parquet_schema(release_dir / "areas.parquet")
    return ["area_name_en"] if "area_name_en" in names else []


def _tribes(release_dir: Path) -> list[dict[str, Any]] | None:
    """The indigenous peoples nationally, largest first (None: no such table)."""
    path = release_dir / "indigenous_by_tribe.parquet"
    if not path.is_file():
        return None
    return (pl.scan_parquet(path).filter(pl.col("area_code") == NATIONAL)
            .select("tribe", "male", "female", "population")
            .sort(["population", "tribe"], descending=[True, False]).collect().to_dicts())


def _migration(release_dir: Path, largest: int = 5) -> dict[str, Any] | None:
    """Moves between two counties of the register (moves into and out of the register,
    ``99999``, apart) and the largest flows."""
    path = release_dir / "migration_flows.parquet"
    if not path.is_file():
        return None
    inside = (pl.scan_parquet(path)
              .filter((pl.col("area_code") != "99999") & (pl.col("to_code") != "99999")))
    total = int(inside.select(pl.col("moves").sum()).collect().item())
    flows = (inside.filter(pl.col("moves") > 0)
             .sort(["moves", "area_code", "to_code"], descending=[True, False, False])
             .head(largest).select("area_code", "to_code", "moves").collect().to_dicts())
    return {"between_counties": total, "largest": flows}


def _release_dir(release_dir: Path) -> Path:
    if not (release_dir / MANIFEST).is_file():
        raise ReleaseError(f"{release_dir} holds no release (no {MANIFEST})")
    return release_dir.resolve()


def omissions(tables: set[str], period: Period) -> list[str]:
    """The v2 figures a release cannot give and why: ``v1`` (an extract without the
    CONTRACT §8 columns) and ``life_table`` (life tables are made for years only)."""
    gone = []
    if "fertility" not in tables:
        gone.append("v1")
    if "life_table" not in tables:
        gone.append("life_table_year" if period.kind != "year" else "life_table")
    return gone


def bulletin_figures(release_dir: Path, now: datetime, *,
                     unpublished_ok: bool = False) -> dict[str, Any]:
    """The numbers of the bulletin of the release in ``release_dir`` at ``now``.

    Returns a dict: ``period``, ``kind``, ``revision``, ``state``, ``created_at``,
    ``published_at`` (UTC datetimes or None), ``note``; ``previous``/``year_earlier``
    (period strings) and ``*_revision`` (None where there is nothing to compare with);
    ``now``/``prev``/``yoy`` (headline dicts), ``trend``, ``pyramid``, ``counties``,
    ``tribes``, ``migration`` and ``omitted`` (see ``omissions``).

    Raises
    ------
    ReleaseError
        When ``release_dir`` holds no release.
    """
    folder = _release_dir(release_dir)
    manifest = read_manifest(folder)
    period = Period.parse(manifest["period"])
    _, mine, found = publication_of(folder)
    root = release_root(folder)
    previous, earlier = period.shift(-1), year_earlier(period)
    prev_dir = comparison_dir(root, previous, now, unpublished_ok)
    yoy_dir = comparison_dir(root, earlier, now, unpublished_ok)
    here = headline(folder)
    tables = {t["table"] for t in manifest.get("tables", [])}
    return {
        "period": str(period),
        "kind": period.kind,
        "revision": int(manifest["revision"]),
        "state": state_of(int(manifest["revision"]), found, now),
        "created_at": datetime.fromisoformat(manifest["created_at"]),
        "published_at": mine.at if mine else None,
        "note": (mine.note if mine else "") or manifest.get("note", ""),
        "software": (manifest.get("software") or {}).get("version"),
        "code_table": (manifest.get("code_table") or {}).get("source"),
        "previous": str(previous),
        "previous_revision": _revision(prev_dir),
        "year_earlier": str(earlier),
        "year_earlier_revision": _revision(yoy_dir),
        "now": here,
        "prev": headline(prev_dir) if prev_dir is not None else {},
        "yoy": headline(yoy_dir) if yoy_dir is not None else {},
        "trend": _trend(root, period, here, now, unpublished_ok),
        "pyramid": _pyramid(folder),
        "counties": _counties(folder),
        "tribes": _tribes(folder),
        "migration": _migration(folder),
        "omitted": omissions(tables, period),
    }


def _revision(folder: Path | None) -> int | None:
    return int(read_manifest(folder)["revision"]) if folder is not None else None


def change(figures: dict[str, Any], key: str, against: str) -> tuple[Any, float | None]:
    """(difference, percentage change) of measure ``key`` against ``prev`` or ``yoy``:
    (None, None) without both values; no percentage for rates and shares (their change is
    a difference in points), of a balance (natural or social increase), nor from zero."""
    now, then = figures["now"].get(key), figures[against].get(key)
    if now is None or then is None:
        return None, None
    diff = now - then
    if key in RATES or key in NETS or then <= 0:
        return diff, None
    return diff, 100 * diff / then
