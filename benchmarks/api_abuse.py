"""Benchmark: one agency token at the API's rate limit for 60 s, and what the others see.

    python benchmarks/api_abuse.py                 # scale 0.05, 30 s baseline + 60 s abuse
    python benchmarks/api_abuse.py --scale 0.2 --data DIR
    python benchmarks/api_abuse.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

A month is sampled at ``--scale`` (residents; the geography, hence the number of villages
and the size of village-level tables, is national at any scale), built and published. The
server is ``popstats serve``'s (``dashboards.app.run_server``: threaded, one process), or
with ``--workers N`` production's ``gunicorn -w N dashboards.wsgi:app``, on 127.0.0.1, with
the access database of ``--db`` (default: an SQLite file;
a PostgreSQL URL gets a fresh schema of its own, dropped afterwards), the default limits (120
requests per token per minute, 240 per agency) and no daily volume limit, so that the
abuser is held back only by the rate limit. On SQLite every transaction is ``BEGIN
IMMEDIATE`` (access.db), so all requests queue on one lock; PostgreSQL is production's.

Two other agencies (臺北市, 高雄市) each ask for a small answer every ``--interval`` s (default 1
s: half their own limit) for the whole run. The run is cut in 10-s windows, quiet
(``--baseline`` s in all) and abused (``--seconds`` s in all) alternating, so that whatever
else loads this shared machine falls on both phases alike; in the abused windows the
national agency's one token asks for ``population_by_age`` pages (10,000 rows, ≈ 430 KB
each) at its limit's pace, 2 per second, page after page — the request of issue 10 item 2,
which used to answer 70.6 MB and store it; with ``--burst K``, K pages at once every 0.5·K s
(the same average, as a client firing parallel requests would: what the agency's in-flight
limit, ``POPSTATS_API_AGENCY_IN_FLIGHT``, is for). Measured in the same run: the outbox's
and the access database's growth per minute, the abuser's answers by status, and the others'
p50 / p95 latency in each phase. Targets: outbox growth ≤ 1 MB/min; the others' p95 under
abuse within 20 % of their p95 without it. Loopback only; every loop is bounded by its
phase's clock. Not a test: the figures go into the issue notes.

Where the abuser's cost lands, per second of each phase: CPU seconds of the server (its
processes), of this benchmark's own process (the clients: the abuser only reads the bytes of
its answers, it parses nothing) and of every PostgreSQL process on the machine (other users'
too). The p95 of two agencies asking once a second rests on the few slowest of a hundred or
so answers: a bootstrap 90 % interval of the ratio (resampling each phase's answers) says
how far it can be trusted on a shared machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PERIOD = "2025-03"
SERVER_PIDS: dict[int, int] = {}  # port → the serving child's pid (start_server)


def popstats(*args: str) -> str:
    """Run this checkout's ``popstats`` command; its standard output."""
    done = subprocess.run([sys.executable, "-m", "popstats.cli", *args], cwd=ROOT, check=True,
                          stdout=subprocess.PIPE, text=True)
    return done.stdout


def prepare(data: Path, scale: float, url: str) -> tuple[Path, list[dict]]:
    """The published release and the demo accounts in ``url``."""
    releases, extract = data / "releases", data / "extract"
    if not (releases / PERIOD / "manifest.json").exists():
        print(f"sampling {PERIOD} at scale {scale} …", flush=True)
        popstats("sample", "--out", str(extract), "--scale", str(scale), "--start", PERIOD,
                 "--months", "1")
        popstats("build", "--input", str(extract), "--period", PERIOD, "--out", str(releases))
        popstats("publish", "--releases", str(releases), "--period", PERIOD, "--by", "bench")
    accounts = json.loads(popstats("demo-accounts", "--db", url, "--json"))
    return releases, accounts


