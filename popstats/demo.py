"""The quick-start demo: a year of synthetic extracts, built and published end to end."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from exports.bulletin_files import build_bulletins
from sample_data.generator import write_sample
from stats.codes import demo_code_table
from stats.periods import Month, Period
from stats.publication import list_releases, plan_release, publish
from stats.release import build_release
from stats.report import national_totals


def demo_periods(year: int) -> list[Period]:
    """Every month, quarter and the year itself."""
    months = [Period("month", year, m) for m in range(1, 13)]
    quarters = [Period("quarter", year, q) for q in range(1, 5)]
    return [*months, *quarters, Period("year", year, 0)]


def run_demo(
    workdir: Path, *, scale: float, year: int, progress: Callable[[str], None]
) -> str:
    """Sample, build and publish a demo year under ``workdir``; return a printable summary.

    Periods already built by an earlier run are left as they are, so running the demo
    twice adds no revisions.
    """
    extract, releases = workdir / "extract", workdir / "releases"
    codes = demo_code_table()
    if not (extract / "sample_manifest.json").exists():
        # v2 (CONTRACT §8): the demo shows all fourteen tables, the programme's pages and
        # the bulletin's fertility and nationality figures
        write_sample(extract, scale=scale, seed=0, start=Month(year, 1), months=12,
                     codes=codes, progress=progress, version=2)
    now = datetime.now(UTC)
    for period in demo_periods(year):
        if not (releases / str(period) / "manifest.json").exists():
            build_release(extract, period, releases, codes, note="demo release", progress=progress)
            publish(releases, str(period), by=getpass.getuser(), now=now, note="demo release")
            # as `popstats publish` does: the bulletin is made on publication
            build_bulletins(releases, str(period), releases / str(period), now)
    plan_release(releases, f"{year + 1}-01", date(year + 1, 2, 10), "monthly release")
    plan_release(releases, f"{year + 1}-Q1", date(year + 1, 4, 20), "quarterly release")
    rows = list_releases(releases, datetime.now(UTC))
    totals = national_totals(releases / str(year))
    lines = [
        f"Demo releases in {releases}: {len(rows)} revisions of {len({r['period'] for r in rows})} periods, "
        f"all published.",
        f"National {year} ({Period('year', year, 0).roc_label}), scale {scale}:",
        *(f"  {name:<18}{value:>12,}" for name, value in totals.items()),
        f"Try: popstats releases --releases {releases}",
        f"     popstats report --releases {releases} --period {year}-12",
        f"     popstats bulletin --release {releases / f'{year}-12'} --out bulletin.pdf",
    ]
    return "\n".join(lines)
