"""Benchmark: ``popstats build`` of a national month, quarter and year against the floor (one
streaming scan of its input columns) and a well-written DuckDB peer, in the same run.

    python benchmarks/build_vs_duckdb.py              # --scale 1.0 (≈23.4 M residents)
    python benchmarks/build_vs_duckdb.py --quick      # --scale 0.1
    python benchmarks/build_vs_duckdb.py --extract DIR  # an extract already written

For each period, each in its own process so that peak RSS and CPU time are its own:
  * scan: every column of every input file of the period (start and end snapshots, the
    events of each month) read once by polars' streaming engine, touching every value —
    the floor no build can go under;
  * ``popstats build``: the real command — validation of every rule, every table (v1 and,
    from a v2 extract, v2), checksums, the atomic release;
  * the DuckDB peer (``duckdb_peer.py``): the seven §3 tables in SQL, one scan per
    snapshot, GROUPING SETS, threads = cores, no validation.
It checks the peer's tables equal the release's and prints wall time, CPU time, peak RSS,
the load average beside them, and the ratios build/scan and build/DuckDB from the same run.
With ``--repeat N`` each of the three is run N times, in turn (scan, build, peer, scan, …),
and each figure is the median of its N: one run of a few seconds on a shared machine
varies by ±10 %, the median of three much less. The machine may be shared: CPU seconds are
the steadier figure when the load is high.
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

from stats.periods import Period  # noqa: E402
from stats.schemas import V1_TABLES  # noqa: E402

PERIODS = ["2025-03", "2025-Q1", "2025"]


def measured(command: list[str]) -> dict[str, float]:
    """Run a command; its wall and CPU seconds, peak RSS (MiB) and the 1-minute load."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "rss_mib": round(usage.ru_maxrss / 1024),
            "load": round((load + os.getloadavg()[0]) / 2, 1)}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs (the middle one of an odd number)."""
    return {key: sorted(run[key] for run in runs)[len(runs) // 2] for key in runs[0]}


def inputs(extract: Path, period: Period) -> list[Path]:
    """The files a build of ``period`` reads."""
    months = [period.start_month, period.end_month]
    return ([extract / f"residents_{m.compact}.parquet" for m in months]
            + [extract / f"events_{m.compact}.parquet" for m in period.months])


def scan(files: list[Path]) -> None:
    """Child mode: the floor — every value of every column of the files, one streaming read."""
    queries = []
    for path in files:
        schema = pl.read_parquet_schema(path)
        strings = [n for n, t in schema.items() if t == pl.String]
        queries.append(pl.scan_parquet(path).select(
            pl.col(strings).str.len_bytes().sum(),
            pl.exclude(strings).max()))
    pl.collect_all(queries, engine="streaming")


def same_tables(ours: Path, peer: Path) -> None:
    """The peer's seven §3 tables equal the release's (floats to 1e-9 relative)."""
    for name in V1_TABLES:
        a = pl.read_parquet(ours / f"{name}.parquet")
        b = pl.read_parquet(peer / f"{name}.parquet").select(a.columns)
        assert_frame_equal(a, b, check_dtypes=False, rel_tol=1e-9)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="scale 0.1")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--extract", type=Path, default=None,
                        help="an extract of 2024-12…2025-12 already written (else sampled, v2)")
    parser.add_argument("--periods", nargs="*", default=PERIODS)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each command; the median is reported (default 3)")
    parser.add_argument("--child-scan", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_scan:
        scan(args.child_scan)
        return
    scale = 0.1 if args.quick else args.scale
    work = args.workdir / f"scale-{scale}"
    extract = args.extract or work / "extract"
    popstats = str(Path(sys.executable).parent / "popstats")
    results: dict[str, object] = {"scale": scale, "cpus": os.cpu_count(), "extract": str(extract),
                                  "repeat": max(1, args.repeat)}
    if not (extract / "residents_202412.parquet").exists():
        results["sample"] = measured([popstats, "sample", "--out", str(extract), "--scale",
                                      str(scale), "--start", "2025-01", "--months", "12",
                                      "--v2"])
    rows = []
    for period in args.periods:
        p = Period.parse(period)
        releases, peer_dir = work / "releases" / period, work / "duckdb" / period
        runs: dict[str, list[dict[str, float]]] = {"scan": [], "build": [], "peer": []}
        for _ in range(max(1, args.repeat)):  # in turn, so that a busy spell hits all three
            for folder in (releases, peer_dir):
                shutil.rmtree(folder, ignore_errors=True)
            runs["scan"].append(measured([sys.executable, __file__, "--child-scan",
                                          *map(str, inputs(extract, p))]))
            runs["build"].append(measured([popstats, "build", "--input", str(extract),
                                           "--period", period, "--out", str(releases),
                                           "--note", "benchmark"]))
            runs["peer"].append(measured([sys.executable,
                                          str(ROOT / "benchmarks" / "duckdb_peer.py"),
                                          str(extract), period, str(peer_dir)]))
        floor, build, peer = (median_of(runs[k]) for k in ("scan", "build", "peer"))
        same_tables(releases / period, peer_dir)
        tables = len(json.loads((releases / period / "manifest.json").read_text())["tables"])
        rows.append({"period": period, "tables": tables, "scan": floor, "build": build,
                     "duckdb": peer,
                     "build_vs_scan": round(build["wall_s"] / floor["wall_s"], 2),
                     "build_vs_duckdb": round(build["wall_s"] / peer["wall_s"], 2),
                     "duckdb_vs_scan": round(peer["wall_s"] / floor["wall_s"], 2),
                     "cpu_build_vs_duckdb": round(build["cpu_s"] / peer["cpu_s"], 2)})
        print(json.dumps(rows[-1]), flush=True)
    results["periods"] = rows
    work.mkdir(parents=True, exist_ok=True)
    (work / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nscale {scale}, {os.cpu_count()} cores, median of {max(1, args.repeat)} runs each; "
          "the peer's seven tables equal the release's")
    print(f"{'period':<8}{'tables':>7}{'scan s':>8}{'build s':>9}{'duckdb s':>10}"
          f"{'build/scan':>12}{'build/duckdb':>14}{'build RSS MiB':>15}{'duckdb RSS':>12}"
          f"{'CPU s b/d':>14}{'load':>6}")
    for r in rows:
        print(f"{r['period']:<8}{r['tables']:>7}{r['scan']['wall_s']:>8}{r['build']['wall_s']:>9}"
              f"{r['duckdb']['wall_s']:>10}{r['build_vs_scan']:>12}{r['build_vs_duckdb']:>14}"
              f"{r['build']['rss_mib']:>15}{r['duckdb']['rss_mib']:>12}"
              f"{str(r['build']['cpu_s']) + '/' + str(r['duckdb']['cpu_s']):>14}"
              f"{r['build']['load']:>6}")


if __name__ == "__main__":
    main()
