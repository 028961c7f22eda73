"""``write_sample``: a seeded synthetic register extract (CONTRACT §1, §4 ``popstats sample``).

The register is simulated month by month from an initial snapshot; each snapshot is
written by a background thread while the next month is simulated. Same arguments give
byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from sample_data.calibration import Calibration
from sample_data.events import Calendar
from sample_data.geography import Geography
from sample_data.origins import Origins
from sample_data.population import FIRST_HOUSEHOLD_ID, day_number, initial_population
from sample_data.simulation import Counters, Entry, simulate_month
from sample_data.writing import (
    DATE_STYLES,
    ENCODINGS,
    EVENTS_SCHEMA,
    EVENTS_SCHEMA_V2,
    RESIDENTS_SCHEMA,
    RESIDENTS_SCHEMA_V2,
    events_chunks,
    residents_chunks,
    write_csv,
    write_parquet,
)
from stats.codes import CodeTable, builtin_code_table, month_index
from stats.periods import Month

MANIFEST = "sample_manifest.json"
DEFAULT_START = Month(2025, 1)
FILE_FORMATS = ("parquet", "csv")
VERSIONS = (1, 2)  # CONTRACT §1 (v1) and with the §8 columns (v2)
# v2's draws have stages of their own: a v1 extract is what it was before v2 existed
_STAGE_INITIAL, _STAGE_MONTH, _STAGE_CORRECTIONS, _STAGE_CSV, _STAGE_TRIBES, _STAGE_ORIGINS = \
    range(6)


@dataclass(frozen=True)
class SampleSummary:
    """What ``write_sample`` wrote, for the command line to print."""

    out: Path
    months: tuple[str, ...]  # the event months, YYYY-MM
    residents: int  # persons in the last snapshot
    households: int  # households in the last snapshot
    events: int  # event rows over all months
    births: int
    deaths: int
    marriages: int
    divorces: int
    moves: int
    corrections: int
    recodings: int  # villages re-coded (counted once per retired village)
    files: tuple[str, ...]
    version: int = 2  # extract version: 1 (CONTRACT §1) or 2 (with the §8 columns)

    def __str__(self) -> str:
        return (
            f"{self.out}: v{self.version} extract, {len(self.files)} files, "
            f"months {self.months[0]}…{self.months[-1]}; "
            f"last snapshot {self.residents:,} residents in {self.households:,} households; "
            f"{self.events:,} events ({self.births:,} births, {self.deaths:,} deaths, "
            f"{self.marriages:,} marriages, {self.divorces:,} divorces, {self.moves:,} moves); "
            f"{self.corrections} corrections, {self.recodings} recodings"
        )


def _rng(seed: int, *stage: int) -> np.random.Generator:
    """An independent random generator for one stage of one run."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stage]))


def _check(scale: float, months: int, corrections: int, file_format: str, encoding: str,
           date_style: str, version: int) -> None:
    """Refuse arguments the generator cannot honour."""
    if version not in VERSIONS:
        raise ValueError(f"unknown extract version {version!r}; expected 1 or 2")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months!r}")
    if corrections < 0:
        raise ValueError(f"corrections must not be negative, got {corrections!r}")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"unknown file format {file_format!r}; expected parquet or csv")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    if date_style not in DATE_STYLES:
        raise ValueError(f"unknown date style {date_style!r}; expected iso, roc or mixed")


