"""A period's source extract: find its files, validate all of them, hand out typed frames
(with the CONTRACT §8 columns when every file has them)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from stats.checks import find_problems
from stats.codes import CodeTable
from stats.io import SourceFile, count_rows, find_source, read_failure, scan_source, sha256_of
from stats.lifecycle import lifecycle_problems
from stats.periods import Month, Period
from stats.problems import Problem, ValidationError
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from stats.snapshot_scan import scan_snapshot
from stats.stocks import Stock, stock_from_frame
from stats.validate import code_fixes, distinct_codes, is_v2_file, typed_events, typed_residents


@dataclass
class Extract:
    """Validated inputs of one period, ready for the table builders."""

    sources: list[SourceFile]
    start: pl.LazyFrame
    end: pl.LazyFrame
    events: pl.LazyFrame
    period: Period | None = None
    # stocks counted while validating (the fast path); the others are counted on demand
    stocks: dict[Month, Stock] = field(default_factory=dict)

    @property
    def start_stock(self) -> Stock:
        """The start snapshot's stock (aged on its own month's last day)."""
        assert self.period is not None
        month = self.period.start_month
        if month not in self.stocks:
            self.stocks[month] = stock_from_frame(self.start, month, households=False)
        return self.stocks[month]

    @property
    def end_stock(self) -> Stock:
        """The end snapshot's stock, with its households."""
        assert self.period is not None
        month = self.period.end_month
        stock = self.stocks.get(month)
        if stock is None or stock.households is None:
            self.stocks[month] = stock = stock_from_frame(self.end, month)
        return stock

    def cleanup(self) -> None:
        """Remove UTF-8 temp copies made while decoding."""
        for source in self.sources:
            if source.temp is not None:
                source.temp.unlink(missing_ok=True)


def _needed(folder: Path, period: Period) -> tuple[list[SourceFile], list[Problem]]:
    wanted = [("residents", period.start_month), ("residents", period.end_month)]
    wanted += [("events", m) for m in period.months]
    sources, problems = [], []
    for kind, month in wanted:
        path = find_source(folder, kind, month)
        if path is None:
            problems.append(Problem(str(folder / f"{kind}_{month.compact}.parquet|.csv"), None,
                                    None, None, f"missing file: {kind} of {month} needed for {period}"))
        else:
            sources.append(SourceFile(kind, month, path))
    return sources, problems


def version_problems(folder: Path, versions: dict[str, int]) -> list[Problem]:
    """CONTRACT §8: the files of one period are all v1 or all v2; when mixed, each v1 file is
    a problem naming the v2 ones."""
    v2 = sorted(name for name, version in versions.items() if version == 2)
    if not v2 or len(v2) == len(versions):
        return []
    return [Problem(str(folder / name), None, None, None,
                    f"v1 file (without the §8 columns) among v2 files ({', '.join(v2)}): "
                    "every file of a period must have the §8 columns or none")
            for name, version in sorted(versions.items()) if version == 1]


def _in_memory(raw: pl.LazyFrame) -> pl.LazyFrame:
    """A Parquet events file read once into memory: it is small (≈ 180 k rows a national
    month) and read by many steps — the row count, each rule's distinct values, the
    identifier checks, the lifecycle rules across the period, the code fixes, the typing —
    each of which would otherwise decompress the whole file again (the events of 12
    national months: 4.5 → 3.8 CPU-s). A file that cannot be read stays a scan, so
    ``count_rows`` reports it as before."""
    try:
        return raw.collect().lazy()
    except Exception:  # noqa: BLE001 — polars and pyarrow raise many kinds; reported below
        return raw


def _fixes_if_readable(raw: pl.LazyFrame
                       ) -> tuple[dict[str, dict[str, str]] | None, dict[str, pl.Series] | None]:
    """An events file's village-code fixes and its distinct village codes (which the
    checks read again), or None and None when its village codes cannot be read:
    ``find_problems`` then types the codes row by row and meets (and reports) the failure
    exactly as it would without them."""
    try:
        distinct = distinct_codes(raw, EVENT_COLUMNS)
        return code_fixes(raw, EVENT_COLUMNS, distinct), distinct
    except Exception:  # noqa: BLE001 — whatever the reader raises is reported by find_problems
        return None, None


@dataclass
class Shared:
    """What the builds of consecutive periods share (``stats.backfill``): a snapshot is the
    end stock of one month and the start stock of the next, read and counted once; its
    checksum likewise. Futures, so the next snapshots are read while a period is built."""

    stocks: dict[Month, Future[Stock | None]] = field(default_factory=dict)
    digests: dict[Path, Future[str]] = field(default_factory=dict)