def database(data: Path, given: str | None) -> tuple[str, Callable[[], int], Callable[[], None]]:
    """The database URL, how to measure its size in bytes, and how to clean up."""
    if not given:
        db = data / "access.db"
        db.unlink(missing_ok=True)
        return f"sqlite:///{db}", lambda: db.stat().st_size, lambda: None
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    schema = f"api_abuse_{os.getpid()}"
    admin = create_engine(given, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def size() -> int:
        with admin.connect() as conn:
            return int(conn.execute(text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :s AND c.relkind = 'r'"), {"s": schema}).scalar())

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in given else "?"
    return f"{given}{sep}options=-csearch_path%3D{schema}", size, drop


def serve_child(releases: str, db_url: str, outbox: str) -> None:
    """Child mode: serve on a free loopback port, print it, serve until killed."""
    from dashboards.app import ServerSettings, create_app, plain_server

    app = create_app(ServerSettings(releases=Path(releases), db_url=db_url,
                                    outbox=Path(outbox), api_daily_bytes=None))
    server = plain_server(app, "127.0.0.1", 0)
    print(server.server_port, flush=True)
    server.serve_forever()


def _listening(port: int) -> bool:
    try:
        return get(port, "/api/v1/openapi.json", "")[0] == 200
    except OSError:
        return False


def get(port: int, path: str, token: str) -> tuple[int, int, float]:
    """One GET; its status, body size and seconds."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        size = len(answer.read())
        return answer.status, size, time.perf_counter() - started
    finally:
        conn.close()


def paced(until: float, interval: float, action) -> None:  # noqa: ANN001
    """Call ``action`` every ``interval`` s until the monotonic clock reaches ``until``."""
    next_at = time.monotonic()
    while (now := time.monotonic()) < until:
        if now < next_at:
            time.sleep(min(next_at - now, until - now))
            continue
        action()
        next_at += interval


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() \
        else 0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline", type=float, default=30.0)
    parser.add_argument("--others", type=int, default=2,
                        help="agencies asking once per --interval besides the abuser: the "
                             "demo's 臺北市 and 高雄市, and beyond 2 api_latency's township "
                             "agencies (more answers per phase: a steadier p95)")
    parser.add_argument("--burst", type=int, default=1,
                        help="the abuser sends this many pages at once every 0.5 × burst s "
                             "(the same 2 per second on average)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between two requests of each other agency")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite file)")
    parser.add_argument("--workers", type=int, default=0,
                        help="serve with gunicorn -w N (default 0: popstats serve's server)")
    parser.add_argument("--serve-child", nargs=3, metavar=("RELEASES", "DB", "OUTBOX"))
    args = parser.parse_args()
    if args.serve_child:
        serve_child(*args.serve_child)
        return
    data = args.data or Path(tempfile.mkdtemp(prefix="api_abuse_"))
    data.mkdir(parents=True, exist_ok=True)
    db_url, db_size, cleanup = database(data, args.db)
    try:
        releases, accounts = prepare(data, args.scale, db_url)
        result = measure(args, data, releases, db_url, db_size, accounts)
    finally:
        cleanup()
    result["scale"], result["database"] = args.scale, "postgresql" if args.db else "sqlite"
    result["others"] = args.others
    result["server"] = f"gunicorn -w {args.workers}" if args.workers else "popstats serve"
    result["load_average_1_5_15"] = [round(x, 1) for x in os.getloadavg()]
    result["cores"] = os.cpu_count()
    print(json.dumps(result, indent=2))


def measure(args: argparse.Namespace, data: Path, releases: Path, db_url: str,
            db_size: Callable[[], int], accounts: list[dict]) -> dict:
    """Serve in a child process, warm it, run both phases."""
    token_of = {tuple(a["areas"]): a["token"] for a in accounts if a["token"]
                and len(a["tables"]) > 1}
    national = token_of[("00000",)]
    others = [(token_of[("63000",)], "/api/v1/tables/population?period=2025-03&area_code=63000"),
              (next(a["token"] for a in accounts if a["areas"] == ["64000"] and a["token"]),
               "/api/v1/tables/vital_events?period=2025-03&area_code=64000")]
    if args.others > len(others):  # more agencies, so that each phase's p95 rests on more
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from api_latency import make_agencies  # it imports this module: only when asked

        others += make_agencies(db_url, releases, args.others - len(others))
    outbox = data / "outbox"
    with start_server(releases, db_url, outbox, args.workers) as port:
        for token, path in others:  # warm: first reads of the tables
            assert get(port, path, token)[0] == 200, path
        assert get(port, "/api/v1/tables/population_by_age?period=2025-03&page_size=1",
                   national)[0] == 200
        return run_phases(port, national, others, outbox, db_size, args)


@contextmanager
def start_server(releases: Path, db_url: str, outbox: Path, workers: int) -> Iterator[int]:
    """Serve in a child process (``popstats serve``'s server, or ``gunicorn -w N`` when
    ``workers``) on a free loopback port; its port, until the block ends."""
    if workers:  # production: gunicorn -w N dashboards.wsgi:app (docs/deployment.md)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "POPSTATS_RELEASES": str(releases), "POPSTATS_DB": db_url,
               "POPSTATS_OUTBOX": str(outbox), "POPSTATS_API_DAILY_BYTES": "none"}
        child = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b",
             f"127.0.0.1:{port}", "--no-control-socket", "--timeout", "120",
             "dashboards.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not _listening(port):
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.5)
    else:
        child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                  "--serve-child", str(releases), db_url, str(outbox)],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        if not workers:
            port = int(child.stdout.readline())  # type: ignore[union-attr]
        SERVER_PIDS[port] = child.pid
        yield port
    finally:
        child.terminate()
        child.wait(timeout=30)


WINDOW_S = 10.0  # the phases alternate in windows this long, so the machine's other load
# (this machine is shared) falls on both alike


def schedule(baseline: float, abuse: float) -> list[bool]:
    """Windows in order, True = the abuser is on: the quiet ones spread among the others
    (e.g. 3 quiet + 6 abused: off on on off on on off on on)."""
    quiet, loud = max(1, round(baseline / WINDOW_S)), max(1, round(abuse / WINDOW_S))
    step = (quiet + loud) / quiet
    offs = {round(i * step) for i in range(quiet)}
    return [i not in offs for i in range(quiet + loud)]


def cpu_seconds(port: int) -> dict[str, float]:
    """CPU seconds so far: the server's processes, this process, every PostgreSQL one."""
    import psutil

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0
    server = psutil.Process(SERVER_PIDS[port])
    postgres = [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]
    return {"server": used(server) + sum(used(c) for c in server.children(recursive=True)),
            "benchmark_clients": time.process_time(),
            "postgresql_all": sum(used(p) for p in postgres)}


def ratio_interval(under: list[float], base: list[float], rounds: int = 2000) -> list[float]:
    """A bootstrap 90 % interval of p95(under) / p95(base), each phase resampled."""
    pick = random.Random(15)
    ratios = sorted(p95(pick.choices(under, k=len(under)))
                    / p95(pick.choices(base, k=len(base))) for _ in range(rounds))
    return [round(ratios[int(rounds * 0.05)], 2), round(ratios[int(rounds * 0.95)], 2)]


def run_phases(port: int, national: str, others: list[tuple[str, str]], outbox: Path,
               db_size: Callable[[], int], args: argparse.Namespace) -> dict:
    """Quiet and abused windows alternating; the others ask all along, each answer counted
    in the phase it started in; the abuser's statuses; the outbox's and database's growth."""
    windows = schedule(args.baseline, args.seconds)
    phase_now = ["baseline"]
    latencies: dict[str, list[float]] = {"baseline": [], "abuse": []}
    others_statuses: dict[str, dict[int, int]] = {"baseline": {}, "abuse": {}}
    statuses: dict[int, int] = {}
    sizes: list[int] = []
    abuser_s: list[float] = []
    page = [0]

    lock = threading.Lock()

    def other(token: str, path: str, until: float, offset: float) -> None:
        time.sleep(offset)  # spread over the interval, as independent callers

        def ask() -> None:
            phase = phase_now[0]
            status, _size, seconds = get(port, path, token)
            with lock:
                latencies[phase].append(seconds)
                others_statuses[phase][status] = others_statuses[phase].get(status, 0) + 1
        paced(until, args.interval, ask)

    def abuse_one() -> None:
        with lock:
            page[0] = page[0] % 160 + 1
            asked = page[0]
        status, size, seconds = get(port, "/api/v1/tables/population_by_age?period=2025-03"
                                    f"&page={asked}", national)
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            sizes.append(size)
            abuser_s.append(seconds)

    def abuse() -> None:
        """One page, or ``--burst`` pages at once (each on its own connection)."""
        if args.burst <= 1:
            abuse_one()
            return
        burst = [threading.Thread(target=abuse_one) for _ in range(args.burst)]
        for t in burst:
            t.start()
        for t in burst:
            t.join()

    before_outbox, before_db = folder_bytes(outbox), db_size()
    cpu = {"baseline": dict.fromkeys(("server", "benchmark_clients", "postgresql_all"), 0.0),
           "abuse": dict.fromkeys(("server", "benchmark_clients", "postgresql_all"), 0.0)}
    started = time.monotonic()
    end = started + WINDOW_S * len(windows)
    threads = [threading.Thread(target=other, args=(*o, end, args.interval * k / len(others)))
               for k, o in enumerate(others)]
    for t in threads:
        t.start()
    abused_s = 0.0
    for i, loud in enumerate(windows):
        window_end = started + WINDOW_S * (i + 1)
        phase_now[0] = "abuse" if loud else "baseline"
        at_start = cpu_seconds(port)
        if loud:
            paced(window_end, 0.5 * max(1, args.burst), abuse)  # 120 per minute: its limit
            abused_s += WINDOW_S
        else:
            time.sleep(max(0.0, window_end - time.monotonic()))
        for part, seconds in cpu_seconds(port).items():
            cpu[phase_now[0]][part] += seconds - at_start[part]
    for t in threads:
        t.join()
    minutes = (time.monotonic() - started) / 60
    base, under = latencies["baseline"], latencies["abuse"]
    return {
        "windows": "".join("A" if w else "q" for w in windows),
        "abuser": {"burst": args.burst, "statuses": statuses, "bytes_answered": sum(sizes),
                   "mb_answered_per_abused_min": round(sum(sizes) / 1e6 / (abused_s / 60), 1),
                   "p50_ms": round(statistics.median(abuser_s) * 1000, 1)},
        "outbox_growth_mb_per_min": round((folder_bytes(outbox) - before_outbox) / 1e6
                                          / minutes, 3),
        "database_growth_mb_per_min": round((db_size() - before_db) / 1e6 / minutes, 3),
        "others_baseline": {"n": len(base), "statuses": others_statuses["baseline"],
                            "p50_ms": round(statistics.median(base) * 1000, 1),
                            "p95_ms": round(p95(base) * 1000, 1)},
        "others_under_abuse": {"n": len(under), "statuses": others_statuses["abuse"],
                               "p50_ms": round(statistics.median(under) * 1000, 1),
                               "p95_ms": round(p95(under) * 1000, 1)},
        "p95_ratio": round(p95(under) / p95(base), 2),
        "p95_ratio_bootstrap_90": ratio_interval(under, base),
        "cpu_s_per_s": {phase: {part: round(seconds / (WINDOW_S * sum(
            1 for w in windows if w == (phase == "abuse"))), 3) for part, seconds in parts.items()}
            for phase, parts in cpu.items()},
        "p50_ratio": round(statistics.median(under) / statistics.median(base), 2),
    }


if __name__ == "__main__":
    main()
