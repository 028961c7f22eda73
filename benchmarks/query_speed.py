"""Benchmark: ``popstats query`` on two tables people ask for, beside the same selection done
with polars directly, in the same run.

    python benchmarks/query_speed.py             # --scale 0.05 (≈1.2 M residents)
    python benchmarks/query_speed.py --scale 0.2

Cases (each run once, each in its own process so that its peak RSS is its own):

* ``national-12m-county-sex``: ``population_by_age`` summed over age, 2025-01..2025-12, the
  22 counties × sex down, the 12 months across (528 cells), as XLSX;
* ``village-single-age-wide``: ``population_by_age`` of 2025-12, every village × sex down,
  single ages 0…100+ across (MOI's single-age layout: 1,565,904 cells), as XLSX.

``popstats query`` is the whole command a statistician types (start-up, checks, the query
through ``stats.query``, ``exports.query.write_query``). The peer is the least a person
would write for the same table: ``pl.scan_parquet`` of the release files, filter, group,
pivot, and the same XLSX writer (openpyxl's write-only workbook, one ``append`` per row, a
metadata sheet). Both workbooks are read back and their cells compared, so the ratio is
between two programs that make the same numbers.

Measured 2026-12-06 on the shared 2-core machine (8 engineers at work: the whole run, with
sampling and building 12 months, took 12 min 48 s of wall time for 2 min 12 s of CPU), scale
0.05, each case once (``benchmarks/out/scale-0.05/query_results.json``); times are whole
processes (start-up and imports included on both sides), peak RSS from ``wait4``:

=========================  ==========  ==========  ======  =======  ========  ==========
case                       popstats    peak RSS    polars  peak     time      memory
                           query (s)   (MiB)       (s)     (MiB)    ratio     ratio
=========================  ==========  ==========  ======  =======  ========  ==========
national-12m-county-sex    2.86        196         1.97    117      1.45      1.67
village-single-age-wide    52.37       546         43.27   375      1.21      1.46
=========================  ==========  ==========  ======  =======  ========  ==========

Both workbooks held the same cells in both cases. The small query is mostly start-up:
importing the query path (exports.query, stats.query_source, stats.publication,
stats.query_plan with polars and openpyxl) took 1.85–2.21 s and 139 MiB against 1.37–1.57 s
and 83 MiB for polars and openpyxl alone (measured twice each, same machine, same hour).
The wide one is openpyxl's write-only workbook writing 1.6 M cells on both sides, plus
popstats' text preparation (every text cell checked for the encoding and for spreadsheet
formulas) and the long frame it pivots from (not profiled further).

Not a test: the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
TABLE = "population_by_age"
CASES = {
    "national-12m-county-sex": {
        "table": TABLE, "periods": "2025-01..2025-12", "area_level": "county",
        "measures": ["population"], "keep": ["sex"], "stub": ["area", "sex"],
        "heading": ["period", "measure"], "labels": "codes"},
    "village-single-age-wide": {
        "table": TABLE, "periods": ["2025-12"], "area_level": "village",
        "measures": ["population"], "keep": ["sex", "age"],
        "stub": ["area", "period", "sex"], "heading": ["age", "measure"], "labels": "codes"},
}


def peer(case: str, releases: Path, out: Path) -> None:
    """Child mode: the same table with polars alone, written by the same XLSX writer."""
    import polars as pl
    from openpyxl import Workbook

    started = time.perf_counter()
    if case == "national-12m-county-sex":
        frame = (pl.concat([pl.scan_parquet(releases / m / f"{TABLE}.parquet")
                            .filter(pl.col("area_level") == "county")
                            .group_by("area_code", "sex").agg(pl.col("population").sum())
                            .with_columns(pl.lit(f"{m}|population").alias("head"))
                            for m in MONTHS]).collect()
                 .pivot(on="head", index=["area_code", "sex"], values="population")
                 .sort("area_code", "sex"))
    else:
        frame = (pl.scan_parquet(releases / "2025-12" / f"{TABLE}.parquet")
                 .filter(pl.col("area_level") == "village")
                 .select("area_code", "period", "sex", "age", "population").collect()
                 .sort("age")
                 .with_columns(pl.format("{}|population", "age").alias("head"))
                 .pivot(on="head", index=["area_code", "period", "sex"], values="population")
                 .sort("area_code", "sex"))
    book = Workbook(write_only=True)
    data = book.create_sheet("data")
    data.append(frame.columns)
    for row in frame.iter_rows():
        data.append(list(row))
    book.create_sheet("metadata").append(["query", case])
    book.save(out)
    print(json.dumps({"seconds": time.perf_counter() - started, "cells": frame.height
                      * (frame.width - (2 if case.startswith("national") else 3))}))


def run(command: list[str]) -> tuple[float, float, str]:
    """Run a command; its wall time (s), peak RSS (MiB, reaped with ``wait4`` so it is the
    child's own) and standard output."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    output = proc.stdout.read()
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{errors.decode()}")
    return wall, usage.ru_maxrss / 1024, output.decode()


def ensure_releases(work: Path, scale: float) -> Path:
    """Twelve published months at ``scale`` (reused when present)."""
    popstats = str(Path(sys.executable).parent / "popstats")
    releases, extract = work / "releases", work / "extract12"
    if all((releases / m / "manifest.json").exists() for m in MONTHS):
        return releases
    if not (extract / "residents_202512.parquet").exists():
        subprocess.run([popstats, "sample", "--out", str(extract), "--scale", str(scale),
                        "--start", MONTHS[0], "--months", "12"], check=True, cwd=ROOT)
    for month in MONTHS:
        if not (releases / month / "manifest.json").exists():
            subprocess.run([popstats, "build", "--input", str(extract), "--period", month,
                            "--out", str(releases)], check=True, cwd=ROOT,
                           stdout=subprocess.DEVNULL)
        subprocess.run([popstats, "publish", "--releases", str(releases), "--period", month,
                        "--by", "benchmark"], check=False, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return releases


def cells(path: Path, stub: int) -> list[list[object]]:
    """The data sheet's rows, header included, each row's stub as text (codes may be read
    back as text or number depending on the writer's types)."""
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True)["data"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    return [[str(v) for v in row[:stub]] + row[stub:] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--peer", nargs=3, help=argparse.SUPPRESS,
                        metavar=("CASE", "RELEASES", "OUT"))
    args = parser.parse_args()
    if args.peer:
        peer(args.peer[0], Path(args.peer[1]), Path(args.peer[2]))
        return
    work = args.workdir / f"scale-{args.scale}"
    releases = ensure_releases(work, args.scale)
    popstats = str(Path(sys.executable).parent / "popstats")
    out = work / "query"
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"scale": args.scale, "cpus": os.cpu_count(), "runs": []}
    for case, document in CASES.items():
        spec = out / f"{case}.json"
        spec.write_text(json.dumps(document), encoding="utf-8")
        ours, theirs = out / f"{case}.popstats.xlsx", out / f"{case}.polars.xlsx"
        q_wall, q_rss, _ = run([popstats, "query", "--spec", str(spec), "--format", "xlsx",
                                "--releases", str(releases), "--out", str(ours)])
        p_wall, p_rss, report = run([sys.executable, __file__, "--peer", case, str(releases),
                                     str(theirs)])
        stub = len(document["stub"])
        same = cells(ours, stub) == cells(theirs, stub)
        row = {"case": case, "cells": json.loads(report.strip().splitlines()[-1])["cells"],
               "popstats_s": round(q_wall, 2), "popstats_peak_mib": round(q_rss),
               "polars_s": round(p_wall, 2), "polars_peak_mib": round(p_rss),
               "time_ratio": round(q_wall / p_wall, 2), "memory_ratio": round(q_rss / p_rss, 2),
               "same_cells": same}
        results["runs"].append(row)  # type: ignore[union-attr]
        print(json.dumps(row), flush=True)
    (work / "query_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