def load_extract(
    folder: Path,
    period: Period,
    codes: CodeTable,
    encoding: str = "utf-8",
    progress: Callable[[str], None] = lambda _: None,
    shared: Shared | None = None,
) -> Extract:
    """Validate every file the period needs and return typed frames over them (with
    ``shared``, snapshots and checksums already under way are taken from it).

    Raises
    ------
    ValidationError
        With every problem of every file when anything is wrong; nothing is returned.
    """
    if not folder.is_dir():
        raise ValidationError([Problem(str(folder), None, None, None, "extract folder not found")])
    sources, problems = _needed(folder, period)
    counts: Counter[tuple[str, str]] = Counter((p.file, p.rule) for p in problems)
    frames: dict[tuple[str, str], pl.LazyFrame] = {}
    # checksums are pure I/O + hashing (the GIL is released): compute them while polars checks
    hashing = ThreadPoolExecutor(max_workers=1)
    shared = shared or Shared()
    digests = [shared.digests.get(source.path) or hashing.submit(sha256_of, source.path)
               for source in sources]
    checked_events: list[tuple[str, pl.LazyFrame]] = []
    # each events file's village-code fixes: found once, used to type it for the checks
    # and again for the tables
    event_fixes: dict[str, dict[str, dict[str, str]] | None] = {}
    versions: dict[str, int] = {}  # file name -> 1 or 2 (CONTRACT §8 columns)
    # Parquet snapshots: validated and counted in one read each, both at once (the read
    # and the counting release the GIL); a file the fast path cannot vouch for goes the
    # general way below
    snapshots = ThreadPoolExecutor(max_workers=2)
    fast: dict[Month, Future[Stock | None]] = {
        source.month: shared.stocks.get(source.month)
        or snapshots.submit(scan_snapshot, source.path, source.month, codes,
                            households=source.month == period.end_month)
        for source in sources if source.kind == "residents" and source.path.suffix == ".parquet"
    }
    stocks: dict[Month, Stock] = {}
    found_in: dict[int, list[Problem]] = {}  # each file's problems, listed in the files' order

    def check(index: int) -> None:
        source = sources[index]
        progress(f"checking {source.path.name}")
        stock = fast[source.month].result() if source.kind == "residents" and source.month in fast else None
        if stock is not None:
            stocks[source.month] = stock
            source.rows = stock.rows
            raw = pl.scan_parquet(source.path).with_row_index("row", offset=1)
            frames[(source.kind, str(source.month))] = raw
            versions[source.path.name] = 2 if stock.v2 else 1
            return
        raw, file_problems = scan_source(source, encoding)
        if raw is not None and source.kind == "events" and source.path.suffix == ".parquet":
            raw = _in_memory(raw)
        # a problem located in rows (undecodable bytes, a truncated last line) leaves the
        # rest of the file worth checking; a whole-file problem does not
        if raw is not None and not any(p.row is None for p in file_problems):
            file_problems += count_rows(raw, source, encoding)
        counts.update((p.file, p.rule) for p in file_problems)
        if raw is not None and not any(p.row is None for p in file_problems):
            try:
                fixes = distinct = None
                if source.kind == "events":
                    fixes, distinct = _fixes_if_readable(raw)
                    event_fixes[str(source.month)] = fixes
                found, found_counts = find_problems(
                    raw, str(source.path), source.kind, source.month, codes, fixes, distinct
                )
            except pl.exceptions.PolarsError as exc:
                found = read_failure(exc, source, encoding)
                found_counts = Counter((p.file, p.rule) for p in found)
            file_problems += found
            counts.update(found_counts)
            if source.kind == "events" and not any(p.row is None for p in found):
                checked_events.append((str(source.path), raw))
        found_in[index] = file_problems
        if raw is not None:
            frames[(source.kind, str(source.month))] = raw
            versions[source.path.name] = 2 if is_v2_file(source.kind, raw.collect_schema()) else 1

    # the events first, and the rules across them: checked here while the snapshots are
    # read and counted on their threads, instead of after them
    for index, source in enumerate(sources):
        if source.kind == "events":
            check(index)
    # one person's events across every month of the period (a DEATH in January, a MOVE in March)
    across, across_counts = lifecycle_problems(checked_events)
    for index, source in enumerate(sources):
        if source.kind != "events":
            check(index)
    problems += [p for index in sorted(found_in) for p in found_in[index]]
    mixed = version_problems(folder, versions)
    problems += mixed
    counts.update((p.file, p.rule) for p in mixed)
    problems += across
    counts.update(across_counts)
    for source, digest in zip(sources, digests, strict=True):
        source.sha256 = digest.result()
    hashing.shutdown()
    snapshots.shutdown()
    if problems:
        for source in sources:
            if source.temp is not None:
                source.temp.unlink(missing_ok=True)
        raise ValidationError(problems, counts)
    def residents(month: Month) -> pl.LazyFrame:
        raw = frames[("residents", str(month))]
        # a snapshot the fast path vouched for holds only normal village codes: nothing to fix
        fixes = {"village_code": {}} if month in stocks else code_fixes(raw, RESIDENT_COLUMNS)
        return typed_residents(raw, fixes)

    # the events are small (≈ 180 k a month): typed once and kept, as every table reads them
    events = pl.concat(
        [typed_events(raw, fixes if fixes is not None else code_fixes(raw, EVENT_COLUMNS))
         for raw, fixes in ((frames[("events", str(m))], event_fixes.get(str(m)))
                            for m in period.months)],
        how="vertical",
    ).collect().lazy()
    return Extract(
        sources=sources,
        start=residents(period.start_month),
        end=residents(period.end_month),
        events=events,
        period=period,
        stocks=stocks,
    )
