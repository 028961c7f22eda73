"""A period's source extract: find its files, validate all of them, hand out typed frames
(with the CONTRACT §8 columns when every file has them)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from stats.checks import find_problems
from stats.codes import CodeTable
from stats.io import SourceFile, count_rows, find_source, read_failure, scan_source, sha256_of
from stats.lifecycle import lifecycle_problems
from stats.periods import Period
from stats.problems import Problem, ValidationError
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from stats.validate import code_fixes, is_v2_file, typed_events, typed_residents


@dataclass
class Extract:
    """Validated inputs of one period, ready for the table builders."""

    sources: list[SourceFile]
    start: pl.LazyFrame
    end: pl.LazyFrame
    events: pl.LazyFrame

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


def load_extract(
    folder: Path,
    period: Period,
    codes: CodeTable,
    encoding: str = "utf-8",
    progress: Callable[[str], None] = lambda _: None,
) -> Extract:
    """Validate every file the period needs and return typed frames over them.

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
    digests = [hashing.submit(sha256_of, source.path) for source in sources]
    checked_events: list[tuple[str, pl.LazyFrame]] = []
    versions: dict[str, int] = {}  # file name -> 1 or 2 (CONTRACT §8 columns)
    for source in sources:
        progress(f"checking {source.path.name}")
        raw, file_problems = scan_source(source, encoding)
        # a problem located in rows (undecodable bytes, a truncated last line) leaves the
        # rest of the file worth checking; a whole-file problem does not
        if raw is not None and not any(p.row is None for p in file_problems):
            file_problems += count_rows(raw, source, encoding)
        counts.update((p.file, p.rule) for p in file_problems)
        if raw is not None and not any(p.row is None for p in file_problems):
            try:
                found, found_counts = find_problems(
                    raw, str(source.path), source.kind, source.month, codes
                )
            except pl.exceptions.PolarsError as exc:
                found = read_failure(exc, source, encoding)
                found_counts = Counter((p.file, p.rule) for p in found)
            file_problems += found
            counts.update(found_counts)
            if source.kind == "events" and not any(p.row is None for p in found):
                checked_events.append((str(source.path), raw))
        problems += file_problems
        if raw is not None:
            frames[(source.kind, str(source.month))] = raw
            versions[source.path.name] = 2 if is_v2_file(source.kind, raw.collect_schema()) else 1
    mixed = version_problems(folder, versions)
    problems += mixed
    counts.update((p.file, p.rule) for p in mixed)
    # one person's events across every month of the period (a DEATH in January, a MOVE in March)
    found, found_counts = lifecycle_problems(checked_events)
    problems += found
    counts.update(found_counts)
    for source, digest in zip(sources, digests, strict=True):
        source.sha256 = digest.result()
    hashing.shutdown()
    if problems:
        for source in sources:
            if source.temp is not None:
                source.temp.unlink(missing_ok=True)
        raise ValidationError(problems, counts)
    def residents(month: str) -> pl.LazyFrame:
        raw = frames[("residents", month)]
        return typed_residents(raw, code_fixes(raw, RESIDENT_COLUMNS))

    events = pl.concat(
        [typed_events(raw, code_fixes(raw, EVENT_COLUMNS))
         for raw in (frames[("events", str(m))] for m in period.months)],
        how="vertical",
    )
    return Extract(
        sources=sources,
        start=residents(str(period.start_month)),
        end=residents(str(period.end_month)),
        events=events,
    )
