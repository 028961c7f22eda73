"""Benchmark: export the largest table (village × sex × single age) in the formats with targets.

    python benchmarks/exports_speed.py          # --scale 1.0: ≈1.65 M rows of population_by_age
    python benchmarks/exports_speed.py --quick  # --scale 0.1 (as many rows: zero-filled table)

The release is reused from ``benchmarks/out/scale-S/releases/2025-03`` when present (the
build benchmark makes it), else sampled and built here. Each export runs in its own process
so that its peak RSS is its own; the child reports the time of ``exports.write`` alone
(text preparation + writing, after loading the table), the parent the whole process.
The peer in the same run is polars' own ``write_csv`` of the same frame in UTF-8 (no
encoding work, no formula neutralisation, one call): the ratio shows what our streaming,
encoding and safety cost. Targets (issue 3): CSV in any encoding ≤ 5 s, XLSX/ODS ≤ 30 s,
with bounded memory. Not a test: the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERIOD = "2025-03"
TABLE = "population_by_age"
CSV_ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")
TARGET_S = {"csv": 5.0, "xlsx": 30.0, "ods": 30.0}
SPREADSHEETS = {"xlsx": "exports.spreadsheet", "ods": "exports.ods"}


def child(release: Path, table: str, fmt: str, encoding: str, out: Path) -> None:
    """Child mode: load the table, time one export, print the figures as JSON."""
    import polars as pl

    from exports import load_for_export, write

    frame, meta = load_for_export(release, table)
    started = time.perf_counter()
    if fmt == "peer-csv":  # polars alone: one write_csv call, UTF-8, no safety or encoding work
        frame.write_csv(out)
    else:
        write(frame, fmt, out, meta, encoding=encoding)
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": frame.height, "write_s": seconds, "bytes": out.stat().st_size}))
    del pl


def measured(command: list[str]) -> tuple[float, float, dict[str, float]]:
    """Run a child; return its wall time (s), peak RSS (MiB) and its own JSON report."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024, json.loads(output.decode().strip().splitlines()[-1])


def ensure_release(work: Path, scale: float) -> Path:
    """Return the benchmark release of PERIOD, sampling and building it when missing."""
    release = work / "releases" / PERIOD
    if (release / "manifest.json").exists():
        return release
    popstats = str(Path(sys.executable).parent / "popstats")
    extract = work / "extract"
    if not (extract / f"residents_{PERIOD.replace('-', '')}.parquet").exists():
        subprocess.run([popstats, "sample", "--out", str(extract), "--scale", str(scale),
                        "--start", PERIOD, "--months", "1"], check=True, cwd=ROOT)
    subprocess.run([popstats, "build", "--input", str(extract), "--period", PERIOD,
                    "--out", str(work / "releases")], check=True, cwd=ROOT)
    return release


def cases() -> list[tuple[str, str]]:
    """(format, encoding) pairs to time: CSV in every encoding, spreadsheets when written."""
    found = [("csv", encoding) for encoding in CSV_ENCODINGS]
    found += [(fmt, "utf-8") for fmt, module in SPREADSHEETS.items()
              if importlib.util.find_spec(module) is not None]
    return found


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="scale 0.1")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--table", default=TABLE)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS,
                        metavar=("RELEASE", "TABLE", "FORMAT", "ENCODING", "OUT"))
    args = parser.parse_args()
    if args.child:
        release, table, fmt, encoding, out = args.child
        child(Path(release), table, fmt, encoding, Path(out))
        return
    scale = 0.1 if args.quick else args.scale
    work = args.workdir / f"scale-{scale}"
    release = ensure_release(work, scale)
    out_dir = work / "exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"scale": scale, "table": args.table, "cpus": os.cpu_count()}
    runs: list[dict[str, object]] = []
    peer_s = None
    for fmt, encoding in [("peer-csv", "utf-8"), *cases()]:
        suffix = "csv" if fmt == "peer-csv" else fmt
        out = out_dir / f"{args.table}.{fmt}.{encoding}.{suffix}"
        wall, rss, report = measured([sys.executable, __file__, "--child", str(release),
                                      args.table, fmt, encoding, str(out)])
        if fmt == "peer-csv":
            peer_s = report["write_s"]
        target = TARGET_S.get(fmt)
        row = {
            "format": fmt, "encoding": encoding, "rows": report["rows"],
            "write_s": round(report["write_s"], 2), "process_s": round(wall, 2),
            "peak_rss_mib": round(rss), "mib": round(report["bytes"] / 2**20, 1),
            "vs_polars_csv": round(report["write_s"] / peer_s, 2) if peer_s else None,
            "target_s": target, "ok": None if target is None else report["write_s"] <= target,
        }
        runs.append(row)
        out.unlink(missing_ok=True)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    results["runs"] = runs
    (work / "exports_results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
