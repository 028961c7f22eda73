"""A simulated year of births and deaths per county beside MOI's real 2024 figures.

    .venv/bin/python -m benchmarks.calibration_report [--scale 0.1] [--out FILE.md]

Simulates 2025-01…2025-12 with ``popstats sample`` (seed 0), counts the BIRTH and DEATH
events per county, divides by the scale, and prints a Markdown table beside MOI's 2024
county totals (``stats/data/calibration_monthly.parquet``, from MOI dataset 131138), with
population, share 65+ and ageing index of the last snapshot and the net migration of the
year (in − out across the county's boundary).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from sample_data.calibration import moi_2024_monthly
from sample_data.generator import write_sample
from stats.codes import COUNTY_NAMES
from stats.periods import Month

COUNTY = pl.col("village_code").cast(pl.String).str.slice(0, 5)


def simulate(folder: Path, scale: float) -> float:
    started = time.perf_counter()
    write_sample(folder, scale=scale, seed=0, start=Month(2025, 1), months=12)
    return time.perf_counter() - started


def county_year(folder: Path, scale: float) -> pl.DataFrame:
    events = pl.scan_parquet(sorted(folder.glob("events_2025*.parquet"))).select(
        pl.col("event_type").cast(pl.String),
        COUNTY.alias("county"),
        pl.col("from_village_code").cast(pl.String).str.slice(0, 5).alias("origin"),
        pl.col("to_village_code").cast(pl.String).str.slice(0, 5).alias("destination"),
    )
    vital = events.filter(pl.col("event_type").is_in(["BIRTH", "DEATH"]))
    vital = vital.group_by("county").agg(
        ((pl.col("event_type") == "BIRTH").sum() / scale).alias("sim_births"),
        ((pl.col("event_type") == "DEATH").sum() / scale).alias("sim_deaths"),
    )
    moves = events.filter(pl.col("event_type") == "MOVE",
                          pl.col("origin").is_not_null(), pl.col("destination").is_not_null(),
                          pl.col("origin") != pl.col("destination"))
    counted = pl.len().cast(pl.Int64)
    inflow = moves.group_by(pl.col("destination").alias("county")).agg(counted.alias("in"))
    outflow = moves.group_by(pl.col("origin").alias("county")).agg(counted.alias("out"))
    net = inflow.join(outflow, on="county", how="full", coalesce=True).fill_null(0).select(
        "county", ((pl.col("in") - pl.col("out")) / scale).alias("sim_net_migration"))
    last = pl.scan_parquet(folder / "residents_202512.parquet").select(
        COUNTY.alias("county"), pl.col("birth_date"))
    age = 2025 - pl.col("birth_date").dt.year()
    stock = last.group_by("county").agg(
        (pl.len() / scale).alias("sim_population"),
        ((age >= 65).mean() * 100).alias("sim_share_65"),
        ((age >= 65).sum() / (age <= 14).sum() * 100).alias("sim_ageing_index"),
    )
    return stock.join(vital, on="county").join(net, on="county", how="left").collect()


def report(scale: float, folder: Path) -> str:
    seconds = simulate(folder, scale)
    ours = county_year(folder, scale)
    moi = moi_2024_monthly().filter(pl.col("area_code") != "00000")
    moi = moi.group_by("area_code").agg(pl.col("births").sum().alias("moi_births"),
                                        pl.col("deaths").sum().alias("moi_deaths"))
    table = ours.join(moi, left_on="county", right_on="area_code").sort("county")
    lines = [
        f"# A simulated year beside MOI's 2024 (scale {scale}, seed 0, 2025-01…2025-12)",
        "",
        f"Simulated in {seconds:.0f} s. Simulated counts are divided by the scale. MOI: dataset "
        "131138 summed over 2024 (`stats/data/calibration_monthly.parquet`).",
        "",
        "| county | births sim | births MOI 2024 | deaths sim | deaths MOI 2024 | "
        "population end 2025 | 65+ % | ageing index | net internal migration |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in table.iter_rows(named=True):
        lines.append(
            f"| {r['county']} {COUNTY_NAMES[r['county']]} | {r['sim_births']:,.0f} | "
            f"{r['moi_births']:,.0f} | {r['sim_deaths']:,.0f} | {r['moi_deaths']:,.0f} | "
            f"{r['sim_population']:,.0f} | {r['sim_share_65']:.1f} | "
            f"{r['sim_ageing_index']:.0f} | {r['sim_net_migration'] or 0:+,.0f} |")
    total = table.select(pl.col("sim_births", "moi_births", "sim_deaths", "moi_deaths").sum())
    t = total.row(0, named=True)
    lines.append(f"| Taiwan | {t['sim_births']:,.0f} | {t['moi_births']:,.0f} | "
                 f"{t['sim_deaths']:,.0f} | {t['moi_deaths']:,.0f} | | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text = report(args.scale, Path(tmp))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
