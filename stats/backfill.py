"""Building a range of periods (``popstats build --period 2024-01..2025-12``).

Each period is still its own release: its own lock, validation and atomic revision
(``release.build_release``); a period refused for its input does not stop the others,
and the command lists every refusal at the end. What consecutive periods share is read
once: a month's end snapshot is the next month's start snapshot, aged on the same day,
so each snapshot is validated and counted once (``snapshot_scan``) and its checksum made
once. The snapshots of the next period are read on a thread pool (both cores) while a
period is built, so at most a few snapshots are read or held at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stats.codes import CodeTable
from stats.extract import Shared
from stats.io import find_source, sha256_of
from stats.periods import Month, Period, PeriodError, period_range
from stats.problems import ValidationError
from stats.release import BuiltRelease, build_release
from stats.snapshot_scan import scan_snapshot


def parse_periods(text: str) -> list[Period]:
    """``2025-03``, or an inclusive range of one kind ``2024-01..2025-12`` (CONTRACT §7).

    Raises
    ------
    PeriodError
        A malformed period, periods of two kinds, or a range ending before it starts.
    """
    if ".." not in text:
        return [Period.parse(text)]
    first, _, last = text.partition("..")
    if not first.strip() or not last.strip():
        raise PeriodError(f"{text!r}: a range is FROM..TO, e.g. 2024-01..2025-12")
    return period_range(Period.parse(first), Period.parse(last))


@dataclass
class RangeResult:
    """The releases written and the periods refused, with their problems."""

    built: list[BuiltRelease]
    refused: dict[str, ValidationError]
    seconds: dict[str, float]


def _snapshots(periods: list[Period]) -> dict[Month, bool]:
    """Every snapshot the periods read, in order, and whether it ends one (households)."""
    ends = {p.end_month for p in periods}
    months = sorted({m for p in periods for m in (p.start_month, p.end_month)})
    return {m: m in ends for m in months}


def build_range(
    extract_dir: Path,
    periods: list[Period],
    releases: Path,
    codes: CodeTable,
    *,
    encoding: str = "utf-8",
    note: str = "",
    progress: Callable[[str], None] = lambda _: None,
    workers: int = 2,
) -> RangeResult:
    """Build every period of ``periods`` in order, sharing snapshot reads (module docstring)."""
    shared = Shared()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="snapshot")
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
    wanted = _snapshots(periods)

    def read_ahead(upto: int) -> None:
        """Start reading the snapshots of the periods up to index ``upto`` (one period
        ahead of the one being built: enough to keep both cores busy, while at most a few
        snapshots are read or held at a time)."""
        if not extract_dir.is_dir():
            return  # load_extract reports it for each period
        for period in periods[:upto + 1]:
            for month in (period.start_month, period.end_month):
                if month in shared.stocks or month in done:
                    continue
                path = find_source(extract_dir, "residents", month)
                if path is None:
                    continue  # load_extract reports the missing file for the periods needing it
                if path.suffix == ".parquet":
                    shared.stocks[month] = pool.submit(scan_snapshot, path, month, codes,
                                                       households=wanted[month])
                if path not in shared.digests:
                    shared.digests[path] = hashing.submit(sha256_of, path)

    done: set[Month] = set()
    result = RangeResult([], {}, {})
    try:
        for number, period in enumerate(periods, start=1):
            started = time.perf_counter()
            read_ahead(number)
            progress(f"{period} ({number}/{len(periods)})")
            try:
                built = build_release(extract_dir, period, releases, codes, encoding=encoding,
                                      note=note, progress=progress, shared=shared)
            except ValidationError as exc:
                result.refused[str(period)] = exc
                progress(f"{period}: refused, {len(exc.problems)} problem(s)")
                continue
            finally:
                result.seconds[str(period)] = time.perf_counter() - started
            result.built.append(built)
            progress(f"{period}: revision {built.revision} in "
                     f"{result.seconds[str(period)]:.1f} s")
            # a snapshot no later period reads is dropped (its counts are small, but a
            # decade of them need not stay)
            for month in [m for m in shared.stocks if m < period.end_month]:
                if all(month not in (p.start_month, p.end_month) for p in periods[number:]):
                    del shared.stocks[month]
                    done.add(month)
    finally:
        pool.shutdown(cancel_futures=True)
        hashing.shutdown(cancel_futures=True)
    return result
