"""Benchmark: build a national month, quarter and year; DuckDB SQL as the peer in the same run.

    python benchmarks/build_vs_duckdb.py            # --scale 1.0 (≈23.4 M residents)
    python benchmarks/build_vs_duckdb.py --quick    # --scale 0.1

For each period it runs, each in its own process so that peak RSS is its own:
  * ``popstats build``: validation + tables + atomic release writing (the real command);
  * popstats tables only: the same table builders on the same Parquet, no validation;
  * the DuckDB peer (``duckdb_peer.py``): the same tables in SQL, no validation.
It checks the peer's tables equal popstats' and prints wall time, peak RSS and the ratios.
Not a test: the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stats.schemas import TABLE_COLUMNS  # noqa: E402

PERIODS = ["2025-03", "2025-Q1", "2025"]


def measured(command: list[str]) -> tuple[float, float]:
    """Run a command; return its wall time (s) and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024


def tables_only(extract: Path, period: str, out: Path) -> None:
    """Child mode: popstats' table builders on the Parquet extract, without validation."""
    from stats.codes import demo_code_table
    from stats.periods import Period
    from stats.tables import release_tables
    from stats.validate import typed_events, typed_residents

    p = Period.parse(period)

    def residents(month: str) -> pl.LazyFrame:
        return typed_residents(pl.scan_parquet(extract / f"residents_{month}.parquet"), {"village_code": {}})

    events = pl.concat([typed_events(pl.scan_parquet(extract / f"events_{m.compact}.parquet"),
                                     {c: {} for c in ("village_code", "from_village_code", "to_village_code")})
                        for m in p.months])
    tables = release_tables(residents(p.start_month.compact), residents(p.end_month.compact), events,
                            demo_code_table().areas(p), p)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.write_parquet(out / f"{name}.parquet")


def same_tables(ours: Path, peer: Path) -> None:
    """The peer's tables equal ours (floats to 1e-9 relative)."""
    for name in TABLE_COLUMNS:
        a = pl.read_parquet(ours / f"{name}.parquet")
        b = pl.read_parquet(peer / f"{name}.parquet").select(a.columns)
        assert_frame_equal(a, b, check_dtypes=False, rel_tol=1e-9)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="scale 0.1")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--periods", nargs="*", default=PERIODS)
    parser.add_argument("--child-tables", nargs=3, metavar=("EXTRACT", "PERIOD", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_tables:
        extract, period, out = args.child_tables
        tables_only(Path(extract), period, Path(out))
        return
    scale = 0.1 if args.quick else args.scale
    work = args.workdir / f"scale-{scale}"
    extract = work / "extract"
    popstats = str(Path(sys.executable).parent / "popstats")
    results: dict[str, object] = {"scale": scale, "cpus": os.cpu_count()}
    if not (extract / "sample_manifest.json").exists():
        wall, rss = measured([popstats, "sample", "--out", str(extract), "--scale", str(scale),
                              "--start", "2025-01", "--months", "12"])
        results["sample_12_months"] = {"wall_s": round(wall, 1), "peak_rss_mib": round(rss)}
    rows = []
    for period in args.periods:
        releases, tables_dir, peer_dir = work / "releases", work / "tables" / period, work / "duckdb" / period
        for folder in (tables_dir, peer_dir):
            shutil.rmtree(folder, ignore_errors=True)
        build = measured([popstats, "build", "--input", str(extract), "--period", period,
                          "--out", str(releases), "--note", "benchmark"])
        ours = measured([sys.executable, __file__, "--child-tables", str(extract), period, str(tables_dir)])
        peer = measured([sys.executable, str(ROOT / "benchmarks" / "duckdb_peer.py"), str(extract),
                         period, str(peer_dir)])
        same_tables(releases / period, peer_dir)
        same_tables(tables_dir, peer_dir)
        rows.append({
            "period": period,
            "build_s": round(build[0], 1), "build_rss_mib": round(build[1]),
            "tables_s": round(ours[0], 1), "tables_rss_mib": round(ours[1]),
            "duckdb_s": round(peer[0], 1), "duckdb_rss_mib": round(peer[1]),
            "tables_vs_duckdb": round(ours[0] / peer[0], 2),
            "build_vs_duckdb": round(build[0] / peer[0], 2),
        })
        print(json.dumps(rows[-1]), flush=True)
    results["periods"] = rows
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nscale {scale}: ratios < 1 mean popstats is faster than DuckDB; tables equal: yes")
    header = f"{'period':<8}{'build s':>9}{'RSS MiB':>9}{'tables s':>10}{'RSS MiB':>9}{'duckdb s':>10}{'RSS MiB':>9}{'tables/duckdb':>15}{'build/duckdb':>14}"
    print(header)
    for r in rows:
        print(f"{r['period']:<8}{r['build_s']:>9}{r['build_rss_mib']:>9}{r['tables_s']:>10}"
              f"{r['tables_rss_mib']:>9}{r['duckdb_s']:>10}{r['duckdb_rss_mib']:>9}"
              f"{r['tables_vs_duckdb']:>15}{r['build_vs_duckdb']:>14}")


if __name__ == "__main__":
    main()
