"""``popstats build --period FROM..TO``: a range of periods, each its own release
(stats.backfill); progress on stderr, a summary line per period on stdout."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from stats.codes import CodeTable
from stats.periods import Period


def build_periods(extract: Path, periods: list[Period], releases: Path, codes: CodeTable,
                  encoding: str, note: str, progress: Callable[[str], None],
                  exit_invalid: int) -> None:
    """Build every period; list every refused period's problems at the end (exit status
    ``exit_invalid`` when any was refused, after building all the others)."""
    from stats.backfill import build_range

    result = build_range(extract, periods, releases, codes, encoding=encoding, note=note,
                         progress=progress)
    for built in result.built:
        click.echo(f"{built.period} revision {built.revision} "
                   f"({result.seconds[str(built.period)]:.1f} s)")
    if result.built:
        total = sum(result.seconds[str(b.period)] for b in result.built)
        click.echo(f"{len(result.built)} period(s) built in {total:.1f} s, "
                   f"{total / len(result.built):.1f} s each")
    for period, error in result.refused.items():
        click.echo(f"{period} refused:\n{error.report(limit=100)}", err=True)
    if result.refused:
        sys.exit(exit_invalid)