def write_sample(
    out: Path,
    *,
    scale: float = 1.0,
    seed: int = 0,
    start: Month = DEFAULT_START,
    months: int = 3,
    codes: CodeTable | None = None,
    corrections: int = 0,
    file_format: str = "parquet",
    encoding: str = "utf-8",
    date_style: str = "iso",
    progress: Callable[[str], None] | None = None,
    version: int = 2,
) -> SampleSummary:
    """Write a synthetic source extract to ``out``.

    Parameters
    ----------
    out
        Folder to write into (created if needed).
    scale
        Fraction of Taiwan's ~23.4 M residents to simulate.
    seed
        Random seed; the same arguments always give the same bytes.
    start, months
        The first event month and the number of event months; residents files run from
        the month before ``start`` to the last month.
    codes
        Code table; ``None`` means the built-in official table.
    corrections
        Number of register corrections (persons added or dropped without an event).
    file_format
        ``parquet`` or ``csv``.
    encoding, date_style
        For CSV: ``utf-8``, ``utf-8-sig``, ``cp950`` or ``euc-tw``; dates ``iso``, ``roc``
        or ``mixed`` (row by row).
    progress
        Called with one short line per written month.
    version
        2 (default): with CONTRACT §8's columns (tribe; the mother's birth date and
        original nationality on births; the spouses' original nationalities on
        marriages); 1: the v1 columns only, the same bytes as before v2 existed.

    Returns
    -------
    SampleSummary
        Totals of what was written.

    Raises
    ------
    ValueError
        For an unknown format, encoding, date style or version, or a non-positive scale.
    """
    _check(scale, months, corrections, file_format, encoding, date_style, version)
    v2 = version == 2
    say = progress or (lambda _line: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codes = codes if codes is not None else builtin_code_table()
    geo = Geography.from_codes(codes)
    calibration = Calibration.for_geography(geo)
    geo = replace(geo, county_pull=calibration.county_pull)
    code_array = pa.array(geo.codes.tolist(), type=pa.string())
    first = start.shift(-1)
    pop = initial_population(_rng(seed, _STAGE_INITIAL), geo, calibration, scale,
                             month_index(first), first.last_day)
    origins = None
    if v2:
        county = geo.county[pop.village]
        indigenous = np.bincount(county.astype(np.int64) * 3 + pop.indigenous,
                                 minlength=3 * len(geo.county_codes)).reshape(-1, 3)
        origins = Origins.for_counties(geo.county_codes, indigenous)
        pop = pop.with_columns(tribe=origins.tribes(_rng(seed, _STAGE_TRIBES), pop.indigenous,
                                                    county))
        del county
    counters = Counters(int(pop.pid.max(initial=0)) + 1,
                        int(pop.hh.max(initial=FIRST_HOUSEHOLD_ID)) + 1)
    per_month = np.bincount(_rng(seed, _STAGE_CORRECTIONS).integers(0, months, corrections),
                            minlength=months)
    suffix = "parquet" if file_format == "parquet" else "csv"
    files: list[str] = []
    pending: list[Future[int]] = []

    def submit(pool: ThreadPoolExecutor, kind: str, month: Month, chunks: Iterator[pa.Table],
               schema: pa.Schema) -> Future[int]:
        name = f"{kind}_{month.compact}.{suffix}"
        files.append(name)
        path = out / name
        if file_format == "parquet":
            return pool.submit(write_parquet, path, schema, chunks)
        rng = _rng(seed, _STAGE_CSV, month_index(month), 0 if kind == "residents" else 1)
        return pool.submit(write_csv, path, chunks, encoding, date_style, rng)

    residents_schema = RESIDENTS_SCHEMA_V2 if v2 else RESIDENTS_SCHEMA
    events_schema = EVENTS_SCHEMA_V2 if v2 else EVENTS_SCHEMA
    manifest_months: list[Entry] = []
    all_corrections: list[Entry] = []
    all_recodings: list[Entry] = []
    totals = dict.fromkeys(("events", "births", "deaths", "marriages", "divorces", "moves"), 0)
    households = pop.households()
    manifest_months.append({"month": str(first), "kind": "initial", "persons": len(pop),
                            "households": households})
    say(f"{first}: {len(pop):,} residents, {households:,} households (initial snapshot)")
    with ThreadPoolExecutor(max_workers=1) as pool:
        snapshot = submit(pool, "residents", first, residents_chunks(pop, code_array, v2),
                          residents_schema)
        for k in range(months):
            month = start.shift(k)
            index = month_index(month)
            calendar = Calendar.of(day_number(month.first_day), day_number(month.last_day))
            result = simulate_month(
                pop, geo, _rng(seed, _STAGE_MONTH, index), month_index=index, label=str(month),
                calendar=calendar, scale=scale, counters=counters, calibration=calibration,
                corrections=int(per_month[k]), first_month_index=month_index(first),
                origins=origins,
                origins_rng=_rng(seed, _STAGE_ORIGINS, index) if v2 else None,
            )
            snapshot.result()  # at most two snapshots in memory besides the one being built
            pending.append(submit(pool, "events", month, events_chunks(
                result.events, code_array, month.compact, v2), events_schema))
            pop = result.population
            snapshot = submit(pool, "residents", month, residents_chunks(pop, code_array, v2),
                              residents_schema)
            c = result.counts
            manifest_months.append({"month": str(month), "kind": "simulated",
                                    "events": len(result.events), **c})
            all_corrections += result.corrections
            all_recodings += result.recodings
            totals["events"] += len(result.events)
            for key in ("births", "deaths", "marriages", "divorces", "moves"):
                totals[key] += c[key]
            say(f"{month}: {c['persons']:,} residents, {c['births']:,} births, "
                f"{c['deaths']:,} deaths, {c['marriages']:,} marriages, "
                f"{c['divorces']:,} divorces, {c['moves']:,} moves")
        snapshot.result()
        for future in pending:
            future.result()

    manifest = {
        "generator": "popstats sample",
        "arguments": {
            "scale": scale, "seed": seed, "start": str(start), "months": months,
            "codes": {"source": codes.source, "version": codes.version},
            "corrections": corrections, "file_format": file_format,
            "encoding": encoding if file_format == "csv" else None,
            "date_style": date_style if file_format == "csv" else None,
            # a v1 manifest stays as it was before v2 existed, byte for byte
            **({"version": 2} if v2 else {}),
        },
        "files": files,
        "months": manifest_months,
        "corrections": all_corrections,
        "recodings": all_recodings,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                encoding="utf-8")
    last = manifest_months[-1]
    return SampleSummary(
        out=out,
        months=tuple(str(start.shift(k)) for k in range(months)),
        residents=int(last["persons"]),
        households=int(last["households"]),
        corrections=len(all_corrections),
        recodings=sum(1 for e in all_recodings if int(e["delta"]) < 0),
        files=(*files, MANIFEST),
        version=version,
        **totals,
    )
